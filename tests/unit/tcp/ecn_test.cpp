// ECN (RFC 3168 section 6.1) in dialogues: the negotiation in each StackConfig::tcp_ecn mode (0
// off, 1 ask and accept, 2 accept when asked: Linux's default), ECT(0) on new data only, the
// receiver's echo of a CE mark until CWR, and the sender's reduction once per window without a
// retransmission, by PRR as Linux's CA_CWR.
#include <gtest/gtest.h>

#include "tests/unit/tcp/harness.h"

namespace tcpip::tcp_test {
namespace {

using layers_test::fix_ip_checksum;
using layers_test::kEth;

constexpr std::uint8_t kEce = 0x40, kCwr = 0x80;
constexpr std::uint8_t kNotEct = 0b00, kEct0 = 0b10, kCe = 0b11;

// The ECN field of a segment we sent (the IPv4 TOS byte's two low bits).
std::uint8_t ip_ecn(const Seg& s) { return s.frame.at(kEth + 1) & 0b11; }

class EcnTest : public TcpTest {
protected:
    // The peer's segment, with its IP header's ECN field set to `codepoint`.
    void send_marked(Instant t, const Seg& s, std::uint8_t codepoint) {
        Frame f = frame_of(s);
        f[kEth + 1] = static_cast<std::uint8_t>((f[kEth + 1] & ~0b11) | codepoint);
        fix_ip_checksum(f);
        send_frame(t, f);
    }
    // A passive open whose SYN carries `syn_flags` besides SYN; returns our SYN-ACK.
    Seg accept_with(std::uint8_t syn_flags) {
        listening();
        Seg syn = seg().syn().seq(kPeerIss).window(65535).mss(kMss);
        syn.flag_bits |= syn_flags;
        send(at(0), syn);
        Seg synack = take_sent(at(0));
        our_iss = synack.seq_no;
        EXPECT_EQ(ip_ecn(synack), kNotEct) << "a SYN-ACK is never ECT";
        send(at(10), seg().seq(peer()).ack(us()).window(65535));
        auto accepted = tcp().accept(listener);
        EXPECT_TRUE(accepted.has_value());
        sock = accepted.has_value() ? *accepted : nullptr;
        return synack;
    }
    // An active open answered by a SYN-ACK that carries `synack_flags` besides SYN and ACK;
    // returns our SYN.
    Seg connect_with(std::uint8_t synack_flags) {
        sock = open_socket();
        peer_port = kServerPort;
        EXPECT_FALSE(tcp().connect(now(), sock, kPeerIp, kServerPort).has_value());
        Seg syn = take_sent(at(0));
        our_port = syn.src_port;
        our_iss = syn.seq_no;
        EXPECT_EQ(ip_ecn(syn), kNotEct) << "a SYN is never ECT";
        Seg synack = seg().syn().seq(kPeerIss).ack(us()).window(65535).mss(kMss);
        synack.flag_bits |= synack_flags;
        send(at(10), synack);
        expect_sent(at(10), seg().seq(us()).ack(peer()));
        EXPECT_EQ(state(), TcpState::Established);
        return syn;
    }
    // ECN agreed; `written` bytes to send, the initial window of 10 segments out at 100 ms, and
    // at 110 ms the peer's ACK of the first two carries ECE.
    void initial_window_echoed(std::uint32_t written) {
        accept_with(kEce | kCwr);
        write(at(100), written);
        for (std::uint32_t i = 0; i < 10; ++i) take_sent(at(100));
        Seg echo = seg().seq(peer()).ack(us(2 * kMss)).window(65535);
        echo.flag_bits |= kEce;
        send(at(110), echo);
    }
    // The ECN field of the data segment 100 bytes of application data leave in.
    std::uint8_t data_ecn(Instant t) {
        write(t, 100);
        Seg data = expect_sent(t, seg().psh().seq(us()).ack(peer()).len(100));
        return ip_ecn(data);
    }
};

// ---- Negotiation (RFC 3168 6.1.1) ----------------------------------------------------------------

TEST_F(EcnTest, DefaultAcceptsWhenThePeerAsks) {
    ASSERT_EQ(config.tcp_ecn, 2);  // Linux's default
    const Seg synack = accept_with(kEce | kCwr);
    EXPECT_EQ(synack.flag_bits, 0x12 | kEce) << "ECN-setup SYN-ACK: ECE without CWR, " << to_string(synack);
    EXPECT_TRUE(sock->ecn.ok);
    EXPECT_EQ(data_ecn(at(100)), kEct0);
    // Only new data is ECT: the retransmission after the RTO (1 s before any RTT sample... here
    // the handshake gave one of 10 ms, so the minimum 200 ms) is not (6.1.5), nor our pure ACKs.
    Seg again = expect_sent(at(300), seg().psh().seq(us()).ack(peer()).len(100));
    EXPECT_EQ(ip_ecn(again), kNotEct);
    send(at(310), seg().psh().seq(peer()).ack(us(100)).data(slice(0, 10)));
    Seg ack = expect_sent(at(350), seg().seq(us(100)).ack(peer(10)));
    EXPECT_EQ(ip_ecn(ack), kNotEct);
}

TEST_F(EcnTest, DefaultDoesNotAskOnItsOwnConnections) {
    const Seg syn = connect_with(kEce);
    EXPECT_EQ(syn.flag_bits, 0x02) << to_string(syn);
    EXPECT_FALSE(sock->ecn.ok) << "a SYN-ACK's ECE without our asking means nothing";
    EXPECT_EQ(data_ecn(at(100)), kNotEct);
}

TEST_F(EcnTest, ModeZeroNeitherAsksNorAccepts) {
    config.tcp_ecn = 0;
    const Seg synack = accept_with(kEce | kCwr);
    EXPECT_EQ(synack.flag_bits, 0x12) << to_string(synack);
    EXPECT_FALSE(sock->ecn.ok);
    EXPECT_EQ(data_ecn(at(100)), kNotEct);
}

TEST_F(EcnTest, ModeOneAsksAndThePeerAgrees) {
    config.tcp_ecn = 1;
    const Seg syn = connect_with(kEce);
    EXPECT_EQ(syn.flag_bits, 0x02 | kEce | kCwr) << "ECN-setup SYN: ECE and CWR, " << to_string(syn);
    EXPECT_TRUE(sock->ecn.ok);
    EXPECT_EQ(data_ecn(at(100)), kEct0);
}

TEST_F(EcnTest, ModeOneAsksAndThePeerDoesNot) {
    config.tcp_ecn = 1;
    connect_with(0);
    EXPECT_FALSE(sock->ecn.ok);
    EXPECT_EQ(data_ecn(at(100)), kNotEct);
}

TEST_F(EcnTest, ASynAckWithBothBitsIsNoAgreement) {
    config.tcp_ecn = 1;
    connect_with(kEce | kCwr);  // a peer that reflects the SYN's flags
    EXPECT_FALSE(sock->ecn.ok);
}

TEST_F(EcnTest, ModeOneAcceptsToo) {
    config.tcp_ecn = 1;
    EXPECT_EQ(accept_with(kEce | kCwr).flag_bits, 0x12 | kEce);
    EXPECT_TRUE(sock->ecn.ok);
}

TEST_F(EcnTest, ASynWithEceAloneIsNoRequest) {
    EXPECT_EQ(accept_with(kEce).flag_bits, 0x12);
    EXPECT_FALSE(sock->ecn.ok);
}

// A retransmitted SYN asks for no ECN any more (Linux's tcp_ecn_fallback): a middlebox that drops
// ECN-setup SYNs does not cost the connection.
TEST_F(EcnTest, RetransmittedSynFallsBackToNoEcn) {
    config.tcp_ecn = 1;
    sock = open_socket();
    peer_port = kServerPort;
    EXPECT_FALSE(tcp().connect(now(), sock, kPeerIp, kServerPort).has_value());
    Seg syn = take_sent(at(0));
    EXPECT_EQ(syn.flag_bits, 0x02 | kEce | kCwr);
    Seg again = take_sent(at(1000));
    EXPECT_EQ(again.flag_bits, 0x02) << to_string(again);
    our_port = syn.src_port;
    our_iss = syn.seq_no;
    Seg synack = seg().syn().seq(kPeerIss).ack(us()).window(65535).mss(kMss);
    synack.flag_bits |= kEce;
    send(at(1010), synack);
    expect_sent(at(1010), seg().seq(us()).ack(peer()));
    EXPECT_FALSE(sock->ecn.ok);
}

// ---- The receiver: CE echoed with ECE until CWR (6.1.3) --------------------------------------------

TEST_F(EcnTest, ReceiverEchoesCongestionUntilTheSenderSaysCwr) {
    accept_with(kEce | kCwr);
    ASSERT_TRUE(sock->ecn.ok);
    // Data marked CE: acknowledged at once, with ECE.
    send_marked(at(100), seg().psh().seq(peer()).ack(us()).data(slice(0, 100)), kCe);
    Seg ack = take_sent(at(100));
    EXPECT_EQ(ack.flag_bits, 0x10 | kEce) << to_string(ack);
    EXPECT_EQ(ack.ack_no, peer(100));
    EXPECT_EQ(stats().tcp.ecn_ce_received, 1u);
    // Unmarked data (ECT(0)) after it: the echo goes on (every ACK, even a delayed one).
    send_marked(at(200), seg().psh().seq(peer(100)).ack(us()).data(slice(100, 100)), kEct0);
    Seg delayed = take_sent(at(240));
    EXPECT_EQ(delayed.flag_bits, 0x10 | kEce) << to_string(delayed);
    // The sender's CWR ends it.
    Seg cwr = seg().psh().seq(peer(200)).ack(us()).data(slice(200, 100));
    cwr.flag_bits |= kCwr;
    send_marked(at(300), cwr, kEct0);
    Seg plain = take_sent(at(340));
    EXPECT_EQ(plain.flag_bits, 0x10) << to_string(plain);
    EXPECT_FALSE(sock->ecn.echo);
    // A new mark starts it again.
    send_marked(at(400), seg().psh().seq(peer(300)).ack(us()).data(slice(300, 100)), kCe);
    Seg again = take_sent(at(400));
    EXPECT_EQ(again.flag_bits, 0x10 | kEce) << to_string(again);
    EXPECT_EQ(read(at(500), 1000).size(), 400u);
    expect_nothing(at(600));
}

// Without ECN negotiated, a CE mark means nothing to TCP (a router should not have set it).
TEST_F(EcnTest, CeWithoutEcnIsNotEchoed) {
    accept_with(0);
    send_marked(at(100), seg().psh().seq(peer()).ack(us()).data(slice(0, 100)), kCe);
    Seg ack = take_sent(at(140));
    EXPECT_EQ(ack.flag_bits, 0x10) << to_string(ack);
    EXPECT_EQ(stats().tcp.ecn_ce_received, 0u);
}

// ---- The sender: ECE reduces the window once per window, no retransmission; CWR (6.1.2) --------------

TEST_F(EcnTest, SenderReducesOncePerWindowWithoutRetransmittingAndSetsCwr) {
    config.tcp_pacing = false;  // the segments' order and count, all at once (pacing spreads them: pacing_test.cpp)
    accept_with(kEce | kCwr);
    ASSERT_TRUE(sock->ecn.ok);
    constexpr std::uint32_t kSeg = kMss;
    write(at(100), 20 * kSeg);
    for (std::uint32_t i = 0; i < 10; ++i) {  // the initial window: 10 segments, each ECT(0)
        Seg s = expect_sent(at(100), seg().seq(us(i * kSeg)).ack(peer()).len(kSeg));
        EXPECT_EQ(ip_ecn(s), kEct0);
    }
    // The peer saw a CE mark: its ACK of two segments carries ECE. Slow start took the ACK first
    // (cwnd 12 segments); then CUBIC cuts ssthresh to 0.7 of the 8 segments still in flight at
    // once, and cwnd comes down to it by PRR (RFC 6937, as Linux's CA_CWR): of what each ACK
    // delivers, ssthresh / prior_cwnd may be sent, in whole segments rounded up. Here
    // ceil(5.6 x 2 / 12) = 1 segment of new data, with CWR. Nothing is retransmitted.
    constexpr std::uint32_t kSsthresh = 8 * kSeg * 7 / 10;
    Seg echo = seg().seq(peer()).ack(us(2 * kSeg)).window(65535);
    echo.flag_bits |= kEce;
    send(at(110), echo);
    EXPECT_EQ(tcp().info(sock).ssthresh, kSsthresh);
    EXPECT_EQ(tcp().info(sock).cwnd, 8 * kSeg + kSeg);
    EXPECT_EQ(stats().tcp.ecn_reductions, 1u);
    Seg first = take_sent(at(110));
    EXPECT_EQ(first.seq_no, us(10 * kSeg));
    EXPECT_EQ(first.length, kSeg);
    EXPECT_EQ(first.flag_bits, 0x10 | kCwr) << "CWR on the first new data segment: " << to_string(first);
    EXPECT_EQ(ip_ecn(first), kEct0);
    expect_nothing(at(110));
    // More echoes from the same window: no second reduction. The flight (5 segments) is now below
    // ssthresh: PRR's second part lets the window slow-start back up to ssthresh, no further;
    // what that leaves (876 bytes) is less than a segment, so nothing leaves yet.
    Seg echo2 = seg().seq(peer()).ack(us(6 * kSeg)).window(65535);
    echo2.flag_bits |= kEce;
    send(at(120), echo2);
    EXPECT_EQ(stats().tcp.ecn_reductions, 1u);
    EXPECT_EQ(tcp().info(sock).ssthresh, kSsthresh);
    EXPECT_EQ(tcp().info(sock).cwnd, kSsthresh);
    expect_nothing(at(120));
    for (const Seg& s : sent_) EXPECT_EQ(s.flag_bits & kCwr, 0) << "CWR only once: " << to_string(s);
    sent_.clear();
    // An ACK beyond what was sent before the echo (10 segments) ends the reduction: cwnd =
    // ssthresh. Its ECE is a new congestion event: a second reduction.
    Seg echo3 = seg().seq(peer()).ack(us(11 * kSeg)).window(65535);
    echo3.flag_bits |= kEce;
    send(at(130), echo3);
    EXPECT_EQ(stats().tcp.ecn_reductions, 2u);
    EXPECT_EQ(stats().tcp.retransmitted_segments, 0u);
    EXPECT_EQ(stats().tcp.fast_retransmits, 0u);
    sent_.clear();
}

// Without a second echo, the reduction ends at ssthresh: cwnd = ssthresh once an ACK passes the
// data sent before the echo (Linux's tcp_end_cwnd_reduction), and nothing was lost or resent.
TEST_F(EcnTest, ReductionEndsAtSsthresh) {
    config.tcp_pacing = false;
    initial_window_echoed(10 * kMss);
    const std::uint32_t ssthresh = tcp().info(sock).ssthresh;
    EXPECT_GT(tcp().info(sock).cwnd, ssthresh) << "PRR brings it down over the round trip, not at once";
    send(at(120), seg().seq(peer()).ack(us(10 * kMss)).window(65535));
    EXPECT_EQ(tcp().info(sock).cwnd, ssthresh);
    EXPECT_EQ(stats().tcp.retransmitted_segments, 0u);
    sent_.clear();
}

// A loss found during ECN's reduction turns it into a loss recovery without a second cut: the
// window was reduced for this window of data already (as Linux's tcp_enter_recovery from CA_CWR).
TEST_F(EcnTest, ALossDuringTheReductionIsNotCutAgain) {
    config.tcp_congestion = CongestionAlgorithm::NewReno;
    config.tcp_pacing = false;
    initial_window_echoed(20 * kMss);
    ASSERT_EQ(tcp().info(sock).ssthresh, 4u * kMss);
    sent_.clear();
    // Segment 3 was lost: three duplicate ACKs (RFC 5681), the fast retransmit.
    for (int i = 1; i <= 3; ++i) send(at(110 + i), seg().seq(peer()).ack(us(2 * kMss)).window(65535));
    EXPECT_EQ(stats().tcp.fast_retransmits, 1u);
    EXPECT_EQ(tcp().info(sock).ssthresh, 4u * kMss) << "no second cut";
    EXPECT_TRUE(sock->snd.cc->in_recovery());
    bool resent = false;
    for (const Seg& s : sent_) resent = resent || s.seq_no == us(2 * kMss);
    EXPECT_TRUE(resent) << "the lost segment is sent again";
    sent_.clear();
}

// NewReno's reaction halves ssthresh, as after a loss (RFC 3168 6.1.2, RFC 5681 equation 4); PRR
// lets ceil(4 x 2 / 12) = 1 segment out of the 2 delivered (slow start took the ACK of two first:
// prior_cwnd is 12 segments).
TEST_F(EcnTest, NewRenoHalvesOnEce) {
    config.tcp_congestion = CongestionAlgorithm::NewReno;
    config.tcp_pacing = false;
    initial_window_echoed(20 * kMss);
    EXPECT_EQ(tcp().info(sock).ssthresh, 4u * kMss);
    EXPECT_EQ(tcp().info(sock).cwnd, 8u * kMss + kMss);
    Seg first = take_sent(at(110));
    EXPECT_EQ(first.seq_no, us(10 * kMss));
    EXPECT_EQ(first.flag_bits, 0x10 | kCwr) << to_string(first);
    expect_nothing(at(110));
    sent_.clear();
}

}  // namespace
}  // namespace tcpip::tcp_test
