// tcpip-httpd's /connections pages (apps/http/timeline.h) from made-up event logs: the list, the
// two SVG graphs (what each event becomes), the page that reloads itself, the path parsing.
#include <gtest/gtest.h>

#include "apps/http/timeline.h"

namespace tcpip::http {
namespace {

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

// A connection from 10.0.0.2:80 to 10.0.0.1:40000: two segments sent, the first lost and resent
// after a timeout, one ACK with a SACK block, then the ACK of everything.
TcpLogSnapshot sample_log() {
    TcpLogSnapshot log;
    log.id = 7;
    log.local_address = Ipv4Address(10, 0, 0, 2);
    log.local_port = 80;
    log.remote_address = Ipv4Address(10, 0, 0, 1);
    log.remote_port = 40000;
    log.state = TcpState::Established;
    log.iss = SeqNum(1000);
    log.irs = SeqNum(5000);
    auto entry = [](std::int64_t ms, TcpLogEvent event) {
        TcpLogEntry e;
        e.at = Instant::from_micros(ms * 1000);
        e.event = event;
        e.state = TcpState::Established;
        e.cwnd = 14600;
        e.snd_wnd = 65535;
        e.srtt = Duration::millis(10);
        e.rto = Duration::millis(200);
        return e;
    };
    TcpLogEntry a = entry(100, TcpLogEvent::Send);
    a.seq = SeqNum(1001);
    a.length = 1460;
    a.flags = TcpFlags::kAck;
    a.in_flight = 1460;
    TcpLogEntry b = a;
    b.seq = SeqNum(2461);
    b.in_flight = 2920;
    TcpLogEntry sack = entry(110, TcpLogEvent::Receive);
    sack.seq = SeqNum(5001);
    sack.ack = SeqNum(1001);
    sack.flags = TcpFlags::kAck;
    sack.window = 65535;
    sack.sack_count = 1;
    sack.sack[0] = SackBlock{SeqNum(2461), SeqNum(3921)};
    sack.in_flight = 2920;
    TcpLogEntry timeout = entry(300, TcpLogEvent::Timeout);
    TcpLogEntry again = a;
    again.at = Instant::from_micros(300000);
    again.event = TcpLogEvent::Retransmit;
    again.cause = RetransmitCause::Timeout;
    again.cwnd = 1460;
    TcpLogEntry done = sack;
    done.at = Instant::from_micros(320000);
    done.ack = SeqNum(3921);
    done.sack_count = 0;
    done.in_flight = 0;
    log.entries = {a, b, sack, timeout, again, done};
    log.recorded = 6;
    return log;
}

TEST(HttpTimeline, WindowGraph) {
    const std::string svg = window_svg(sample_log());
    EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u) << svg;
    EXPECT_EQ(count(svg, "<polyline"), 3u) << svg;  // cwnd, in flight, the peer's window
    EXPECT_EQ(count(svg, "class=\"retransmit\""), 1u) << svg;
    EXPECT_NE(svg.find("retransmission (rto) at 0.200000 s"), std::string::npos) << svg;
    EXPECT_NE(svg.find("</svg>"), std::string::npos);
}

TEST(HttpTimeline, SequenceGraph) {
    const std::string svg = sequence_svg(sample_log());
    EXPECT_EQ(count(svg, "class=\"segment\""), 2u) << svg;
    EXPECT_EQ(count(svg, "class=\"retransmit\""), 1u) << svg;
    EXPECT_EQ(count(svg, "class=\"sack\""), 1u) << svg;
    EXPECT_EQ(count(svg, "class=\"acks\""), 1u) << svg;
    // The first segment at t = 0 spans relative sequence numbers 1..1461, the bottom of the graph.
    EXPECT_NE(svg.find("<line class=\"segment\" x1=\"70.0\" x2=\"70.0\" y1=\"260.0\""), std::string::npos) << svg;
}

TEST(HttpTimeline, ConnectionPageReloadsAndShowsBothGraphs) {
    const std::string page = connection_page(sample_log());
    EXPECT_NE(page.find("<meta http-equiv=\"refresh\" content=\"1\">"), std::string::npos);
    EXPECT_NE(page.find("connection 7: 10.0.0.2:80 &harr; 10.0.0.1:40000, ESTABLISHED"), std::string::npos) << page;
    EXPECT_NE(page.find("class=\"window\""), std::string::npos);
    EXPECT_NE(page.find("class=\"sequence\""), std::string::npos);
    EXPECT_NE(page.find("href=\"/connections/7.csv\""), std::string::npos);
    // The table, newest first: the final ACK (relative ack 2921) on top.
    const std::size_t newest = page.find("<td>0.220000</td><td>receive</td>");
    const std::size_t oldest = page.find("<td>0.000000</td><td>send</td>");
    ASSERT_NE(newest, std::string::npos) << page;
    ASSERT_NE(oldest, std::string::npos) << page;
    EXPECT_LT(newest, oldest);
    EXPECT_NE(page.find("<td>retransmit</td><td>ESTABLISHED</td><td>1</td><td>1460</td><td></td><td>.</td><td>rto</td>"),
              std::string::npos) << page;
}

TEST(HttpTimeline, ListLinksEachConnection) {
    TcpLogSnapshot other = sample_log();
    other.id = 9;
    other.state = TcpState::CloseWait;
    const std::string page = connections_page({sample_log(), other});
    EXPECT_NE(page.find("<a href=\"/connections/7\">7</a>"), std::string::npos) << page;
    EXPECT_NE(page.find("<a href=\"/connections/9\">9</a></td><td>CLOSE-WAIT</td><td>10.0.0.2:80</td><td>10.0.0.1:40000</td>"),
              std::string::npos) << page;
    EXPECT_NE(page.find("2 connections."), std::string::npos);
}

TEST(HttpTimeline, EmptyLogStillDraws) {
    TcpLogSnapshot log = sample_log();
    log.entries.clear();
    EXPECT_NE(window_svg(log).find("no events yet"), std::string::npos);
    EXPECT_NE(sequence_svg(log).find("no events yet"), std::string::npos);
}

TEST(HttpTimeline, ConnectionIdOfPath) {
    bool csv = true;
    EXPECT_EQ(connection_id_of("connections/12", csv), 12u);
    EXPECT_FALSE(csv);
    EXPECT_EQ(connection_id_of("connections/12.csv", csv), 12u);
    EXPECT_TRUE(csv);
    EXPECT_EQ(connection_id_of("connections", csv), 0u);
    EXPECT_EQ(connection_id_of("connections/", csv), 0u);
    EXPECT_EQ(connection_id_of("connections/1x", csv), 0u);
    EXPECT_EQ(connection_id_of("connections/.csv", csv), 0u);
    EXPECT_EQ(connection_id_of("stats", csv), 0u);
    EXPECT_EQ(connection_id_of("connections/99999999999999999999", csv), 0u);
}

}  // namespace
}  // namespace tcpip::http
