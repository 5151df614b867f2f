// RFC 7323 timestamps in dialogues: negotiation in the SYNs, TSval and TSecr on every segment, the
// rule for TS.Recent, RTT measurement from the echo (RTTM, also of a retransmission), PAWS, and the
// undo of a spurious retransmission the echo reveals (Eifel, RFC 3522).
//
// Our TSval is the stack's clock in milliseconds plus a random offset: our_ts(t) is what we send at
// t, learned from our SYN or SYN-ACK (harness.h).
#include <gtest/gtest.h>

#include "tests/unit/tcp/harness.h"

namespace tcpip::tcp_test {
namespace {

constexpr std::uint32_t kPeerTs = 7000;  // the peer's TSval at 0 ms; it ticks in milliseconds too

// Passive open: the SYN's TSval is echoed in our SYN-ACK, and SACK-Permitted answered; a segment
// then holds 12 bytes less data (MSS 1460 - 12 = 1448, as Linux's mss_cache).
TEST_F(TcpTest, TimestampsNegotiatedByTheSyn) {
    listening();
    send(at(0), seg().syn().seq(kPeerIss).window(65535).mss(1460).sack_ok().ts(kPeerTs, 0));
    Seg synack = expect_sent(at(0), seg().syn().anyseq().ack(peer()).window(65535).mss(1460).sack_ok().ts_echo(kPeerTs));
    our_iss = synack.seq_no;
    our_ts0 = synack.timestamps->first;
    send(at(10), seg().seq(peer()).ack(us()).ts(kPeerTs + 10, our_ts(at(0))));
    sock = *tcp().accept(listener);
    const TcpInfo info = tcp().info(sock);
    EXPECT_TRUE(info.timestamps);
    EXPECT_TRUE(info.sack);
    EXPECT_EQ(info.mss, 1448u);
    write(at(20), 2000);
    expect_sent(at(20), seg().seq(us()).ack(peer()).ts(our_ts(at(20)), kPeerTs + 10).len(1448));
    expect_sent(at(20), seg().psh().seq(us(1448)).ack(peer()).ts(our_ts(at(20)), kPeerTs + 10).len(552));
}

// Active open: our SYN offers timestamps with TSecr 0; the SYN-ACK's TSval is echoed from then on.
TEST_F(TcpTest, TimestampsNegotiatedByTheSynAck) {
    sock = open_socket();
    peer_port = kServerPort;
    (void)tcp().connect(now(), sock, kPeerIp, kServerPort);
    Seg syn = expect_sent(at(0), seg().syn().anyseq().window(65535).mss(1460).wscale(7).sack_ok().ts_echo(0).to(0));
    our_port = syn.src_port;
    our_iss = syn.seq_no;
    our_ts0 = syn.timestamps->first;
    send(at(10), seg().syn().seq(kPeerIss).ack(us()).window(65535).mss(1460).sack_ok().ts(kPeerTs, our_ts(at(0))));
    expect_sent(at(10), seg().seq(us()).ack(peer()).ts(our_ts(at(10)), kPeerTs));
    EXPECT_TRUE(tcp().info(sock).timestamps);
}

// The peer did not offer them, or tcp_timestamps is off: no timestamps on any segment.
TEST_F(TcpTest, TimestampsOnlyWhenBothAllow) {
    config.tcp_timestamps = false;
    listening();
    send(at(0), seg().syn().seq(kPeerIss).window(65535).mss(1460).ts(kPeerTs, 0));
    expect_sent(at(0), seg().syn().anyseq().ack(peer()).window(65535).mss(1460));
}

// RFC 7323 4.3: TS.Recent takes the TSval of a segment only if it is not after Last.ACK.sent: an
// out-of-order segment's (newer) TSval is not echoed; the one that fills the hole is.
TEST_F(TcpTest, TsRecentFollowsTheSegmentThatAdvancesTheAck) {
    established(Handshake().peer_ts(kPeerTs));
    send(at(20), seg().seq(peer(100)).ack(us()).ts(kPeerTs + 20, our_ts(at(10))).data(slice(100, 100)));
    expect_sent(at(20), seg().seq(us()).ack(peer()).ts(our_ts(at(20)), kPeerTs + 10));
    send(at(25), seg().seq(peer()).ack(us()).ts(kPeerTs + 25, our_ts(at(10))).data(slice(0, 100)));
    expect_sent(at(25), seg().seq(us()).ack(peer(200)).ts(our_ts(at(25)), kPeerTs + 25));
}

// RTTM (RFC 7323 section 4): a retransmission is timed by its echo, where Karn would take no
// sample. The data goes at 100 ms, again at 300 ms (RTO); the ACK at 350 ms echoes the second
// TSval: a 50 ms sample, SRTT = 7/8 * 10 + 1/8 * 50 = 15 ms.
TEST_F(TcpTest, RttSampledFromTheEchoOfARetransmission) {
    established(Handshake().peer_ts(kPeerTs));
    ASSERT_EQ(tcp().info(sock).srtt, Duration::millis(10));
    write(at(100), 100);
    expect_sent(at(100), seg().psh().seq(us()).ack(peer()).ts(our_ts(at(100)), kPeerTs + 10).len(100));
    expect_sent(at(300), seg().psh().seq(us()).ack(peer()).ts(our_ts(at(300)), kPeerTs + 10).len(100));
    send(at(350), seg().seq(peer()).ack(us(100)).ts(kPeerTs + 350, our_ts(at(300))));
    EXPECT_EQ(tcp().info(sock).srtt, Duration::millis(15));
    EXPECT_EQ(tcp().info(sock).rto, Duration::millis(200));  // backed off no more
    expect_nothing(at(1000));
}

// PAWS (RFC 7323 section 5.3): an in-window segment whose TSval is older than TS.Recent is an old
// duplicate: dropped (its data not taken), answered with an ACK, counted. A RST is exempt.
TEST_F(TcpTest, PawsDropsASegmentWithAnOldTimestamp) {
    established(Handshake().peer_ts(kPeerTs));
    send(at(20), seg().seq(peer()).ack(us()).ts(kPeerTs + 5, our_ts(at(10))).data(slice(0, 100)));
    expect_sent(at(20), seg().seq(us()).ack(peer()).ts(our_ts(at(20)), kPeerTs + 10));
    EXPECT_EQ(stats().tcp.paws_rejected, 1u);
    EXPECT_FALSE(try_read(at(20), 100).has_value());  // nothing was taken
    // The same data with a current TSval is taken.
    send(at(30), seg().seq(peer()).ack(us()).ts(kPeerTs + 30, our_ts(at(10))).data(slice(0, 100)));
    expect_sent(at(70), seg().seq(us()).ack(peer(100)).ts(our_ts(at(70)), kPeerTs + 30));
    EXPECT_EQ(read(at(70), 100), slice(0, 100));
    // A RST with an old TSval is judged as any RST (here: in the window, not exact: challenge ACK).
    send(at(80), seg().rst().seq(peer(150)).ts(kPeerTs + 1, 0));
    expect_sent(at(80), seg().seq(us()).ack(peer(100)).ts(our_ts(at(80)), kPeerTs + 30));
    EXPECT_EQ(stats().tcp.paws_rejected, 1u);
}

// Two exceptions to PAWS, as Linux: a TSval one tick older than TS.Recent passes; and a duplicate
// ACK that a later one overtook on the way passes (its SACK block is news for the recovery), while
// data with the same old TSval is still dropped.
TEST_F(TcpTest, PawsLetsThroughADisorderedDuplicateAckAndOneTickOld) {
    established(Handshake().peer_ts(kPeerTs).peer_sack());
    auto drain = [&](Instant t) {  // whatever recovery sends meanwhile (a probe, a resend) is not the point
        advance(t);
        sent_.clear();
    };
    write(at(100), 3 * 1448);
    drain(at(100));
    // The ACK for the third segment's SACK arrives first (TSval +40), then the one for the second (+35).
    send(at(150), seg().seq(peer()).ack(us()).ts(kPeerTs + 40, our_ts(at(100))).sack(us(2 * 1448), us(3 * 1448)));
    EXPECT_EQ(tcp().info(sock).sacked, 1u);
    send(at(151), seg().seq(peer()).ack(us()).ts(kPeerTs + 35, our_ts(at(100))).sack(us(1448), us(3 * 1448)));
    EXPECT_EQ(stats().tcp.paws_rejected, 0u);
    EXPECT_EQ(tcp().info(sock).sacked, 2u) << "the overtaken duplicate ACK's SACK block was taken";
    drain(at(151));
    // Data with that old TSval is still an old duplicate.
    send(at(160), seg().seq(peer()).ack(us()).ts(kPeerTs + 35, our_ts(at(100))).data(slice(0, 100)));
    EXPECT_EQ(stats().tcp.paws_rejected, 1u);
    drain(at(160));
    // One tick old is not.
    send(at(170), seg().seq(peer()).ack(us()).ts(kPeerTs + 39, our_ts(at(100))).data(slice(0, 100)));
    EXPECT_EQ(stats().tcp.paws_rejected, 1u);
    EXPECT_EQ(read(at(171), 100), slice(0, 100));
}

// Eifel (RFC 3522): after a fast retransmission, the ACK covering it echoes the TSval of the
// original: the original arrived, the reduction is undone.
TEST_F(TcpTest, EifelUndoesASpuriousFastRetransmit) {
    established(Handshake().peer_ts(kPeerTs).peer_sack());
    write(at(100), 10 * 1448);
    for (std::uint32_t i = 0; i < 10; ++i) {
        Seg m = seg().seq(us(i * 1448)).ack(peer()).ts(our_ts(at(100)), kPeerTs + 10).len(1448);
        if (i == 9) m.psh();
        expect_sent(at(100), m);
    }
    const std::uint32_t cwnd_before = tcp().info(sock).cwnd;
    // Segments 2 to 5 arrive first (reordered): SACKed, so RACK takes the first for lost at once.
    send(at(110), seg().seq(peer()).ack(us()).ts(kPeerTs + 110, our_ts(at(10))).sack(us(1448), us(5 * 1448)));
    expect_sent(at(110), seg().seq(us()).ack(peer()).ts(our_ts(at(110)), kPeerTs + 110).data(ours(0, 1448)));
    EXPECT_LT(tcp().info(sock).cwnd, cwnd_before);
    // The original of segment 1 arrives next: its ACK echoes TSval(100), before the retransmission.
    send(at(111), seg().seq(peer()).ack(us(10 * 1448)).ts(kPeerTs + 111, our_ts(at(100))));
    EXPECT_EQ(stats().tcp.spurious_undos, 1u);
    EXPECT_GE(tcp().info(sock).cwnd, cwnd_before);
    expect_nothing(at(2000));
}

}  // namespace
}  // namespace tcpip::tcp_test
