// The trace (stack/core/trace.h, stack/trace/frame_tracer.h): one Stack over a QueueDevice with a
// FrameTracer, frames crafted with libtins injected in virtual time, and the lines the tracer
// makes of them checked: the layers in order, the rx/tx first lines, the decisions and their RFC
// sections, TCP states in RFC 9293's words. Also: the formatter on its own (layer filter, JSON,
// bytes that do not parse), and that tracing changes nothing the stack sends.
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <string>
#include <vector>

#include "stack/trace/frame_tracer.h"
#include "tests/unit/layers/harness.h"

namespace tcpip::layers_test {
namespace {

// Keeps every complete frame, and the frames as they reached the wire.
class RecordingSink : public TraceSink {
public:
    void on_frame(const TraceFrame& frame) override { frames.push_back(frame); }
    void on_wire(const TraceFrame& frame) override { wire.push_back(frame); }
    std::vector<TraceFrame> frames, wire;

    // All frames as --trace prints them (no colour), and forgets them.
    std::string take_text() {
        std::string text;
        for (const TraceFrame& f : frames) text += format_text(f);
        frames.clear();
        return text;
    }
};

bool has_line(const std::string& text, const std::string& start, const std::string& words) {
    std::size_t at = 0;
    while (at < text.size()) {
        std::size_t end = text.find('\n', at);
        if (end == std::string::npos) end = text.size();
        const std::string line = text.substr(at, end - at);
        if (line.rfind(start, 0) == 0 && line.find(words) != std::string::npos) return true;
        at = end + 1;
    }
    return false;
}

#define EXPECT_LINE(text, start, words) \
    EXPECT_TRUE(has_line(text, start, words)) << "no line starting '" << (start) << "' with '" << (words) << "' in:\n" << (text)

class TraceTest : public LayerTest {
protected:
    TraceTest() {
        tracer.add_sink(&sink);
        config.tracer = &tracer;
    }
    // The stack, with what its start-up said (the gratuitous ARP, the peer's ARP) forgotten.
    Stack& quiet_stack() {
        Stack& s = stack();
        sink.take_text();
        sink.wire.clear();
        return s;
    }

    FrameTracer tracer;
    RecordingSink sink;
};

TEST_F(TraceTest, ArpRequestForUsIsAnswered) {
    quiet_stack();
    inject(at(10), arp_request(kPeerMac, kPeerIp, kOurIp));
    const std::string text = sink.take_text();
    EXPECT_LINE(text, "rx eth  02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff ARP", "");
    EXPECT_LINE(text, "   arp  who-has 10.0.0.2 tell 10.0.0.1", "for us: sender learned, answered (RFC 826");
    EXPECT_LINE(text, "tx arp  reply 10.0.0.2 is at 02:00:00:00:00:02", "");
    EXPECT_LINE(text, "   eth  02:00:00:00:00:02 > 02:00:00:00:00:01 ARP", "");
    // The received frame comes first, then the reply it caused.
    EXPECT_LT(text.find("rx eth"), text.find("tx arp"));
}

TEST_F(TraceTest, PingIsAnsweredThroughEveryLayer) {
    peer_known = true;
    quiet_stack();
    inject(at(10), eth_to_us() / ip_to_us(1) / raw(icmp_message(echo_request(7, 1), pattern(56))));
    const std::string text = sink.take_text();
    EXPECT_LINE(text, "rx eth", "IPv4 98 B");
    EXPECT_LINE(text, "   ip   10.0.0.1 > 10.0.0.2 ICMP ttl 64", "ok");
    EXPECT_LINE(text, "   icmp echo request id 7 seq 1 56 B", "answered (RFC 1122 3.2.2.6)");
    EXPECT_LINE(text, "tx icmp echo reply id 7 seq 1 56 B", "");
    EXPECT_LINE(text, "   ip   10.0.0.2 > 10.0.0.1 ICMP", "");
    EXPECT_LINE(text, "   arp  10.0.0.1 is at 02:00:00:00:00:01", "(cached)");
    EXPECT_LINE(text, "   eth  02:00:00:00:00:02 > 02:00:00:00:00:01 IPv4 98 B", "");
    // On the wire (what a pcapng comment is made of): the reply as it goes out, during the
    // request's processing; the request once its processing is over, every decision in.
    ASSERT_EQ(sink.wire.size(), 2u) << text;
    EXPECT_EQ(sink.wire[0].dir, TraceDir::Tx);
    EXPECT_EQ(sink.wire[1].dir, TraceDir::Rx);
    EXPECT_EQ(sink.wire[1].lines.back().layer, TraceLayer::Icmp);
}

TEST_F(TraceTest, OurArpResolutionQueuesThenSends) {
    Stack& s = quiet_stack();  // the peer is not known
    UdpSocket* udp = s.udp().open();
    const auto data = pattern(10);
    ASSERT_TRUE(s.udp().send(at(10), udp, Bytes{data.data(), data.size()}, std::pair{kPeerIp, std::uint16_t{9}}));
    tracer.done();
    std::string text = sink.take_text();
    EXPECT_LINE(text, "tx udp ", "> 9 10 B");
    EXPECT_LINE(text, "   arp  10.0.0.1 not resolved", "queued for ARP (1 waiting) (RFC 1122 2.3.2.2)");
    EXPECT_LINE(text, "tx arp  who-has 10.0.0.1 tell 10.0.0.2", "");
    Tins::EthernetII reply = Tins::EthernetII(tins_mac(kOurMac), tins_mac(kPeerMac)) /
                             Tins::ARP(tins_ip(kOurIp), tins_ip(kPeerIp), tins_mac(kOurMac), tins_mac(kPeerMac));
    reply.rfind_pdu<Tins::ARP>().opcode(Tins::ARP::REPLY);
    inject(at(20), reply);
    text = sink.take_text();
    EXPECT_LINE(text, "   arp  reply 10.0.0.1 is at 02:00:00:00:00:01", "for us: sender learned");
    EXPECT_LINE(text, "tx ip   10.0.0.2 > 10.0.0.1 UDP", "(waited for ARP)");
    EXPECT_LINE(text, "   arp  10.0.0.1 is at 02:00:00:00:00:01", "answered: the queued datagram leaves");
    s.udp().close(udp);
}

TEST_F(TraceTest, FragmentedDatagramIsHeldThenReassembled) {
    peer_known = true;
    Stack& s = quiet_stack();
    UdpSocket* udp = s.udp().open();
    ASSERT_TRUE(s.udp().bind(udp, Ipv4Address::any(), 7));
    Tins::IP header = ip_to_us(17);
    header.id(0x4242);
    Tins::UDP datagram(7, 5555);
    datagram /= raw(pattern(3000));
    inject_all(at(10), fragment(header, datagram.serialize(), 1480));
    const std::string text = sink.take_text();
    EXPECT_LINE(text, "   ip   10.0.0.1 > 10.0.0.2 UDP ttl 64 id 16962 frag off 0 MF",
                "fragment held for reassembly (1 so far) (RFC 791 3.2)");
    EXPECT_LINE(text, "   ip   10.0.0.1 > 10.0.0.2 UDP ttl 64 id 16962 frag off 1480 MF", "(2 so far)");
    EXPECT_LINE(text, "   ip   10.0.0.1 > 10.0.0.2 UDP ttl 64 id 16962 frag off 2960", "reassembled (3 of 3)");
    EXPECT_LINE(text, "   udp  5555 > 7 3000 B", "delivered to port 7 (1 queued)");
    s.udp().close(udp);
}

TEST_F(TraceTest, ReassemblyTimeoutIsToldByATimer) {
    peer_known = true;
    quiet_stack();
    Tins::IP header = ip_to_us(17);
    header.id(0x0101);
    auto frames = fragment(header, pattern(3000), 1480);
    inject(at(10), frames[0]);
    sink.take_text();
    poll(at(31'000));  // past the 30 s reassembly timeout
    const std::string text = sink.take_text();
    // No frame caused it: a line of its own, then the ICMP error it sends.
    EXPECT_LINE(text, "   ip   ", "reassembly of datagram id 257 timed out (RFC 1122 3.3.2)");
    EXPECT_LINE(text, "tx icmp time exceeded (reassembly)", "");
}

TEST_F(TraceTest, HandshakeShowsRfc9293States) {
    peer_known = true;
    Stack& s = quiet_stack();
    TcpSocket* listener = s.tcp().open();
    ASSERT_TRUE(s.tcp().bind(listener, Ipv4Address::any(), 80));
    ASSERT_TRUE(s.tcp().listen(listener, 8));
    Tins::TCP syn(80, 40000);
    syn.flags(Tins::TCP::SYN);
    syn.seq(1000);
    syn.mss(1460);
    inject(at(10), eth_to_us() / ip_to_us() / syn);
    std::string text = sink.take_text();
    EXPECT_LINE(text, "   tcp  40000 > 80 [S] seq 1000 win", "LISTEN -> SYN-RECEIVED");
    EXPECT_LINE(text, "tx tcp  80 > 40000 [S.] seq", "");
    EXPECT_NE(text.find("ack 1001"), std::string::npos) << text;
    auto sent = take_sent();
    ASSERT_EQ(sent.size(), 1u);
    const std::uint32_t our_isn = sent[0].rfind_pdu<Tins::TCP>().seq();
    Tins::TCP ack(80, 40000);
    ack.flags(Tins::TCP::ACK);
    ack.seq(1001);
    ack.ack_seq(our_isn + 1);
    inject(at(20), eth_to_us() / ip_to_us() / ack);
    text = sink.take_text();
    EXPECT_LINE(text, "   tcp  40000 > 80 [.] seq 1001 ack", "SYN-RECEIVED -> ESTABLISHED");
    s.tcp().close(at(30), listener);
}

TEST_F(TraceTest, ActiveOpenAndCloseStatesGoWithTheirSegments) {
    peer_known = true;
    Stack& s = quiet_stack();
    TcpSocket* c = s.tcp().open();
    (void)s.tcp().connect(at(10), c, kPeerIp, 80);
    tracer.done();
    std::string text = sink.take_text();
    // The state changes before the SYN exists: it joins the SYN's line.
    EXPECT_LINE(text, "tx tcp  ", "> 80 [S] seq");
    EXPECT_LINE(text, "tx tcp  ", "CLOSED -> SYN-SENT");
    auto sent = take_sent();
    ASSERT_EQ(sent.size(), 1u);
    const Tins::TCP& syn = sent[0].rfind_pdu<Tins::TCP>();
    Tins::TCP syn_ack(syn.sport(), 80);
    syn_ack.flags(Tins::TCP::SYN | Tins::TCP::ACK);
    syn_ack.seq(7000);
    syn_ack.ack_seq(syn.seq() + 1);
    inject(at(20), eth_to_us() / ip_to_us() / syn_ack);
    text = sink.take_text();
    EXPECT_LINE(text, "   tcp  80 > ", "[S.] seq 7000");
    EXPECT_LINE(text, "   tcp  80 > ", "SYN-SENT -> ESTABLISHED");
    take_sent();
    s.tcp().close(at(30), c);
    tracer.done();
    text = sink.take_text();
    EXPECT_LINE(text, "tx tcp  ", "[F.]");
    EXPECT_LINE(text, "tx tcp  ", "ESTABLISHED -> FIN-WAIT-1");
    sent = take_sent();
    ASSERT_EQ(sent.size(), 1u);
    const Tins::TCP& fin = sent[0].rfind_pdu<Tins::TCP>();
    Tins::TCP fin_ack(fin.sport(), 80);
    fin_ack.flags(Tins::TCP::FIN | Tins::TCP::ACK);
    fin_ack.seq(7001);
    fin_ack.ack_seq(fin.seq() + 1);
    inject(at(40), eth_to_us() / ip_to_us() / fin_ack);
    text = sink.take_text();
    // Both changes are the received FIN's doing, though our ACK of it went out in between.
    EXPECT_LINE(text, "   tcp  80 > ", "FIN-WAIT-1 -> FIN-WAIT-2; FIN-WAIT-2 -> TIME-WAIT");
    EXPECT_LINE(text, "tx tcp  ", "[.]");
}

TEST_F(TraceTest, ARetransmissionSaysSo) {
    peer_known = true;
    Stack& s = quiet_stack();
    TcpSocket* listener = s.tcp().open();
    ASSERT_TRUE(s.tcp().bind(listener, Ipv4Address::any(), 80));
    ASSERT_TRUE(s.tcp().listen(listener, 8));
    Tins::TCP syn(80, 40000);
    syn.flags(Tins::TCP::SYN);
    syn.seq(1000);
    inject(at(10), eth_to_us() / ip_to_us() / syn);
    std::string text = sink.take_text();
    EXPECT_LINE(text, "tx tcp  80 > 40000 [S.]", "");
    EXPECT_EQ(text.find("retransmission"), std::string::npos) << text;
    poll(at(1500));  // the SYN-ACK was not acknowledged within the first RTO (1 s)
    text = sink.take_text();
    EXPECT_LINE(text, "tx tcp  80 > 40000 [S.]", "retransmission: sent before");
    s.tcp().close(at(1600), listener);
}

TEST_F(TraceTest, DropsSayWhyWithTheRule) {
    peer_known = true;
    quiet_stack();
    // An IPv4 header checksum that is wrong.
    Frame frame = (eth_to_us() / ip_to_us(1) / raw(icmp_message(echo_request(1, 1), pattern(8)))).serialize();
    frame[kEth + 10] ^= 0x01;
    inject(at(10), frame);
    // A UDP checksum that is wrong (the IPv4 header is fine).
    Frame udp = (eth_to_us() / ip_to_us() / Tins::UDP(7, 5555) / raw(pattern(4))).serialize();
    udp[kEth + 20 + 6] ^= 0x01;
    inject(at(20), udp);
    // A frame for another MAC, and a TCP segment to a port nobody listens on.
    inject(at(30), Tins::EthernetII(Tins::HWAddress<6>("02:00:00:00:00:99"), tins_mac(kPeerMac)) / ip_to_us(1) /
                       raw(icmp_message(echo_request(1, 2), pattern(8))));
    Tins::TCP syn(81, 40001);
    syn.flags(Tins::TCP::SYN);
    inject(at(40), eth_to_us() / ip_to_us() / syn);
    const std::string text = sink.take_text();
    EXPECT_LINE(text, "   ip   10.0.0.1 > 10.0.0.2 ICMP", "dropped: bad header checksum (RFC 1122 3.2.1.2)");
    EXPECT_LINE(text, "   udp  5555 > 7 4 B", "dropped: bad checksum (RFC 1122 4.1.3.4)");
    EXPECT_LINE(text, "rx eth  02:00:00:00:00:01 > 02:00:00:00:00:99", "dropped: not for us");
    EXPECT_LINE(text, "   tcp  40001 > 81 [S]", "no socket: RST sent (RFC 9293 3.10.7.1)");
    EXPECT_LINE(text, "tx tcp  81 > 40001 [R.]", "RST");
    // And the lines that say so are marked as drops (red on a terminal).
    bool red = false;
    for (const TraceFrame& f : sink.wire) {
        for (const TraceLine& l : f.lines) red = red || l.dropped;
    }
    EXPECT_TRUE(red);
}

TEST_F(TraceTest, TracingChangesNothingTheStackSends) {
    // The same exchange on a stack without a tracer sends the same bytes.
    auto exchange = [](auto& t, Stack& s) {
        TcpSocket* listener = s.tcp().open();
        EXPECT_TRUE(s.tcp().bind(listener, Ipv4Address::any(), 80));
        EXPECT_TRUE(s.tcp().listen(listener, 8));
        Tins::TCP syn(80, 40000);
        syn.flags(Tins::TCP::SYN);
        syn.seq(5);
        t.queue((eth_to_us() / ip_to_us() / syn).serialize());
        s.poll(at(10));
        t.queue((eth_to_us() / ip_to_us(1) / raw(icmp_message(echo_request(3, 4), pattern(100)))).serialize());
        s.poll(at(20));
    };
    peer_known = true;
    exchange(*this, stack());
    struct Plain : LayerTest {
        void TestBody() override {}
        using LayerTest::device;
        using LayerTest::peer_known;
        using LayerTest::queue;
        using LayerTest::stack;
    } plain;
    plain.peer_known = true;
    exchange(plain, plain.stack());
    EXPECT_EQ(device.take_sent(), plain.device.take_sent());
    EXPECT_FALSE(sink.frames.empty());
}

// ---- The formatter on its own ----------------------------------------------------------------

TraceFrame sample_frame() {
    TraceFrame frame;
    frame.number = 3;
    frame.dir = TraceDir::Rx;
    frame.at = Instant::from_micros(1500);
    frame.lines.push_back(TraceLine{TraceLayer::Eth, "a > b IPv4 60 B", {}, false, -1, -1});
    frame.lines.push_back(TraceLine{TraceLayer::Ip, "10.0.0.1 > 10.0.0.2 TCP", {"ok"}, false, -1, -1});
    frame.lines.push_back(TraceLine{TraceLayer::Tcp, "1 > 2 [S]", {"LISTEN -> SYN-RECEIVED"}, false, 1, 2});
    return frame;
}

TEST(TraceFormat, FirstShownLineCarriesTheDirectionTheRestAreIndented) {
    EXPECT_EQ(format_text(sample_frame()),
              "rx eth  a > b IPv4 60 B\n"
              "   ip   10.0.0.1 > 10.0.0.2 TCP  ok\n"
              "   tcp  1 > 2 [S]  LISTEN -> SYN-RECEIVED\n");
    unsigned mask = 0;
    ASSERT_TRUE(parse_trace_layers("tcp,ip", mask));
    EXPECT_EQ(format_text(sample_frame(), mask),
              "rx ip   10.0.0.1 > 10.0.0.2 TCP  ok\n"
              "   tcp  1 > 2 [S]  LISTEN -> SYN-RECEIVED\n");
    ASSERT_TRUE(parse_trace_layers("sock", mask));
    EXPECT_EQ(format_text(sample_frame(), mask), "");
    EXPECT_FALSE(parse_trace_layers("tcp,bogus", mask));
    EXPECT_FALSE(parse_trace_layers("", mask));
}

TEST(TraceFormat, ColourOnlyWhenAsked) {
    EXPECT_EQ(format_text(sample_frame()).find('\x1b'), std::string::npos);
    EXPECT_NE(format_text(sample_frame(), ~0u, true).find("\x1b[32m"), std::string::npos);  // tcp in green
}

TEST(TraceFormat, JsonHasOneObjectPerLineWithTheSameWords) {
    const std::string json = format_json(sample_frame());
    EXPECT_EQ(std::count(json.begin(), json.end(), '\n'), 3);
    EXPECT_NE(json.find(R"({"frame":3,"t_us":1500,"dir":"rx","first":true,"layer":"eth","summary":"a > b IPv4 60 B")"),
              std::string::npos)
        << json;
    EXPECT_NE(json.find(R"("layer":"tcp","summary":"1 > 2 [S]","decision":"LISTEN -> SYN-RECEIVED","dropped":false})"),
              std::string::npos)
        << json;
}

TEST(TraceFormat, BytesThatDoNotParseAreDescribedNotRead) {
    const std::uint8_t short_bytes[5] = {0x45, 0, 0, 0, 0};
    EXPECT_EQ(summarize(TraceLayer::Ip, Bytes{short_bytes, 5}), "5 B, unparsable (truncated)");
    EXPECT_EQ(summarize(TraceLayer::Tcp, Bytes{short_bytes, 0}), "0 B, unparsable (truncated)");
    EXPECT_EQ(summarize(TraceLayer::Eth, Bytes{short_bytes, 5}), "5 B, unparsable (truncated)");
}

TEST(TraceFormat, DecisionsFillInTheirNumbersAndNameTheirRule) {
    EXPECT_EQ(decision_text(TraceNote::IpReassembled, 3, 3), "reassembled (3 of 3) (RFC 791 3.2)");
    EXPECT_EQ(decision_text(TraceNote::TcpDataQueued, 72, 72), "72 B queued (72 B to read)");
    EXPECT_EQ(decision_text(TraceNote::IpBadChecksum), "dropped: bad header checksum (RFC 1122 3.2.1.2)");
}

}  // namespace
}  // namespace tcpip::layers_test
