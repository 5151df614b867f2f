// UDP layer tests (RFC 768; RFC 1122 section 4.1.3): the UdpLayer over one Stack and a QueueDevice,
// in virtual time (tests/unit/layers/harness.h). The peer's datagrams are built by libtins, ours
// are checked against what libtins builds from the same ports and data (its UDP checksum is the
// oracle), and the socket-level behaviour is read straight from the UdpSocket:
//
//   checksums      always generated (0 goes out as 0xffff), verified when non-zero, zero accepted
//   demux          most specific wins: connected beats unconnected, our address beats 0.0.0.0
//   no socket      ICMP port unreachable quoting the datagram, rate-limited, counted rx_no_port;
//                  none for a broadcast
//   ICMP errors    port unreachable about a connected socket's datagram -> ECONNREFUSED next call
//   sizes          up to 65,507 bytes, fragmented on the way out and reassembled on the way in
//   rcvbuf         a full receive buffer drops the newest datagram and counts it (rx_queue_full)
//   broadcast      only with SO_BROADCAST (AccessDenied otherwise), at send and at connect
//   ephemeral      ports in 49152..65535 (RFC 6335), not handed out in sequence (RFC 6056)
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "tests/unit/layers/harness.h"

namespace tcpip::layers_test {
namespace {

constexpr std::uint16_t kPeerPort = 5000;
constexpr Ipv4Address kSubnetBroadcast{10, 0, 0, 255};

class UdpTest : public LayerTest {
protected:
    UdpTest() { peer_known = true; }

    UdpLayer& udp() { return stack().udp(); }

    // An open socket bound to (address, port); reuse sets SO_REUSEADDR first.
    UdpSocket* bound(Ipv4Address address, std::uint16_t port, bool reuse = false) {
        UdpSocket* socket = udp().open();
        socket->reuse_address = reuse;
        auto result = udp().bind(socket, address, port);
        EXPECT_TRUE(result.has_value()) << "bind " << address.to_string() << ":" << port;
        return socket;
    }

    // A datagram from the peer (src_port) to `dst`:`dst_port`, as libtins builds it (checksum
    // computed).
    static Frame udp_frame(std::uint16_t dst_port, const std::vector<std::uint8_t>& data,
                           std::uint16_t src_port = kPeerPort, Ipv4Address dst = kOurIp) {
        Tins::IP ip(str(dst), kPeerIpStr);
        ip.ttl(64);
        Tins::EthernetII eth = dst == kOurIp ? eth_to_us() : eth_broadcast();
        return (eth / ip / Tins::UDP(dst_port, src_port) / raw(data)).serialize();
    }
    static void set_udp_checksum(Frame& frame, std::uint16_t checksum) {
        frame[kEth + 20 + 6] = static_cast<std::uint8_t>(checksum >> 8);
        frame[kEth + 20 + 7] = static_cast<std::uint8_t>(checksum);
    }
    static std::uint16_t udp_checksum(const Frame& frame) {
        return static_cast<std::uint16_t>(frame[kEth + 20 + 6] << 8 | frame[kEth + 20 + 7]);
    }

    Result<std::size_t, SocketError> send(UdpSocket* socket, const std::vector<std::uint8_t>& data,
                                          std::optional<std::pair<Ipv4Address, std::uint16_t>> to = {},
                                          Instant now = at(10)) {
        return udp().send(now, socket, Bytes(data.data(), data.size()), to);
    }

    // Pops the oldest datagram of `socket` as (source, data); the queue must not be empty.
    static std::vector<std::uint8_t> pop(UdpSocket* socket, Ipv4Address* src = nullptr, std::uint16_t* port = nullptr) {
        if (socket->rx_queue.empty()) {
            ADD_FAILURE() << "no datagram queued";
            return {};
        }
        UdpSocket::Datagram d = socket->pop();
        if (src) *src = d.src;
        if (port) *port = d.src_port;
        return {d.data.data(), d.data.data() + d.data.size()};
    }
};

// The UDP datagram (header and data) that libtins builds for these addresses, ports and data:
// the independent oracle for ours, checksum included.
std::vector<std::uint8_t> libtins_udp(Ipv4Address src, Ipv4Address dst, std::uint16_t src_port, std::uint16_t dst_port,
                                      const std::vector<std::uint8_t>& data) {
    auto bytes = (Tins::IP(str(dst), str(src)) / Tins::UDP(dst_port, src_port) / raw(data)).serialize();
    return {bytes.begin() + 20, bytes.end()};
}

// The RFC 1071 sum over pseudo-header and datagram: 0 when the checksum field is right.
std::uint16_t sum_with_pseudo_header(Ipv4Address src, Ipv4Address dst, const std::vector<std::uint8_t>& udp) {
    std::vector<std::uint8_t> bytes;
    for (Ipv4Address a : {src, dst}) {
        const std::uint32_t v = a.to_u32();
        for (int shift : {24, 16, 8, 0}) bytes.push_back(static_cast<std::uint8_t>(v >> shift));
    }
    bytes.insert(bytes.end(), {0, 17, static_cast<std::uint8_t>(udp.size() >> 8), static_cast<std::uint8_t>(udp.size())});
    bytes.insert(bytes.end(), udp.begin(), udp.end());
    return internet_checksum(bytes.data(), bytes.size());
}

// ---- Checksums -----------------------------------------------------------------------------

TEST_F(UdpTest, SentDatagramMatchesLibtinsChecksumIncluded) {
    UdpSocket* socket = bound(Ipv4Address::any(), 4000);
    const auto data = pattern(100, 3);
    ASSERT_EQ(send(socket, data, std::make_pair(kPeerIp, kPeerPort)).value_or(0), 100u);
    Frame frame = expect_one_raw();
    expect_checksums_valid(frame);
    Frame datagram = ip_bytes(frame);
    ASSERT_EQ(datagram[9], 17);
    std::vector<std::uint8_t> ours(datagram.begin() + 20, datagram.end());
    EXPECT_EQ(ours, libtins_udp(kOurIp, kPeerIp, 4000, kPeerPort, data));
    EXPECT_NE(udp_checksum(frame), 0) << "RFC 1122 4.1.3.4: the checksum is always generated";
    EXPECT_EQ(sum_with_pseudo_header(kOurIp, kPeerIp, ours), 0);
    EXPECT_EQ(stats().udp.tx_datagrams, 1u);
}

TEST_F(UdpTest, ComputedChecksumOfZeroGoesOutAsAllOnes) {
    // Two data bytes chosen so that the sum over everything else plus them is 0xffff: the
    // computed checksum is then 0, which on the wire would mean "no checksum" (RFC 768).
    std::vector<std::uint8_t> udp = {0x0f, 0xa0, 0x13, 0x88, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00};  // 4000 -> 5000
    const std::uint16_t fill = sum_with_pseudo_header(kOurIp, kPeerIp, udp);
    ASSERT_NE(fill, 0);
    const std::vector<std::uint8_t> data = {static_cast<std::uint8_t>(fill >> 8), static_cast<std::uint8_t>(fill)};
    UdpSocket* socket = bound(Ipv4Address::any(), 4000);
    ASSERT_TRUE(send(socket, data, std::make_pair(kPeerIp, kPeerPort)).has_value());
    Frame frame = expect_one_raw();
    EXPECT_EQ(udp_checksum(frame), 0xffff);
    Frame datagram = ip_bytes(frame);
    EXPECT_EQ(sum_with_pseudo_header(kOurIp, kPeerIp, std::vector<std::uint8_t>(datagram.begin() + 20, datagram.end())), 0);
}

TEST_F(UdpTest, BadChecksumIsDroppedAndCounted) {
    UdpSocket* socket = bound(Ipv4Address::any(), 7);
    Frame frame = udp_frame(7, pattern(20));
    set_udp_checksum(frame, static_cast<std::uint16_t>(udp_checksum(frame) ^ 0x0100));
    inject(at(10), frame);
    EXPECT_TRUE(socket->rx_queue.empty());
    EXPECT_EQ(stats().udp.rx_bad_checksum, 1u);
    EXPECT_EQ(stats().udp.rx_datagrams, 0u);
    EXPECT_EQ(stats().udp.rx_no_port, 0u);
    expect_nothing(at(20));  // in particular no ICMP error: the datagram may not even be for us
}

TEST_F(UdpTest, ZeroChecksumMeansNoneAndIsAccepted) {
    UdpSocket* socket = bound(Ipv4Address::any(), 7);
    Frame frame = udp_frame(7, pattern(20));
    set_udp_checksum(frame, 0);
    inject(at(10), frame);
    EXPECT_EQ(pop(socket), pattern(20));
    EXPECT_EQ(stats().udp.rx_bad_checksum, 0u);
}

TEST_F(UdpTest, ChecksumNotVerifiedWhenConfiguredOff) {
    config.verify_rx_checksums = false;  // a driver with receive checksum offload, or a fuzzer
    UdpSocket* socket = bound(Ipv4Address::any(), 7);
    Frame frame = udp_frame(7, pattern(20));
    set_udp_checksum(frame, static_cast<std::uint16_t>(udp_checksum(frame) ^ 0x0100));
    inject(at(10), frame);
    EXPECT_EQ(pop(socket), pattern(20));
}

// ---- Demultiplexing ------------------------------------------------------------------------

TEST_F(UdpTest, ConnectedSocketBeatsUnconnectedInEitherBindOrder) {
    for (bool connected_first : {false, true}) {
        SCOPED_TRACE(connected_first ? "connected bound first" : "unconnected bound first");
        auto make_connected = [&] {
            UdpSocket* s = bound(Ipv4Address::any(), 7, true);
            EXPECT_TRUE(udp().connect(s, kPeerIp, kPeerPort).has_value());
            return s;
        };
        UdpSocket* connected = connected_first ? make_connected() : nullptr;
        UdpSocket* unconnected = bound(Ipv4Address::any(), 7, true);
        if (!connected_first) connected = make_connected();

        inject(at(10), udp_frame(7, {1}, kPeerPort));      // from the connected socket's peer
        inject(at(10), udp_frame(7, {2}, kPeerPort + 1));  // from another port of the peer
        EXPECT_EQ(pop(connected), std::vector<std::uint8_t>{1});
        EXPECT_EQ(pop(unconnected), std::vector<std::uint8_t>{2});
        EXPECT_TRUE(connected->rx_queue.empty());
        EXPECT_TRUE(unconnected->rx_queue.empty());
        udp().close(connected);
        udp().close(unconnected);
    }
}

TEST_F(UdpTest, SpecificAddressBeatsWildcardInEitherBindOrder) {
    for (bool specific_first : {false, true}) {
        SCOPED_TRACE(specific_first ? "specific bound first" : "wildcard bound first");
        UdpSocket* specific = specific_first ? bound(kOurIp, 7, true) : nullptr;
        UdpSocket* wildcard = bound(Ipv4Address::any(), 7, true);
        if (!specific_first) specific = bound(kOurIp, 7, true);

        inject(at(10), udp_frame(7, {1}));                           // to our address
        inject(at(10), udp_frame(7, {2}, kPeerPort, kSubnetBroadcast));  // to the subnet's broadcast
        EXPECT_EQ(pop(specific), std::vector<std::uint8_t>{1});
        EXPECT_EQ(pop(wildcard), std::vector<std::uint8_t>{2});
        EXPECT_TRUE(specific->rx_queue.empty());
        EXPECT_TRUE(wildcard->rx_queue.empty());
        udp().close(specific);
        udp().close(wildcard);
    }
}

TEST_F(UdpTest, ConnectedSocketIgnoresOtherPeers) {
    UdpSocket* socket = bound(Ipv4Address::any(), 7);
    ASSERT_TRUE(udp().connect(socket, kPeerIp, kPeerPort).has_value());
    Frame other = udp_frame(7, pattern(8), kPeerPort + 1);
    inject(at(10), other);
    EXPECT_TRUE(socket->rx_queue.empty());
    EXPECT_EQ(stats().udp.rx_no_port, 1u);
    expect_icmp_error(expect_one_raw(), 3, 3, ip_bytes(other));
}

TEST_F(UdpTest, DatagramKeepsItsSource) {
    UdpSocket* socket = bound(Ipv4Address::any(), 7);
    inject(at(10), udp_frame(7, pattern(5), 4321));
    Ipv4Address src;
    std::uint16_t port = 0;
    EXPECT_EQ(pop(socket, &src, &port), pattern(5));
    EXPECT_EQ(src, kPeerIp);
    EXPECT_EQ(port, 4321);
}

// ---- No socket: ICMP port unreachable ------------------------------------------------------

TEST_F(UdpTest, NoSocketGetsPortUnreachableQuotingTheDatagram) {
    Frame frame = udp_frame(9, pattern(600));  // longer than a quote may be (576 bytes in all)
    inject(at(10), frame);
    expect_icmp_error(expect_one_raw(), 3, 3, ip_bytes(frame));
    EXPECT_EQ(stats().udp.rx_no_port, 1u);
    EXPECT_EQ(stats().icmp.tx_dest_unreachable, 1u);
}

TEST_F(UdpTest, PortUnreachableIsRateLimited) {
    for (int i = 0; i < 200; ++i) queue(udp_frame(9, pattern(8), static_cast<std::uint16_t>(kPeerPort + i)));
    poll(at(10));
    auto sent = take_sent_raw();
    EXPECT_GE(sent.size(), 1u);
    EXPECT_LE(sent.size(), config.icmp_error_burst);
    EXPECT_EQ(stats().udp.rx_no_port, 200u);
    EXPECT_EQ(stats().icmp.tx_rate_limited, 200u - sent.size());
}

TEST_F(UdpTest, NoPortUnreachableForABroadcast) {
    inject(at(10), udp_frame(9, pattern(8), kPeerPort, kSubnetBroadcast));
    EXPECT_EQ(stats().udp.rx_no_port, 1u);
    expect_nothing(at(20));  // RFC 1122 3.2.2: no ICMP error about a broadcast
}

// ---- ICMP errors about our datagrams -------------------------------------------------------

class UdpIcmpErrorTest : public UdpTest {
protected:
    // Sends one datagram from `socket` and answers it with ICMP port unreachable from the peer,
    // quoting the datagram's IPv4 header and first 8 bytes (RFC 792).
    void send_and_refuse(UdpSocket* socket, std::optional<std::pair<Ipv4Address, std::uint16_t>> to = {}) {
        ASSERT_TRUE(send(socket, pattern(30), to).has_value());
        Frame ours = expect_one_raw();
        Frame quote = ip_bytes(ours);
        quote.resize(28);
        Tins::ICMP icmp(Tins::ICMP::DEST_UNREACHABLE);
        icmp.code(3);
        inject(at(20), eth_to_us() / ip_to_us(1) / raw(icmp_message(icmp, quote)));
    }
};

TEST_F(UdpIcmpErrorTest, PortUnreachableMakesTheNextCallFailWithConnectionRefused) {
    UdpSocket* socket = bound(Ipv4Address::any(), 4000);
    ASSERT_TRUE(udp().connect(socket, kPeerIp, kPeerPort).has_value());
    int events = 0;
    socket->on_event = [&] { ++events; };
    send_and_refuse(socket);
    ASSERT_TRUE(socket->pending_error.has_value());
    EXPECT_EQ(*socket->pending_error, SocketError::ConnectionRefused);
    EXPECT_EQ(events, 1) << "a blocked recv or poll must wake up";
    // Reported once, by the next call, then cleared (Linux's sock_error).
    auto failed = send(socket, pattern(4));
    ASSERT_FALSE(failed.has_value());
    EXPECT_EQ(failed.error(), SocketError::ConnectionRefused);
    EXPECT_FALSE(socket->pending_error.has_value());
    expect_nothing(at(30));
    EXPECT_TRUE(send(socket, pattern(4)).has_value());
}

TEST_F(UdpIcmpErrorTest, UnconnectedSocketGetsNoError) {
    // As Linux without IP_RECVERR: an unconnected socket cannot tell which peer the error is about.
    UdpSocket* socket = bound(Ipv4Address::any(), 4000);
    send_and_refuse(socket, std::make_pair(kPeerIp, kPeerPort));
    EXPECT_FALSE(socket->pending_error.has_value());
}

TEST_F(UdpIcmpErrorTest, ErrorAboutAnotherPeerIsIgnored) {
    UdpSocket* socket = bound(Ipv4Address::any(), 4000);
    ASSERT_TRUE(udp().connect(socket, kPeerIp, kPeerPort + 1).has_value());
    UdpSocket* other = bound(Ipv4Address::any(), 4001);
    ASSERT_TRUE(udp().connect(other, kPeerIp, kPeerPort).has_value());
    send_and_refuse(other);
    EXPECT_FALSE(socket->pending_error.has_value());
    EXPECT_TRUE(other->pending_error.has_value());
}

// ---- Sizes and fragmentation ---------------------------------------------------------------

TEST_F(UdpTest, LargestDatagramIsFragmentedOnTheWayOut) {
    UdpSocket* socket = bound(Ipv4Address::any(), 4000);
    const auto data = pattern(UdpSocket::kMaxPayload, 9);
    ASSERT_EQ(UdpSocket::kMaxPayload, 65507u);
    ASSERT_EQ(send(socket, data, std::make_pair(kPeerIp, kPeerPort)).value_or(0), data.size());
    auto frames = take_sent_raw();
    EXPECT_EQ(frames.size(), (8 + data.size() + 1479) / 1480);  // 45 fragments of up to 1480 bytes
    Tins::IP first;
    std::vector<std::uint8_t> whole = reassemble(frames, &first);
    EXPECT_EQ(first.protocol(), 17);
    EXPECT_EQ(whole, libtins_udp(kOurIp, kPeerIp, 4000, kPeerPort, data));
    EXPECT_EQ(sum_with_pseudo_header(kOurIp, kPeerIp, whole), 0);
}

TEST_F(UdpTest, TooBigForUdpIsRefused) {
    UdpSocket* socket = bound(Ipv4Address::any(), 4000);
    auto result = send(socket, pattern(UdpSocket::kMaxPayload + 1), std::make_pair(kPeerIp, kPeerPort));
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error(), SocketError::MessageTooBig);
    expect_nothing(at(20));
}

TEST_F(UdpTest, LargestDatagramIsReassembledOnTheWayIn) {
    UdpSocket* socket = bound(Ipv4Address::any(), 7);
    const auto data = pattern(UdpSocket::kMaxPayload, 5);
    Tins::IP header = ip_to_us(17);
    header.id(0x4242);
    auto udp_bytes = libtins_udp(kPeerIp, kOurIp, kPeerPort, 7, data);
    inject_all(at(10), fragment(header, udp_bytes, 1480));
    EXPECT_EQ(stats().ipv4.reasm_ok, 1u);
    EXPECT_EQ(pop(socket), data);
    EXPECT_EQ(stats().udp.rx_datagrams, 1u);
}

// ---- Receive buffer ------------------------------------------------------------------------

TEST_F(UdpTest, FullReceiveBufferDropsAndCounts) {
    UdpSocket* socket = bound(Ipv4Address::any(), 7);
    socket->rcvbuf = 16 * 1024;
    for (int i = 0; i < 100; ++i) queue(udp_frame(7, pattern(100, static_cast<std::uint8_t>(i))));
    poll(at(10));
    const std::size_t queued = socket->rx_queue.size();
    EXPECT_GT(queued, 0u);
    EXPECT_LT(queued, 100u);
    EXPECT_LE(socket->rx_queued_bytes, socket->rcvbuf);
    EXPECT_EQ(stats().udp.rx_datagrams, queued);
    EXPECT_EQ(stats().udp.rx_queue_full, 100u - queued);
    expect_nothing(at(20));  // dropping is silent: no ICMP
    // The oldest were kept, in order.
    for (std::size_t i = 0; i < queued; ++i) EXPECT_EQ(pop(socket), pattern(100, static_cast<std::uint8_t>(i)));
    EXPECT_EQ(socket->rx_queued_bytes, 0u);
    // Room again once the application has read.
    inject(at(30), udp_frame(7, pattern(10)));
    EXPECT_EQ(pop(socket), pattern(10));
}

TEST_F(UdpTest, ReceiveBufferDefaultComesFromConfig) {
    config.udp_rcvbuf = 4 * PacketPool::kSmallCapacity;
    UdpSocket* socket = bound(Ipv4Address::any(), 7);
    EXPECT_EQ(socket->rcvbuf, config.udp_rcvbuf);
    for (int i = 0; i < 50; ++i) queue(udp_frame(7, pattern(100, static_cast<std::uint8_t>(i))));
    poll(at(10));
    EXPECT_EQ(socket->rx_queue.size(), 4u);
    EXPECT_LE(socket->rx_queued_bytes, config.udp_rcvbuf);
    EXPECT_EQ(stats().udp.rx_queue_full, 46u);
}

// A flood into a socket nobody reads, with the default bound (Linux's rmem_default, 212,992
// bytes of buffers): the queue stops growing there, and every datagram past it is counted.
TEST_F(UdpTest, FloodStaysWithinTheDefaultReceiveBuffer) {
    const std::size_t limit = StackConfig{}.udp_rcvbuf;
    EXPECT_EQ(limit, 212'992u);
    UdpSocket* socket = bound(Ipv4Address::any(), 7);
    for (int round = 0; round < 10; ++round) {
        for (int i = 0; i < 100; ++i) queue(udp_frame(7, pattern(1000, static_cast<std::uint8_t>(i))));
        poll(at(10 + round));
        ASSERT_LE(socket->rx_queued_bytes, limit);
    }
    const std::size_t queued = socket->rx_queue.size();
    EXPECT_EQ(queued, limit / PacketPool::kSmallCapacity);  // 104 one-frame datagrams
    EXPECT_EQ(stats().udp.rx_datagrams, queued);
    EXPECT_EQ(stats().udp.rx_queue_full, 1000u - queued);
    // The stack still answers: a read makes room for the next datagram.
    (void)pop(socket);
    inject(at(20), udp_frame(7, pattern(10)));
    EXPECT_EQ(socket->rx_queue.size(), queued);
    EXPECT_EQ(socket->rx_queue.back().data.size(), 10u);
}

// Reassembled datagrams sit in 64 KiB buffers and are charged for them, not for their length:
// with the default bound only three fit, whatever the count.
TEST_F(UdpTest, LargeDatagramsAreChargedTheirWholeBuffer) {
    const std::size_t limit = StackConfig{}.udp_rcvbuf;
    UdpSocket* socket = bound(Ipv4Address::any(), 7);
    const auto data = pattern(UdpSocket::kMaxPayload, 9);
    const auto udp_bytes = libtins_udp(kPeerIp, kOurIp, kPeerPort, 7, data);
    for (std::uint16_t i = 0; i < 10; ++i) {
        Tins::IP header = ip_to_us(17);
        header.id(static_cast<std::uint16_t>(0x5000 + i));
        inject_all(at(10 + i), fragment(header, udp_bytes, 1480));
        ASSERT_LE(socket->rx_queued_bytes, limit);
    }
    EXPECT_EQ(stats().ipv4.reasm_ok, 10u);
    const std::size_t queued = socket->rx_queue.size();
    EXPECT_EQ(queued, limit / PacketPool::kLargeCapacity);  // 3
    EXPECT_EQ(stats().udp.rx_queue_full, 10u - queued);
    for (std::size_t i = 0; i < queued; ++i) EXPECT_EQ(pop(socket), data);
}

TEST_F(UdpTest, ClosingASocketReturnsItsBuffers) {
    UdpSocket* socket = bound(Ipv4Address::any(), 7);
    const std::size_t in_use = stack().pool().buffers_in_use();
    for (int i = 0; i < 10; ++i) queue(udp_frame(7, pattern(100)));
    poll(at(10));
    EXPECT_EQ(socket->rx_queue.size(), 10u);
    udp().close(socket);
    EXPECT_EQ(stack().pool().buffers_in_use(), in_use);
    EXPECT_EQ(udp().socket_count(), 0u);
}

// ---- Broadcast -----------------------------------------------------------------------------

TEST_F(UdpTest, BroadcastNeedsTheFlag) {
    UdpSocket* socket = bound(Ipv4Address::any(), 4000);
    for (Ipv4Address to : {Ipv4Address::broadcast(), kSubnetBroadcast}) {
        SCOPED_TRACE(to.to_string());
        auto sent = send(socket, pattern(4), std::make_pair(to, 9));
        ASSERT_FALSE(sent.has_value());
        EXPECT_EQ(sent.error(), SocketError::AccessDenied);
        UdpSocket* connecting = udp().open();
        auto connected = udp().connect(connecting, to, 9);
        ASSERT_FALSE(connected.has_value());
        EXPECT_EQ(connected.error(), SocketError::AccessDenied);
        udp().close(connecting);
    }
    expect_nothing(at(20));

    socket->broadcast = true;  // SO_BROADCAST
    for (Ipv4Address to : {Ipv4Address::broadcast(), kSubnetBroadcast}) {
        SCOPED_TRACE(to.to_string());
        ASSERT_TRUE(send(socket, pattern(4), std::make_pair(to, 9)).has_value());
        Tins::EthernetII eth = expect_one();
        EXPECT_EQ(eth.dst_addr(), Tins::EthernetII::BROADCAST);
        EXPECT_EQ(eth.rfind_pdu<Tins::IP>().dst_addr(), tins_ip(to));
        EXPECT_EQ(eth.rfind_pdu<Tins::UDP>().dport(), 9);
    }
}

// ---- Ephemeral ports -----------------------------------------------------------------------

TEST_F(UdpTest, EphemeralPortsAreInRangeDistinctAndNotSequential) {
    std::vector<std::uint16_t> ports;
    for (int i = 0; i < 200; ++i) {
        UdpSocket* socket = udp().open();
        ASSERT_TRUE(udp().bind(socket, Ipv4Address::any(), 0).has_value());
        ports.push_back(socket->local_port);
    }
    // A socket that sends before binding gets one too.
    UdpSocket* implicit = udp().open();
    ASSERT_TRUE(send(implicit, pattern(1), std::make_pair(kPeerIp, kPeerPort)).has_value());
    ports.push_back(implicit->local_port);
    EXPECT_EQ(expect_one().rfind_pdu<Tins::UDP>().sport(), implicit->local_port);

    std::size_t in_sequence = 0;
    for (std::size_t i = 0; i < ports.size(); ++i) {
        EXPECT_GE(ports[i], UdpLayer::kEphemeralFirst);
        EXPECT_LE(ports[i], UdpLayer::kEphemeralLast);
        if (i > 0 && ports[i] == ports[i - 1] + 1) ++in_sequence;
    }
    EXPECT_EQ(std::set<std::uint16_t>(ports.begin(), ports.end()).size(), ports.size()) << "a port handed out twice";
    EXPECT_LT(in_sequence, ports.size() / 10) << "the next port is predictable from the last";
}

// A shard of a multiqueue stack (drivers/shard_device.h) is given a slice of the range: UDP and
// TCP pick only from it, and say EADDRNOTAVAIL when it is used up.
TEST_F(UdpTest, EphemeralPortsComeFromTheConfiguredSlice) {
    config.ephemeral_port_first = 57344;
    config.ephemeral_port_last = 57353;
    std::set<std::uint16_t> udp_ports, tcp_ports;
    for (int i = 0; i < 10; ++i) {
        UdpSocket* socket = udp().open();
        ASSERT_TRUE(udp().bind(socket, Ipv4Address::any(), 0).has_value());
        udp_ports.insert(socket->local_port);
        TcpSocket* stream = stack().tcp().open();
        ASSERT_TRUE(stack().tcp().bind(stream, Ipv4Address::any(), 0).has_value());
        tcp_ports.insert(stream->local_port);
    }
    EXPECT_EQ(udp_ports.size(), 10u);
    EXPECT_EQ(*udp_ports.begin(), 57344);
    EXPECT_EQ(*udp_ports.rbegin(), 57353);
    EXPECT_EQ(tcp_ports, udp_ports);  // the same ten, each transport its own
    auto full = udp().bind(udp().open(), Ipv4Address::any(), 0);
    ASSERT_FALSE(full.has_value());
    EXPECT_EQ(full.error(), SocketError::AddressNotAvailable);
    auto tcp_full = stack().tcp().bind(stack().tcp().open(), Ipv4Address::any(), 0);
    ASSERT_FALSE(tcp_full.has_value());
    EXPECT_EQ(tcp_full.error(), SocketError::AddressNotAvailable);
}

TEST_F(UdpTest, PortInUseUnlessBothReuse) {
    UdpSocket* first = bound(Ipv4Address::any(), 7);
    UdpSocket* second = udp().open();
    auto result = udp().bind(second, kOurIp, 7);
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error(), SocketError::AddressInUse);
    udp().close(first);
    EXPECT_TRUE(udp().bind(second, kOurIp, 7).has_value()) << "free again once closed";
}

}  // namespace
}  // namespace tcpip::layers_test
