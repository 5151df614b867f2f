// Opening and closing: every transition of RFC 9293's state diagram (section 3.3.2, figure 5),
// resets (3.10.7.1 and RFC 5961), initial sequence numbers (RFC 6528), the MSS and window scale
// options (RFC 9293 3.7.1, RFC 7323), SYN retransmission (RFC 6298 2.1, 5.5), the listen backlog,
// keepalive (RFC 1122 4.2.3.6), and ICMP errors while connecting (RFC 1122 4.2.3.9).
#include <gtest/gtest.h>

#include <set>

#include "tests/unit/tcp/harness.h"

namespace tcpip::tcp_test {
namespace {

// ---- Opening -------------------------------------------------------------------------------------

TEST_F(TcpTest, ActiveOpen) {
    sock = open_socket();
    peer_port = kServerPort;
    auto r = tcp().connect(at(0), sock, kPeerIp, kServerPort);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), SocketError::InProgress);
    // The SYN: our MSS (MTU 1500 - 40) and window scale 7 (the smallest shift that lets the 6 MiB
    // receive-buffer auto-tuning may reach be advertised, as Linux's), an unscaled window.
    Seg syn = expect_sent(at(0), seg().syn().anyseq().window(65535).mss(1460).wscale(7).sack_ok().ts_any().to(0));
    our_port = syn.src_port;
    our_iss = syn.seq_no;
    EXPECT_GE(our_port, TcpLayer::kEphemeralFirst);
    EXPECT_EQ(state(), TcpState::SynSent);
    EXPECT_FALSE(tcp().writable(sock));

    send(at(10), seg().syn().seq(kPeerIss).ack(us()).window(29200).mss(1460));
    // The peer did not offer window scaling: our windows are not scaled either.
    expect_sent(at(10), seg().seq(us()).ack(peer()).window(65535));
    EXPECT_EQ(state(), TcpState::Established);
    EXPECT_TRUE(tcp().writable(sock));
    EXPECT_GT(events, 0);
    EXPECT_EQ(tcp().info(sock).rcv_wscale, 0);

    write(at(20), 10);
    expect_sent(at(20), seg().psh().seq(us()).ack(peer()).window(65535).data(ours(0, 10)));
    expect_nothing(at(25));
}

TEST_F(TcpTest, PassiveOpen) {
    listening();
    send(at(0), seg().syn().seq(kPeerIss).window(65535).mss(1460));
    Seg synack = expect_sent(at(0), seg().syn().anyseq().ack(peer()).window(65535).mss(1460));
    our_iss = synack.seq_no;
    // Half-open: nothing to accept yet.
    EXPECT_FALSE(tcp().readable(listener));
    auto none = tcp().accept(listener);
    ASSERT_FALSE(none.has_value());
    EXPECT_EQ(none.error(), SocketError::WouldBlock);
    EXPECT_EQ(tcp().socket_count(), 2u);

    send(at(10), seg().seq(peer()).ack(us()));
    expect_nothing(at(10));
    EXPECT_TRUE(tcp().readable(listener));
    auto child = tcp().accept(listener);
    ASSERT_TRUE(child.has_value());
    sock = *child;
    EXPECT_EQ(state(), TcpState::Established);
    EXPECT_EQ(tcp().info(sock).mss, 1460u);
    EXPECT_EQ(tcp().info(sock).srtt, Duration::millis(10));  // the SYN-ACK was timed
}

// RFC 9293 figure 8: both SYNs cross. Each side answers the other's SYN with a SYN-ACK from
// SYN-RECEIVED; the peer's SYN-ACK acknowledges our SYN and completes the handshake (as in Linux).
TEST_F(TcpTest, SimultaneousOpen) {
    sock = open_socket();
    peer_port = kServerPort;
    ASSERT_TRUE(tcp().bind(sock, Ipv4Address::any(), kServerPort).has_value());
    our_port = kServerPort;
    (void)tcp().connect(at(0), sock, kPeerIp, kServerPort);
    Seg syn = expect_sent(at(0), seg().syn().anyseq().window(65535).mss(1460).wscale(7).sack_ok().ts_any());
    our_iss = syn.seq_no;

    send(at(5), seg().syn().seq(kPeerIss).window(65535).mss(1460));
    // SYN-RECEIVED: our SYN again, now with the ACK; no window scale, the peer's SYN had none.
    expect_sent(at(5), seg().syn().seq(our_iss).ack(peer()).window(65535).mss(1460));
    EXPECT_EQ(state(), TcpState::SynReceived);

    send(at(10), seg().syn().seq(kPeerIss).ack(us()).window(65535).mss(1460));
    EXPECT_EQ(state(), TcpState::Established);
    // An ACK, for a peer that (as RFC 9293 3.10.7.4 reads strictly) found our SYN-ACK unacceptable.
    expect_sent(at(10), seg().seq(us()).ack(peer()).window(65535));

    write(at(20), 5);
    expect_sent(at(20), seg().psh().seq(us()).ack(peer()).data(ours(0, 5)));
    send(at(30), seg().psh().seq(peer()).ack(us(5)).data(pattern(7)));
    expect_sent(at(70), seg().seq(us(5)).ack(peer(7)).window(65535));
    EXPECT_EQ(read(at(80), 100), pattern(7));
    expect_nothing(at(3000));  // no stray SYN-ACK retransmission
}

// The peer's SYN again in SYN-RECEIVED: our SYN-ACK was lost; send it again (not a bare ACK).
TEST_F(TcpTest, RetransmittedSynGetsTheSynAckAgain) {
    listening();
    send(at(0), seg().syn().seq(kPeerIss).window(65535).mss(1460));
    Seg synack = expect_sent(at(0), seg().syn().anyseq().ack(peer()).window(65535).mss(1460));
    our_iss = synack.seq_no;
    send(at(500), seg().syn().seq(kPeerIss).window(65535).mss(1460));
    expect_sent(at(500), seg().syn().seq(our_iss).ack(peer()).window(65535).mss(1460));
    send(at(510), seg().seq(peer()).ack(us()));
    expect_nothing(at(2000));
    EXPECT_TRUE(tcp().accept(listener).has_value());
}

// RFC 9293 3.10.7.4, SYN-RECEIVED: "If the segment acknowledgment is not acceptable, form a reset
// segment <SEQ=SEG.ACK><CTL=RST> and send it." The half-open connection stays.
TEST_F(TcpTest, UnacceptableAckInSynReceivedGetsRst) {
    listening();
    send(at(0), seg().syn().seq(kPeerIss).window(65535).mss(1460));
    our_iss = expect_sent(at(0), seg().syn().anyseq().ack(peer()).window(65535).mss(1460)).seq_no;
    send(at(10), seg().seq(peer()).ack(us(100)));
    expect_sent(at(10), seg().rst().seq(us(100)).window(0));
    send(at(20), seg().seq(peer()).ack(us(-1)));  // acknowledges nothing: also unacceptable
    expect_sent(at(20), seg().rst().seq(us(-1)).window(0));
    send(at(30), seg().seq(peer()).ack(us()));
    expect_nothing(at(30));
    EXPECT_TRUE(tcp().accept(listener).has_value());
}

// RFC 9293 3.10.7.4 / 5961: a RST (exact sequence number) in SYN-RECEIVED from a passive open
// returns to LISTEN: the half-open connection goes away quietly, the listener carries on.
TEST_F(TcpTest, RstInSynReceivedReturnsToListen) {
    listening();
    send(at(0), seg().syn().seq(kPeerIss).window(65535).mss(1460));
    our_iss = expect_sent(at(0), seg().syn().anyseq().ack(peer()).window(65535).mss(1460)).seq_no;
    send(at(10), seg().rst().seq(peer()));
    expect_nothing(at(10));
    EXPECT_EQ(tcp().socket_count(), 1u);
    expect_nothing(at(5000));  // no SYN-ACK retransmission for a connection that is gone
    send(at(5000), seg().syn().seq(kPeerIss + 7).window(65535).mss(1460));
    expect_sent(at(5000), seg().syn().anyseq().ack(kPeerIss + 8).window(65535).mss(1460));
}

// A close while the handshake is in progress: in SYN-SENT the TCB just goes (nothing sent); in
// SYN-RECEIVED the FIN waits until the connection is established (RFC 9293 3.10.4: "queue for
// processing after entering ESTABLISHED state"), then SYN-RECEIVED -> FIN-WAIT-1.
TEST_F(TcpTest, CloseInSynSentSendsNothing) {
    sock = open_socket();
    peer_port = kServerPort;
    (void)tcp().connect(at(0), sock, kPeerIp, kServerPort);
    Seg syn = take_sent(at(0));
    close(at(100));
    EXPECT_EQ(tcp().socket_count(), 0u);
    expect_nothing(at(10000));
    our_port = syn.src_port;
    send(at(10000), seg().syn().seq(kPeerIss).ack(syn.seq_no + 1).window(65535));  // a late SYN-ACK
    expect_sent(at(10000), seg().rst().seq(syn.seq_no + 1).window(0));
}

TEST_F(TcpTest, ShutdownInSynReceivedSendsTheFinOnceEstablished) {
    sock = open_socket();
    peer_port = our_port = kServerPort;
    ASSERT_TRUE(tcp().bind(sock, Ipv4Address::any(), kServerPort).has_value());
    (void)tcp().connect(at(0), sock, kPeerIp, kServerPort);
    our_iss = take_sent(at(0)).seq_no;
    send(at(5), seg().syn().seq(kPeerIss).window(65535).mss(1460));
    expect_sent(at(5), seg().syn().seq(our_iss).ack(peer()).window(65535).mss(1460));
    shutdown_write(at(6));
    expect_nothing(at(6));
    send(at(10), seg().seq(peer()).ack(us()));
    expect_sent(at(10), seg().fin().seq(us()).ack(peer()).window(65535));
    EXPECT_EQ(state(), TcpState::FinWait1);
}

// Closing a listener (LISTEN -> CLOSED): connections nobody accepted are reset (as Linux), those
// accepted carry on, and the port is closed.
TEST_F(TcpTest, ClosingTheListener) {
    established();
    send(at(20), seg().from(40001).syn().seq(kPeerIss).window(65535).mss(1460));
    const std::uint32_t iss2 =
        expect_sent(at(20), seg().from(40001).syn().anyseq().ack(peer()).window(65535).mss(1460)).seq_no;
    send(at(30), seg().from(40001).seq(peer()).ack(iss2 + 1));
    send(at(40), seg().from(40003).syn().seq(kPeerIss).window(65535).mss(1460));  // stays half-open
    const std::uint32_t iss3 =
        expect_sent(at(40), seg().from(40003).syn().anyseq().ack(peer()).window(65535).mss(1460)).seq_no;
    close(at(100), listener);
    listener = nullptr;
    expect_sent(at(100), seg().from(40001).rst().seq(iss2 + 1).ack(peer()).window(0));
    EXPECT_EQ(tcp().socket_count(), 1u);  // the accepted connection only
    EXPECT_EQ(state(), TcpState::Established);
    expect_nothing(at(2000));  // no SYN-ACK retransmission for the half-open one
    send(at(2000), seg().from(40003).seq(peer()).ack(iss3 + 1));
    expect_sent(at(2000), seg().from(40003).rst().seq(iss3 + 1).window(0));
    send(at(2010), seg().from(40002).syn().seq(kPeerIss).window(65535));
    expect_sent(at(2010), seg().from(40002).rst().seq(0).ack(peer()).window(0));
    write(at(2020), 10);
    expect_sent(at(2020), seg().psh().seq(us()).ack(peer()).data(ours(0, 10)));
}

// ---- Closing -------------------------------------------------------------------------------------

TEST_F(TcpTest, ActiveCloseThroughFinWait2AndTimeWait) {
    config.tcp_time_wait = Duration::seconds(10);
    established();
    shutdown_write(at(100));
    expect_sent(at(100), seg().fin().seq(us()).ack(peer()).window(65535));
    EXPECT_EQ(state(), TcpState::FinWait1);

    send(at(110), seg().seq(peer()).ack(us(1)));
    expect_nothing(at(110));
    EXPECT_EQ(state(), TcpState::FinWait2);

    send(at(200), seg().fin().seq(peer()).ack(us(1)));
    expect_sent(at(200), seg().seq(us(1)).ack(peer(1)).window(65535));
    EXPECT_EQ(state(), TcpState::TimeWait);
    EXPECT_EQ(tcp().time_wait_count(), 1u);

    expect_nothing(at(10199));
    EXPECT_EQ(state(), TcpState::TimeWait);
    advance(at(10200));  // 2*MSL after entering TIME-WAIT
    EXPECT_EQ(state(), TcpState::Closed);
    EXPECT_EQ(tcp().time_wait_count(), 0u);
    // The connection is gone: the listener answers a late segment with RST <SEQ=SEG.ACK>.
    send(at(10300), seg().seq(peer(1)).ack(us(1)));
    expect_sent(at(10300), seg().rst().seq(us(1)).window(0));
}

// The same after close(): the stack owns the socket and frees it when TIME-WAIT ends.
TEST_F(TcpTest, ClosedSocketIsFreedAfterTimeWait) {
    config.tcp_time_wait = Duration::seconds(10);
    established();
    close(at(100));
    expect_sent(at(100), seg().fin().seq(us()).ack(peer()).window(65535));
    send(at(110), seg().fin().seq(peer()).ack(us(1)));
    expect_sent(at(110), seg().seq(us(1)).ack(peer(1)).window(65535));
    EXPECT_EQ(tcp().socket_count(), 2u);
    EXPECT_EQ(tcp().time_wait_count(), 1u);
    expect_nothing(at(10109));
    EXPECT_EQ(tcp().socket_count(), 2u);
    advance(at(10110));
    EXPECT_EQ(tcp().socket_count(), 1u);  // the listener only
    EXPECT_EQ(tcp().time_wait_count(), 0u);
}

// RFC 9293 3.10.7.4, TIME-WAIT: "The only thing that can arrive in this state is a retransmission
// of the remote FIN. Acknowledge it, and restart the 2 MSL timeout."
TEST_F(TcpTest, TimeWaitAcksARetransmittedFinAndRestarts) {
    config.tcp_time_wait = Duration::seconds(10);
    established();
    shutdown_write(at(100));
    expect_sent(at(100), seg().fin().seq(us()).ack(peer()).window(65535));
    send(at(200), seg().fin().seq(peer()).ack(us(1)));
    expect_sent(at(200), seg().seq(us(1)).ack(peer(1)).window(65535));
    ASSERT_EQ(state(), TcpState::TimeWait);

    send(at(5000), seg().fin().seq(peer()).ack(us(1)));  // our ACK was lost
    expect_sent(at(5000), seg().seq(us(1)).ack(peer(1)).window(65535));
    expect_nothing(at(14999));
    EXPECT_EQ(state(), TcpState::TimeWait);
    advance(at(15000));
    EXPECT_EQ(state(), TcpState::Closed);
}

TEST_F(TcpTest, PassiveCloseThroughCloseWaitAndLastAck) {
    established();
    send(at(100), seg().fin().seq(peer()).ack(us()));
    expect_sent(at(100), seg().seq(us()).ack(peer(1)).window(65535));  // a FIN is acknowledged at once
    EXPECT_EQ(state(), TcpState::CloseWait);
    EXPECT_TRUE(tcp().peer_closed(sock));
    auto eof = try_read(at(110), 100);
    ASSERT_TRUE(eof.has_value());
    EXPECT_TRUE(eof->empty());

    // CLOSE-WAIT: we may still send.
    write(at(120), 10);
    expect_sent(at(120), seg().psh().seq(us()).ack(peer(1)).data(ours(0, 10)));
    send(at(130), seg().seq(peer(1)).ack(us(10)));

    shutdown_write(at(200));
    expect_sent(at(200), seg().fin().seq(us(10)).ack(peer(1)).window(65535));
    EXPECT_EQ(state(), TcpState::LastAck);
    send(at(210), seg().seq(peer(1)).ack(us(11)));
    expect_nothing(at(210));
    EXPECT_EQ(state(), TcpState::Closed);
    expect_nothing(at(100000));
}

TEST_F(TcpTest, SimultaneousCloseThroughClosing) {
    config.tcp_time_wait = Duration::seconds(10);
    established();
    shutdown_write(at(100));
    expect_sent(at(100), seg().fin().seq(us()).ack(peer()).window(65535));
    // The peer's FIN crosses ours: it does not acknowledge our FIN.
    send(at(105), seg().fin().seq(peer()).ack(us()));
    expect_sent(at(105), seg().seq(us(1)).ack(peer(1)).window(65535));
    EXPECT_EQ(state(), TcpState::Closing);
    send(at(110), seg().seq(peer(1)).ack(us(1)));
    expect_nothing(at(110));
    EXPECT_EQ(state(), TcpState::TimeWait);
    advance(at(10110));
    EXPECT_EQ(state(), TcpState::Closed);
}

// shutdown(SHUT_WR): our FIN goes, the peer's data keeps coming and is delivered.
TEST_F(TcpTest, HalfCloseKeepsReceiving) {
    established();
    shutdown_write(at(100));
    expect_sent(at(100), seg().fin().seq(us()).ack(peer()).window(65535));
    send(at(110), seg().seq(peer()).ack(us(1)));
    EXPECT_EQ(state(), TcpState::FinWait2);
    auto refused = tcp().send(at(110), sock, pattern(5));
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error(), SocketError::BrokenPipe);

    send(at(200), seg().psh().seq(peer()).ack(us(1)).data(pattern(100)));
    expect_sent(at(240), seg().seq(us(1)).ack(peer(100)).window(65535));  // delayed ACK
    EXPECT_EQ(read(at(250), 1000), pattern(100));
    send(at(300), seg().fin().seq(peer(100)).ack(us(1)));
    expect_sent(at(300), seg().seq(us(1)).ack(peer(101)).window(65535));
    EXPECT_EQ(state(), TcpState::TimeWait);
    EXPECT_TRUE(read(at(310), 10).empty());
}

// The FIN is retransmitted like data when its ACK does not come.
TEST_F(TcpTest, FinIsRetransmitted) {
    established();
    shutdown_write(at(100));
    expect_sent(at(100), seg().fin().seq(us()).ack(peer()).window(65535));
    expect_nothing(at(299));
    expect_sent(at(300), seg().fin().seq(us()).ack(peer()).window(65535));
    expect_sent(at(700), seg().fin().seq(us()).ack(peer()).window(65535));
    send(at(710), seg().seq(peer()).ack(us(1)));
    EXPECT_EQ(state(), TcpState::FinWait2);
    expect_nothing(at(5000));
}

// Data and FIN both lost: the timeout sends both again.
TEST_F(TcpTest, DataAndFinAreRetransmitted) {
    established();
    write(at(100), 100);
    shutdown_write(at(100));
    expect_sent(at(100), seg().psh().seq(us()).ack(peer()).data(ours(0, 100)));
    expect_sent(at(100), seg().fin().seq(us(100)).ack(peer()).window(65535));
    expect_sent(at(300), seg().psh().seq(us()).ack(peer()).data(ours(0, 100)));
    expect_sent(at(300), seg().fin().seq(us(100)).ack(peer()).window(65535));
    send(at(310), seg().seq(peer()).ack(us(101)));
    EXPECT_EQ(state(), TcpState::FinWait2);
    expect_nothing(at(5000));
}

TEST_F(TcpTest, CloseWithUnreadDataSendsRst) {
    established();
    send(at(100), seg().psh().seq(peer()).ack(us()).data(pattern(100)));
    close(at(110));
    // RFC 2525 2.17 and Linux: data would be lost, so the peer must know: RST, not FIN.
    expect_sent(at(110), seg().rst().seq(us()).ack(peer(100)).window(0));
    EXPECT_EQ(tcp().socket_count(), 1u);
    expect_nothing(at(1000));  // not even the delayed ACK
}

// ---- Resets --------------------------------------------------------------------------------------

// RFC 9293 3.10.7.1: no connection. "If the ACK bit is off, sequence number zero is used,
// <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>. If the ACK bit is on, <SEQ=SEG.ACK><CTL=RST>."
TEST_F(TcpTest, ClosedPortAnswersWithRst) {
    our_port = 81;  // nothing there
    send(at(0), seg().syn().seq(kPeerIss).window(65535).mss(1460));
    expect_sent(at(0), seg().rst().seq(0).ack(peer()).window(0));
    send(at(10), seg().fin().seq(1000).data(pattern(10)));
    expect_sent(at(10), seg().rst().seq(0).ack(1011).window(0));
    send(at(20), seg().seq(1000).ack(123456).data(pattern(10)));
    expect_sent(at(20), seg().rst().seq(123456).window(0));
    send(at(30), seg().rst().seq(1000));  // a RST is never answered
    send(at(40), seg().rst().seq(1000).ack(5));
    expect_nothing(at(100));
    EXPECT_EQ(stats().tcp.rx_no_socket, 5u);
}

// RFC 5961 3.2: a RST with exactly the next expected sequence number resets the connection.
TEST_F(TcpTest, RstWithExactSequenceNumberResets) {
    established();
    send(at(100), seg().rst().seq(peer()));
    expect_nothing(at(100));
    EXPECT_EQ(state(), TcpState::Closed);
    auto r = try_read(at(110), 10);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), SocketError::ConnectionReset);
    EXPECT_EQ(stats().tcp.established_resets, 1u);
    expect_nothing(at(100000));
}

// RFC 5961 3.2: in the window but not exact: a challenge ACK, the connection stays.
TEST_F(TcpTest, RstInWindowButInexactGetsChallengeAck) {
    established();
    send(at(100), seg().rst().seq(peer(1)));
    expect_sent(at(100), seg().seq(us()).ack(peer()).window(65535));
    send(at(110), seg().rst().seq(peer(65534)));  // the last number in our window
    expect_sent(at(110), seg().seq(us()).ack(peer()).window(65535));
    EXPECT_EQ(state(), TcpState::Established);
    EXPECT_EQ(stats().tcp.challenge_acks, 2u);
}

// Outside the window: silently dropped (RFC 9293 3.10.7.4 "first": a RST is never answered).
TEST_F(TcpTest, RstOutsideTheWindowIsIgnored) {
    established();
    send(at(100), seg().rst().seq(peer(65535)));
    send(at(110), seg().rst().seq(peer(-1)));
    send(at(120), seg().rst().seq(peer(1000000)));
    expect_nothing(at(200));
    EXPECT_EQ(state(), TcpState::Established);
}

// An ACK without data at the right edge of our window (RCV.NXT + RCV.WND) is taken, as Linux's
// tcp_sequence takes it: a peer that sent up to the edge sends its ACKs there. If the data before
// it did not fit in our buffer and those ACKs were dropped as RFC 9293's strict test says, the
// peer's acknowledgments of our data were lost with them; with both buffers full, neither side
// would move again (seen against the kernel: a 20 MB echo stopped for good).
TEST_F(TcpTest, AckAtTheRightEdgeOfTheWindowIsTaken) {
    established();
    write(at(100), 1000);
    expect_sent(at(100), seg().psh().seq(us()).ack(peer()).window(65535).len(1000));
    EXPECT_EQ(tcp().info(sock).bytes_in_flight, 1000u);
    send(at(110), seg().seq(peer(65535)).ack(us(1000)).window(65535));
    expect_nothing(at(110));  // accepted: not answered as out of window
    EXPECT_EQ(tcp().info(sock).bytes_in_flight, 0u);
    EXPECT_EQ(stats().tcp.rx_out_of_window, 0u);
    send(at(120), seg().seq(peer(65536)).ack(us(1000)).window(65535));  // one beyond: out of window
    expect_sent(at(120), seg().seq(us(1000)).ack(peer()).window(65535));
    EXPECT_EQ(stats().tcp.rx_out_of_window, 1u);
}

// RFC 5961 4.2: a SYN in a synchronized state, whatever its sequence number, gets a challenge
// ACK and does not disturb the connection.
TEST_F(TcpTest, SynInSynchronizedStateGetsChallengeAck) {
    established();
    send(at(100), seg().syn().seq(peer(10)).window(65535).mss(1460));
    expect_sent(at(100), seg().seq(us()).ack(peer()).window(65535));
    send(at(110), seg().syn().seq(kPeerIss - 5000).window(65535).mss(1460));
    expect_sent(at(110), seg().seq(us()).ack(peer()).window(65535));
    EXPECT_EQ(state(), TcpState::Established);
    write(at(120), 10);
    expect_sent(at(120), seg().psh().seq(us()).ack(peer()).data(ours(0, 10)));
}

// RFC 9293 3.10.7.4 / RFC 5961 5.2: "If the ACK acks something not yet sent (SEG.ACK > SND.NXT)
// then send an ACK, drop the segment, and return." Its data is not taken.
TEST_F(TcpTest, AckOfUnsentDataIsAnsweredAndDropped) {
    established();
    send(at(100), seg().psh().seq(peer()).ack(us(1000)).data(pattern(10)));
    expect_sent(at(100), seg().seq(us()).ack(peer()).window(65535));
    auto r = try_read(at(110), 100);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), SocketError::WouldBlock);
    EXPECT_EQ(state(), TcpState::Established);
    send(at(120), seg().psh().seq(peer()).ack(us()).data(pattern(10)));
    expect_sent(at(160), seg().seq(us()).ack(peer(10)).window(65535));
}

// RFC 9293 3.10.7.3, SYN-SENT: a RST with an acceptable ACK refuses the connection; one with an
// unacceptable ACK is dropped; an unacceptable ACK alone gets <SEQ=SEG.ACK><CTL=RST>.
TEST_F(TcpTest, ResetsInSynSent) {
    sock = open_socket();
    peer_port = kServerPort;
    (void)tcp().connect(at(0), sock, kPeerIp, kServerPort);
    Seg syn = take_sent(at(0));
    our_port = syn.src_port;
    our_iss = syn.seq_no;
    send(at(10), seg().seq(kPeerIss).ack(us(5)));  // acknowledges something we never sent
    expect_sent(at(10), seg().rst().seq(us(5)).window(0));
    send(at(20), seg().rst().seq(0).ack(us(5)));
    expect_nothing(at(20));
    EXPECT_EQ(state(), TcpState::SynSent);
    send(at(30), seg().rst().seq(0).ack(us()));
    expect_nothing(at(30));
    EXPECT_EQ(state(), TcpState::Closed);
    auto r = tcp().send(at(30), sock, pattern(1));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), SocketError::ConnectionRefused);
    expect_nothing(at(10000));
}

// ---- Initial sequence numbers ----------------------------------------------------------------------

// RFC 6528: ISN = M + F(4-tuple, secret): a different, unpredictable number for each 4-tuple; for
// the same 4-tuple it advances with a 4-microsecond clock.
TEST_F(TcpTest, IsnDiffersPerTupleAndFollowsTheClock) {
    std::vector<std::uint32_t> isns;
    for (std::uint16_t port = 5000; port < 5004; ++port) {
        TcpSocket* s = open_socket();
        (void)tcp().connect(at(0), s, kPeerIp, port);
        peer_port = port;
        Seg syn = take_sent(at(0));
        EXPECT_EQ(syn.flag_bits, 0x02);
        isns.push_back(syn.seq_no);
        tcp().close(at(0), s);
    }
    std::set<std::uint32_t> distinct(isns.begin(), isns.end());
    EXPECT_EQ(distinct.size(), isns.size());
    for (std::size_t i = 1; i < isns.size(); ++i) {
        const auto step = static_cast<std::int32_t>(isns[i] - isns[i - 1]);
        EXPECT_GT(std::abs(static_cast<std::int64_t>(step)), 1000000) << "ISNs " << i - 1 << " and " << i << " are close";
    }
    EXPECT_NE(static_cast<std::uint32_t>(isns[1] - isns[0]), static_cast<std::uint32_t>(isns[2] - isns[1]))
        << "ISNs go up by a constant step";

    // The same 4-tuple 4 ms later: 1000 ticks of the 4 us clock further on.
    std::uint32_t first = 0;
    for (std::int64_t t : {1000, 1004}) {
        TcpSocket* s = open_socket();
        ASSERT_TRUE(tcp().bind(s, Ipv4Address::any(), 50000).has_value());
        advance(at(t));
        (void)tcp().connect(at(t), s, kPeerIp, 6000);
        Seg syn = take_sent(at(t));
        if (t == 1000) first = syn.seq_no;
        else EXPECT_EQ(syn.seq_no - first, 1000u);
        tcp().close(at(t), s);
    }
}

// ---- Options -------------------------------------------------------------------------------------

TEST_F(TcpTest, PeerMssIsHonoured) {
    established(Handshake().peer_mss(500));
    EXPECT_EQ(tcp().info(sock).mss, 500u);
    set_options(at(100), sock, [](TcpUserOptions& o) { o.nodelay = true; });
    write(at(100), 1200);
    expect_sent(at(100), seg().seq(us()).ack(peer()).data(ours(0, 500)));
    expect_sent(at(100), seg().seq(us(500)).ack(peer()).data(ours(500, 500)));
    expect_sent(at(100), seg().psh().seq(us(1000)).ack(peer()).data(ours(1000, 200)));
}

// RFC 9293 3.7.1: without the option, the peer takes 536 bytes.
TEST_F(TcpTest, NoMssOptionMeans536) {
    established(Handshake().peer_mss(std::nullopt));
    EXPECT_EQ(tcp().info(sock).mss, 536u);
    set_options(at(100), sock, [](TcpUserOptions& o) { o.nodelay = true; });
    write(at(100), 1200);
    expect_sent(at(100), seg().seq(us()).ack(peer()).len(536));
    expect_sent(at(100), seg().seq(us(536)).ack(peer()).len(536));
    expect_sent(at(100), seg().psh().seq(us(1072)).ack(peer()).len(128));
}

// RFC 7323 1.3: scaling is on only when both SYNs carry the option; the window in a SYN is never
// scaled (2.2).
TEST_F(TcpTest, WindowScaleWhenBothSynsCarryIt) {
    config.tcp_moderate_rcvbuf = false;  // a fixed 256 KiB buffer: shift 3 (auto-tuning would want 7)
    listening();
    send(at(0), seg().syn().seq(kPeerIss).window(65535).mss(1460).wscale(2));
    our_iss = expect_sent(at(0), seg().syn().anyseq().ack(peer()).window(65535).mss(1460).wscale(3)).seq_no;
    send(at(10), seg().seq(peer()).ack(us()).window(1500));  // 1500 << 2 = 6000 bytes
    sock = *tcp().accept(listener);
    EXPECT_EQ(tcp().info(sock).snd_wnd, 6000u);
    write(at(100), 10000);
    for (std::uint32_t i = 0; i < 4; ++i) {
        expect_sent(at(100), seg().seq(us(i * 1460)).ack(peer()).window(32768).len(1460));  // 262144 >> 3
    }
    expect_nothing(at(100));  // 160 bytes of window left: too little (sender SWS avoidance)
    send(at(110), seg().psh().seq(peer()).ack(us(5840)).window(1500).data(pattern(100)));
    // The window opened by 5840 bytes: the rest goes, the ACK riding on it.
    // (262144 - 100) / 8 rounded up: rounded down, the edge would move 4 bytes left of the one
    // already advertised (262144), and the peer may have sent up to it.
    expect_sent(at(110), seg().seq(us(5840)).ack(peer(100)).window(32756).len(1460));
    expect_sent(at(110), seg().seq(us(7300)).ack(peer(100)).window(32756).len(1460));
    expect_sent(at(110), seg().psh().seq(us(8760)).ack(peer(100)).window(32756).len(1240));
    expect_nothing(at(150));  // no delayed ACK: it went with the data
}

TEST_F(TcpTest, NoWindowScaleUnlessThePeerOffersIt) {
    listening();
    send(at(0), seg().syn().seq(kPeerIss).window(65535).mss(1460));
    our_iss = expect_sent(at(0), seg().syn().anyseq().ack(peer()).window(65535).mss(1460)).seq_no;
    send(at(10), seg().seq(peer()).ack(us()).window(1500));
    sock = *tcp().accept(listener);
    EXPECT_EQ(tcp().info(sock).snd_wnd, 1500u);
    EXPECT_EQ(tcp().info(sock).rcv_wscale, 0);
    write(at(100), 10000);
    expect_sent(at(100), seg().seq(us()).ack(peer()).window(65535).len(1460));
    expect_nothing(at(100));
}

// Active open: the SYN-ACK's window is not scaled, even though it carries the option.
TEST_F(TcpTest, SynAckWindowIsNotScaled) {
    config.tcp_moderate_rcvbuf = false;  // a fixed 256 KiB buffer: shift 3
    connected(Handshake().peer_wscale(7).peer_window(1000));
    EXPECT_EQ(tcp().info(sock).snd_wnd, 1000u);
    EXPECT_EQ(tcp().info(sock).snd_wscale, 7);
    EXPECT_EQ(tcp().info(sock).rcv_wscale, 3);
    write(at(100), 5000);
    expect_sent(at(100), seg().seq(us()).ack(peer()).window(32768).len(1000));
    expect_nothing(at(100));
    send(at(110), seg().seq(peer()).ack(us(1000)).window(100));  // 100 << 7 = 12800
    EXPECT_EQ(tcp().info(sock).snd_wnd, 12800u);
    expect_sent(at(110), seg().seq(us(1000)).ack(peer()).len(1460));
    expect_sent(at(110), seg().seq(us(2460)).ack(peer()).len(1460));
    expect_sent(at(110), seg().psh().seq(us(3920)).ack(peer()).len(1080));
}

// ---- SYN retransmission --------------------------------------------------------------------------

// RFC 6298 2.1 and 5.5: the first RTO is 1 s, doubled at each expiry; after tcp_syn_retries
// retransmissions the connect fails with ETIMEDOUT.
TEST_F(TcpTest, SynRetransmittedWithBackoffThenTimesOut) {
    config.tcp_syn_retries = 3;
    sock = open_socket();
    peer_port = kServerPort;
    (void)tcp().connect(at(0), sock, kPeerIp, kServerPort);
    Seg syn = expect_sent(at(0), seg().syn().anyseq().window(65535).mss(1460).wscale(7).sack_ok().ts_any().to(0));
    our_port = syn.src_port;
    expect_nothing(at(999));
    expect_sent(at(1000), seg().syn().seq(syn.seq_no).window(65535).mss(1460).wscale(7).sack_ok().ts_any());
    expect_nothing(at(2999));
    expect_sent(at(3000), seg().syn().seq(syn.seq_no).window(65535).mss(1460).wscale(7).sack_ok().ts_any());
    expect_nothing(at(6999));
    expect_sent(at(7000), seg().syn().seq(syn.seq_no).window(65535).mss(1460).wscale(7).sack_ok().ts_any());
    expect_nothing(at(14999));
    EXPECT_EQ(state(), TcpState::SynSent);
    expect_nothing(at(15000));
    EXPECT_EQ(state(), TcpState::Closed);
    EXPECT_TRUE(tcp().writable(sock));  // POLLOUT|POLLERR, as a failed connect shows
    auto r = tcp().send(at(15000), sock, pattern(1));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), SocketError::TimedOut);
    expect_nothing(at(100000));
}

// RFC 1122 4.2.3.9: a port unreachable while connecting aborts the attempt (ECONNREFUSED).
TEST_F(TcpTest, IcmpPortUnreachableInSynSentRefuses) {
    sock = open_socket();
    peer_port = kServerPort;
    (void)tcp().connect(at(0), sock, kPeerIp, kServerPort);
    Seg syn = take_sent(at(0));
    Frame quote = layers_test::ip_bytes(syn.frame);
    quote.resize(20 + 8);  // the IP header and the first 8 bytes of the segment
    Tins::ICMP icmp(Tins::ICMP::DEST_UNREACHABLE);
    icmp.code(3);
    send_frame(at(50), (layers_test::LayerTest::eth_to_us() / Tins::IP(layers_test::kOurIpStr, layers_test::kPeerIpStr) /
                        icmp / layers_test::raw(quote))
                           .serialize());
    EXPECT_EQ(state(), TcpState::Closed);
    auto r = tcp().send(at(50), sock, pattern(1));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), SocketError::ConnectionRefused);
    expect_nothing(at(10000));  // no more SYNs
}

// ---- The listen backlog --------------------------------------------------------------------------

// Without SYN cookies, a full SYN queue or a full accept queue drops new SYNs; connections already
// made are unaffected. (With cookies, the default, a full SYN queue is answered: syn_cookie_test.cpp.)
TEST_F(TcpTest, ListenBacklogBounds) {
    config.tcp_max_syn_backlog = 2;
    config.tcp_syncookies = false;
    listening(1);
    auto syn_from = [&](std::int64_t t, std::uint16_t port) {
        send(at(t), seg().syn().from(port).seq(kPeerIss).window(65535).mss(1460));
    };
    syn_from(0, 40001);
    const std::uint32_t iss_a = expect_sent(at(0), seg().from(40001).syn().anyseq().ack(peer()).window(65535).mss(1460)).seq_no;
    syn_from(0, 40002);
    expect_sent(at(0), seg().from(40002).syn().anyseq().ack(peer()).window(65535).mss(1460));
    syn_from(0, 40003);  // two half-open connections already
    expect_nothing(at(0));
    EXPECT_EQ(stats().tcp.syn_dropped, 1u);

    send(at(10), seg().from(40001).seq(peer()).ack(iss_a + 1));  // A completes: the accept queue is full
    syn_from(20, 40004);
    expect_nothing(at(20));
    EXPECT_EQ(stats().tcp.syn_dropped, 2u);

    // A's connection works.
    send(at(30), seg().from(40001).psh().seq(peer()).ack(iss_a + 1).data(pattern(10)));
    expect_sent(at(70), seg().from(40001).seq(iss_a + 1).ack(peer(10)).window(65535));
    auto a = tcp().accept(listener);
    ASSERT_TRUE(a.has_value());
    std::vector<std::uint8_t> buf(100);
    EXPECT_EQ(*tcp().recv(at(80), *a, buf, false), 10u);

    // Room again: a new SYN is answered.
    syn_from(100, 40004);
    expect_sent(at(100), seg().from(40004).syn().anyseq().ack(peer()).window(65535).mss(1460));
    expect_nothing(at(500));
}

// ---- Keepalive -----------------------------------------------------------------------------------

// RFC 1122 4.2.3.6: after `idle` without a segment, probes <SEQ=SND.NXT-1> every `interval`; an
// answer resets the count; after `count` unanswered probes the connection fails with ETIMEDOUT.
TEST_F(TcpTest, KeepaliveProbesAndFailure) {
    config.tcp_keepalive_idle = Duration::seconds(10);
    config.tcp_keepalive_interval = Duration::seconds(2);
    config.tcp_keepalive_probes = 3;
    listening();
    set_options(at(0), listener, [](TcpUserOptions& o) { o.keepalive = true; });
    established();  // at 10 ms
    expect_nothing(at(10009));
    expect_sent(at(10010), seg().seq(us(-1)).ack(peer()).window(65535));
    send(at(10020), seg().seq(peer()).ack(us()));  // the answer
    expect_nothing(at(20019));
    for (std::int64_t t = 20020; t <= 24020; t += 2000) expect_sent(at(t), seg().seq(us(-1)).ack(peer()).window(65535));
    EXPECT_EQ(state(), TcpState::Established);
    expect_nothing(at(26019));
    EXPECT_EQ(state(), TcpState::Established);
    expect_nothing(at(26020));
    EXPECT_EQ(state(), TcpState::Closed);
    auto r = try_read(at(26030), 10);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), SocketError::TimedOut);
}

}  // namespace
}  // namespace tcpip::tcp_test

namespace tcpip::tcp_test {
namespace {

// SO_KEEPALIVE turned on after the connection is up (as the socket API does it) arms the timer at
// once, counting the idle time already spent, as Linux's tcp_set_keepalive.
TEST_F(TcpTest, KeepaliveEnabledOnAnEstablishedConnection) {
    config.tcp_keepalive_idle = Duration::seconds(10);
    config.tcp_keepalive_interval = Duration::seconds(2);
    config.tcp_keepalive_probes = 3;
    listening();
    established();  // at 10 ms, keepalive off
    expect_nothing(at(5000));
    set_options(at(5000), sock, [](TcpUserOptions& o) { o.keepalive = true; });
    expect_nothing(at(10009));
    expect_sent(at(10010), seg().seq(us(-1)).ack(peer()).window(65535));
    // Turned off again: no more probes.
    set_options(at(10500), sock, [](TcpUserOptions& o) { o.keepalive = false; });
    expect_nothing(at(30000));
    EXPECT_EQ(state(), TcpState::Established);
}

}  // namespace
}  // namespace tcpip::tcp_test
