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

}  // namespace
}  // namespace tcpip::tcp_test
namespace tcpip::tcp_test {
namespace {
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
}  // namespace
}  // namespace tcpip::tcp_test
