// TCP under hostile or careless peers, as dialogues in virtual time (harness.h): the TIME-WAIT
// bound with the application closing first (the use-after-free of issue 13), SYN cookies, the
// per-socket challenge-ACK budget (RFC 5961 7), the connection and orphan limits, and buffers that
// hold memory only while they hold data.
#include "tests/unit/tcp/harness.h"

namespace tcpip::tcp_test {
namespace {

class TcpHardeningTest : public TcpTest {
protected:
    // A passive open from the peer's port `port`: its SYN at `t` ms, its ACK 1 ms later, accepted
    // into `sock`. The conversation (seg(), us(), peer()) is now this connection's.
    TcpSocket* accept_from(std::int64_t t, std::uint16_t port) {
        if (!listener) listening();
        peer_port = port;
        send(at(t), seg().syn().seq(kPeerIss).window(65535).mss(kMss));
        Seg synack = take_sent(at(t));
        EXPECT_EQ(synack.flag_bits, 0x12) << to_string(synack);
        our_iss = synack.seq_no;
        send(at(t + 1), seg().seq(peer()).ack(us()));
        auto accepted = tcp().accept(listener);
        EXPECT_TRUE(accepted.has_value()) << "nothing to accept";
        if (!accepted) return nullptr;
        sock = *accepted;
        sock->on_event = [this] { ++events; };
        return sock;
    }

    // Runs the stack in 1 ms steps until it sends something (at most until `limit` ms), and returns
    // that segment; a default Seg (no flags) if nothing came.
    Seg next_sent(std::int64_t limit_ms) {
        for (std::int64_t t = now().total_micros() / 1000; t <= limit_ms; ++t) {
            advance(at(t));
            if (!sent_.empty()) {
                Seg s = sent_.front();
                sent_.pop_front();
                return s;
            }
        }
        return Seg{};
    }

    const TcpStats& tcp_stats() { return stats().tcp; }
};

// ---- The TIME-WAIT bound with the application closing first --------------------------------------

// The reproduction of issue 13, part 1, as a dialogue: a server that sends a line and closes first,
// with room for one TIME-WAIT entry. From the second connection on, the peer's FIN moves the socket
// FIN-WAIT-2 -> TIME-WAIT over the bound, which frees it in the middle of segment processing: the
// code after that step must not touch it (under ASan, the old code stopped here with a
// heap-use-after-free in notify()). The peer's FIN is still acknowledged, as Linux does before it
// drops the TIME-WAIT entry.
TEST_F(TcpHardeningTest, TimeWaitLimitOfOneWithTheApplicationClosingFirst) {
    config.tcp_max_time_wait = 1;
    listening();
    for (std::uint16_t i = 0; i < 5; ++i) {
        const std::int64_t t = 100 * i;
        accept_from(t, static_cast<std::uint16_t>(41000 + i));
        write(at(t + 2), 6);
        expect_sent(at(t + 2), seg().psh().seq(us()).ack(peer()).data(ours(0, 6)));
        close(at(t + 3));
        expect_sent(at(t + 3), seg().fin().seq(us(6)).ack(peer()));
        // The peer reads to EOF, acknowledges the line and our FIN, and closes its side.
        send(at(t + 4), seg().fin().seq(peer()).ack(us(7)));
        expect_sent(at(t + 4), seg().seq(us(7)).ack(peer(1)));
        EXPECT_EQ(tcp().time_wait_count(), 1u);
        EXPECT_EQ(tcp_stats().time_wait_dropped, i);
    }
    // The dropped connection is gone: a retransmitted FIN finds no socket and gets a RST.
    send(at(500), seg().fin().seq(peer()).ack(us(7)));
    expect_sent(at(500), seg().rst().seq(us(7)));
    // The one kept in TIME-WAIT lasts 2*MSL; then only the listener is left.
    EXPECT_EQ(tcp().socket_count(), 2u);
    expect_nothing(at(61000));
    EXPECT_EQ(tcp().time_wait_count(), 0u);
    EXPECT_EQ(tcp().socket_count(), 1u);
    EXPECT_EQ(tcp().orphan_count(), 0u);
    EXPECT_EQ(tcp().buffer_bytes(), 0u);
}

// The same step reached through our FIN being acknowledged in CLOSING (simultaneous close).
TEST_F(TcpHardeningTest, TimeWaitLimitReachedFromClosing) {
    config.tcp_max_time_wait = 0;
    established();
    close(at(100));
    expect_sent(at(100), seg().fin().seq(us()).ack(peer()));
    send(at(110), seg().fin().seq(peer()).ack(us()));  // its FIN crossed ours: CLOSING
    expect_sent(at(110), seg().seq(us(1)).ack(peer(1)));
    send(at(120), seg().seq(peer(1)).ack(us(1)));      // our FIN acknowledged: TIME-WAIT, over the bound
    EXPECT_EQ(tcp_stats().time_wait_dropped, 1u);
    EXPECT_EQ(tcp().socket_count(), 1u);
    expect_nothing(at(200));
}

// ---- SYN cookies (RFC 4987 3.6) ------------------------------------------------------------------

// With the SYN queue full, a SYN is answered with a cookie and nothing is kept; the ACK that
// returns the cookie makes an established connection that carries data both ways. The cookie
// keeps the MSS (1460 here) but not the window scale, which the connection goes without.
TEST_F(TcpHardeningTest, SynCookieWhenTheSynQueueIsFull) {
    config.tcp_max_syn_backlog = 1;
    listening();
    peer_port = 40001;
    send(at(0), seg().syn().seq(kPeerIss).window(65535).mss(kMss).wscale(7));
    expect_sent(at(0), seg().syn().anyseq().ack(peer()).window(65535).mss(kMss).wscale(7));
    EXPECT_EQ(tcp_stats().syn_cookies_sent, 0u);

    peer_port = 40002;
    const std::size_t sockets = tcp().socket_count();
    send(at(5), seg().syn().seq(kPeerIss).window(65535).mss(kMss).wscale(7));
    our_iss = expect_sent(at(5), seg().syn().anyseq().ack(peer()).window(65535).mss(kMss)).seq_no;
    EXPECT_EQ(tcp_stats().syn_cookies_sent, 1u);
    EXPECT_EQ(tcp().socket_count(), sockets) << "a cookie keeps no state";

    // The ACK carries data, as a client's first request may.
    send(at(10), seg().psh().seq(peer()).ack(us()).window(1000).data(pattern(20)));
    EXPECT_EQ(tcp_stats().syn_cookies_ok, 1u);
    auto accepted = tcp().accept(listener);
    ASSERT_TRUE(accepted.has_value());
    sock = *accepted;
    sock->on_event = [this] { ++events; };
    EXPECT_EQ(state(), TcpState::Established);
    EXPECT_EQ(tcp().info(sock).mss, kMss);
    EXPECT_EQ(tcp().info(sock).snd_wnd, 1000u) << "unscaled: the cookie could not keep the scale";
    EXPECT_EQ(read(at(20), 100), pattern(20));
    expect_sent(at(50), seg().seq(us()).ack(peer(20)).window(65535));  // the delayed ACK
    write(at(60), 100);
    expect_sent(at(60), seg().psh().seq(us()).ack(peer(20)).data(ours(0, 100)));
}

// With timestamps the cookie keeps what its 32 bits cannot: the client's window scale and
// SACK-Permitted ride in the low 6 bits of our SYN-ACK's TSval and come back in the TSecr of the
// client's ACK (Linux's cookie_init_timestamp). The connection then scales windows, takes SACK
// blocks and keeps timestamps on its own clock.
TEST_F(TcpHardeningTest, SynCookieWithTimestampsKeepsWindowScaleAndSack) {
    config.tcp_max_syn_backlog = 0;
    listening();
    peer_port = 40001;
    send(at(0), seg().syn().seq(kPeerIss).window(65535).mss(kMss).wscale(5).sack_ok().ts(5000, 0));
    // Our scale (7: auto-tuning may grow the buffer to 6 MiB) and SACK-Permitted, as without a cookie.
    const Seg synack = expect_sent(at(0), seg().syn().anyseq().ack(peer()).window(65535).mss(kMss).wscale(7).sack_ok().ts_echo(5000));
    our_iss = synack.seq_no;
    EXPECT_EQ(tcp_stats().syn_cookies_sent, 1u);
    const std::uint32_t our_tsval = synack.timestamps->first;
    EXPECT_EQ(our_tsval & 0x3f, 5u | 0x10) << "window scale 5 and SACK in the low bits";

    // The client's ACK echoes our TSval; its window is scaled by its 5.
    send(at(10), seg().seq(peer()).ack(us()).window(1000).ts(5010, our_tsval));
    EXPECT_EQ(tcp_stats().syn_cookies_ok, 1u);
    auto accepted = tcp().accept(listener);
    ASSERT_TRUE(accepted.has_value());
    sock = *accepted;
    const TcpInfo info = tcp().info(sock);
    EXPECT_TRUE(info.sack);
    EXPECT_TRUE(info.timestamps);
    EXPECT_EQ(info.snd_wscale, 5);
    EXPECT_EQ(info.rcv_wscale, 7);
    EXPECT_EQ(info.snd_wnd, 1000u << 5);
    EXPECT_EQ(info.mss, kMss - 12) << "timestamps take 12 bytes of each segment";
    // Our clock goes on from the SYN-ACK's: TSval never runs backwards, and TS.Recent is the ACK's.
    write(at(20), 100);
    const Seg data = expect_sent(at(20), seg().psh().seq(us()).ack(peer()).data(ours(0, 100)).ts_echo(5010));
    EXPECT_GE(static_cast<std::int32_t>(data.timestamps->first - our_tsval), 20);
    // A SACK block from the client is taken (the scoreboard marks it): send more, acknowledge
    // the second segment only.
    write(at(30), static_cast<std::size_t>(kMss - 12));
    take_sent(at(30));
    send(at(40), seg().seq(peer()).ack(us()).window(1000).ts(5040, data.timestamps->first)
                     .sack(us(100), us(100 + kMss - 12)));
    EXPECT_EQ(tcp().info(sock).sacked, 1u);
    take_sent(at(40));  // RACK may resend the first segment at once
}

// A client that offered neither window scale nor SACK gets neither: the bits say "no scale"
// (0xf), and the connection runs unscaled with timestamps only.
TEST_F(TcpHardeningTest, SynCookieWithTimestampsOnly) {
    config.tcp_max_syn_backlog = 0;
    listening();
    peer_port = 40001;
    send(at(0), seg().syn().seq(kPeerIss).window(65535).mss(kMss).ts(5000, 0));
    const Seg synack = expect_sent(at(0), seg().syn().anyseq().ack(peer()).window(65535).mss(kMss).ts_echo(5000));
    our_iss = synack.seq_no;
    EXPECT_EQ(synack.timestamps->first & 0x3f, 0x0fu);
    send(at(10), seg().seq(peer()).ack(us()).window(1000).ts(5010, synack.timestamps->first));
    auto accepted = tcp().accept(listener);
    ASSERT_TRUE(accepted.has_value());
    const TcpInfo info = tcp().info(*accepted);
    EXPECT_FALSE(info.sack);
    EXPECT_TRUE(info.timestamps);
    EXPECT_EQ(info.snd_wscale, 0);
    EXPECT_EQ(info.rcv_wscale, 0);
    EXPECT_EQ(info.snd_wnd, 1000u);
}

// The MSS a cookie can carry is one of four (536, 1300, 1440, 1460): the largest not above the
// peer's.
TEST_F(TcpHardeningTest, SynCookieKeepsTheMssItCan) {
    config.tcp_max_syn_backlog = 0;
    listening();
    const std::pair<std::uint16_t, std::uint16_t> cases[] = {{1460, 1460}, {1400, 1300}, {1300, 1300}, {1000, 536}};
    std::uint16_t port = 40010;
    std::int64_t t = 0;
    for (auto [offered, kept] : cases) {
        peer_port = port++;
        send(at(t), seg().syn().seq(kPeerIss).window(65535).mss(offered));
        our_iss = expect_sent(at(t), seg().syn().anyseq().ack(peer()).window(65535).mss(kept)).seq_no;
        send(at(t + 1), seg().seq(peer()).ack(us()));
        auto accepted = tcp().accept(listener);
        ASSERT_TRUE(accepted.has_value());
        EXPECT_EQ(tcp().info(*accepted).mss, kept);
        t += 10;
    }
    EXPECT_EQ(tcp_stats().syn_cookies_ok, 4u);
}

// An ACK whose cookie does not check out (forged, or for another connection, or too old) makes
// nothing, and is answered as any stray ACK to a listener: <SEQ=SEG.ACK><CTL=RST>. (As in Linux's
// encoding, a client ISN off by a few would shift the MSS index and may pass: what protects the
// cookie is the keyed hash, which an attacker cannot compute without seeing a SYN-ACK.)
TEST_F(TcpHardeningTest, BadOrStaleCookiesAreRefused) {
    config.tcp_max_syn_backlog = 0;
    listening();
    peer_port = 40001;
    send(at(0), seg().syn().seq(kPeerIss).window(65535).mss(kMss));
    const std::uint32_t cookie = expect_sent(at(0), seg().syn().anyseq().ack(peer()).window(65535).mss(kMss)).seq_no;
    send(at(1), seg().seq(peer()).ack(cookie + 2));  // off by one
    expect_sent(at(1), seg().rst().seq(cookie + 2));
    send(at(2), seg().seq(peer(1'000'000)).ack(cookie + 1));  // another client's ISN
    expect_sent(at(2), seg().rst().seq(cookie + 1));
    peer_port = 40002;                                  // another 4-tuple
    send(at(3), seg().seq(peer()).ack(cookie + 1));
    expect_sent(at(3), seg().rst().seq(cookie + 1));
    EXPECT_EQ(tcp_stats().syn_cookies_failed, 3u);

    // A good cookie, too late: cookies live two to three minutes.
    peer_port = 40003;
    send(at(10), seg().syn().seq(kPeerIss).window(65535).mss(kMss));
    const std::uint32_t late = expect_sent(at(10), seg().syn().anyseq().ack(peer()).window(65535).mss(kMss)).seq_no;
    peer_port = 40004;  // the flood goes on: cookies are still being checked at 200 s
    send(at(190'000), seg().syn().seq(kPeerIss).window(65535).mss(kMss));
    take_sent(at(190'000));
    peer_port = 40003;
    send(at(200'000), seg().seq(peer()).ack(late + 1));
    expect_sent(at(200'000), seg().rst().seq(late + 1));
    EXPECT_EQ(tcp_stats().syn_cookies_failed, 4u);
    EXPECT_EQ(tcp_stats().syn_cookies_ok, 0u);
    EXPECT_FALSE(tcp().accept(listener).has_value());
}

// A full accept queue still drops SYNs, cookies or not: the application is not keeping up.
TEST_F(TcpHardeningTest, FullAcceptQueueDropsSynsEvenWithCookies) {
    config.tcp_max_syn_backlog = 0;
    listening(1);
    peer_port = 40001;
    send(at(0), seg().syn().seq(kPeerIss).window(65535).mss(kMss));
    our_iss = expect_sent(at(0), seg().syn().anyseq().ack(peer()).window(65535).mss(kMss)).seq_no;
    send(at(1), seg().seq(peer()).ack(us()));  // queued for accept: the queue is full
    peer_port = 40002;
    send(at(2), seg().syn().seq(kPeerIss).window(65535).mss(kMss));
    expect_nothing(at(2));
    EXPECT_EQ(tcp_stats().syn_dropped, 1u);
    EXPECT_EQ(tcp_stats().syn_cookies_sent, 1u);
}

// ---- RFC 5961 section 7: challenge ACKs within a per-socket budget --------------------------------

TEST_F(TcpHardeningTest, ChallengeAcksAreRateLimitedPerSocket) {
    config.tcp_challenge_ack_burst = 3;
    config.tcp_challenge_ack_interval = Duration::millis(500);
    established();
    // Eight in-window RSTs that are not at RCV.NXT (a blind attacker's guesses): three answered.
    for (int i = 0; i < 8; ++i) send(at(100), seg().rst().seq(peer(100 + 1000 * i)));
    for (int i = 0; i < 3; ++i) expect_sent(at(100), seg().seq(us()).ack(peer()).window(65535));
    expect_nothing(at(100));
    EXPECT_EQ(tcp_stats().challenge_acks, 3u);
    EXPECT_EQ(tcp_stats().challenge_acks_limited, 5u);
    EXPECT_EQ(state(), TcpState::Established);
    // A SYN on the connection draws on the same budget; a new interval brings a new one.
    send(at(200), seg().syn().seq(peer(5)));
    expect_nothing(at(200));
    send(at(600), seg().syn().seq(peer(5)));
    expect_sent(at(600), seg().seq(us()).ack(peer()).window(65535));
    EXPECT_EQ(tcp_stats().challenge_acks_limited, 6u);

    // Another connection has its own budget: one socket's exhausted budget tells nothing of it.
    accept_from(700, 40100);
    send(at(702), seg().rst().seq(peer(10)));
    expect_sent(at(702), seg().seq(us()).ack(peer()).window(65535));
}

// ---- The connection limit ------------------------------------------------------------------------

TEST_F(TcpHardeningTest, ConnectionLimitDropsSyns) {
    config.tcp_max_connections = 2;
    listening();
    for (std::uint16_t port = 40001; port <= 40003; ++port) {
        peer_port = port;
        send(at(0), seg().syn().seq(kPeerIss).window(65535).mss(kMss));
    }
    peer_port = 40001;
    take_sent(at(0));
    peer_port = 40002;
    take_sent(at(0));
    expect_nothing(at(0));
    EXPECT_EQ(tcp_stats().connection_limit_dropped, 1u);
    EXPECT_EQ(tcp().socket_count(), 3u);  // the listener and two half-open connections
}

// ---- Orphans -------------------------------------------------------------------------------------

// Over tcp_max_orphans, a connection the application closes is reset at once (Linux: "too many
// orphaned sockets").
TEST_F(TcpHardeningTest, TooManyOrphansAreReset) {
    config.tcp_max_orphans = 1;
    listening();
    TcpSocket* first = accept_from(0, 40001);
    const std::uint32_t first_iss = our_iss;
    TcpSocket* second = accept_from(10, 40002);
    peer_port = 40001;
    close(at(20), first);
    expect_sent(at(20), seg().fin().seq(first_iss + 1).ack(peer()));
    EXPECT_EQ(tcp().orphan_count(), 1u);
    peer_port = 40002;
    close(at(30), second);
    expect_sent(at(30), seg().rst().ack(peer()).seq(us()));
    EXPECT_EQ(tcp_stats().orphans_dropped, 1u);
    EXPECT_EQ(tcp().orphan_count(), 1u);
}

// An orphan whose peer never reads (its window stays zero, though it answers every probe) is
// given up after tcp_orphan_retries probes: reset and freed, with its buffers.
TEST_F(TcpHardeningTest, OrphanFacingAZeroWindowForeverIsReaped) {
    config.tcp_orphan_retries = 3;
    established();
    write(at(100), 1000);
    expect_sent(at(100), seg().psh().seq(us()).ack(peer()).data(ours(0, 1000)));
    send(at(110), seg().seq(peer()).ack(us(1000)).window(0));
    write(at(120), 1000, 1000);  // waits for the window
    close(at(130));
    EXPECT_EQ(tcp().orphan_count(), 1u);
    for (int probe = 0; probe < 3; ++probe) {
        Seg s = next_sent(100'000);
        EXPECT_EQ(s.flag_bits, 0x10) << to_string(s);
        EXPECT_EQ(s.length, 1u) << "a zero-window probe: " << to_string(s);
        send(now(), seg().seq(peer()).ack(us(1000)).window(0));  // "still no room"
    }
    Seg s = next_sent(100'000);
    EXPECT_EQ(s.flag_bits, 0x14) << "a reset: " << to_string(s);
    EXPECT_EQ(s.seq_no, us(1000));
    EXPECT_EQ(tcp_stats().orphans_dropped, 1u);
    EXPECT_EQ(tcp().orphan_count(), 0u);
    EXPECT_EQ(tcp().socket_count(), 1u);  // the listener
    EXPECT_EQ(tcp().buffer_bytes(), 0u);
}

// A connection the application still holds is never given up while the peer answers its
// probes, however long the window stays closed (RFC 1122 4.2.2.17).
TEST_F(TcpHardeningTest, HeldConnectionFacingAZeroWindowStaysOpen) {
    config.tcp_orphan_retries = 3;
    established();
    write(at(100), 1000);
    expect_sent(at(100), seg().psh().seq(us()).ack(peer()).data(ours(0, 1000)));
    send(at(110), seg().seq(peer()).ack(us(1000)).window(0));
    write(at(120), 1000, 1000);
    for (int probe = 0; probe < 20; ++probe) {
        Seg s = next_sent(10'000'000);
        ASSERT_EQ(s.length, 1u) << "a zero-window probe: " << to_string(s);
        send(now(), seg().seq(peer()).ack(us(1000)).window(0));
    }
    EXPECT_EQ(state(), TcpState::Established);
    // The window opens: the data goes.
    send(now(), seg().seq(peer()).ack(us(1000)).window(65535));
    Seg s = next_sent(now().total_micros() / 1000 + 1000);
    EXPECT_EQ(s.seq_no, us(1000));
    EXPECT_EQ(s.length, 1000u);
}

// An orphan whose peer vanished gives up after tcp_orphan_retries retransmissions, not the
// tcp_retries (15, about 15 minutes) of a connection someone waits on.
TEST_F(TcpHardeningTest, OrphanWithAVanishedPeerGivesUpSooner) {
    config.tcp_orphan_retries = 2;
    established();
    write(at(100), 100);
    expect_sent(at(100), seg().psh().seq(us()).ack(peer()).data(ours(0, 100)));
    close(at(100));
    expect_sent(at(100), seg().fin().seq(us(100)).ack(peer()));
    // Each timeout goes back to SND.UNA and resends the data (and the FIN after it).
    int data_retransmissions = 0;
    Seg s;
    for (;;) {
        s = next_sent(100'000);
        if (s.flag_bits == 0 || s.has(0x04)) break;
        if (s.length == 100 && s.seq_no == us()) ++data_retransmissions;
    }
    EXPECT_EQ(data_retransmissions, 2);
    EXPECT_EQ(s.flag_bits, 0x14) << "a reset: " << to_string(s);
    EXPECT_EQ(tcp_stats().orphans_dropped, 1u);
    EXPECT_EQ(tcp().socket_count(), 1u);
}

// ---- Buffers hold memory only while they hold data ------------------------------------------------

TEST_F(TcpHardeningTest, BuffersAreAllocatedWithTheDataAndReleasedWhenEmpty) {
    listening();
    // Half-open and established connections hold no buffer memory.
    for (std::uint16_t port = 41000; port < 41050; ++port) {
        peer_port = port;
        send(at(0), seg().syn().seq(kPeerIss).window(65535).mss(kMss));
        take_sent(at(0));
    }
    EXPECT_EQ(tcp().buffer_bytes(), 0u);
    accept_from(10, 40000);
    EXPECT_EQ(tcp().buffer_bytes(), 0u);

    send(at(20), seg().psh().seq(peer()).ack(us()).data(pattern(100)));
    EXPECT_EQ(tcp().buffer_bytes(), RingBuffer::kFirstAllocation);
    EXPECT_EQ(read(at(30), 1000), pattern(100));
    EXPECT_EQ(tcp().buffer_bytes(), 0u);
    expect_sent(at(60), seg().seq(us()).ack(peer(100)));

    write(at(100), 100);
    expect_sent(at(100), seg().psh().seq(us()).ack(peer(100)).data(ours(0, 100)));
    EXPECT_EQ(tcp().buffer_bytes(), RingBuffer::kFirstAllocation);
    EXPECT_EQ(tcp().buffer_cache().reused(), 1u) << "the send buffer took the block the receive buffer gave back";
    send(at(110), seg().seq(peer(100)).ack(us(100)));
    EXPECT_EQ(tcp().buffer_bytes(), 0u);
}

// The receive buffer grows (by doubling) as data comes, out-of-order data included: bytes stored
// beyond the hole move with the rest, and arrive intact once the hole is filled.
TEST_F(TcpHardeningTest, ReceiveBufferGrowsKeepingOutOfOrderData) {
    established();
    const std::size_t n = 1460;
    const auto stream = pattern(20 * n);
    auto piece = [&](std::size_t i) {
        return std::vector<std::uint8_t>(stream.begin() + static_cast<std::ptrdiff_t>(i * n),
                                         stream.begin() + static_cast<std::ptrdiff_t>((i + 1) * n));
    };
    // Segments 1..19 first (out of order: each is answered with a duplicate ACK), then segment 0.
    for (std::size_t i = 1; i < 20; ++i) {
        send(at(100), seg().seq(peer(static_cast<std::uint32_t>(i * n))).ack(us()).data(piece(i)));
        expect_sent(at(100), seg().seq(us()).ack(peer()));
    }
    EXPECT_GE(tcp().buffer_bytes(), 20 * n);
    send(at(110), seg().seq(peer()).ack(us()).data(piece(0)));
    expect_sent(at(110), seg().seq(us()).ack(peer(static_cast<std::uint32_t>(20 * n))));
    EXPECT_EQ(read(at(120), 64 * 1024), stream);
    EXPECT_EQ(tcp().buffer_bytes(), 0u);
}

}  // namespace
}  // namespace tcpip::tcp_test

namespace tcpip::tcp_test {
namespace {

// The invariant check the dialogues run after every step is itself checked: it sees a broken TCB.
TEST_F(TcpHardeningTest, InvariantCheckSeesABrokenTcb) {
    established();
    EXPECT_EQ(tcp().check_invariants(), "");
    const SeqNum saved = sock->snd.nxt;
    sock->snd.nxt = sock->snd.una - 1;
    EXPECT_NE(tcp().check_invariants().find("SND.UNA <= SND.NXT"), std::string::npos);
    sock->snd.nxt = saved;
    listener->queues.accept_queue.assign(20, sock);  // beyond the backlog of 16
    EXPECT_NE(tcp().check_invariants().find("accept queue"), std::string::npos);
    listener->queues.accept_queue.clear();
    EXPECT_EQ(tcp().check_invariants(), "");
}

}  // namespace
}  // namespace tcpip::tcp_test

namespace tcpip::tcp_test {
namespace {

// Found by fuzz_stack: a connection the application half-closed after the peer's FIN (LAST-ACK)
// ends when our FIN is acknowledged, but the application still holds it and will call close().
// Whether it is held does not depend on a wake-up hook being set: this one has none.
TEST_F(TcpHardeningTest, LastAckEndsAConnectionTheApplicationStillHolds) {
    established();
    sock->on_event = nullptr;
    send(at(100), seg().fin().seq(peer()).ack(us()));
    expect_sent(at(100), seg().seq(us()).ack(peer(1)));
    shutdown_write(at(200));
    expect_sent(at(200), seg().fin().seq(us()).ack(peer(1)));
    send(at(210), seg().seq(peer(1)).ack(us(1)));  // LAST-ACK -> CLOSED
    EXPECT_EQ(state(), TcpState::Closed);
    EXPECT_EQ(tcp().socket_count(), 2u) << "kept for the application";
    close(at(300));
    EXPECT_EQ(tcp().socket_count(), 1u);
    expect_nothing(at(400));
}

}  // namespace
}  // namespace tcpip::tcp_test
