// TCP dialogue tests (STYLE.md example 12): one Stack over a QueueDevice, in virtual time. The test
// plays the peer: it builds segments with `seg()` (framed by libtins, an independent implementation
// of the wire format), feeds them at explicit instants, and checks every field of each segment the
// stack transmits, and when it transmitted it:
//
//     established();                                             // handshake done at t = 10 ms
//     write(at(100), 100);                                       // the application sends 100 bytes
//     expect_sent(at(100), seg().psh().seq(us()).ack(peer()).data(pattern(100)));
//     expect_nothing(at(299));
//     expect_sent(at(300), seg().psh().seq(us()).ack(peer()).data(pattern(100)));   // RTO 200 ms
//
// Sequence numbers: `peer(n)` is the number of the peer's n-th data byte (kPeerIss + 1 + n), `us(n)`
// ours (our ISS, learned from our SYN or SYN-ACK, + 1 + n). kPeerIss sits 1 KiB below 2^32, so most
// dialogues cross the wrap of the sequence space.
//
// Time: advancing to an instant runs every timer due before it at its own deadline, so a segment
// sent by a timer is recorded at the exact instant the timer fired. `expect_sent(at(t), m)` requires
// the next recorded segment to have been sent at exactly t and to match m; `expect_nothing(at(t))`
// requires that nothing was sent up to t.
//
// Matching (expect_sent): a matcher is a `seg()` describing the conversation from the peer's side,
// so the segment we send must have its ports swapped. Flags, sequence number and payload length
// are always compared; the acknowledgment number when ACK is set; the options exactly (MSS, window
// scale, SACK-Permitted, timestamps and SACK blocks present with these values, or absent; no other
// option; `ts_echo(e)` accepts any TSval with TSecr e, `ts_any()` any timestamps); the window when the
// matcher sets one; the payload bytes when the matcher gives them (data()) rather than a length.
// A matcher with our port 0 (`to(0)`) accepts any port of ours (an ephemeral one not yet known).
#pragma once

#include <gtest/gtest.h>
#include <tins/tins.h>

#include <cstdint>
#include <deque>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "stack/tcp/tcp.h"
#include "tests/unit/layers/harness.h"

namespace tcpip::tcp_test {

using layers_test::at;
using layers_test::Frame;
using layers_test::kOurIp;
using layers_test::kOurMac;
using layers_test::kPeerIp;
using layers_test::kPeerMac;
using layers_test::pattern;

// Bytes [from, from + n) of pattern(): a slice of a stream, for segments in the middle of it.
inline std::vector<std::uint8_t> slice(std::size_t from, std::size_t n, std::uint8_t salt = 0) {
    auto all = pattern(from + n, salt);
    return std::vector<std::uint8_t>(all.begin() + static_cast<std::ptrdiff_t>(from), all.end());
}

// One TCP segment: what the peer sends (built with seg()), what we sent (parsed from the wire),
// or a matcher for the latter.
struct Seg {
    std::uint16_t src_port = 0, dst_port = 0;
    std::uint32_t seq_no = 0, ack_no = 0;
    std::uint8_t flag_bits = 0;
    std::optional<std::uint16_t> win;          // a matcher without one accepts any window
    std::optional<std::uint16_t> mss_option;
    std::optional<std::uint8_t> wscale_option;
    bool sack_permitted = false;               // SACK-Permitted (RFC 2018)
    std::optional<std::pair<std::uint32_t, std::uint32_t>> timestamps;  // TSval, TSecr (RFC 7323)
    bool any_tsval = false;                    // matcher: a timestamps option with any TSval (TSecr compared)
    bool any_timestamps = false;               // matcher: a timestamps option with any values
    std::vector<std::pair<std::uint32_t, std::uint32_t>> sacks;  // SACK blocks [left, right)
    std::vector<std::uint8_t> other_options;   // kinds other than MSS, WS, SACK-Permitted, SACK, TS, NOP, EOL (sent segments)
    std::size_t length = 0;                    // payload length
    std::optional<std::vector<std::uint8_t>> bytes;  // the payload, when known
    bool from_us = false;
    bool any_seq = false;                      // matcher: the sequence number is not compared
    Instant when;                              // sent segments: the instant they left
    Frame frame;                               // sent segments: the whole Ethernet frame

    Seg& syn() { flag_bits |= 0x02; return *this; }
    Seg& fin() { flag_bits |= 0x01; return *this; }
    Seg& rst() { flag_bits |= 0x04; return *this; }
    Seg& psh() { flag_bits |= 0x08; return *this; }
    Seg& seq(std::uint32_t s) { seq_no = s; return *this; }
    Seg& ack(std::uint32_t a) { flag_bits |= 0x10; ack_no = a; return *this; }
    Seg& window(std::uint16_t w) { win = w; return *this; }
    Seg& mss(std::uint16_t m) { mss_option = m; return *this; }
    Seg& wscale(std::uint8_t s) { wscale_option = s; return *this; }
    Seg& sack_ok() { sack_permitted = true; return *this; }
    Seg& ts(std::uint32_t val, std::uint32_t ecr) { timestamps = {val, ecr}; return *this; }
    // Matchers: a timestamps option echoing `ecr` with any TSval; or any timestamps option at all.
    Seg& ts_echo(std::uint32_t ecr) { timestamps = {0, ecr}; any_tsval = true; return *this; }
    Seg& ts_any() { timestamps = {0, 0}; any_timestamps = true; return *this; }
    Seg& sack(std::uint32_t left, std::uint32_t right) { sacks.emplace_back(left, right); return *this; }
    Seg& data(std::vector<std::uint8_t> d) { length = d.size(); bytes = std::move(d); return *this; }
    Seg& len(std::size_t n) { length = n; bytes.reset(); return *this; }
    Seg& from(std::uint16_t peer_port) { src_port = peer_port; return *this; }
    Seg& to(std::uint16_t our_port) { dst_port = our_port; return *this; }
    Seg& anyseq() { any_seq = true; return *this; }

    bool has(std::uint8_t bit) const { return (flag_bits & bit) != 0; }
};

// tcpdump -S style: "10.0.0.2.80 > 10.0.0.1.40000: Flags [S.], seq 1, ack 2, win 65535,
// options [mss 1460,wscale 3], length 0", with "@t ms" when it was sent.
inline void PrintTo(const Seg& s, std::ostream* os) {
    const std::string us = kOurIp.to_string(), them = kPeerIp.to_string();
    if (s.from_us) {
        *os << us << "." << s.src_port << " > " << them << "." << s.dst_port;
    } else {
        *os << them << "." << s.src_port << " > " << us << "." << s.dst_port;
    }
    *os << ": Flags [" << TcpFlags(s.flag_bits).to_string() << "], seq ";
    if (s.any_seq) {
        *os << "*";
    } else {
        *os << s.seq_no;
    }
    if (s.has(0x10)) *os << ", ack " << s.ack_no;
    *os << ", win ";
    if (s.win) {
        *os << *s.win;
    } else {
        *os << "*";
    }
    if (s.mss_option || s.wscale_option || !s.other_options.empty() || s.sack_permitted || s.timestamps || !s.sacks.empty()) {
        *os << ", options [";
        const char* sep = "";
        if (s.sack_permitted) {
            *os << "sackOK";
            sep = ",";
        }
        if (s.timestamps) {
            *os << sep << "TS val ";
            if (s.any_tsval || s.any_timestamps) {
                *os << "*";
            } else {
                *os << s.timestamps->first;
            }
            *os << " ecr ";
            if (s.any_timestamps) {
                *os << "*";
            } else {
                *os << s.timestamps->second;
            }
            sep = ",";
        }
        if (!s.sacks.empty()) {
            *os << sep << "sack " << s.sacks.size();
            for (auto [l, r] : s.sacks) *os << " {" << l << ":" << r << "}";
            sep = ",";
        }
        if (s.mss_option) {
            *os << "mss " << *s.mss_option;
            sep = ",";
        }
        if (s.wscale_option) {
            *os << sep << "wscale " << int{*s.wscale_option};
            sep = ",";
        }
        for (auto kind : s.other_options) {
            *os << sep << "kind-" << int{kind};
            sep = ",";
        }
        *os << "]";
    }
    *os << ", length " << s.length;
    if (s.from_us) *os << " @" << s.when.total_micros() / 1000.0 << "ms";
}

inline std::string to_string(const Seg& s) {
    std::ostringstream os;
    PrintTo(s, &os);
    return os.str();
}

// The differences between what we sent and a matcher, as text ("" if it matches).
inline std::string mismatch(const Seg& sent, const Seg& m) {
    std::ostringstream d;
    if ((m.dst_port != 0 && sent.src_port != m.dst_port) || sent.dst_port != m.src_port) d << " ports;";
    if (sent.flag_bits != m.flag_bits) d << " flags;";
    if (!m.any_seq && sent.seq_no != m.seq_no) d << " seq;";
    if (m.has(0x10) && sent.ack_no != m.ack_no) d << " ack;";
    if (m.win && sent.win != m.win) d << " window;";
    if (sent.mss_option != m.mss_option) d << " mss option;";
    if (sent.wscale_option != m.wscale_option) d << " wscale option;";
    if (sent.sack_permitted != m.sack_permitted) d << " sackOK option;";
    if (sent.timestamps.has_value() != m.timestamps.has_value()) {
        d << " timestamps option;";
    } else if (m.timestamps && !m.any_timestamps) {
        if (!m.any_tsval && sent.timestamps->first != m.timestamps->first) d << " TSval;";
        if (sent.timestamps->second != m.timestamps->second) d << " TSecr;";
    }
    if (sent.sacks != m.sacks) d << " SACK blocks;";
    if (!sent.other_options.empty()) d << " unexpected options;";
    if (sent.length != m.length) d << " length;";
    if (m.bytes && sent.bytes != m.bytes) d << " payload bytes;";
    return d.str();
}

class TcpTest : public layers_test::LayerTest {
protected:
    static constexpr std::uint16_t kOurPort = 80;
    static constexpr std::uint16_t kPeerPort = 40000;
    static constexpr std::uint16_t kServerPort = 5000;       // the peer's port when we connect
    static constexpr std::uint32_t kPeerIss = 0xfffffc00;    // 1 KiB below the wrap
    static constexpr std::uint16_t kMss = 1460;              // MTU 1500 - 20 - 20

    // The conversation seg() and the helpers speak of.
    std::uint16_t our_port = kOurPort;
    std::uint16_t peer_port = kPeerPort;
    std::uint32_t our_iss = 0;
    TcpSocket* listener = nullptr;
    TcpSocket* sock = nullptr;
    int events = 0;  // on_event calls on sockets the test holds

    ~TcpTest() override {
        // Everything we sent must have been checked.
        for (const Seg& s : sent_) ADD_FAILURE() << "unchecked segment: " << to_string(s);
    }

    // The stack, with the peer in its ARP cache.
    Stack& net() {
        Stack& s = stack();
        if (!arp_ready_) {
            s.arp().add_static(kPeerIp, kPeerMac);
            arp_ready_ = true;
        }
        return s;
    }
    TcpLayer& tcp() { return net().tcp(); }
    Instant now() const { return now_; }

    // A segment from the peer, in the current conversation.
    Seg seg() const {
        Seg s;
        s.src_port = peer_port;
        s.dst_port = our_port;
        return s;
    }
    std::uint32_t us(std::uint32_t n = 0) const { return our_iss + 1 + n; }
    std::uint32_t peer(std::uint32_t n = 0) const { return kPeerIss + 1 + n; }
    // Our TSval at `t` (RFC 7323: milliseconds), from the one our SYN or SYN-ACK carried at 0 ms.
    std::uint32_t our_ts(Instant t) const { return our_ts0 + static_cast<std::uint32_t>(t.total_millis()); }
    std::uint32_t our_ts0 = 0;

    // Runs the stack up to `t`, every timer at its own deadline.
    void advance(Instant t) {
        if (t < now_) ADD_FAILURE() << "time goes backwards: " << t.total_micros() << " < " << now_.total_micros();
        net();
        for (int guard = 0; guard < 100000; ++guard) {
            auto next = net().poll_at();
            if (!next || *next > t) break;
            if (*next > now_) now_ = *next;
            net().poll(now_);
            collect();
        }
        now_ = std::max(now_, t);
        net().poll(now_);
        collect();
    }

    // The peer sends `s` at `t`.
    void send(Instant t, const Seg& s) {
        advance(t);
        device.inject(frame_of(s));
        net().poll(now_);
        collect();
    }
    void send_frame(Instant t, const Frame& f) {
        advance(t);
        device.inject(f);
        net().poll(now_);
        collect();
    }

    // The next segment we sent: at exactly `t`, matching `m`. Returns it.
    Seg expect_sent(Instant t, const Seg& m) {
        advance(t);
        if (sent_.empty()) {
            ADD_FAILURE() << "nothing sent by " << t.total_micros() / 1000.0 << "ms; expected " << to_string(m);
            return Seg{};
        }
        Seg s = sent_.front();
        sent_.pop_front();
        EXPECT_EQ(s.when, t) << "sent at the wrong time: " << to_string(s);
        const std::string diff = mismatch(s, m);
        EXPECT_TRUE(diff.empty()) << "differs in" << diff << "\n    sent:     " << to_string(s)
                                  << "\n    expected: " << to_string(m);
        return s;
    }
    // The next segment we sent, at exactly `t`, whatever it is.
    Seg take_sent(Instant t) {
        advance(t);
        if (sent_.empty()) {
            ADD_FAILURE() << "nothing sent by " << t.total_micros() / 1000.0 << "ms";
            return Seg{};
        }
        Seg s = sent_.front();
        sent_.pop_front();
        EXPECT_EQ(s.when, t) << "sent at the wrong time: " << to_string(s);
        return s;
    }
    // Nothing sent up to and including `t`.
    void expect_nothing(Instant t) {
        advance(t);
        for (const Seg& s : sent_) ADD_FAILURE() << "unexpected segment by " << t.total_micros() / 1000.0 << "ms: " << to_string(s);
        sent_.clear();
    }

    // ---- The application's side: the TcpLayer calls, made at an instant ----
    TcpSocket* open_socket() {
        TcpSocket* s = tcp().open();
        s->on_event = [this] { ++events; };  // as the socket facade does: the object stays ours
        return s;
    }
    std::size_t write(Instant t, std::size_t n, std::size_t offset = 0, TcpSocket* s = nullptr) {
        advance(t);
        auto data = slice(offset, n, 7);
        auto r = tcp().send(now_, s ? s : sock, data);
        collect();
        EXPECT_TRUE(r.has_value()) << "send failed";
        return r.has_value() ? *r : 0;
    }
    // setsockopt, as the socket API does it: change a copy of the options, hand it to the layer.
    template <class F>
    void set_options(Instant t, TcpSocket* s, F&& change) {
        advance(t);
        TcpUserOptions options = tcp().options(s);
        change(options);
        tcp().set_options(now_, s, options);
        collect();
    }
    // The bytes `write` sends for stream offsets [from, from + n).
    static std::vector<std::uint8_t> ours(std::size_t from, std::size_t n) { return slice(from, n, 7); }
    Result<std::vector<std::uint8_t>, SocketError> try_read(Instant t, std::size_t max, TcpSocket* s = nullptr) {
        advance(t);
        std::vector<std::uint8_t> buf(max);
        auto r = tcp().recv(now_, s ? s : sock, buf, false);
        collect();
        if (!r) return Unexpected(r.error());
        buf.resize(*r);
        return buf;
    }
    // Up to `max` bytes the application reads (a failure fails the test).
    std::vector<std::uint8_t> read(Instant t, std::size_t max, TcpSocket* s = nullptr) {
        auto r = try_read(t, max, s);
        EXPECT_TRUE(r.has_value()) << "recv failed";
        return r.has_value() ? *r : std::vector<std::uint8_t>{};
    }
    void shutdown_write(Instant t, TcpSocket* s = nullptr) {
        advance(t);
        auto r = tcp().shutdown(now_, s ? s : sock, false, true);
        EXPECT_TRUE(r.has_value());
        collect();
    }
    void close(Instant t, TcpSocket* s = nullptr) {
        advance(t);
        tcp().close(now_, s ? s : sock);
        collect();
    }
    TcpState state(TcpSocket* s = nullptr) { return tcp().info(s ? s : sock).state; }

    // ---- Fixtures ----

    // A socket listening on kOurPort.
    TcpSocket* listening(int backlog = 16) {
        listener = open_socket();
        EXPECT_TRUE(tcp().bind(listener, Ipv4Address::any(), kOurPort).has_value());
        EXPECT_TRUE(tcp().listen(listener, backlog).has_value());
        return listener;
    }

    // The peer's side of a handshake: Handshake().peer_mss(500).rtt(300).
    struct Handshake {
        std::optional<std::uint16_t> mss = kMss;     // its MSS option
        std::optional<std::uint8_t> wscale;          // its window scale option
        std::uint16_t window = 65535;                // in its SYN-ACK or final ACK
        std::int64_t rtt_ms = 10;                    // when its answer comes
        bool sack = false;                           // SACK-Permitted in its SYN or SYN-ACK
        std::optional<std::uint32_t> tsval;          // timestamps in its SYN or SYN-ACK, with this TSval
        Handshake& peer_mss(std::optional<std::uint16_t> m) { mss = m; return *this; }
        Handshake& peer_sack() { sack = true; return *this; }
        Handshake& peer_ts(std::uint32_t val) { tsval = val; return *this; }
        Handshake& peer_wscale(std::uint8_t s) { wscale = s; return *this; }
        Handshake& peer_window(std::uint16_t w) { window = w; return *this; }
        Handshake& rtt(std::int64_t ms) { rtt_ms = ms; return *this; }
    };

    // A passive open completed: the peer's SYN at 0, our SYN-ACK, the peer's ACK at rtt_ms; the
    // connection accepted into `sock`.
    TcpSocket* established(Handshake h) {
        if (!listener) listening();
        Seg syn = seg().syn().seq(kPeerIss).window(65535);
        if (h.mss) syn.mss(*h.mss);
        if (h.wscale) syn.wscale(*h.wscale);
        if (h.sack) syn.sack_ok();
        if (h.tsval) syn.ts(*h.tsval, 0);
        send(at(0), syn);
        Seg synack = take_sent(at(0));
        EXPECT_EQ(synack.flag_bits, 0x12) << to_string(synack);
        our_iss = synack.seq_no;
        Seg ack = seg().seq(peer()).ack(us()).window(h.window);
        if (h.tsval && synack.timestamps) {
            our_ts0 = synack.timestamps->first;  // our TSval at 0 ms
            ack.ts(*h.tsval + static_cast<std::uint32_t>(h.rtt_ms), our_ts0);
        }
        send(at(h.rtt_ms), ack);
        auto accepted = tcp().accept(listener);
        EXPECT_TRUE(accepted.has_value()) << "nothing to accept";
        if (!accepted) return nullptr;
        sock = *accepted;
        sock->on_event = [this] { ++events; };
        EXPECT_EQ(state(), TcpState::Established);
        return sock;
    }
    TcpSocket* established() { return established(Handshake{}); }

    // An active open completed: our SYN at 0 to kServerPort, the peer's SYN-ACK at rtt_ms, our ACK.
    TcpSocket* connected(Handshake h) {
        sock = open_socket();
        peer_port = kServerPort;
        auto r = tcp().connect(now_, sock, kPeerIp, kServerPort);
        EXPECT_FALSE(r.has_value());
        collect();
        Seg syn = take_sent(at(0));
        our_port = syn.src_port;
        our_iss = syn.seq_no;
        if (syn.timestamps) our_ts0 = syn.timestamps->first;
        Seg synack = seg().syn().seq(kPeerIss).ack(us()).window(h.window);
        if (h.mss) synack.mss(*h.mss);
        if (h.wscale) synack.wscale(*h.wscale);
        if (h.sack) synack.sack_ok();
        if (h.tsval) synack.ts(*h.tsval, our_ts0);
        send(at(h.rtt_ms), synack);
        Seg a = take_sent(at(h.rtt_ms));
        EXPECT_EQ(a.flag_bits, 0x10) << to_string(a);
        EXPECT_EQ(state(), TcpState::Established);
        return sock;
    }

    // The Ethernet frame for a segment from the peer.
    Frame frame_of(const Seg& s) const {
        Tins::TCP tcp(s.dst_port, s.src_port);
        tcp.seq(s.seq_no);
        tcp.ack_seq(s.ack_no);
        tcp.flags(s.flag_bits);
        tcp.window(s.win.value_or(65535));
        if (s.mss_option) tcp.mss(*s.mss_option);
        if (s.wscale_option) tcp.winscale(*s.wscale_option);
        if (s.sack_permitted) tcp.sack_permitted();
        if (s.timestamps) tcp.timestamp(s.timestamps->first, s.timestamps->second);
        if (!s.sacks.empty()) {
            std::vector<std::uint32_t> edges;
            for (auto [l, r] : s.sacks) {
                edges.push_back(l);
                edges.push_back(r);
            }
            tcp.sack(edges);
        }
        Tins::EthernetII eth = layers_test::LayerTest::eth_to_us() / layers_test::LayerTest::ip_to_us() / tcp;
        if (s.length > 0) {
            std::vector<std::uint8_t> payload = s.bytes ? *s.bytes : pattern(s.length);
            eth /= layers_test::raw(payload);
        }
        return eth.serialize();
    }

    // Segments sent and not yet checked.
    std::deque<Seg> sent_;

private:
    // Moves what the device transmitted into sent_, parsed and stamped with the current instant.
    void collect() {
        // After every step of a dialogue, the TCB's invariants hold (TcpLayer::check_invariants).
        if (const std::string broken = tcp().check_invariants(); !broken.empty()) {
            ADD_FAILURE() << "TCP invariant broken at " << now_.total_micros() / 1000.0 << "ms: " << broken;
        }
        for (Frame& f : device.take_sent()) {
            Seg s = parse_sent(f);
            s.when = now_;
            s.frame = std::move(f);
            sent_.push_back(std::move(s));
        }
    }

    static Seg parse_sent(const Frame& f) {
        Seg s;
        s.from_us = true;
        Tins::EthernetII eth(f.data(), static_cast<std::uint32_t>(f.size()));
        const auto* ip = eth.find_pdu<Tins::IP>();
        const auto* tcp = eth.find_pdu<Tins::TCP>();
        if (ip == nullptr || tcp == nullptr) {
            ADD_FAILURE() << "a frame that is not TCP/IPv4, " << f.size() << " bytes";
            s.other_options.push_back(0xff);
            return s;
        }
        EXPECT_EQ(eth.dst_addr(), layers_test::tins_mac(kPeerMac));
        EXPECT_EQ(ip->src_addr(), layers_test::tins_ip(kOurIp));
        EXPECT_EQ(ip->dst_addr(), layers_test::tins_ip(kPeerIp));
        s.src_port = tcp->sport();
        s.dst_port = tcp->dport();
        s.seq_no = tcp->seq();
        s.ack_no = tcp->ack_seq();
        s.flag_bits = static_cast<std::uint8_t>(tcp->flags());
        s.win = tcp->window();
        for (const auto& o : tcp->options()) {
            const auto kind = static_cast<std::uint8_t>(o.option());
            if (kind == Tins::TCP::MSS && o.data_size() == 2) {
                s.mss_option = static_cast<std::uint16_t>(o.data_ptr()[0] << 8 | o.data_ptr()[1]);
            } else if (kind == Tins::TCP::WSCALE && o.data_size() == 1) {
                s.wscale_option = o.data_ptr()[0];
            } else if (kind == Tins::TCP::SACK_OK && o.data_size() == 0) {
                s.sack_permitted = true;
            } else if (kind == Tins::TCP::TSOPT && o.data_size() == 8) {
                const std::uint8_t* p = o.data_ptr();
                auto be32 = [](const std::uint8_t* b) {
                    return std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 8 | b[3];
                };
                s.timestamps = std::make_pair(be32(p), be32(p + 4));
            } else if (kind == Tins::TCP::SACK && o.data_size() % 8 == 0) {
                const std::uint8_t* p = o.data_ptr();
                auto be32 = [](const std::uint8_t* b) {
                    return std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 8 | b[3];
                };
                for (std::size_t i = 0; i + 8 <= o.data_size(); i += 8) s.sacks.emplace_back(be32(p + i), be32(p + i + 4));
            } else if (kind != Tins::TCP::NOP && kind != Tins::TCP::EOL) {
                s.other_options.push_back(kind);
            }
        }
        std::vector<std::uint8_t> payload;
        if (const auto* raw = eth.find_pdu<Tins::RawPDU>()) payload = raw->payload();
        s.length = payload.size();
        s.bytes = payload;
        // The checksum over pseudo-header, header and data, summed here independently of the stack.
        Frame datagram = layers_test::ip_bytes(f);
        const std::size_t ihl = std::size_t{datagram[0] & 0x0fu} * 4;
        std::vector<std::uint8_t> pseudo(datagram.begin() + 12, datagram.begin() + 20);
        const std::size_t tcp_len = datagram.size() - ihl;
        pseudo.push_back(0);
        pseudo.push_back(6);
        pseudo.push_back(static_cast<std::uint8_t>(tcp_len >> 8));
        pseudo.push_back(static_cast<std::uint8_t>(tcp_len));
        pseudo.insert(pseudo.end(), datagram.begin() + static_cast<std::ptrdiff_t>(ihl), datagram.end());
        EXPECT_EQ(layers_test::internet_checksum(pseudo.data(), pseudo.size()), 0) << "TCP checksum";
        return s;
    }

    Instant now_;
    bool arp_ready_ = false;
};

}  // namespace tcpip::tcp_test
