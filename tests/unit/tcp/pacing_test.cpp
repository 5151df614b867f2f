// Pacing (stack/tcp/pacing.cpp), as Linux's internal pacing: the rate is 200 % of cwnd / SRTT in
// slow start (120 % beyond ssthresh / 2), the first ten segments go unpaced, each data segment moves
// the clock by its length over the rate, and a segment after idle leaves at once with half its time
// forgiven. The test device has no TSO, so each departure is one segment.
//
// The numbers of the dialogues: MSS 1460, a handshake RTT of 10 ms (SRTT = 10 ms), NewReno. The
// initial window of ten segments leaves at 100 ms; the ACK of all ten at 110 ms grows cwnd by eight
// segments (slow start's limit per ACK, RFC 9406's L) to eighteen (26,280 bytes); the pacing rate is
// then 2 x 26,280 bytes / 10 ms = 5,256,000 bytes/s, and one segment's time 1460 / 5,256,000 s =
// 277,777 ns.
#include <gtest/gtest.h>

#include "tests/unit/tcp/harness.h"

namespace tcpip::tcp_test {
namespace {

constexpr std::uint32_t kSeg = 1460;
constexpr std::uint32_t kWindow = 18;           // segments, after the ACK at 110 ms
constexpr std::int64_t kSegmentNs = 277'777;  // 1460 bytes at 5,256,000 bytes/s

class PacingTest : public TcpTest {
protected:
    // Established, the initial window sent at 100 ms and acknowledged at 110 ms, 30 segments written.
    PacingTest() { config.tcp_pacing = true; }  // the default (StackConfig), said here: these tests are about it

    void window_acknowledged() {
        config.tcp_congestion = CongestionAlgorithm::NewReno;
        established();
        write(at(100), 30 * kSeg);
        for (std::uint32_t i = 0; i < 10; ++i) expect_sent(at(100), seg().seq(us(i * kSeg)).ack(peer()).len(kSeg));
        expect_nothing(at(109));
        send(at(110), seg().seq(peer()).ack(us(10 * kSeg)));
    }
};

// The initial window goes at once (Linux paces from the tenth segment on); the next window is spread
// out: the first segment at once (the clock was behind), and it costs half its time (the credit for
// a late departure); every later one a segment's time after the one before, each departure rounded
// up to the microsecond of the timer that sends it.
TEST_F(PacingTest, InitialWindowAtOnceThenSegmentsSpacedByThePacingRate) {
    window_acknowledged();
    EXPECT_EQ(tcp().info(sock).cwnd, kWindow * kSeg);
    EXPECT_EQ(tcp().info(sock).pacing_rate, 5'256'000u);
    expect_sent(at(110), seg().seq(us(10 * kSeg)).ack(peer()).len(kSeg));
    const std::int64_t first_ns = 110'000'000 + kSegmentNs - kSegmentNs / 2;
    for (std::int64_t k = 1; k < kWindow; ++k) {
        const std::int64_t clock_ns = first_ns + (k - 1) * kSegmentNs;
        const Instant due = Instant::from_micros((clock_ns + 999) / 1000);
        expect_sent(due, seg().seq(us(static_cast<std::uint32_t>(10 + k) * kSeg)).ack(peer()).len(kSeg));
    }
    expect_nothing(at(130));  // cwnd is full
    EXPECT_EQ(stats().tcp.pacing_waits, kWindow - 1);
    EXPECT_TRUE(tcp().check_invariants().empty());
}

// The same dialogue with pacing off: the eighteen segments leave in one burst.
TEST_F(PacingTest, OffTheWindowLeavesInOneBurst) {
    config.tcp_pacing = false;
    window_acknowledged();
    EXPECT_EQ(tcp().info(sock).pacing_rate, 0u);
    for (std::uint32_t i = 10; i < 10 + kWindow; ++i) expect_sent(at(110), seg().seq(us(i * kSeg)).ack(peer()).len(kSeg));
    expect_nothing(at(130));
    EXPECT_EQ(stats().tcp.pacing_waits, 0u);
}

// Request/response: after a quiet spell, a lone small segment leaves at once, however recently the
// connection was paced; so does the next one after its answer.
TEST_F(PacingTest, ASmallSegmentAfterIdleLeavesAtOnce) {
    config.tcp_congestion = CongestionAlgorithm::NewReno;
    established();
    write(at(100), 10 * kSeg);
    for (std::uint32_t i = 0; i < 10; ++i) take_sent(at(100));
    send(at(110), seg().seq(peer()).ack(us(10 * kSeg)));
    write(at(200), 1, 10 * kSeg);
    expect_sent(at(200), seg().psh().seq(us(10 * kSeg)).ack(peer()).data(ours(10 * kSeg, 1)));
    send(at(210), seg().seq(peer()).ack(us(10 * kSeg + 1)).data(pattern(1)));
    expect_nothing(at(210));
    write(at(211), 1, 10 * kSeg + 1);
    expect_sent(at(211), seg().psh().seq(us(10 * kSeg + 1)).ack(peer(1)).data(ours(10 * kSeg + 1, 1)));
    EXPECT_EQ(stats().tcp.pacing_waits, 0u);
}

// Without an RTT sample there is no rate: the handshake's SYN-ACK was retransmitted (Karn: no
// sample), so nothing is paced until the first data segment is timed.
TEST_F(PacingTest, NoRateBeforeTheFirstRttSample) {
    listening();
    send(at(0), seg().syn().seq(kPeerIss).window(65535).mss(kMss));
    Seg synack = take_sent(at(0));
    our_iss = synack.seq_no;
    take_sent(at(1000));  // the SYN-ACK again, after the initial RTO of 1 s
    send(at(1010), seg().seq(peer()).ack(us()).window(65535));
    sock = *tcp().accept(listener);
    sock->on_event = [this] { ++events; };
    EXPECT_EQ(tcp().info(sock).pacing_rate, 0u);
    write(at(1100), 10 * kSeg);
    for (std::uint32_t i = 0; i < 10; ++i) {
        Seg m = seg().seq(us(i * kSeg)).ack(peer()).len(kSeg);
        expect_sent(at(1100), i == 9 ? m.psh() : m);
    }
    EXPECT_EQ(tcp().info(sock).pacing_rate, 0u);
    send(at(1110), seg().seq(peer()).ack(us(10 * kSeg)));
    EXPECT_GT(tcp().info(sock).pacing_rate, 0u);  // the first data segment was timed
}

// In congestion avoidance (cwnd >= ssthresh / 2) the rate is 120 % of cwnd / SRTT.
TEST_F(PacingTest, CongestionAvoidanceRateIs120Percent) {
    config.tcp_congestion = CongestionAlgorithm::NewReno;
    established();
    write(at(100), 10 * kSeg);
    for (std::uint32_t i = 0; i < 10; ++i) take_sent(at(100));
    // Three duplicate ACKs: fast retransmit, ssthresh = 5 segments, so cwnd >= ssthresh / 2.
    send(at(110), seg().seq(peer()).ack(us(kSeg)));
    for (int i = 0; i < 3; ++i) send(at(111), seg().seq(peer()).ack(us(kSeg)));
    take_sent(at(111));
    const TcpInfo info = tcp().info(sock);
    ASSERT_GE(info.cwnd, info.ssthresh / 2);
    const std::uint64_t window = std::max(info.cwnd, info.bytes_in_flight);
    EXPECT_EQ(info.pacing_rate, window * 120 * 10'000 / static_cast<std::uint64_t>(info.srtt.total_micros()));
    sent_.clear();
}

}  // namespace
}  // namespace tcpip::tcp_test
