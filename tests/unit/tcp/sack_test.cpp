// SACK (RFC 2018, RFC 2883) and loss recovery with it (RFC 6675 scoreboard and pipe, RFC 8985
// RACK-TLP), in dialogues: the blocks we report as a receiver, and what we resend as a sender
// given the blocks the peer reports.
//
// Unless a test says otherwise the connection comes from established() with a peer that offers
// SACK but no timestamps: RTT 10 ms, so the RTO is 200 ms; MSS 1460; window 65535.
#include <gtest/gtest.h>

#include "stack/tcp/scoreboard.h"
#include "tests/unit/tcp/harness.h"

namespace tcpip::tcp_test {
namespace {

// The peer's SYN offered SACK: our SYN-ACK offers it too (RFC 2018 section 2), and only then.
TEST_F(TcpTest, SackPermittedAnsweredOnlyWhenOffered) {
    listening();
    send(at(0), seg().syn().seq(kPeerIss).window(65535).mss(1460).sack_ok());
    expect_sent(at(0), seg().syn().anyseq().ack(peer()).window(65535).mss(1460).sack_ok());
    peer_port = kPeerPort + 1;
    send(at(1), seg().syn().seq(kPeerIss).window(65535).mss(1460));
    expect_sent(at(1), seg().syn().anyseq().ack(peer()).window(65535).mss(1460));
}

// With tcp_sack off, a SYN offering SACK gets a SYN-ACK without it, and no blocks ever follow.
TEST_F(TcpTest, SackSwitchedOffIsNeitherOfferedNorUsed) {
    config.tcp_sack = false;
    established(Handshake().peer_sack());
    EXPECT_FALSE(tcp().info(sock).sack);
    send(at(20), seg().seq(peer(1000)).ack(us()).data(slice(1000, 100)));
    expect_sent(at(20), seg().seq(us()).ack(peer()));
}

// A sender: the first of ten segments is lost, the peer SACKs the other nine. RACK (RFC 8985)
// marks the first lost at once (more than three segments SACKed: reo_wnd is 0) and it is resent;
// the cumulative ACK then ends the recovery.
TEST_F(TcpTest, SackLossOfTheFirstSegmentIsRepairedAtOnce) {
    established(Handshake().peer_sack());
    ASSERT_TRUE(tcp().info(sock).sack);
    write(at(100), 10 * 1460);
    for (std::uint32_t i = 0; i < 10; ++i) {
        Seg m = seg().seq(us(i * 1460)).ack(peer()).len(1460);
        if (i == 9) m.psh();
        expect_sent(at(100), m);
    }
    // ACKs with SACK blocks for segments 2..k.
    for (std::uint32_t k = 2; k <= 4; ++k) {
        send(at(110), seg().seq(peer()).ack(us()).sack(us(1460), us(k * 1460)));
    }
    expect_sent(at(110), seg().seq(us()).ack(peer()).data(ours(0, 1460)));
    EXPECT_EQ(stats().tcp.sack_recoveries, 1u);
    EXPECT_EQ(tcp().info(sock).lost, 1u);
    EXPECT_EQ(tcp().info(sock).sacked, 3u);
    send(at(120), seg().seq(peer()).ack(us(10 * 1460)));
    expect_nothing(at(1000));
    EXPECT_EQ(stats().tcp.timeouts, 0u);
}

// A receiver (RFC 2018 section 4): each out-of-order segment is answered at once with the block
// holding it first, then the blocks reported before, most recent first.
TEST_F(TcpTest, SackBlocksReportTheNewestFirst) {
    established(Handshake().peer_sack());
    send(at(20), seg().seq(peer(1000)).ack(us()).data(slice(1000, 100)));
    expect_sent(at(20), seg().seq(us()).ack(peer()).sack(peer(1000), peer(1100)));
    send(at(21), seg().seq(peer(2000)).ack(us()).data(slice(2000, 100)));
    expect_sent(at(21), seg().seq(us()).ack(peer()).sack(peer(2000), peer(2100)).sack(peer(1000), peer(1100)));
    send(at(22), seg().seq(peer(3000)).ack(us()).data(slice(3000, 100)));
    expect_sent(at(22), seg().seq(us()).ack(peer()).sack(peer(3000), peer(3100)).sack(peer(2000), peer(2100)).sack(peer(1000), peer(1100)));
    // Extending the oldest block moves it to the front.
    send(at(23), seg().seq(peer(1100)).ack(us()).data(slice(1100, 100)));
    expect_sent(at(23), seg().seq(us()).ack(peer()).sack(peer(1000), peer(1200)).sack(peer(3000), peer(3100)).sack(peer(2000), peer(2100)));
}

// Without timestamps four blocks fit in the 40 bytes of options; with them, three (RFC 2018
// section 3, as Linux).
TEST_F(TcpTest, SackReportsFourBlocksWithoutTimestamps) {
    established(Handshake().peer_sack());
    for (std::uint32_t i = 1; i <= 4; ++i) {
        send(at(20 + i), seg().seq(peer(i * 1000)).ack(us()).data(slice(i * 1000, 100)));
        take_sent(at(20 + i));
    }
    send(at(40), seg().seq(peer(5000)).ack(us()).data(slice(5000, 100)));
    expect_sent(at(40), seg().seq(us()).ack(peer()).sack(peer(5000), peer(5100)).sack(peer(4000), peer(4100))
                            .sack(peer(3000), peer(3100)).sack(peer(2000), peer(2100)));
    send(at(41), seg().seq(peer(6000)).ack(us()).data(slice(6000, 100)));
    expect_sent(at(41), seg().seq(us()).ack(peer()).sack(peer(6000), peer(6100)).sack(peer(5000), peer(5100))
                            .sack(peer(4000), peer(4100)).sack(peer(3000), peer(3100)));
}

// Blocks go when the hole before them fills: the cumulative ACK covers them.
TEST_F(TcpTest, SackBlocksGoWhenTheHoleFills) {
    established(Handshake().peer_sack());
    send(at(20), seg().seq(peer(100)).ack(us()).data(slice(100, 100)));
    expect_sent(at(20), seg().seq(us()).ack(peer()).sack(peer(100), peer(200)));
    send(at(21), seg().seq(peer(300)).ack(us()).data(slice(300, 100)));
    expect_sent(at(21), seg().seq(us()).ack(peer()).sack(peer(300), peer(400)).sack(peer(100), peer(200)));
    send(at(22), seg().seq(peer()).ack(us()).data(slice(0, 100)));
    expect_sent(at(22), seg().seq(us()).ack(peer(200)).sack(peer(300), peer(400)));
    send(at(23), seg().seq(peer(200)).ack(us()).data(slice(200, 100)));
    expect_sent(at(23), seg().seq(us()).ack(peer(400)));
}

// D-SACK (RFC 2883 section 4): data received twice is reported once, in the first block: below
// the cumulative ACK on its own, or inside a SACKed block followed by that block.
TEST_F(TcpTest, DsackReportsDuplicates) {
    established(Handshake().peer_sack());
    send(at(20), seg().seq(peer()).ack(us()).data(slice(0, 100)));
    send(at(21), seg().seq(peer(100)).ack(us()).data(slice(100, 100)));
    expect_sent(at(21), seg().seq(us()).ack(peer(200)));
    send(at(30), seg().seq(peer()).ack(us()).data(slice(0, 100)));  // a duplicate of the first
    expect_sent(at(30), seg().seq(us()).ack(peer(200)).sack(peer(), peer(100)));
    send(at(31), seg().seq(peer(1000)).ack(us()).data(slice(1000, 100)));
    expect_sent(at(31), seg().seq(us()).ack(peer(200)).sack(peer(1000), peer(1100)));
    send(at(32), seg().seq(peer(1000)).ack(us()).data(slice(1000, 100)));  // a duplicate beyond the hole
    expect_sent(at(32), seg().seq(us()).ack(peer(200)).sack(peer(1000), peer(1100)).sack(peer(1000), peer(1100)));
    EXPECT_EQ(stats().tcp.dsacks_sent, 2u);
    // Reported once: the next ACK has only the SACK block.
    send(at(33), seg().seq(peer(2000)).ack(us()).data(slice(2000, 100)));
    expect_sent(at(33), seg().seq(us()).ack(peer(200)).sack(peer(2000), peer(2100)).sack(peer(1000), peer(1100)));
}

// A full-sized data segment has no room for SACK blocks beside its data (MSS 1460, no
// timestamps): it goes without them, and a bare ACK right after carries them.
TEST_F(TcpTest, SackBlocksThatDoNotFitInDataGoInABareAck) {
    established(Handshake().peer_sack());
    write(at(15), 1460);
    expect_sent(at(15), seg().psh().seq(us()).ack(peer()).len(1460));
    set_options(at(16), sock, [](TcpUserOptions& o) { o.nodelay = true; });
    send(at(20), seg().seq(peer(100)).ack(us(1460)).data(slice(100, 100)));
    expect_sent(at(20), seg().seq(us(1460)).ack(peer()).sack(peer(100), peer(200)));
    write(at(21), 1460, 1460);
    expect_sent(at(21), seg().psh().seq(us(1460)).ack(peer()).len(1460));
    expect_sent(at(21), seg().seq(us(2920)).ack(peer()).sack(peer(100), peer(200)));
}

// ---- The scoreboard (RFC 6675 section 3) -------------------------------------------------------

TEST(Scoreboard, MarksSplitEntriesAndPipeCountsAsRfc6675) {
    Scoreboard sb;
    const SeqNum base(0xfffff000u);  // across the wrap
    sb.reset(base);
    const Instant t0 = Instant::from_millis(100);
    for (std::uint32_t i = 0; i < 4; ++i) sb.on_send(base + i * 1000, base + (i + 1) * 1000, t0);
    EXPECT_EQ(sb.size(), 4u);
    EXPECT_EQ(sb.pipe(), 4000u);
    // A block inside the third entry splits it.
    EXPECT_EQ(sb.on_sack({base + 2200, base + 2700}, nullptr), 500u);
    EXPECT_EQ(sb.size(), 6u);
    EXPECT_EQ(sb.sacked_bytes(), 500u);
    EXPECT_EQ(sb.highest_sacked(), base + 2700);
    EXPECT_EQ(sb.pipe(), 3500u);
    EXPECT_EQ(sb.check(), "");
    // The first entry lost: out of the pipe; retransmitted: back in it.
    sb.for_each([&](Scoreboard::Entry& e) {
        sb.mark_lost(e);
        return false;
    });
    EXPECT_EQ(sb.lost_bytes(), 1000u);
    EXPECT_EQ(sb.pipe(), 2500u);
    ASSERT_NE(sb.next_lost(), nullptr);
    EXPECT_EQ(sb.next_lost()->start, base);
    EXPECT_EQ(sb.on_send(base, base + 1000, t0 + Duration::millis(10)), 1000u);
    EXPECT_EQ(sb.pipe(), 3500u);
    EXPECT_EQ(sb.next_lost(), nullptr);
    // The cumulative ACK takes entries off the front, and tells of the ones not SACKed.
    int delivered = 0;
    sb.on_cumulative_ack(base + 2500, [&](const Scoreboard::Entry&) { ++delivered; });
    EXPECT_EQ(delivered, 3);  // [0,1000) [1000,2000) [2000,2200); [2200,2500) was SACKed already
    EXPECT_EQ(sb.begin(), base + 2500);
    EXPECT_EQ(sb.sacked_bytes(), 200u);
    EXPECT_EQ(sb.lost_bytes(), 0u);
    EXPECT_EQ(sb.check(), "");
    // An RTO: SACK is advisory (the receiver may renege), every byte is lost.
    sb.on_timeout();
    EXPECT_EQ(sb.sacked_bytes(), 0u);
    EXPECT_EQ(sb.lost_bytes(), 1500u);
    EXPECT_EQ(sb.pipe(), 0u);
    EXPECT_EQ(sb.check(), "");
}

// Memory stays bounded whatever blocks a peer sends: past kMaxEntries a split is refused (the block
// ignored) and a new transmission extends the last entry.
TEST(Scoreboard, IsBounded) {
    Scoreboard sb;
    sb.reset(SeqNum(0));
    const Instant t0 = Instant::from_millis(1);
    sb.on_send(SeqNum(0), SeqNum(4 * Scoreboard::kMaxEntries), t0);
    for (std::uint32_t i = 0; i < 2 * Scoreboard::kMaxEntries; ++i) {
        (void)sb.on_sack({SeqNum(2 * i + 1), SeqNum(2 * i + 2)}, nullptr);
    }
    EXPECT_LE(sb.size(), Scoreboard::kMaxEntries);
    sb.on_send(SeqNum(4 * Scoreboard::kMaxEntries), SeqNum(4 * Scoreboard::kMaxEntries + 100), t0);
    EXPECT_LE(sb.size(), Scoreboard::kMaxEntries);
    EXPECT_EQ(sb.check(), "");
}

// ---- RACK (RFC 8985 section 6) ------------------------------------------------------------------

// One segment SACKed beyond the first: not yet three, and no reordering seen, so the reordering
// window is min_RTT / 4 = 2.5 ms. The first segment is lost only when it is that much later than
// the SACKed one's round trip: the RACK timer fires at 100 + 10 + 2.5 ms.
TEST_F(TcpTest, RackWaitsTheReorderingWindowBeforeCallingALoss) {
    established(Handshake().peer_sack());
    write(at(100), 4 * 1460);
    for (std::uint32_t i = 0; i < 4; ++i) take_sent(at(100));
    send(at(110), seg().seq(peer()).ack(us()).sack(us(1460), us(2920)));
    expect_nothing(at(112));
    expect_sent(Instant::from_micros(112500), seg().seq(us()).ack(peer()).data(ours(0, 1460)));
    EXPECT_EQ(stats().tcp.rack_lost, 1u);
    send(at(120), seg().seq(peer()).ack(us(4 * 1460)));
    expect_nothing(at(1000));
}

// Reordering, not loss: the first segment arrives within the window; nothing is resent, and the
// reordering is counted (TCP_INFO's reordering stays at least 3).
TEST_F(TcpTest, RackToleratesReorderingWithinTheWindow) {
    established(Handshake().peer_sack());
    write(at(100), 4 * 1460);
    for (std::uint32_t i = 0; i < 4; ++i) take_sent(at(100));
    send(at(110), seg().seq(peer()).ack(us()).sack(us(1460), us(2920)));
    send(at(111), seg().seq(peer()).ack(us(2920)));
    send(at(112), seg().seq(peer()).ack(us(4 * 1460)));
    expect_nothing(at(1000));
    EXPECT_EQ(stats().tcp.rack_lost, 0u);
    EXPECT_EQ(stats().tcp.retransmitted_segments, 0u);
    EXPECT_GE(tcp().info(sock).reordering, 3u);
}

// ---- RFC 6675 recovery: NextSeg and pipe ------------------------------------------------------

// Two lost, eight SACKed, of ten in flight: recovery starts with cwnd = ssthresh = 7300; the first
// lost goes at once (RFC 6675 4.3), the second as pipe allows (1460 < 7300), then new data while
// pipe < cwnd: three segments, pipe reaching 7300.
TEST_F(TcpTest, SackRecoverySendsLostThenNewDataWhilePipeBelowCwnd) {
    config.tcp_pacing = false;  // the segments' order and count, all at once (pacing spreads them: pacing_test.cpp)
    config.tcp_congestion = CongestionAlgorithm::NewReno;  // ssthresh = flight / 2 (CUBIC's 0.7: congestion_test.cpp)
    established(Handshake().peer_sack());
    write(at(100), 20 * 1460);
    for (std::uint32_t i = 0; i < 10; ++i) expect_sent(at(100), seg().seq(us(i * 1460)).ack(peer()).len(1460));
    send(at(110), seg().seq(peer()).ack(us()).sack(us(2 * 1460), us(10 * 1460)));
    expect_sent(at(110), seg().seq(us()).ack(peer()).data(ours(0, 1460)));
    expect_sent(at(110), seg().seq(us(1460)).ack(peer()).data(ours(1460, 1460)));
    for (std::uint32_t i = 10; i < 13; ++i) expect_sent(at(110), seg().seq(us(i * 1460)).ack(peer()).len(1460));
    expect_nothing(at(110));
    EXPECT_EQ(tcp().info(sock).cwnd, 7300u);
    EXPECT_EQ(tcp().info(sock).lost, 2u);
    EXPECT_EQ(tcp().info(sock).sacked, 8u);
    EXPECT_EQ(tcp().info(sock).retrans, 2u);
    EXPECT_EQ(stats().tcp.sack_recoveries, 1u);
}

// An RTO clears the SACK marks (RFC 2018 section 8: the receiver may have reneged), resending
// from SND.UNA.
TEST_F(TcpTest, RtoForgetsSackedData) {
    established(Handshake().peer_sack());
    write(at(100), 4 * 1460);
    for (std::uint32_t i = 0; i < 4; ++i) take_sent(at(100));
    send(at(110), seg().seq(peer()).ack(us(1460)).sack(us(2920), us(4 * 1460)));
    EXPECT_EQ(tcp().info(sock).sacked, 2u);
    // The RACK timer resends the second segment, the oldest, which restarts the RTO (as Linux);
    // then nothing comes back, and the RTO fires 200 ms after that resend, not after the ACK.
    Seg rack = take_sent(Instant::from_micros(112500));
    EXPECT_EQ(rack.seq_no, us(1460));
    expect_nothing(Instant::from_micros(312499));
    expect_sent(Instant::from_micros(312500), seg().seq(us(1460)).ack(peer()).data(ours(1460, 1460)));
    EXPECT_EQ(tcp().info(sock).sacked, 0u);
    EXPECT_EQ(stats().tcp.timeouts, 1u);
    send(at(320), seg().seq(peer()).ack(us(4 * 1460)));
    expect_nothing(at(2000));
}

// After an RTO the go-back resends from SND.UNA, but skips what the peer SACKs meanwhile (as
// Linux): the ACK of the first segment SACKs the last two, so only the second goes again.
TEST_F(TcpTest, GoBackAfterRtoSkipsNewlySackedData) {
    established(Handshake().peer_sack());
    write(at(100), 4 * 1460);
    for (std::uint32_t i = 0; i < 4; ++i) take_sent(at(100));
    expect_sent(at(122), seg().seq(us(3 * 1460)).ack(peer()).data(ours(3 * 1460, 1460)));  // the TLP
    expect_sent(at(322), seg().seq(us()).ack(peer()).data(ours(0, 1460)));                 // the RTO
    send(at(330), seg().seq(peer()).ack(us(1460)).sack(us(2920), us(4 * 1460)));
    expect_sent(at(330), seg().seq(us(1460)).ack(peer()).data(ours(1460, 1460)));
    expect_nothing(at(335));
    send(at(340), seg().seq(peer()).ack(us(4 * 1460)));
    expect_nothing(at(2000));
}

// F-RTO (RFC 5682 section 3): the RTO was spurious (the ACKs were only late). The first ACK after
// the timeout's retransmission lets new data go instead of the go-back; the second advances
// SND.UNA again, over data never resent: the reduction is undone, nothing else is resent.
TEST_F(TcpTest, FrtoUndoesASpuriousTimeout) {
    config.tcp_pacing = false;  // the segments' order and count, all at once (pacing spreads them: pacing_test.cpp)
    established(Handshake().peer_sack());
    write(at(100), 13 * 1460);
    for (std::uint32_t i = 0; i < 10; ++i) take_sent(at(100));
    const std::uint32_t cwnd_before = tcp().info(sock).cwnd;
    // The probe at PTO (new data: the 11th segment), then the RTO resends the first.
    expect_sent(at(122), seg().seq(us(10 * 1460)).ack(peer()).data(ours(10 * 1460, 1460)));
    expect_sent(at(322), seg().seq(us()).ack(peer()).data(ours(0, 1460)));
    EXPECT_EQ(tcp().info(sock).cwnd, 1460u);
    // The first ACK (of originals, late): new data, two segments, instead of the go-back.
    send(at(330), seg().seq(peer()).ack(us(2 * 1460)));
    expect_sent(at(330), seg().seq(us(11 * 1460)).ack(peer()).data(ours(11 * 1460, 1460)));
    expect_sent(at(330), seg().psh().seq(us(12 * 1460)).ack(peer()).data(ours(12 * 1460, 1460)));
    expect_nothing(at(331));
    // The second ACK advances again: the timeout was spurious.
    send(at(332), seg().seq(peer()).ack(us(6 * 1460)));
    EXPECT_EQ(stats().tcp.spurious_undos, 1u);
    EXPECT_GE(tcp().info(sock).cwnd, cwnd_before);
    send(at(340), seg().seq(peer()).ack(us(13 * 1460)));
    expect_nothing(at(2000));
    EXPECT_EQ(stats().tcp.retransmitted_segments, 1u);
}

// F-RTO when the timeout was real: after the new data, duplicate ACKs come, and the go-back
// resumes from SND.UNA.
TEST_F(TcpTest, FrtoFallsBackToGoBackWhenTheLossIsReal) {
    config.tcp_pacing = false;  // the segments' order and count, all at once (pacing spreads them: pacing_test.cpp)
    established(Handshake().peer_sack());
    write(at(100), 13 * 1460);
    for (std::uint32_t i = 0; i < 10; ++i) take_sent(at(100));
    expect_sent(at(122), seg().seq(us(10 * 1460)).ack(peer()).data(ours(10 * 1460, 1460)));
    expect_sent(at(322), seg().seq(us()).ack(peer()).data(ours(0, 1460)));
    send(at(330), seg().seq(peer()).ack(us(1460)));
    expect_sent(at(330), seg().seq(us(11 * 1460)).ack(peer()).data(ours(11 * 1460, 1460)));
    expect_sent(at(330), seg().psh().seq(us(12 * 1460)).ack(peer()).data(ours(12 * 1460, 1460)));
    send(at(340), seg().seq(peer()).ack(us(1460)).sack(us(10 * 1460), us(12 * 1460)));
    Seg next = take_sent(at(340));
    EXPECT_EQ(next.seq_no, us(1460));  // the go-back, from SND.UNA
    EXPECT_EQ(stats().tcp.spurious_undos, 0u);
    sent_.clear();
    send(at(350), seg().seq(peer()).ack(us(13 * 1460)));
    expect_nothing(at(2000));
}

// ---- TLP (RFC 8985 section 7) -------------------------------------------------------------------

// The last three segments of a flight are lost: no SACK will come. After PTO = 2 SRTT + 2 ms (more
// than one segment in flight) the last one is sent again; its SACK lets RACK call the other two
// lost, and they are resent at once, long before the RTO would have fired.
TEST_F(TcpTest, TailLossProbeRepairsATailLoss) {
    config.tcp_pacing = false;  // the segments' order and count, all at once (pacing spreads them: pacing_test.cpp)
    established(Handshake().peer_sack());
    write(at(100), 10 * 1460);
    for (std::uint32_t i = 0; i < 10; ++i) take_sent(at(100));
    send(at(110), seg().seq(peer()).ack(us(7 * 1460)));
    expect_nothing(at(131));
    expect_sent(at(132), seg().seq(us(9 * 1460)).ack(peer()).data(ours(9 * 1460, 1460)));
    EXPECT_EQ(stats().tcp.tlp_probes, 1u);
    send(at(142), seg().seq(peer()).ack(us(7 * 1460)).sack(us(9 * 1460), us(10 * 1460)));
    expect_sent(at(142), seg().seq(us(7 * 1460)).ack(peer()).data(ours(7 * 1460, 1460)));
    expect_sent(at(142), seg().seq(us(8 * 1460)).ack(peer()).data(ours(8 * 1460, 1460)));
    send(at(152), seg().seq(peer()).ack(us(10 * 1460)));
    expect_nothing(at(2000));
    EXPECT_EQ(stats().tcp.timeouts, 0u);
}

// ---- Undo (RFC 2883 section 4) ---------------------------------------------------------------------

// Reordering taken for loss: the first segment is resent, then both copies arrive and the peer
// D-SACKs the second. Every retransmission of the episode was a duplicate: the window comes back.
TEST_F(TcpTest, DsackUndoesASpuriousRecovery) {
    established(Handshake().peer_sack());
    write(at(100), 10 * 1460);
    for (std::uint32_t i = 0; i < 10; ++i) take_sent(at(100));
    const std::uint32_t cwnd_before = tcp().info(sock).cwnd;
    send(at(110), seg().seq(peer()).ack(us()).sack(us(1460), us(5 * 1460)));
    expect_sent(at(110), seg().seq(us()).ack(peer()).data(ours(0, 1460)));
    EXPECT_LT(tcp().info(sock).cwnd, cwnd_before);
    send(at(111), seg().seq(peer()).ack(us(10 * 1460)));
    send(at(120), seg().seq(peer()).ack(us(10 * 1460)).sack(us(), us(1460)));
    EXPECT_EQ(stats().tcp.dsacks_received, 1u);
    EXPECT_EQ(stats().tcp.spurious_undos, 1u);
    EXPECT_GE(tcp().info(sock).cwnd, cwnd_before);
    expect_nothing(at(2000));
}

}  // namespace
}  // namespace tcpip::tcp_test
