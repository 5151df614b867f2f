// Path MTU discovery (RFC 1191) with RFC 5927's checks, in dialogues: a router's fragmentation-
// needed ICMP lowers the path MTU and the MSS, what was in flight is resent at once in segments
// that fit, later connections to that destination start with it; an ICMP that quotes no
// connection of ours, or a sequence number not in flight, is ignored and counted. Then the path
// MTU cache alone: bounded, entries expire, never raised by an ICMP, never below 552.
#include <gtest/gtest.h>

#include <optional>

#include "stack/ipv4/pmtu.h"
#include "tests/unit/tcp/harness.h"

namespace tcpip::tcp_test {
namespace {

using layers_test::kEth;

constexpr const char* kRouterIpStr = "10.0.0.254";

bool dont_fragment(const Seg& s) { return (s.frame.at(kEth + 6) & 0x40) != 0; }

class PmtuTest : public TcpTest {
protected:
    // A router's ICMP destination unreachable, fragmentation needed, with next-hop MTU `mtu`,
    // quoting the IPv4 header and first 8 bytes of our segment `quoted`; `seq` replaces the quoted
    // sequence number and `sport` the quoted source port (a forgery) when given.
    Frame frag_needed(const Seg& quoted, std::uint16_t mtu, std::optional<std::uint32_t> seq = {},
                      std::optional<std::uint16_t> sport = {}) const {
        Frame quote = layers_test::ip_bytes(quoted.frame);
        quote.resize(20 + 8);
        if (seq) store_be32(quote.data() + 24, *seq);
        if (sport) store_be16(quote.data() + 20, *sport);
        Tins::ICMP icmp(Tins::ICMP::DEST_UNREACHABLE);
        icmp.code(4);
        icmp.mtu(mtu);
        return (layers_test::LayerTest::eth_to_us() / Tins::IP(layers_test::kOurIpStr, kRouterIpStr) / icmp /
                layers_test::raw(quote))
            .serialize();
    }
    std::size_t path_mtu() { return net().ipv4().path_mtu(now(), kPeerIp); }

    // Three full segments written at 100 ms and sent at once; returns them.
    std::vector<Seg> three_segments() {
        write(at(100), 3 * kMss);
        std::vector<Seg> sent;
        sent.push_back(expect_sent(at(100), seg().seq(us()).ack(peer()).len(kMss)));
        sent.push_back(expect_sent(at(100), seg().seq(us(kMss)).ack(peer()).len(kMss)));
        sent.push_back(expect_sent(at(100), seg().psh().seq(us(2 * kMss)).ack(peer()).len(kMss)));
        for (const Seg& s : sent) EXPECT_TRUE(dont_fragment(s)) << "TCP segments leave with DF";
        return sent;
    }
};

TEST_F(PmtuTest, FragmentationNeededLowersTheMssAndResendsWhatWasInFlight) {
    config.tcp_pacing = false;  // the segments' order and count, all at once (pacing spreads them: pacing_test.cpp)
    established();
    const std::vector<Seg> sent = three_segments();
    // A router on the way has a 1000-byte link: it dropped the first segment (and the others).
    send_frame(at(120), frag_needed(sent[0], 1000));
    EXPECT_EQ(path_mtu(), 1000u);
    EXPECT_EQ(sock->mss, 960);  // 1000 - 20 (IPv4) - 20 (TCP)
    EXPECT_EQ(stats().tcp.pmtu_mss_lowered, 1u);
    // At once, and without waiting for the window (nothing of it was lost to congestion): the
    // 4380 bytes in segments of 960, each with DF.
    for (std::uint32_t i = 0; i < 4; ++i) {
        Seg s = expect_sent(at(120), seg().seq(us(i * 960)).ack(peer()).data(ours(i * 960, 960)));
        EXPECT_TRUE(dont_fragment(s));
    }
    expect_sent(at(120), seg().psh().seq(us(3840)).ack(peer()).data(ours(3840, 540)));
    EXPECT_EQ(tcp().info(sock).cwnd, 10u * kMss) << "no congestion response";
    send(at(130), seg().seq(peer()).ack(us(3 * kMss)));
    // Later data is cut to the new MSS from the start.
    write(at(200), 2000, 3 * kMss);
    expect_sent(at(200), seg().seq(us(3 * kMss)).ack(peer()).data(ours(3 * kMss, 960)));
    expect_sent(at(200), seg().seq(us(3 * kMss + 960)).ack(peer()).data(ours(3 * kMss + 960, 960)));
    expect_sent(at(200), seg().psh().seq(us(3 * kMss + 1920)).ack(peer()).data(ours(3 * kMss + 1920, 80)));
    // The same ICMP again, now about acknowledged data: not in flight, ignored.
    send_frame(at(210), frag_needed(sent[0], 1000));
    EXPECT_EQ(stats().tcp.icmp_ignored, 1u);
    expect_nothing(at(220));
    sent_.clear();
}

// After the path MTU went down, the congestion controller counts in segments of the new MSS: slow
// start grows cwnd by at most 8 segments per ACK (RFC 9406's L), of 960 bytes now: the ACK of
// 14,600 bytes adds 7,680, not 8 x 1460. Both algorithms (CUBIC's slow start, HyStart++'s, and its
// curve count segments too).
class PmtuCongestionTest : public PmtuTest, public ::testing::WithParamInterface<CongestionAlgorithm> {};

TEST_P(PmtuCongestionTest, CountsSegmentsOfTheNewMss) {
    config.tcp_pacing = false;
    config.tcp_congestion = GetParam();
    established();
    write(at(100), 20 * kMss);
    std::vector<Seg> sent;
    for (int i = 0; i < 10; ++i) sent.push_back(take_sent(at(100)));
    send_frame(at(120), frag_needed(sent[0], 1000));
    ASSERT_EQ(sock->mss, 960);
    if (GetParam() == CongestionAlgorithm::NewReno) {
        EXPECT_EQ(tcp().info(sock).cwnd, 10u * kMss);
    }
    send(at(130), seg().seq(peer()).ack(us(10 * kMss)));
    EXPECT_EQ(tcp().info(sock).cwnd, 10u * kMss + 8 * 960);
    sent_.clear();
}

INSTANTIATE_TEST_SUITE_P(Both, PmtuCongestionTest,
                         ::testing::Values(CongestionAlgorithm::NewReno, CongestionAlgorithm::Cubic));

// RFC 5927: an attacker who guessed the ports still has to guess a sequence number in flight. A
// forged ICMP quoting one outside SND.UNA..SND.NXT, or ports of no connection of ours, changes
// nothing and is counted; so is one with no usable MTU.
TEST_F(PmtuTest, ForgedIcmpQuotingASequenceOutsideTheWindowIsIgnored) {
    established();
    const std::vector<Seg> sent = three_segments();
    send_frame(at(110), frag_needed(sent[0], 600, us(3 * kMss + 100000)));  // beyond SND.NXT
    send_frame(at(111), frag_needed(sent[0], 600, us() - 5000));             // before SND.UNA
    send_frame(at(112), frag_needed(sent[0], 600, us(3 * kMss)));            // at SND.NXT: nothing was sent there
    send_frame(at(113), frag_needed(sent[0], 600, std::nullopt, 1234));      // no such connection
    send_frame(at(114), frag_needed(sent[0], 0));                            // no next-hop MTU (pre-RFC 1191 router)
    EXPECT_EQ(stats().tcp.icmp_ignored, 5u);
    EXPECT_EQ(path_mtu(), 1500u);
    EXPECT_EQ(sock->mss, kMss);
    EXPECT_EQ(stats().tcp.pmtu_mss_lowered, 0u);
    EXPECT_FALSE(sock->soft_error.has_value());
    expect_nothing(at(115));
    // The genuine one, quoting the second segment in flight, is believed.
    send_frame(at(116), frag_needed(sent[1], 1200));
    EXPECT_EQ(sock->mss, 1160);
    EXPECT_EQ(stats().tcp.icmp_ignored, 5u);
    EXPECT_FALSE(sent_.empty());
    sent_.clear();
}

// A path MTU is never raised by an ICMP, never lowered below 552 (Linux's min_pmtu), and a new
// connection to that destination starts with it.
TEST_F(PmtuTest, BoundsAndLaterConnections) {
    config.tcp_pacing = false;  // the segments' order and count, all at once (pacing spreads them: pacing_test.cpp)
    established();
    const std::vector<Seg> sent = three_segments();
    send_frame(at(120), frag_needed(sent[0], 300));  // below the floor: 552
    EXPECT_EQ(path_mtu(), 552u);
    EXPECT_EQ(sock->mss, 512);
    sent_.clear();
    send(at(130), seg().seq(peer()).ack(us(3 * kMss)));
    write(at(140), 100, 3 * kMss);
    Seg s = take_sent(at(140));
    send_frame(at(150), frag_needed(s, 1400));  // higher than what we have: not believed
    EXPECT_EQ(path_mtu(), 552u);
    EXPECT_EQ(sock->mss, 512);
    sent_.clear();

    // Another connection to the same peer, from our side: its data is cut to 512 from the start.
    expect_nothing(at(200));
    sock = open_socket();
    peer_port = kServerPort;
    EXPECT_FALSE(tcp().connect(now(), sock, kPeerIp, kServerPort).has_value());
    Seg syn = take_sent(at(200));
    our_port = syn.src_port;
    our_iss = syn.seq_no;
    send(at(210), seg().syn().seq(kPeerIss).ack(us()).window(65535).mss(kMss));
    expect_sent(at(210), seg().seq(us()).ack(peer()));
    write(at(220), 1000);
    expect_sent(at(220), seg().seq(us()).ack(peer()).len(512));
    expect_sent(at(220), seg().psh().seq(us(512)).ack(peer()).len(488));
}

// ---- The cache alone ------------------------------------------------------------------------------

TEST(PathMtuCache, BoundedExpiringNeverRaisedNeverBelowTheFloor) {
    PathMtuCache cache(2, Duration::seconds(600), 552);
    const Instant t0 = Instant::from_millis(1000);
    const Ipv4Address a(10, 0, 0, 1), b(10, 0, 0, 3), c(10, 0, 0, 4);
    EXPECT_EQ(cache.lookup(t0, a, 1500), 1500u);
    EXPECT_TRUE(cache.lower(t0, a, 1000, 1500));
    EXPECT_EQ(cache.generation(), 1u);
    EXPECT_EQ(cache.lookup(t0, a, 1500), 1000u);
    EXPECT_FALSE(cache.lower(t0, a, 1200, 1500)) << "never raised";
    EXPECT_FALSE(cache.lower(t0, a, 1000, 1500));
    EXPECT_EQ(cache.generation(), 1u);
    EXPECT_TRUE(cache.lower(t0 + Duration::seconds(10), b, 100, 1500));
    EXPECT_EQ(cache.lookup(t0, b, 1500), 552u) << "the floor";
    // Full: a third destination pushes out the entry nearest its expiry (a's).
    EXPECT_TRUE(cache.lower(t0 + Duration::seconds(20), c, 1400, 1500));
    EXPECT_EQ(cache.size(), 2u);
    EXPECT_EQ(cache.lookup(t0 + Duration::seconds(20), a, 1500), 1500u);
    EXPECT_EQ(cache.lookup(t0 + Duration::seconds(20), c, 1500), 1400u);
    // Entries expire: after 600 s the interface MTU is tried again (RFC 1191 6.3).
    EXPECT_EQ(cache.lookup(t0 + Duration::seconds(609), b, 1500), 552u);
    EXPECT_EQ(cache.lookup(t0 + Duration::seconds(610), b, 1500), 1500u);
    EXPECT_EQ(cache.size(), 1u);
    // Never above the link's own MTU.
    EXPECT_EQ(cache.lookup(t0 + Duration::seconds(20), c, 1300), 1300u);
}

}  // namespace
}  // namespace tcpip::tcp_test
