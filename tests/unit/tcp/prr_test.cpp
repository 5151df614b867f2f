// Proportional rate reduction (RFC 6937, as Linux's tcp_cwnd_reduction): in a loss recovery the
// window comes down to ssthresh over the recovery, the sender sending ssthresh / prior_cwnd of what
// the receiver got, in whole segments rounded up, instead of cwnd = ssthresh at once (which sends
// nothing until pipe falls below ssthresh) or RFC 5681's inflation by one MSS per duplicate ACK.
//
// The dialogues: MSS 1460, SRTT 10 ms, pacing off (the decisions, not their timing). Segment n is
// the bytes [n x 1460, (n + 1) x 1460) of the stream.
#include <gtest/gtest.h>

#include <vector>

#include "tests/unit/tcp/harness.h"

namespace tcpip::tcp_test {
namespace {

constexpr std::uint32_t kSeg = 1460;

class PrrTest : public TcpTest {
protected:
    // With SACK: the initial window (segments 0-9) at 100 ms, each segment acknowledged on its own
    // at 110 ms, so that slow start takes cwnd to 20 segments and segments 10-29 leave. At 120 ms
    // segment 10 is lost: an ACK SACKs 11-13; RACK calls 10 lost, a recovery begins with
    // prior_cwnd = 20 segments and ssthresh = flight x beta, 10 is resent at once and `at_entry`
    // new segments (30, ...) follow. Then each ACK SACKs one more segment, 14, 15, ...: `sends[i]`
    // says whether the (i+1)-th of them lets one more new segment go.
    void sack_recovery(CongestionAlgorithm algorithm, std::uint32_t at_entry, const std::vector<bool>& sends) {
        config.tcp_congestion = algorithm;
        config.tcp_pacing = false;
        established(Handshake().peer_sack());
        write(at(100), 60 * kSeg);
        for (std::uint32_t i = 0; i < 10; ++i) take_sent(at(100));
        for (std::uint32_t i = 1; i <= 10; ++i) send(at(110), seg().seq(peer()).ack(us(i * kSeg)));
        for (std::uint32_t i = 10; i < 30; ++i) expect_sent(at(110), seg().seq(us(i * kSeg)).ack(peer()).len(kSeg));
        ASSERT_EQ(tcp().info(sock).cwnd, 20 * kSeg);
        send(at(120), seg().seq(peer()).ack(us(10 * kSeg)).sack(us(11 * kSeg), us(14 * kSeg)));
        expect_sent(at(120), seg().seq(us(10 * kSeg)).ack(peer()).data(ours(10 * kSeg, kSeg)));
        std::uint32_t next_new = 30;
        for (std::uint32_t i = 0; i < at_entry; ++i, ++next_new) {
            expect_sent(at(120), seg().seq(us(next_new * kSeg)).ack(peer()).len(kSeg));
        }
        expect_nothing(at(120));
        EXPECT_EQ(tcp().info(sock).cwnd, tcp().info(sock).bytes_in_flight - 3 * kSeg);  // = pipe: nothing more may go
        for (std::size_t i = 0; i < sends.size(); ++i) {
            const Instant t = at(121 + static_cast<std::int64_t>(i));
            const std::uint32_t sacked_to = 15 + static_cast<std::uint32_t>(i);
            send(t, seg().seq(peer()).ack(us(10 * kSeg)).sack(us(11 * kSeg), us(sacked_to * kSeg)));
            if (sends[i]) {
                expect_sent(t, seg().seq(us(next_new * kSeg)).ack(peer()).len(kSeg));
                ++next_new;
            }
            expect_nothing(t);
        }
    }
};

// NewReno: ssthresh = 10 segments = prior_cwnd / 2, so one segment for every two delivered (where
// cwnd = ssthresh at once would send nothing until pipe, 17 segments at the start, fell below 10).
// ceil(n / 2) segments may have been sent when n have been delivered: 2 for the 3 SACKed at entry
// (the fast retransmit and one new), then for n = 4, 5, 6, 7, 8: 2, 3, 3, 4, 4.
TEST_F(PrrTest, SackRecoveryNewRenoSendsOneSegmentPerTwoDelivered) {
    sack_recovery(CongestionAlgorithm::NewReno, 1, {false, true, false, true, false});
    EXPECT_EQ(tcp().info(sock).ssthresh, 10 * kSeg);
}

// CUBIC: ssthresh = 0.7 x 20 segments = 14, so seven segments for every ten delivered: ceil(0.7 n)
// for n = 3 at entry is 3 (the fast retransmit and two new), then for n = 4, 5, 6, 7, 8: 3, 4, 5, 5, 6.
TEST_F(PrrTest, SackRecoveryCubicSendsSevenTenthsOfWhatWasDelivered) {
    sack_recovery(CongestionAlgorithm::Cubic, 2, {false, true, true, false, true});
    EXPECT_EQ(tcp().info(sock).ssthresh, 14 * kSeg);
}

// Without SACK: segments 0-9 at 100 ms, the ACK of 0 at 110 ms lets 10 and 11 go (cwnd 11
// segments); 1 is lost. Three duplicate ACKs: fast retransmit of 1, prior_cwnd = 11 segments,
// ssthresh = 16,060 / 2 = 8,030 bytes. PRR counts each duplicate ACK as one segment delivered and
// out of the pipe (pipe = 11 - duplicates): the fifth duplicate (3 delivered in the recovery,
// ceil(3 x 8,030 / 16,060) = 2 segments allowed, 1 sent) lets segment 12 go. RFC 5681's inflation
// (cwnd = ssthresh + 3 MSS, + 1 MSS per further duplicate) would wait until the seventh.
TEST_F(PrrTest, WithoutSackDuplicateAcksCountAsDelivered) {
    config.tcp_congestion = CongestionAlgorithm::NewReno;
    config.tcp_pacing = false;
    established();
    write(at(100), 40 * kSeg);
    for (std::uint32_t i = 0; i < 10; ++i) take_sent(at(100));
    send(at(110), seg().seq(peer()).ack(us(kSeg)));
    for (std::uint32_t i = 10; i < 12; ++i) expect_sent(at(110), seg().seq(us(i * kSeg)).ack(peer()).len(kSeg));
    auto dup = [&](std::int64_t ms) { send(at(ms), seg().seq(peer()).ack(us(kSeg))); };
    dup(111);
    dup(112);
    dup(113);
    expect_sent(at(113), seg().seq(us(kSeg)).ack(peer()).data(ours(kSeg, kSeg)));  // the fast retransmit
    expect_nothing(at(113));
    EXPECT_EQ(tcp().info(sock).ssthresh, 8030u);
    dup(114);
    expect_nothing(at(114));
    dup(115);
    expect_sent(at(115), seg().seq(us(12 * kSeg)).ack(peer()).len(kSeg));
    expect_nothing(at(115));
    dup(116);
    expect_nothing(at(116));
    // pipe (12 sent - 7 duplicates = 5 segments) is below ssthresh now: slow start back up to it,
    // which leaves less than a segment (8,030 - 7,300).
    dup(117);
    expect_nothing(at(117));
    // The ACK of everything up to the recovery point ends it; NewReno leaves with RFC 6582's
    // min(ssthresh, flight + MSS).
    send(at(120), seg().seq(peer()).ack(us(13 * kSeg)));
    EXPECT_EQ(tcp().info(sock).cwnd, 2 * kSeg);
    take_sent(at(120));
    take_sent(at(120));
    expect_nothing(at(120));
}

}  // namespace
}  // namespace tcpip::tcp_test
