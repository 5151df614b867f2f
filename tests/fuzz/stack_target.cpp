// The whole stack under fuzzing: one Stack on a QueueDevice, in virtual time (ManualClock), with
// TCP connections already set up in several states before the fuzzer's bytes are read, so that
// the fuzzer explores the state machine and not just the first check of each parser.
//
// Set-up (deterministic, the same for every input; the harness plays the peer 10.0.0.1):
//   port 80       LISTEN (backlog 4), the server socket of the three below
//   40000 -> 80   ESTABLISHED, accepted by the application
//   40001 -> 80   SYN-RECEIVED (the peer's SYN answered, its ACK not sent)
//   40002 -> 80   FIN-WAIT-1: accepted, 100 bytes written, closed by the application first
//   ephem -> 5000 SYN-SENT: the application connected to the peer, which has not answered
//
// Then the input is a program of steps (the first byte of each says which):
//   segment   a TCP segment from the peer to one of those connections (or a new one to port 80),
//             its sequence and acknowledgment numbers as offsets from the connection's current
//             rcv_nxt and snd_una (so "just right", "one off" and "a window away" are all a few
//             bits apart), flags, window, options and payload length from the input
//   raw       a frame from the input: whole, or behind a correct Ethernet header, or behind
//             correct Ethernet and IPv4 headers (any protocol number)
//   clock     time moves on by up to a minute, every timer running at its own deadline
//   app       the application sends, receives, shuts down, closes or accepts
// After each step, check_tcp_invariants() (stack_invariants.h). At the end the application
// closes everything, the clock runs past every timer, and then no TCP socket may remain and
// every packet buffer must be back in the pool (see check_tcp_invariants for the one socket that
// may stay, for now).
//
// Checksums are not verified (StackConfig::verify_rx_checksums = false): a fuzzer cannot find a
// 16-bit checksum by mutation, and every input would stop at the first check.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <vector>

#include "drivers/frame_driver.h"
#include "drivers/memory_link.h"
#include "stack/core/clock.h"
#include "stack/ethernet/header.h"
#include "stack/ipv4/header.h"
#include "stack/stack.h"
#include "stack/tcp/header.h"
#include "tests/fuzz/input_reader.h"
#include "tests/fuzz/stack_invariants.h"
#include "tests/fuzz/targets.h"

namespace tcpip::fuzz {
namespace {

constexpr MacAddress kOurMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
constexpr MacAddress kPeerMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
constexpr Ipv4Address kOurIp{10, 0, 0, 2};
constexpr Ipv4Address kPeerIp{10, 0, 0, 1};

constexpr std::uint16_t kListenPort = 80;
constexpr std::uint16_t kEstablishedPort = 40000;
constexpr std::uint16_t kSynReceivedPort = 40001;
constexpr std::uint16_t kFinWaitPort = 40002;
constexpr std::uint16_t kNewPortFirst = 40003;   // new connections the fuzzer opens: 40003..40006
constexpr std::uint16_t kServerPort = 5000;      // the peer's port for our active open
constexpr std::uint32_t kPeerIss = 0xfffffc00;   // 1 KiB below the wrap, as the TCP unit tests

// ---- States reached, over the whole run (reported at exit) ----

struct StateReport {
    std::array<std::uint64_t, kTcpStates> inputs_with_state{};
    std::uint64_t inputs = 0;
    ~StateReport() {
        if (inputs == 0) return;
        std::fprintf(stderr, "tcp states reached:");
        const char* sep = " ";
        for (std::size_t i = 0; i < kTcpStates; ++i) {
            std::fprintf(stderr, "%s%s=%llu", sep, to_string(static_cast<TcpState>(i)),
                         static_cast<unsigned long long>(inputs_with_state[i]));
            sep = ", ";
        }
        std::fprintf(stderr, " (inputs in which a socket was in the state, of %llu)\n",
                     static_cast<unsigned long long>(inputs));
    }
};
// A static object's destructor runs at exit, after the last input (libFuzzer returns from main
// or calls exit(); a crash skips it, which is fine: the crash is the report then).
StateReport state_report;

// ---- Frames from the peer ----

std::vector<std::uint8_t> frame(std::uint8_t protocol, Bytes transport) {
    std::vector<std::uint8_t> out(EthernetRepr::header_len() + Ipv4Repr::header_len() + transport.size());
    EthernetRepr{kOurMac, kPeerMac, EtherType::Ipv4}.emit(out);
    Ipv4Repr ip;
    ip.src = kPeerIp;
    ip.dst = kOurIp;
    ip.protocol = protocol;
    ip.payload_len = static_cast<std::uint16_t>(transport.size());
    ip.dont_fragment = true;
    ip.emit(MutableBytes(out).subspan(EthernetRepr::header_len()));
    std::copy(transport.begin(), transport.end(), out.begin() + EthernetRepr::header_len() + Ipv4Repr::header_len());
    return out;
}

std::vector<std::uint8_t> segment(const TcpRepr& tcp, Bytes payload, Bytes raw_options = {}) {
    std::vector<std::uint8_t> bytes(tcp.header_len() + payload.size());
    tcp.emit(bytes, kPeerIp, kOurIp, payload);
    if (!raw_options.empty()) {
        // Options as the fuzzer wrote them, padded to whole words, instead of ours (the checksum
        // goes stale, which this target does not check).
        const std::size_t words = (raw_options.size() + 3) / 4;
        std::vector<std::uint8_t> out(TcpHeader::kMinHeaderLen + words * 4, 0);
        std::copy(bytes.begin(), bytes.begin() + TcpHeader::kMinHeaderLen, out.begin());
        std::copy(raw_options.begin(), raw_options.end(), out.begin() + TcpHeader::kMinHeaderLen);
        out[TcpHeader::kDataOffset] = static_cast<std::uint8_t>((5 + words) << 4);
        out.insert(out.end(), payload.begin(), payload.end());
        bytes = std::move(out);
    }
    return frame(TcpHeader::kIpProtocol, bytes);
}

std::vector<std::uint8_t> pattern(std::size_t n, std::uint8_t salt) {
    std::vector<std::uint8_t> out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(i * 31 + salt);
    return out;
}

// ---- The harness ----

class Harness {
public:
    Harness() {
        config_.verify_rx_checksums = false;
        // Small buffers, so that full windows, full buffers and out-of-order data past the window
        // are a few segments away.
        config_.tcp_rcvbuf = 8 * 1024;
        config_.tcp_rmem_max = 32 * 1024;  // auto-tuning may grow a receive buffer, but not far
        config_.tcp_sndbuf = 8 * 1024;
        config_.tcp_max_syn_backlog = 8;
        // The event log (tcp_log.h) on, in a small ring: its hooks run on every path the fuzzer
        // finds, and check_invariants() holds the ring to its bound.
        config_.tcp_log_entries = 16;
        stack_ = std::make_unique<Stack>(device_, InterfaceConfig{Ipv4Cidr{kOurIp, 24}, std::nullopt}, config_, 42);
        stack_->arp().add_static(kPeerIp, kPeerMac);
    }

    TcpLayer& tcp() { return stack_->tcp(); }
    Instant now() const { return clock_.now(); }

    void set_up() {
        listener_ = tcp().open();
        FUZZ_CHECK("stack", tcp().bind(listener_, Ipv4Address::any(), kListenPort).has_value());
        FUZZ_CHECK("stack", tcp().listen(listener_, 4).has_value());

        handshake(kEstablishedPort);
        if (TcpSocket* s = accept()) app_.push_back(s);

        handshake(kFinWaitPort);
        if (TcpSocket* s = accept()) {
            const auto data = pattern(100, 7);
            FUZZ_CHECK("stack", tcp().send(now(), s, data).has_value());
            tcp().close(now(), s);  // the application closes first: FIN-WAIT-1
        }
        run();

        inject(syn(kSynReceivedPort));
        run();

        TcpSocket* client = tcp().open();
        FUZZ_CHECK("stack", !tcp().connect(now(), client, kPeerIp, kServerPort).has_value());
        app_.push_back(client);
        run();
        observe();
        FUZZ_CHECK("stack", view(kEstablishedPort) && view(kEstablishedPort)->state == TcpState::Established);
        FUZZ_CHECK("stack", view(kSynReceivedPort) && view(kSynReceivedPort)->state == TcpState::SynReceived);
        FUZZ_CHECK("stack", view(kFinWaitPort) && view(kFinWaitPort)->state == TcpState::FinWait1);
        FUZZ_CHECK("stack", view(kServerPort) && view(kServerPort)->state == TcpState::SynSent);
        seen_ = {};
    }

    void step(InputReader& in) {
        const std::uint8_t op = in.u8();
        switch (op % 8) {
            case 0: case 1: case 2: case 3: fuzzed_segment(in, op); break;
            case 4: raw_frame(in, op); break;
            case 5: clock_step(in, op); break;
            case 6: case 7: app_action(in, op); break;
        }
        run();
        observe();
    }

    // The application lets go of everything; the peer says nothing more; time runs out.
    void tear_down() {
        for (TcpSocket* s : app_) tcp().close(now(), s);
        app_.clear();
        tcp().close(now(), listener_);
        listener_ = nullptr;
        run();
        observe();
        // Far enough for every timer: retransmissions back off to tcp_max_rto (120 s) and give up
        // after tcp_retries; TIME-WAIT and orphaned FIN-WAIT-2 last 60 s; ARP and reassembly less.
        driver_.advance_to(now() + Duration::seconds(4 * 3600), [&] { driver_.discard_sent(); });
        driver_.discard_sent();
        // No TCP socket left (check_tcp_invariants says which one is, and knows one exception).
        check_tcp_invariants(tcp(), config_, observation_, /*torn_down=*/true);
        FUZZ_CHECK("stack", stack_->pool().buffers_in_use() == 0);
    }

    void report() {
        ++state_report.inputs;
        for (std::size_t i = 0; i < kTcpStates; ++i) {
            if (seen_[i]) ++state_report.inputs_with_state[i];
        }
    }

private:
    // ---- Steps ----

    // A segment to a connection in the set-up (or a new one), numbers relative to its state.
    void fuzzed_segment(InputReader& in, std::uint8_t op) {
        const std::uint8_t which = in.u8();
        std::uint16_t remote = kEstablishedPort;
        std::uint16_t local = kListenPort;
        switch (which % 6) {
            case 0: remote = kEstablishedPort; break;
            case 1: remote = kSynReceivedPort; break;
            case 2: remote = kFinWaitPort; break;
            case 3: remote = kServerPort; break;
            default: remote = static_cast<std::uint16_t>(kNewPortFirst + (which >> 3) % 4); break;
        }
        const ConnectionView* v = view(remote);
        if (remote == kServerPort) local = v ? v->local_port : TcpLayer::kEphemeralFirst;

        TcpRepr tcp;
        tcp.src_port = remote;
        tcp.dst_port = local;
        tcp.flags = TcpFlags(in.u8());
        const auto seq_offset = static_cast<std::int16_t>(in.u16());
        const auto ack_offset = static_cast<std::int16_t>(in.u16());
        const SeqNum seq_base = v ? v->rcv_nxt : SeqNum(kPeerIss);
        const SeqNum ack_base = v ? v->snd_una : SeqNum(0);
        // op bit 3: a sequence number anywhere; bit 4: the same for the acknowledgment number.
        tcp.seq = (op & 0x08) != 0 ? SeqNum(in.u32()) : seq_base + static_cast<std::uint32_t>(std::int32_t{seq_offset});
        tcp.ack = (op & 0x10) != 0 ? SeqNum(in.u32()) : ack_base + static_cast<std::uint32_t>(std::int32_t{ack_offset});
        tcp.window = in.u16();
        tcp.urgent = (op & 0x20) != 0 ? in.u16() : 0;

        const std::uint8_t options = in.u8();
        if (options & 0x01) tcp.options.mss = in.u16();
        if (options & 0x02) tcp.options.window_scale = in.u8();
        if (options & 0x04) tcp.options.sack_permitted = true;
        if (options & 0x08) tcp.options.timestamps = TcpOptions::Timestamps{in.u32(), in.u32()};
        if (options & 0x10) {
            // SACK blocks as offsets from snd_una, where a peer's SACKs fall.
            const std::size_t blocks = 1 + in.u8() % TcpOptions::kMaxSackBlocks;
            for (std::size_t i = 0; i < blocks; ++i) {
                const SeqNum left = ack_base + in.u16();
                tcp.options.add_sack({left, left + in.u16()});
            }
        }
        std::vector<std::uint8_t> raw_options;
        if (options & 0x20) {
            auto raw = in.bytes(in.u8() % (TcpOptions::kMaxLen + 1));
            raw_options.assign(raw.begin(), raw.end());
        }

        // Payload: a length, the bytes a pattern (their values matter little to TCP).
        std::size_t length = in.u8();
        if (length & 0x80) length = (length & 0x7f) * 16;  // up to 2032, past one MSS
        length = std::min<std::size_t>(length, 1500 - 20 - tcp.header_len() - (raw_options.size() + 3) / 4 * 4);
        inject(segment(tcp, pattern(length, op), raw_options));
    }

    void raw_frame(InputReader& in, std::uint8_t op) {
        const std::size_t length = in.u16() % 1515;
        const Bytes bytes = in.bytes(length);
        switch ((op >> 3) % 3) {
            case 0:  // the whole frame from the input
                device_.inject(bytes);
                break;
            case 1: {  // behind our Ethernet header: an IPv4 datagram or ARP packet from the input
                std::vector<std::uint8_t> f(EthernetRepr::header_len());
                EthernetRepr{kOurMac, kPeerMac, (op & 0x40) != 0 ? EtherType::Arp : EtherType::Ipv4}.emit(f);
                f.insert(f.end(), bytes.begin(), bytes.end());
                device_.inject(std::move(f));
                break;
            }
            default: {  // behind Ethernet and IPv4 headers: any transport header and data
                const std::uint8_t protocols[] = {TcpHeader::kIpProtocol, 17, 1, in.u8()};
                inject(frame(protocols[(op >> 6) & 3], bytes));
                break;
            }
        }
    }

    void clock_step(InputReader& in, std::uint8_t op) {
        const std::uint16_t amount = in.u16();
        // Op bit 3: up to 65 s in milliseconds (RTO back-off, TIME-WAIT, FIN-WAIT-2); otherwise up
        // to 655 ms in steps of 10 us (delayed ACK, the first RTOs, exact deadlines).
        const Duration d = (op & 0x08) != 0 ? Duration::millis(std::int64_t{amount}) : Duration::micros(std::int64_t{amount} * 10);
        advance(now() + d);
    }

    void app_action(InputReader& in, std::uint8_t op) {
        const std::uint8_t what = in.u8();
        if (what % 6 == 5) {
            if (TcpSocket* s = accept()) app_.push_back(s);
            return;
        }
        if (app_.empty()) return;
        const std::size_t index = in.u8() % app_.size();
        TcpSocket* s = app_[index];
        switch (what % 6) {
            case 0: {
                const auto data = pattern(std::size_t{in.u16()} % (3 * 8192), op);
                (void)tcp().send(now(), s, data);
                break;
            }
            case 1:
            case 2: {
                std::vector<std::uint8_t> buffer(std::size_t{in.u16()} % (3 * 8192));
                (void)tcp().recv(now(), s, buffer, what % 6 == 2);
                break;
            }
            case 3:
                (void)tcp().shutdown(now(), s, (op & 0x08) != 0, (op & 0x10) != 0);
                break;
            case 4:
                tcp().close(now(), s);  // ours no more: the layer frees it when it is over
                app_.erase(app_.begin() + static_cast<std::ptrdiff_t>(index));
                break;
        }
    }

    // ---- Helpers ----

    std::vector<std::uint8_t> syn(std::uint16_t port) {
        TcpRepr tcp;
        tcp.src_port = port;
        tcp.dst_port = kListenPort;
        tcp.seq = SeqNum(kPeerIss);
        tcp.flags = TcpFlags::kSyn;
        tcp.window = 65535;
        tcp.options.mss = 1460;
        tcp.options.window_scale = 2;
        tcp.options.sack_permitted = true;
        return segment(tcp, {});
    }

    // SYN, our SYN-ACK, the peer's ACK.
    void handshake(std::uint16_t port) {
        inject(syn(port));
        run();
        observe();
        const ConnectionView* v = view(port);
        FUZZ_CHECK("stack", v != nullptr && v->state == TcpState::SynReceived);
        TcpRepr ack;
        ack.src_port = port;
        ack.dst_port = kListenPort;
        ack.seq = SeqNum(kPeerIss) + 1;
        ack.ack = v->snd_nxt;
        ack.flags = TcpFlags::kAck;
        ack.window = 65535 >> 2;
        inject(segment(ack, {}));
        run();
    }

    TcpSocket* accept() {
        if (listener_ == nullptr) return nullptr;
        auto r = tcp().accept(listener_);
        return r ? *r : nullptr;
    }

    void inject(std::vector<std::uint8_t> f) { device_.inject(std::move(f)); }

    // The stack takes what the device has; what it sent is dropped (the peer's replies are the
    // fuzzer's business).
    void run() {
        driver_.run();
        driver_.discard_sent();
    }

    // Every timer due up to `t` runs at its own deadline, as in the TCP unit tests (the frame
    // driver, drivers/frame_driver.h, that tcpip-replay shares).
    void advance(Instant t) {
        driver_.advance_to(t, [&] {
            driver_.discard_sent();
            observe();
        });
        driver_.discard_sent();
    }

    void observe() {
        check_tcp_invariants(tcp(), config_, observation_);
        for (std::size_t i = 0; i < kTcpStates; ++i) seen_[i] = seen_[i] || observation_.states_seen[i];
    }

    const ConnectionView* view(std::uint16_t remote_port) const {
        auto it = observation_.by_remote_port.find(remote_port);
        return it == observation_.by_remote_port.end() ? nullptr : &it->second;
    }

    StackConfig config_;
    QueueDevice device_{kOurMac};
    ManualClock clock_;
    std::unique_ptr<Stack> stack_;
    FrameDriver driver_{device_, clock_, [this](Instant t) { stack_->poll(t); }, [this] { return stack_->poll_at(); }};
    TcpSocket* listener_ = nullptr;
    std::vector<TcpSocket*> app_;  // sockets the application holds (not closed)
    TcpObservation observation_;
    std::array<bool, kTcpStates> seen_{};
};

}  // namespace

void stack(Input data) {
    Harness harness;
    harness.set_up();
    InputReader in(data);
    // A bound on steps, so that one input cannot take seconds (libFuzzer's -max_len bounds bytes,
    // and a step is at least one byte).
    for (int steps = 0; steps < 256 && !in.done(); ++steps) harness.step(in);
    harness.tear_down();
    harness.report();
}

}  // namespace tcpip::fuzz
