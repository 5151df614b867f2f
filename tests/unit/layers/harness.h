// Layer tests: one Stack over a QueueDevice, driven in virtual time by the test, which plays the
// rest of the link. Frames are crafted with libtins (an independent implementation of the wire
// formats), injected at explicit instants, and what the stack transmits is parsed back with libtins
// and checked field by field, in the style of smoltcp's interface tests:
//
//     learn_peer(at(0));                                   // the peer asks for us: now we know it
//     inject(at(10), eth_to_us() / Tins::IP(kOurIpStr, kPeerIpStr) / Tins::ICMP() / raw(data));
//     Tins::EthernetII reply = expect_one();               // exactly one frame, parsed
//     expect_nothing(at(5000));                            // and nothing more, even later
//
// Addresses: we are 02:00:00:00:00:02 / 10.0.0.2/24; the peer is 02:00:00:00:00:01 / 10.0.0.1.
// A test tweaks `config` (and `gateway`) before its first call to stack(); the Stack is built then.
#pragma once

#include <gtest/gtest.h>
#include <tins/tins.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "drivers/memory_link.h"
#include "stack/core/address.h"
#include "stack/core/time.h"
#include "stack/ipv4/ipv4.h"
#include "stack/stack.h"

namespace tcpip::layers_test {

using Frame = std::vector<std::uint8_t>;

inline constexpr MacAddress kOurMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
inline constexpr MacAddress kPeerMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
inline constexpr Ipv4Address kOurIp{10, 0, 0, 2};
inline constexpr Ipv4Address kPeerIp{10, 0, 0, 1};
inline const char* const kOurMacStr = "02:00:00:00:00:02";
inline const char* const kPeerMacStr = "02:00:00:00:00:01";
inline const char* const kOurIpStr = "10.0.0.2";
inline const char* const kPeerIpStr = "10.0.0.1";
inline constexpr std::uint8_t kTestProtocol = 253;  // RFC 3692: for experimentation and testing

inline Instant at(std::int64_t ms) { return Instant::from_millis(ms); }

inline std::string str(Ipv4Address ip) { return ip.to_string(); }
inline std::string str(MacAddress mac) { return mac.to_string(); }
inline Tins::IPv4Address tins_ip(Ipv4Address ip) { return Tins::IPv4Address(ip.to_string()); }
inline Tins::HWAddress<6> tins_mac(MacAddress mac) { return Tins::HWAddress<6>(mac.to_string()); }

// Bytes 0, 1, 2, ... (mod 251, a prime, so a shifted or reordered block does not look the same).
inline std::vector<std::uint8_t> pattern(std::size_t n, std::uint8_t salt = 0) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>((i + salt) % 251);
    return v;
}

inline Tins::RawPDU raw(const std::vector<std::uint8_t>& bytes) { return Tins::RawPDU(bytes.begin(), bytes.end()); }

// RFC 1071 Internet checksum, computed here independently of the stack's accumulator: used to
// repair a header the test has edited on purpose, so that only the intended fault remains.
inline std::uint16_t internet_checksum(const std::uint8_t* p, std::size_t n) {
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i + 1 < n; i += 2) sum += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
    if (n % 2) sum += static_cast<std::uint32_t>(p[n - 1] << 8);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

constexpr std::size_t kEth = 14;  // Ethernet header: the IPv4 header starts here in a frame

// Recomputes the IPv4 header checksum of a frame in place (after the test edited the header).
inline void fix_ip_checksum(Frame& frame) {
    const std::size_t ihl = std::size_t{frame[kEth] & 0x0fu} * 4;
    frame[kEth + 10] = frame[kEth + 11] = 0;
    const std::uint16_t sum = internet_checksum(frame.data() + kEth, ihl);
    frame[kEth + 10] = static_cast<std::uint8_t>(sum >> 8);
    frame[kEth + 11] = static_cast<std::uint8_t>(sum);
}

// The IPv4 datagram of a frame (link padding cut by the total length).
inline Frame ip_bytes(const Frame& frame) {
    const std::size_t total = std::size_t{frame[kEth + 2]} << 8 | frame[kEth + 3];
    return Frame(frame.begin() + kEth, frame.begin() + kEth + std::min(total, frame.size() - kEth));
}

// The checksums of a frame we sent. The IPv4 header with libtins as the oracle: libtins recomputes
// the checksum when it serializes, so a header whose checksum was right serializes back to the
// same bytes. The ICMP message (when the datagram is not a fragment) by an independent RFC 1071
// sum, and for echo messages by libtins as well (it rewrites an error's RFC 4884 length field, so
// its serialization of errors is no oracle).
inline void expect_checksums_valid(const Frame& frame) {
    Frame datagram = ip_bytes(frame);
    ASSERT_GE(datagram.size(), 20u);
    const std::size_t ihl = std::size_t{datagram[0] & 0x0fu} * 4;
    Tins::IP ip(datagram.data(), static_cast<std::uint32_t>(datagram.size()));
    const auto again = ip.serialize();
    EXPECT_TRUE(again.size() >= ihl && std::equal(datagram.begin(), datagram.begin() + static_cast<std::ptrdiff_t>(ihl),
                                                   again.begin()))
        << "libtins computes a different IPv4 header checksum";
    EXPECT_EQ(internet_checksum(datagram.data(), ihl), 0) << "IPv4 header checksum";
    const bool fragment = (ip.flags() & Tins::IP::MORE_FRAGMENTS) != 0 || ip.fragment_offset() != 0;
    if (ip.protocol() == 1 && !fragment && datagram.size() >= ihl + 8) {
        EXPECT_EQ(internet_checksum(datagram.data() + ihl, datagram.size() - ihl), 0) << "ICMP checksum";
        if (datagram[ihl] == 0 || datagram[ihl] == 8) {
            EXPECT_EQ(again, datagram) << "libtins: ICMP checksum differs";
        }
    }
}

// A datagram from its fragments (frames as sent), checking their structure on the way: same
// identification, source, destination and protocol; offsets that tile [0, total) with no gap or
// overlap; MF on all but the last; every header checksum valid. Returns the reassembled payload
// (the transport header and data) and, in `header`, the first fragment's IPv4 header.
inline std::vector<std::uint8_t> reassemble(const std::vector<Frame>& frames, Tins::IP* first_header = nullptr) {
    std::map<std::size_t, std::pair<bool, std::vector<std::uint8_t>>> parts;  // offset -> (MF, payload)
    std::optional<Tins::IP> first;
    for (const Frame& frame : frames) {
        expect_checksums_valid(frame);
        Tins::EthernetII eth(frame.data(), static_cast<std::uint32_t>(frame.size()));
        const Tins::IP& ip = eth.rfind_pdu<Tins::IP>();
        if (!first) first = ip;
        EXPECT_EQ(ip.id(), first->id());
        EXPECT_EQ(ip.src_addr(), first->src_addr());
        EXPECT_EQ(ip.dst_addr(), first->dst_addr());
        EXPECT_EQ(ip.protocol(), first->protocol());
        Frame datagram = ip_bytes(frame);
        const std::size_t ihl = std::size_t{datagram[0] & 0x0fu} * 4;
        const std::size_t offset = std::size_t{ip.fragment_offset()} * 8;
        const bool mf = (ip.flags() & Tins::IP::MORE_FRAGMENTS) != 0;
        EXPECT_TRUE(parts.emplace(offset, std::make_pair(mf, Frame(datagram.begin() + ihl, datagram.end()))).second)
            << "two fragments at offset " << offset;
    }
    std::vector<std::uint8_t> whole;
    std::size_t i = 0;
    for (auto& [offset, part] : parts) {
        EXPECT_EQ(offset, whole.size()) << "gap or overlap";
        const bool last = ++i == parts.size();
        EXPECT_EQ(part.first, !last) << "MF at offset " << offset;
        if (!last) {
            EXPECT_EQ(part.second.size() % 8, 0u);
        }
        whole.insert(whole.end(), part.second.begin(), part.second.end());
    }
    if (first_header && first) *first_header = *first;
    return whole;
}

// Splits an IPv4 payload into fragment frames of at most `chunk` bytes each (a multiple of 8),
// every one a copy of `header` with its offset and MF set; libtins fills in lengths and checksums.
inline std::vector<Frame> fragment(Tins::IP header, const std::vector<std::uint8_t>& payload, std::size_t chunk,
                                   Tins::HWAddress<6> eth_dst = Tins::HWAddress<6>(kOurMacStr),
                                   Tins::HWAddress<6> eth_src = Tins::HWAddress<6>(kPeerMacStr)) {
    std::vector<Frame> frames;
    for (std::size_t offset = 0; offset < payload.size(); offset += chunk) {
        const std::size_t length = std::min(chunk, payload.size() - offset);
        Tins::IP ip = header;
        ip.fragment_offset(static_cast<std::uint16_t>(offset / 8));
        ip.flags(offset + length < payload.size() ? Tins::IP::MORE_FRAGMENTS : Tins::IP::Flags(0));
        Tins::EthernetII eth = Tins::EthernetII(eth_dst, eth_src) / ip /
                               Tins::RawPDU(payload.begin() + static_cast<std::ptrdiff_t>(offset),
                                            payload.begin() + static_cast<std::ptrdiff_t>(offset + length));
        frames.push_back(eth.serialize());
    }
    return frames;
}

// An ICMP message serialized on its own (its checksum needs no pseudo-header).
inline std::vector<std::uint8_t> icmp_message(Tins::ICMP icmp, const std::vector<std::uint8_t>& data) {
    Tins::ICMP message = icmp / raw(data);
    return message.serialize();
}

inline Tins::ICMP echo_request(std::uint16_t id, std::uint16_t seq) {
    Tins::ICMP icmp(Tins::ICMP::ECHO_REQUEST);
    icmp.id(id);
    icmp.sequence(seq);
    return icmp;
}

// Checks that `frames` are one echo reply from us to the peer (possibly fragmented), with `id`,
// `seq` and `data`, and valid checksums; the reply's ICMP message is reassembled here.
inline void expect_echo_reply(const std::vector<Frame>& frames, std::uint16_t id, std::uint16_t seq,
                              const std::vector<std::uint8_t>& data) {
    ASSERT_FALSE(frames.empty()) << "no echo reply";
    const std::size_t message_len = 8 + data.size();
    const std::size_t expected_frames = message_len + 20 <= 1500 ? 1 : (message_len + 1479) / 1480;
    EXPECT_EQ(frames.size(), expected_frames);
    for (const Frame& frame : frames) {
        Tins::EthernetII eth(frame.data(), static_cast<std::uint32_t>(frame.size()));
        EXPECT_EQ(eth.dst_addr(), tins_mac(kPeerMac));
        EXPECT_EQ(eth.src_addr(), tins_mac(kOurMac));
        EXPECT_EQ(eth.payload_type(), 0x0800);
        const Tins::IP& ip = eth.rfind_pdu<Tins::IP>();
        EXPECT_EQ(ip.src_addr(), tins_ip(kOurIp));
        EXPECT_EQ(ip.dst_addr(), tins_ip(kPeerIp));
        EXPECT_EQ(ip.protocol(), 1);
        EXPECT_EQ(ip.ttl(), 64);
        EXPECT_EQ(ip.head_len(), 5);
    }
    std::vector<std::uint8_t> message = reassemble(frames);
    ASSERT_EQ(message.size(), message_len);
    EXPECT_EQ(internet_checksum(message.data(), message.size()), 0) << "ICMP checksum";
    Tins::ICMP icmp(message.data(), static_cast<std::uint32_t>(message.size()));
    EXPECT_EQ(icmp.serialize(), message) << "libtins computes a different ICMP checksum";
    EXPECT_EQ(icmp.type(), Tins::ICMP::ECHO_REPLY);
    EXPECT_EQ(icmp.code(), 0);
    EXPECT_EQ(icmp.id(), id);
    EXPECT_EQ(icmp.sequence(), seq);
    EXPECT_TRUE(std::equal(message.begin() + 8, message.end(), data.begin(), data.end())) << "echo data differs";
}

// Checks that `frame` is one ICMP error from us to the peer, of `type` and `code`, quoting
// `offending` (the whole IPv4 datagram that caused it, as the peer sent it): its header and as much
// of its payload as fits in 576 bytes (RFC 1812 4.3.2.3), at least 8 bytes (RFC 792).
// With `any_fragment_fields`, the quoted header's total length, flags/offset and checksum are not
// compared (a reassembled datagram may be quoted with its first fragment's values or its own).
inline void expect_icmp_error(const Frame& frame, std::uint8_t type, std::uint8_t code, Frame offending,
                              bool any_fragment_fields = false) {
    ASSERT_GE(frame.size(), kEth + 20 + 8);
    expect_checksums_valid(frame);
    Tins::EthernetII eth(frame.data(), static_cast<std::uint32_t>(frame.size()));
    EXPECT_EQ(eth.dst_addr(), tins_mac(kPeerMac));
    EXPECT_EQ(eth.src_addr(), tins_mac(kOurMac));
    const Tins::IP& ip = eth.rfind_pdu<Tins::IP>();
    EXPECT_EQ(ip.src_addr(), tins_ip(kOurIp));
    EXPECT_EQ(ip.dst_addr(), tins_ip(kPeerIp));
    EXPECT_EQ(ip.protocol(), 1);
    Frame datagram = ip_bytes(frame);
    EXPECT_LE(datagram.size(), 576u);
    const std::size_t ihl = std::size_t{datagram[0] & 0x0fu} * 4;
    Frame icmp(datagram.begin() + static_cast<std::ptrdiff_t>(ihl), datagram.end());
    EXPECT_EQ(internet_checksum(icmp.data(), icmp.size()), 0) << "ICMP checksum";
    EXPECT_EQ(icmp[0], type);
    EXPECT_EQ(icmp[1], code);
    EXPECT_EQ((std::vector<std::uint8_t>(icmp.begin() + 4, icmp.begin() + 8)), (std::vector<std::uint8_t>(4, 0)))
        << "unused field";
    Frame quote(icmp.begin() + 8, icmp.end());
    if (any_fragment_fields && quote.size() >= 12 && offending.size() >= 12) {
        for (std::size_t i : {2, 3, 6, 7, 10, 11}) quote[i] = offending[i] = 0;
    }
    const std::size_t offending_ihl = std::size_t{offending[0] & 0x0fu} * 4;
    EXPECT_GE(quote.size(), std::min(offending.size(), offending_ihl + 8));
    EXPECT_EQ(quote.size(), std::min(offending.size(), std::size_t{576 - 20 - 8}));
    EXPECT_TRUE(std::equal(quote.begin(), quote.end(), offending.begin(),
                           offending.begin() + static_cast<std::ptrdiff_t>(std::min(quote.size(), offending.size()))))
        << "the quote is not the offending datagram";
}

// A protocol handler that records what IPv4 gives it (copies: the views it gets die with the call).
class RecordingHandler : public Ipv4ProtocolHandler {
public:
    struct Received {
        Ipv4RxInfo info;
        std::vector<std::uint8_t> payload;
    };
    struct Error {
        IcmpErrorInfo error;  // quoted_payload cleared: the copy is in `quoted_payload`
        std::vector<std::uint8_t> quoted_payload;
        Instant when;
    };
    struct Unreachable {
        Ipv4Address destination, next_hop;
        std::vector<std::uint8_t> payload;
        Instant when;
    };

    void receive(Instant, const Ipv4RxInfo& info, Packet payload) override {
        received.push_back({info, {payload.data(), payload.data() + payload.size()}});
    }
    void icmp_error(Instant now, const IcmpErrorInfo& error) override {
        Error e{error, {error.quoted_payload.begin(), error.quoted_payload.end()}, now};
        e.error.quoted_payload = {};
        errors.push_back(std::move(e));
    }
    void unreachable(Instant now, const UnreachableInfo& info) override {
        unreachables.push_back({info.destination, info.next_hop, {info.payload.begin(), info.payload.end()}, now});
    }

    std::vector<Received> received;
    std::vector<Error> errors;
    std::vector<Unreachable> unreachables;
};

class LayerTest : public ::testing::Test {
protected:
    // Tweak these before the first stack() call.
    StackConfig config;
    std::optional<Ipv4Address> gateway;
    // When set, the new Stack learns the peer at t=0 (the peer asks for us; our reply is taken off
    // the wire), so that datagrams to the peer leave without an ARP exchange.
    bool peer_known = false;
    QueueDevice device{kOurMac};

    Stack& stack() {
        if (!stack_) {
            stack_ = std::make_unique<Stack>(device, InterfaceConfig{Ipv4Cidr{kOurIp, 24}, gateway}, config, 42);
            if (peer_known) {
                device.inject(arp_request(kPeerMac, kPeerIp, kOurIp).serialize());
                stack_->poll(at(0));
                EXPECT_EQ(device.take_sent().size(), 1u) << "our ARP reply to the peer";
            }
        }
        return *stack_;
    }
    const StackStats& stats() { return stack().stats(); }

    // Puts a frame on the wire towards the stack and lets it run at `now`.
    void inject(Instant now, Tins::PDU& pdu) { inject(now, pdu.serialize()); }
    void inject(Instant now, Tins::PDU&& pdu) { inject(now, pdu.serialize()); }
    void inject(Instant now, const Frame& frame) {
        queue(frame);
        stack().poll(now);
    }
    void inject_all(Instant now, const std::vector<Frame>& frames) {
        for (const Frame& f : frames) queue(f);
        stack().poll(now);
    }
    // Puts a frame on the wire without running the stack (the next poll receives it).
    void queue(const Frame& frame) {
        stack();  // built first, so that its own start-up exchange comes before this frame
        device.inject(frame);
    }
    void poll(Instant now) { stack().poll(now); }

    // Raw frames the stack sent since the last call.
    std::vector<Frame> take_sent_raw() { return device.take_sent(); }
    // The same, parsed by libtins.
    std::vector<Tins::EthernetII> take_sent() {
        std::vector<Tins::EthernetII> out;
        for (const Frame& f : device.take_sent()) out.emplace_back(f.data(), static_cast<std::uint32_t>(f.size()));
        return out;
    }
    // Exactly one frame was sent: returns its raw bytes (and fails the test otherwise).
    Frame expect_one_raw() {
        auto sent = device.take_sent();
        EXPECT_EQ(sent.size(), 1u) << "expected exactly one frame";
        if (sent.empty()) return Frame(kEth + 20, 0);  // parses, and fails every field check
        return sent.front();
    }
    // Exactly one frame was sent: returns it parsed.
    Tins::EthernetII expect_one() {
        Frame f = expect_one_raw();
        return Tins::EthernetII(f.data(), static_cast<std::uint32_t>(f.size()));
    }
    // Nothing was sent, even after running the stack at `now`.
    void expect_nothing(Instant now) {
        stack().poll(now);
        auto sent = device.take_sent();
        EXPECT_TRUE(sent.empty()) << sent.size() << " unexpected frame(s), the first "
                                  << (sent.empty() ? 0 : sent.front().size()) << " bytes";
    }

    // Ethernet headers from the peer to us, and from the peer to everyone.
    static Tins::EthernetII eth_to_us() { return Tins::EthernetII(tins_mac(kOurMac), tins_mac(kPeerMac)); }
    static Tins::EthernetII eth_broadcast() { return Tins::EthernetII(Tins::EthernetII::BROADCAST, tins_mac(kPeerMac)); }
    static Tins::IP ip_to_us(std::uint8_t protocol = 0) {
        Tins::IP ip(kOurIpStr, kPeerIpStr);
        ip.ttl(64);
        if (protocol) ip.protocol(protocol);
        return ip;
    }

    // An ARP request from `mac`/`ip` for `target` (broadcast, as hosts send them).
    static Tins::EthernetII arp_request(MacAddress mac, Ipv4Address ip, Ipv4Address target) {
        return Tins::ARP::make_arp_request(tins_ip(target), tins_ip(ip), tins_mac(mac));
    }
    // An ARP reply from `mac`/`ip` to us.
    static Tins::EthernetII arp_reply(MacAddress mac, Ipv4Address ip) {
        return Tins::ARP::make_arp_reply(tins_ip(kOurIp), tins_ip(ip), tins_mac(kOurMac), tins_mac(mac));
    }

    // The neighbour at `ip` asks for us, so we learn its MAC; its reply is taken off the wire.
    void learn(Instant now, MacAddress mac, Ipv4Address ip) {
        inject(now, arp_request(mac, ip, kOurIp));
        auto sent = device.take_sent();
        ASSERT_EQ(sent.size(), 1u) << "our ARP reply";
    }
    void learn_peer(Instant now) { learn(now, kPeerMac, kPeerIp); }

    // A packet for Ipv4Layer::send: `data` with headroom for every header below.
    Packet payload(const std::vector<std::uint8_t>& data) {
        Packet p = stack().pool().allocate(data.size());
        auto out = p.append(data.size());
        std::copy(data.begin(), data.end(), out.begin());
        return p;
    }

private:
    std::unique_ptr<Stack> stack_;
};

}  // namespace tcpip::layers_test
