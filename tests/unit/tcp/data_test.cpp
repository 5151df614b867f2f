// Moving data: retransmission (RFC 6298, Karn), fast retransmit and NewReno (RFC 5681, RFC 6582),
// out-of-order and duplicate segments (RFC 9293 3.10.7.4, RFC 5681 4.2), zero windows and
// persist probes (RFC 9293 3.8.6.1), silly window syndrome avoidance on both sides (3.8.6.2),
// Nagle (RFC 1122 4.2.3.4) and delayed ACKs (RFC 1122 4.2.3.2, RFC 5681 4.2).
//
// Unless a test says otherwise the connection comes from established(): the handshake's RTT is
// 10 ms, so the RTO is the 200 ms minimum; the peer's MSS is 1460 and its window 65535; ours is
// 65535 (no window scaling, a 256 KiB buffer).
#include <gtest/gtest.h>

#include "tests/unit/tcp/harness.h"

namespace tcpip::tcp_test {
namespace {

// ---- Retransmission timeout ------------------------------------------------------------------------

// RFC 6298 (2.4) the RTO is at least 200 ms (Linux's minimum, RFC's 1 s relaxed), (5.5) doubles at
// each expiry; after tcp_retries retransmissions the connection fails with ETIMEDOUT.
TEST_F(TcpTest, DataRtoBacksOffThenTimesOut) {
    config.tcp_retries = 3;
    established();
    EXPECT_EQ(tcp().info(sock).rto, Duration::millis(200));
    write(at(100), 100);
    const Seg data = seg().psh().seq(us()).ack(peer()).window(65535).data(ours(0, 100));
    expect_sent(at(100), data);
    expect_nothing(at(299));
    expect_sent(at(300), data);
    expect_nothing(at(699));
    expect_sent(at(700), data);
    expect_nothing(at(1499));
    expect_sent(at(1500), data);
    EXPECT_EQ(tcp().info(sock).retransmits, 3u);
    expect_nothing(at(3099));
    EXPECT_EQ(state(), TcpState::Established);
    expect_nothing(at(3100));
    EXPECT_EQ(state(), TcpState::Closed);
    auto r = try_read(at(3100), 10);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), SocketError::TimedOut);
    EXPECT_EQ(stats().tcp.timeouts, 4u);
}

// RTO = SRTT + 4 RTTVAR from the first sample: 300 ms gives 300 + 4 * 150 = 900 ms.
TEST_F(TcpTest, DataRtoFollowsTheRttSample) {
    established(Handshake().rtt(300));
    EXPECT_EQ(tcp().info(sock).srtt, Duration::millis(300));
    EXPECT_EQ(tcp().info(sock).rto, Duration::millis(900));
    write(at(1000), 10);
    const Seg data = seg().psh().seq(us()).ack(peer()).data(ours(0, 10));
    expect_sent(at(1000), data);
    expect_nothing(at(1899));
    expect_sent(at(1900), data);
    expect_nothing(at(3699));
    expect_sent(at(3700), data);
}

// After a timeout the congestion window is one segment: only the first unacknowledged segment goes
// again; the ACK for it lets the next two follow (slow start).
TEST_F(TcpTest, RtoResendsFromTheFirstUnacknowledgedSegment) {
    established();
    write(at(100), 3 * 1460);
    expect_sent(at(100), seg().seq(us()).ack(peer()).len(1460));
    expect_sent(at(100), seg().seq(us(1460)).ack(peer()).len(1460));
    expect_sent(at(100), seg().psh().seq(us(2920)).ack(peer()).len(1460));
    expect_sent(at(300), seg().seq(us()).ack(peer()).data(ours(0, 1460)));
    expect_nothing(at(300));
    EXPECT_EQ(tcp().info(sock).cwnd, 1460u);
    send(at(310), seg().seq(peer()).ack(us(1460)));
    expect_sent(at(310), seg().seq(us(1460)).ack(peer()).data(ours(1460, 1460)));
    expect_sent(at(310), seg().psh().seq(us(2920)).ack(peer()).data(ours(2920, 1460)));
    send(at(320), seg().seq(peer()).ack(us(4380)));
    expect_nothing(at(5000));
}

// Karn (RFC 6298 3): an ACK for a retransmitted segment gives no RTT sample, and the backed-off
// RTO stays until a segment sent once is acknowledged.
TEST_F(TcpTest, KarnNoRttSampleFromARetransmission) {
    established();
    ASSERT_EQ(tcp().info(sock).srtt, Duration::millis(10));
    write(at(100), 100);
    expect_sent(at(100), seg().psh().seq(us()).ack(peer()).len(100));
    expect_sent(at(300), seg().psh().seq(us()).ack(peer()).len(100));
    send(at(350), seg().seq(peer()).ack(us(100)));  // 250 ms after the first send, 50 after the second
    EXPECT_EQ(tcp().info(sock).srtt, Duration::millis(10));
    EXPECT_EQ(tcp().info(sock).rto, Duration::millis(400));

    write(at(400), 100);
    expect_sent(at(400), seg().psh().seq(us(100)).ack(peer()).len(100));
    send(at(420), seg().seq(peer()).ack(us(200)));
    EXPECT_EQ(tcp().info(sock).srtt, Duration::micros(11250));  // 7/8 * 10 + 1/8 * 20
    EXPECT_EQ(tcp().info(sock).rto, Duration::millis(200));
}

// ---- Fast retransmit and NewReno ---------------------------------------------------------------------

// RFC 5681 3.2: the third duplicate ACK (not the second) retransmits the missing segment at once.
// RFC 6582 3.2 step 3: a partial ACK during the recovery retransmits the next hole at once.
TEST_F(TcpTest, FastRetransmitOnTheThirdDuplicateAckAndNewRenoPartialAck) {
    config.tcp_congestion = CongestionAlgorithm::NewReno;  // NewReno's halving (CUBIC: congestion_test.cpp)
    established();
    write(at(100), 5 * 1460);
    for (std::uint32_t i = 0; i < 4; ++i) expect_sent(at(100), seg().seq(us(i * 1460)).ack(peer()).len(1460));
    expect_sent(at(100), seg().psh().seq(us(4 * 1460)).ack(peer()).len(1460));
    // Segments 2 and 4 are lost.
    send(at(110), seg().seq(peer()).ack(us(1460)));
    send(at(111), seg().seq(peer()).ack(us(1460)));
    send(at(112), seg().seq(peer()).ack(us(1460)));
    expect_nothing(at(112));
    send(at(113), seg().seq(peer()).ack(us(1460)));
    expect_sent(at(113), seg().seq(us(1460)).ack(peer()).window(65535).data(ours(1460, 1460)));
    EXPECT_EQ(stats().tcp.fast_retransmits, 1u);
    EXPECT_EQ(tcp().info(sock).ssthresh, 2920u);  // half the 4 segments in flight

    send(at(114), seg().seq(peer()).ack(us(1460)));  // segment 5's duplicate: nothing to send
    expect_nothing(at(114));
    send(at(120), seg().seq(peer()).ack(us(3 * 1460)));  // partial: up to the second hole
    expect_sent(at(120), seg().seq(us(3 * 1460)).ack(peer()).window(65535).data(ours(3 * 1460, 1460)));
    send(at(130), seg().seq(peer()).ack(us(5 * 1460)));  // full: the recovery is over
    expect_nothing(at(5000));
    EXPECT_EQ(tcp().info(sock).cwnd, 2920u);
    EXPECT_EQ(stats().tcp.timeouts, 0u);
}

// ---- Receiving out of order --------------------------------------------------------------------------

TEST_F(TcpTest, OutOfOrderDataIsKeptAndDeliveredInOrder) {
    established();
    send(at(100), seg().psh().seq(peer(100)).ack(us()).data(slice(100, 100)));
    expect_sent(at(100), seg().seq(us()).ack(peer()).window(65535));  // an immediate duplicate ACK
    auto r = try_read(at(105), 1000);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), SocketError::WouldBlock);
    send(at(110), seg().psh().seq(peer(200)).ack(us()).data(slice(200, 100)));
    expect_sent(at(110), seg().seq(us()).ack(peer()).window(65535));
    send(at(120), seg().seq(peer()).ack(us()).data(slice(0, 100)));  // fills the hole
    expect_sent(at(120), seg().seq(us()).ack(peer(300)).window(65535));
    EXPECT_EQ(read(at(130), 1000), pattern(300));
    expect_nothing(at(1000));
}

TEST_F(TcpTest, DuplicateDataIsDiscarded) {
    established();
    send(at(100), seg().seq(peer()).ack(us()).data(slice(0, 100)));
    send(at(110), seg().seq(peer()).ack(us()).data(slice(0, 100)));  // again: acknowledged at once
    expect_sent(at(110), seg().seq(us()).ack(peer(100)).window(65535));
    send(at(120), seg().seq(peer(50)).ack(us()).data(slice(50, 100)));  // half old, half new
    expect_sent(at(160), seg().seq(us()).ack(peer(150)).window(65535));
    EXPECT_EQ(read(at(170), 1000), pattern(150));
    // A segment wholly left of RCV.NXT fails the acceptability test (RFC 9293 3.10.7.4): an ACK.
    EXPECT_EQ(stats().tcp.rx_out_of_window, 1u);
}

// ---- Zero window ---------------------------------------------------------------------------------

// RFC 9293 3.8.6.1 and RFC 1122 4.2.2.17: with a zero window, probe after an RTO, then at
// exponentially growing intervals; when the window opens, the data goes at once. The probes are
// not timed (they would make a sample of the whole zero-window period).
TEST_F(TcpTest, ZeroWindowIsProbedWithBackoff) {
    established(Handshake().peer_window(0));
    write(at(100), 100);
    expect_nothing(at(299));
    const Seg probe = seg().seq(us()).ack(peer()).window(65535).data(ours(0, 1));
    expect_sent(at(300), probe);
    send(at(310), seg().seq(peer()).ack(us()).window(0));
    expect_nothing(at(699));
    expect_sent(at(700), probe);
    expect_nothing(at(1499));
    expect_sent(at(1500), probe);
    EXPECT_EQ(stats().tcp.window_probes, 3u);

    send(at(1600), seg().seq(peer()).ack(us()).window(1000));
    expect_sent(at(1600), seg().psh().seq(us()).ack(peer()).data(ours(0, 100)));
    send(at(1610), seg().seq(peer()).ack(us(100)));
    EXPECT_EQ(tcp().info(sock).srtt, Duration::millis(10));
    expect_nothing(at(10000));
}

// The window reopened but its update was lost; the peer takes our probe byte and acknowledges it:
// that ACK must be believed (it acknowledges data we did send), and the rest follows at once.
TEST_F(TcpTest, ZeroWindowProbeByteTakenByThePeer) {
    established(Handshake().peer_window(0));
    write(at(100), 100);
    expect_sent(at(300), seg().seq(us()).ack(peer()).data(ours(0, 1)));
    send(at(310), seg().seq(peer()).ack(us(1)).window(1000));
    expect_sent(at(310), seg().psh().seq(us(1)).ack(peer()).data(ours(1, 99)));
    send(at(320), seg().seq(peer()).ack(us(100)));
    expect_nothing(at(10000));
}

// ---- Silly window syndrome ---------------------------------------------------------------------------

// RFC 9293 3.8.6.2.2: reading a little does not announce a window; once min(MSS, buffer/2) is
// free, the window is announced at once.
TEST_F(TcpTest, ReceiverSwsAvoidance) {
    config.tcp_rcvbuf = 4000;
    established();
    send(at(100), seg().seq(peer()).ack(us()).data(slice(0, 1460)));
    send(at(101), seg().seq(peer(1460)).ack(us()).data(slice(1460, 1460)));
    expect_sent(at(101), seg().seq(us()).ack(peer(2920)).window(1080));
    send(at(102), seg().psh().seq(peer(2920)).ack(us()).data(slice(2920, 1080)));
    expect_sent(at(142), seg().seq(us()).ack(peer(4000)).window(0));
    EXPECT_EQ(read(at(200), 100).size(), 100u);
    expect_nothing(at(300));
    EXPECT_EQ(read(at(300), 1359).size(), 1359u);
    expect_nothing(at(400));
    EXPECT_EQ(read(at(400), 1).size(), 1u);  // 1460 free: one MSS
    expect_sent(at(400), seg().seq(us()).ack(peer(4000)).window(1460));
    expect_nothing(at(1000));
}

TEST_F(TcpTest, ReceiverSwsAvoidanceHalfOfASmallBuffer) {
    config.tcp_rcvbuf = 1000;
    established();
    send(at(100), seg().psh().seq(peer()).ack(us()).data(slice(0, 1000)));
    expect_sent(at(140), seg().seq(us()).ack(peer(1000)).window(0));
    EXPECT_EQ(read(at(200), 499).size(), 499u);
    expect_nothing(at(300));
    EXPECT_EQ(read(at(300), 1).size(), 1u);  // 500 free: half the buffer
    expect_sent(at(300), seg().seq(us()).ack(peer(1000)).window(500));
}

// RFC 9293 3.8.6.2.1: no segment smaller than an MSS into a small window, unless it carries all
// that is left (or half the largest window the peer offered).
TEST_F(TcpTest, SenderSwsAvoidance) {
    established();
    send(at(100), seg().seq(peer()).ack(us()).window(300));
    write(at(110), 2000);
    expect_nothing(at(110));
    send(at(200), seg().seq(peer()).ack(us()).window(1460));
    expect_sent(at(200), seg().seq(us()).ack(peer()).data(ours(0, 1460)));
    send(at(210), seg().seq(peer()).ack(us(1460)).window(300));
    expect_nothing(at(210));
    send(at(220), seg().seq(peer()).ack(us(1460)).window(540));  // all that is left fits
    expect_sent(at(220), seg().psh().seq(us(1460)).ack(peer()).data(ours(1460, 540)));
    send(at(230), seg().seq(peer()).ack(us(2000)).window(300));
    write(at(240), 200, 2000);  // a small write into a small window: all there is
    expect_sent(at(240), seg().psh().seq(us(2000)).ack(peer()).data(ours(2000, 200)));
}

// RFC 1122 4.2.3.4 / RFC 9293 3.8.6.2.1 (iv): a small window that never grows must not stall the
// sender forever (the window update may have been lost): when the (persist) timer fires, what
// fits is sent.
TEST_F(TcpTest, SmallWindowDoesNotStallForever) {
    established();
    send(at(100), seg().seq(peer()).ack(us()).window(300));
    write(at(110), 2000);
    expect_nothing(at(309));
    expect_sent(at(310), seg().seq(us()).ack(peer()).data(ours(0, 300)));
    send(at(320), seg().seq(peer()).ack(us(300)).window(65535));
    expect_sent(at(320), seg().seq(us(300)).ack(peer()).len(1460));
    expect_sent(at(320), seg().psh().seq(us(1760)).ack(peer()).len(240));
}

// A segment sent into a small window and lost is sent again at the timeout: retransmissions are
// not held back by the sender SWS rule.
TEST_F(TcpTest, SegmentLostInASmallWindowIsRetransmitted) {
    established();
    send(at(100), seg().seq(peer()).ack(us()).window(300));
    write(at(110), 2000);
    expect_sent(at(310), seg().seq(us()).ack(peer()).data(ours(0, 300)));
    expect_nothing(at(509));
    expect_sent(at(510), seg().seq(us()).ack(peer()).data(ours(0, 300)));
    send(at(520), seg().seq(peer()).ack(us(300)).window(65535));
    expect_sent(at(520), seg().seq(us(300)).ack(peer()).len(1460));
    expect_sent(at(520), seg().psh().seq(us(1760)).ack(peer()).len(240));
}

// ---- Nagle -----------------------------------------------------------------------------------------

// A second small write waits while a small segment is unacknowledged; the ACK releases both
// waiting writes as one segment.
TEST_F(TcpTest, NagleHoldsASmallSegmentUntilTheAck) {
    established();
    write(at(100), 100);
    expect_sent(at(100), seg().psh().seq(us()).ack(peer()).data(ours(0, 100)));
    write(at(110), 100, 100);
    write(at(120), 100, 200);
    expect_nothing(at(129));
    send(at(130), seg().seq(peer()).ack(us(100)));
    expect_sent(at(130), seg().psh().seq(us(100)).ack(peer()).data(ours(100, 200)));
}

// The tail of a large write is not held back behind full-sized segments (Minshall's variant, as
// Linux does): only an unacknowledged small segment holds the next one.
TEST_F(TcpTest, NagleDoesNotHoldTheTailOfALargeWrite) {
    established();
    write(at(100), 2000);
    expect_sent(at(100), seg().seq(us()).ack(peer()).len(1460));
    expect_sent(at(100), seg().psh().seq(us(1460)).ack(peer()).len(540));
    write(at(110), 100, 2000);  // a small segment is outstanding now
    expect_nothing(at(110));
    send(at(120), seg().seq(peer()).ack(us(1460)));
    expect_nothing(at(120));
    send(at(130), seg().seq(peer()).ack(us(2000)));
    expect_sent(at(130), seg().psh().seq(us(2000)).ack(peer()).len(100));
}

TEST_F(TcpTest, NodelaySendsSmallSegmentsAtOnce) {
    established();
    set_options(at(100), sock, [](TcpUserOptions& o) { o.nodelay = true; });
    write(at(100), 100);
    expect_sent(at(100), seg().psh().seq(us()).ack(peer()).data(ours(0, 100)));
    write(at(110), 100, 100);
    expect_sent(at(110), seg().psh().seq(us(100)).ack(peer()).data(ours(100, 100)));
}

// ---- Delayed ACK -------------------------------------------------------------------------------------

// One full segment: the ACK waits 40 ms. Two: it goes at once.
TEST_F(TcpTest, DelayedAck) {
    established();
    send(at(100), seg().seq(peer()).ack(us()).data(slice(0, 1460)));
    expect_nothing(at(139));
    expect_sent(at(140), seg().seq(us()).ack(peer(1460)).window(65535));
    send(at(200), seg().seq(peer(1460)).ack(us()).data(slice(1460, 1460)));
    expect_nothing(at(200));
    send(at(201), seg().seq(peer(2920)).ack(us()).data(slice(2920, 1460)));
    expect_sent(at(201), seg().seq(us()).ack(peer(4380)).window(65535));
    expect_nothing(at(1000));
    EXPECT_EQ(read(at(1000), 10000), pattern(4380));
}

// Data we send carries the pending ACK: no separate ACK follows.
TEST_F(TcpTest, DelayedAckRidesOnData) {
    established();
    send(at(100), seg().psh().seq(peer()).ack(us()).data(pattern(10)));
    write(at(120), 10);
    expect_sent(at(120), seg().psh().seq(us()).ack(peer(10)).data(ours(0, 10)));
    expect_nothing(at(200));
}

}  // namespace
}  // namespace tcpip::tcp_test
