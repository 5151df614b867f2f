// The connection timeline (stack/tcp/tcp_log.h), in virtual time: each retransmission is logged
// with its cause, state changes with RFC 9293's names, the variables beside each event; the
// ring keeps its bound; logging is off unless asked for; the CSV says the same.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "tests/unit/tcp/harness.h"

namespace tcpip::tcp_test {
namespace {

class TcpLogTest : public TcpTest {
protected:
    TcpLogTest() { config.tcp_log_entries = 1000; }

    std::vector<TcpLogEntry> entries() { return tcp().log_snapshot(sock).entries; }

    std::vector<TcpLogEntry> retransmissions() {
        std::vector<TcpLogEntry> out;
        for (const TcpLogEntry& e : entries()) {
            if (e.event == TcpLogEvent::Retransmit) out.push_back(e);
        }
        return out;
    }
};

TEST_F(TcpTest, LogIsOffByDefault) {
    established();
    EXPECT_EQ(sock->log, nullptr);
    EXPECT_TRUE(tcp().log_snapshot(sock).entries.empty());
    tcp().enable_log(sock, 16);  // one socket may ask for it
    write(at(100), 100);
    expect_sent(at(100), seg().psh().seq(us()).ack(peer()).len(100));
    ASSERT_NE(sock->log, nullptr);
    EXPECT_EQ(sock->log->size(), 1u);
    EXPECT_EQ(tcp().log_snapshot(sock).entries.front().event, TcpLogEvent::Send);
}

// The handshake as the log tells it: SYN received, LISTEN -> SYN-RECEIVED, SYN-ACK sent, ACK
// received, SYN-RECEIVED -> ESTABLISHED, with the RTT sample of the handshake (10 ms).
TEST_F(TcpLogTest, HandshakeAndStateChanges) {
    established();
    const auto log = entries();
    ASSERT_GE(log.size(), 4u);
    EXPECT_EQ(log[0].event, TcpLogEvent::State);
    EXPECT_EQ(log[0].previous, TcpState::Listen);
    EXPECT_EQ(log[0].state, TcpState::SynReceived);
    EXPECT_EQ(log[1].event, TcpLogEvent::Send);
    EXPECT_TRUE(log[1].flags.syn() && log[1].flags.ack());
    EXPECT_EQ(log[1].seq, SeqNum(our_iss));
    EXPECT_EQ(log[1].in_flight, 1u);  // the SYN
    EXPECT_EQ(log[2].event, TcpLogEvent::Receive);
    EXPECT_EQ(log[2].ack, SeqNum(us()));
    EXPECT_EQ(log[2].at, at(10));
    EXPECT_EQ(log[3].event, TcpLogEvent::State);
    EXPECT_EQ(log[3].previous, TcpState::SynReceived);
    EXPECT_EQ(log[3].state, TcpState::Established);
    EXPECT_EQ(log[3].srtt, Duration::millis(10));
    EXPECT_EQ(log[3].in_flight, 0u);
}

// A timeout: the Timeout event, then the segment sent again with cause "rto", with the
// window collapsed to one segment and the RTO doubled beside it.
TEST_F(TcpLogTest, RetransmissionAfterTimeoutHasCauseRto) {
    established();
    write(at(100), 3 * 1460);
    for (int i = 0; i < 3; ++i) take_sent(at(100));
    expect_sent(at(300), seg().seq(us()).ack(peer()).len(1460));
    const auto log = entries();
    const auto timeout = std::find_if(log.begin(), log.end(), [](const TcpLogEntry& e) { return e.event == TcpLogEvent::Timeout; });
    ASSERT_NE(timeout, log.end());
    EXPECT_EQ(timeout->at, at(300));
    const auto again = retransmissions();
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].cause, RetransmitCause::Timeout);
    EXPECT_EQ(again[0].seq, SeqNum(us()));
    EXPECT_EQ(again[0].length, 1460u);
    EXPECT_EQ(again[0].at, at(300));
    EXPECT_EQ(again[0].cwnd, 1460u);
    EXPECT_EQ(again[0].rto, Duration::millis(400));
    // The go-back-N resends that the next ACK lets out are the timeout's too.
    send(at(310), seg().seq(peer()).ack(us(1460)));
    take_sent(at(310));
    take_sent(at(310));
    const auto all = retransmissions();
    ASSERT_EQ(all.size(), 3u);
    for (const auto& e : all) EXPECT_EQ(e.cause, RetransmitCause::Timeout);
}

// A transfer with two losses: the third duplicate ACK's fast retransmit, then the partial ACK's
// (NewReno) retransmission of the second hole; each logged with its own cause.
TEST_F(TcpLogTest, FastRetransmitAndPartialAckCauses) {
    config.tcp_congestion = CongestionAlgorithm::NewReno;  // the figures below are NewReno's
    established();
    write(at(100), 5 * 1460);
    for (int i = 0; i < 5; ++i) take_sent(at(100));
    for (int i = 0; i < 3; ++i) send(at(110 + i), seg().seq(peer()).ack(us(1460)));
    send(at(113), seg().seq(peer()).ack(us(1460)));
    expect_sent(at(113), seg().seq(us(1460)).ack(peer()).len(1460));
    send(at(120), seg().seq(peer()).ack(us(3 * 1460)));
    expect_sent(at(120), seg().seq(us(3 * 1460)).ack(peer()).len(1460));

    const auto again = retransmissions();
    ASSERT_EQ(again.size(), 2u);
    EXPECT_EQ(again[0].cause, RetransmitCause::FastRetransmit);
    EXPECT_EQ(again[0].seq, SeqNum(us(1460)));
    EXPECT_EQ(again[0].at, at(113));
    EXPECT_EQ(again[0].ssthresh, 2920u);
    EXPECT_EQ(again[1].cause, RetransmitCause::PartialAck);
    EXPECT_EQ(again[1].seq, SeqNum(us(3 * 1460)));
    EXPECT_EQ(again[1].at, at(120));

    // The duplicate ACKs are there as received segments, before the event they caused.
    const auto log = entries();
    const auto fast = std::find_if(log.begin(), log.end(), [](const TcpLogEntry& e) { return e.event == TcpLogEvent::FastRetransmit; });
    ASSERT_NE(fast, log.begin());
    EXPECT_EQ(std::prev(fast)->event, TcpLogEvent::Receive);
    EXPECT_EQ(std::prev(fast)->ack, SeqNum(us(1460)));
    EXPECT_EQ(std::prev(fast)->at, at(113));
    EXPECT_EQ(stats().tcp.fast_retransmits, 1u);
}

// SACK blocks in a received segment are kept in its entry (the stack does not act on them yet; a
// peer may still send them), as sequence numbers of ours.
TEST_F(TcpLogTest, SackBlocksAreRecorded) {
    established();
    write(at(100), 3 * 1460);
    for (int i = 0; i < 3; ++i) take_sent(at(100));
    Frame ack = frame_of(seg().seq(peer()).ack(us(1460)));
    // The same ACK with a SACK option for the third segment, built by libtins.
    Tins::EthernetII eth(ack.data(), static_cast<std::uint32_t>(ack.size()));
    eth.rfind_pdu<Tins::TCP>().sack({us(2920), us(4380)});
    send_frame(at(110), Frame(eth.serialize()));
    const auto log = entries();
    const TcpLogEntry& e = log.back();
    ASSERT_EQ(e.event, TcpLogEvent::Receive);
    ASSERT_EQ(e.sack_count, 1u);
    EXPECT_EQ(e.sack[0].left, SeqNum(us(2920)));
    EXPECT_EQ(e.sack[0].right, SeqNum(us(4380)));
    EXPECT_EQ(e.window, 65535u);
    std::ostringstream csv;
    tcp_log::write_csv(csv, tcp().log_snapshot(sock), at(0));
    EXPECT_NE(csv.str().find(",2921-4381,"), std::string::npos) << csv.str();
}

// The ring holds at most its capacity; the oldest entries go first; recorded() counts them all.
TEST_F(TcpTest, LogRingKeepsItsBound) {
    config.tcp_log_entries = 8;
    established();
    for (int i = 0; i < 20; ++i) {
        write(at(100 + i * 20), 100);
        take_sent(at(100 + i * 20));
        send(at(110 + i * 20), seg().seq(peer()).ack(us(static_cast<std::uint32_t>(100 * (i + 1)))));
    }
    const TcpLogSnapshot log = tcp().log_snapshot(sock);
    EXPECT_EQ(log.entries.size(), 8u);
    EXPECT_EQ(sock->log->capacity(), 8u);
    EXPECT_GT(log.recorded, 40u);
    for (std::size_t i = 1; i < log.entries.size(); ++i) EXPECT_LE(log.entries[i - 1].at, log.entries[i].at);
    EXPECT_EQ(log.entries.back().event, TcpLogEvent::Receive);
    EXPECT_EQ(log.entries.back().at, at(490));
    EXPECT_EQ(log.entries.back().ack, SeqNum(us(2000)));
}

// The CSV: its header, and one row per entry with relative sequence numbers and the cause.
TEST_F(TcpLogTest, CsvRows) {
    config.tcp_congestion = CongestionAlgorithm::NewReno;  // the figures below are NewReno's
    established();
    write(at(100), 3 * 1460);
    for (int i = 0; i < 3; ++i) take_sent(at(100));
    take_sent(at(300));
    std::ostringstream csv;
    tcp_log::write_csv_header(csv);
    const TcpLogSnapshot log = tcp().log_snapshot(sock);
    tcp_log::write_csv(csv, log, at(0));
    std::istringstream in(csv.str());
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line,
              "conn,time_s,event,state,seq,len,ack,win,flags,cause,sack,cwnd,ssthresh,in_flight,snd_wnd,rcv_wnd,"
              "srtt_ms,rttvar_ms,rto_ms");
    std::vector<std::string> rows;
    while (std::getline(in, line)) rows.push_back(line);
    ASSERT_EQ(rows.size(), log.entries.size());
    const std::string id = std::to_string(log.id);
    EXPECT_EQ(rows[0], id + ",0.000000,state,LISTEN->SYN-RECEIVED,,,,,,,,14600,2147483647,0,65535,0,0.000,0.000,1000.000")
        << rows[0];
    // The first data segment: seq 1 (relative), 1460 bytes, sent at 100 ms.
    const auto first = std::find_if(rows.begin(), rows.end(), [](const std::string& r) { return r.find(",send,") != std::string::npos && r.find(",1,1460,") != std::string::npos; });
    ASSERT_NE(first, rows.end());
    EXPECT_EQ(first->rfind(id + ",0.100000,send,ESTABLISHED,1,1460,,,.,,,", 0), 0u) << *first;
    EXPECT_EQ(rows.back(), id + ",0.300000,retransmit,ESTABLISHED,1,1460,,,.,rto,,1460,2920,4380,65535,65535,10.000,5.000,400.000")
        << rows.back();
}

}  // namespace
}  // namespace tcpip::tcp_test
