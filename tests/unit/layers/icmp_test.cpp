// ICMP layer tests (RFC 792; RFC 1122 section 3.2.2; RFC 1812 4.3.2.3 for the quote size): echo at
// every size, the errors we send and when RFC 1122 forbids them, the rate limit, the errors we
// receive and their delivery to the transport; and two Stacks pinging each other end to end.
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <optional>

#include "tests/unit/layers/harness.h"

namespace tcpip::layers_test {
namespace {

class IcmpTest : public LayerTest {
protected:
    IcmpTest() { peer_known = true; }

    // A datagram from the peer to us with an unknown protocol (99), as a frame.
    static Frame unknown_protocol_frame(const std::vector<std::uint8_t>& data, std::uint16_t ident = 0x1111) {
        Tins::IP ip = ip_to_us(99);
        ip.id(ident);
        return (eth_to_us() / ip / raw(data)).serialize();
    }
};

// ---- Echo ----------------------------------------------------------------------------------

class EchoSizeTest : public IcmpTest, public ::testing::WithParamInterface<std::size_t> {};

TEST_P(EchoSizeTest, EchoRequestGetsTheSameDataBack) {
    const std::size_t size = GetParam();
    const auto data = pattern(size, 17);
    auto message = icmp_message(echo_request(0xbeef, 42), data);
    Tins::IP header = ip_to_us(1);
    header.id(0x3333);
    if (message.size() + 20 <= 1500) {
        inject(at(10), eth_to_us() / header / raw(message));
    } else {
        auto frames = fragment(header, message, 1480);
        inject_all(at(10), frames);
        EXPECT_EQ(stats().ipv4.reasm_ok, 1u);
    }
    expect_echo_reply(take_sent_raw(), 0xbeef, 42, data);
    EXPECT_EQ(stats().icmp.rx_echo_requests, 1u);
    EXPECT_EQ(stats().icmp.tx_echo_replies, 1u);
    expect_nothing(at(60'000));
}

// 1472 is the largest unfragmented echo on a 1500-byte MTU; 1473 is the first fragmented one;
// 65000 is near the largest datagram (65,535 bytes), 44 fragments each way.
INSTANTIATE_TEST_SUITE_P(Sizes, EchoSizeTest, ::testing::Values(0, 1, 56, 1472, 1473, 4000, 65000, 65507));

TEST_F(IcmpTest, EchoReplyKeepsTheRequestsTos) {
    Tins::IP ip = ip_to_us();
    ip.tos(0x10);
    inject(at(10), eth_to_us() / ip / echo_request(1, 1) / raw(pattern(56)));
    Frame reply = expect_one_raw();
    expect_echo_reply({reply}, 1, 1, pattern(56));
    EXPECT_EQ(reply[kEth + 1], 0x10);
}

TEST_F(IcmpTest, EchoToLinkBroadcastIsIgnored) {
    inject(at(10), eth_broadcast() / ip_to_us() / echo_request(1, 1) / raw(pattern(56)));
    expect_nothing(at(10));
    EXPECT_EQ(stats().icmp.rx_echo_requests, 1u);
    EXPECT_EQ(stats().icmp.tx_echo_replies, 0u);
}

TEST_F(IcmpTest, EchoToIpBroadcastIsIgnored) {
    for (const char* dst : {"255.255.255.255", "10.0.0.255"}) {
        Tins::IP ip = ip_to_us();
        ip.dst_addr(dst);
        inject(at(10), eth_to_us() / ip / echo_request(1, 1) / raw(pattern(56)));
        expect_nothing(at(10));
    }
    EXPECT_EQ(stats().icmp.rx_echo_requests, 2u);
    EXPECT_EQ(stats().icmp.tx_echo_replies, 0u);
}

TEST_F(IcmpTest, BadChecksumIsCountedAndNotAnswered) {
    Frame frame = (eth_to_us() / ip_to_us() / echo_request(1, 1) / raw(pattern(56))).serialize();
    frame[kEth + 20 + 2] ^= 0x10;  // a bit of the ICMP checksum
    inject(at(10), frame);
    expect_nothing(at(10));
    EXPECT_EQ(stats().icmp.rx_bad_checksum, 1u);
    EXPECT_EQ(stats().icmp.rx_echo_requests, 0u);
}

TEST_F(IcmpTest, BadChecksumInTheDataIsCaughtToo) {
    Frame frame = (eth_to_us() / ip_to_us() / echo_request(1, 1) / raw(pattern(56))).serialize();
    frame[kEth + 20 + 8 + 30] ^= 0x01;  // a bit of the data: the checksum covers the whole message
    inject(at(10), frame);
    expect_nothing(at(10));
    EXPECT_EQ(stats().icmp.rx_bad_checksum, 1u);
}

TEST_F(IcmpTest, TruncatedMessageIsMalformed) {
    Tins::IP ip = ip_to_us(1);
    inject(at(10), eth_to_us() / ip / raw({8, 0, 0, 0}));  // 4 bytes: no room for an ICMP header
    expect_nothing(at(10));
    EXPECT_EQ(stats().icmp.rx_malformed, 1u);
}

TEST_F(IcmpTest, EchoReplyIsHandedToTheApplication) {
    std::vector<Icmp::EchoReply> replies;
    std::vector<std::vector<std::uint8_t>> data;
    stack().icmp().set_echo_reply_handler([&](Instant, const Icmp::EchoReply& r) {
        replies.push_back(r);
        data.emplace_back(r.data.begin(), r.data.end());
    });
    Tins::ICMP icmp(Tins::ICMP::ECHO_REPLY);
    icmp.id(5);
    icmp.sequence(6);
    inject(at(10), eth_to_us() / ip_to_us() / icmp / raw(pattern(20)));
    expect_nothing(at(10));
    ASSERT_EQ(replies.size(), 1u);
    EXPECT_EQ(replies[0].from, kPeerIp);
    EXPECT_EQ(replies[0].ident, 5);
    EXPECT_EQ(replies[0].seq, 6);
    EXPECT_EQ(replies[0].ttl, 64);
    EXPECT_EQ(data[0], pattern(20));
}

TEST_F(IcmpTest, SendEchoRequestBuildsAValidRequest) {
    ASSERT_TRUE(stack().icmp().send_echo_request(at(10), kPeerIp, 0x1234, 9, pattern(100)).has_value());
    Frame frame = expect_one_raw();
    expect_checksums_valid(frame);
    Tins::EthernetII eth(frame.data(), static_cast<std::uint32_t>(frame.size()));
    EXPECT_EQ(eth.dst_addr(), tins_mac(kPeerMac));
    const Tins::ICMP& icmp = eth.rfind_pdu<Tins::ICMP>();
    EXPECT_EQ(icmp.type(), Tins::ICMP::ECHO_REQUEST);
    EXPECT_EQ(icmp.id(), 0x1234);
    EXPECT_EQ(icmp.sequence(), 9);
    EXPECT_EQ(eth.rfind_pdu<Tins::RawPDU>().payload(), pattern(100));
}

// ---- Errors we send ------------------------------------------------------------------------

TEST_F(IcmpTest, UnknownProtocolGetsProtocolUnreachable) {
    Frame frame = unknown_protocol_frame(pattern(100));
    inject(at(10), frame);
    expect_icmp_error(expect_one_raw(), 3, 2, ip_bytes(frame));  // the whole 120-byte datagram quoted
    EXPECT_EQ(stats().ipv4.rx_unknown_protocol, 1u);
    EXPECT_EQ(stats().icmp.tx_dest_unreachable, 1u);
}

TEST_F(IcmpTest, ProtocolUnreachableQuoteIsCutAt576Bytes) {
    Frame frame = unknown_protocol_frame(pattern(1400));
    inject(at(10), frame);
    Frame error = expect_one_raw();
    expect_icmp_error(error, 3, 2, ip_bytes(frame));
    EXPECT_EQ(ip_bytes(error).size(), 576u);
}

TEST_F(IcmpTest, ProtocolUnreachableQuotesOptionsToo) {
    Frame frame = unknown_protocol_frame(pattern(16));
    const std::uint8_t option[] = {0x01, 0x01, 0x01, 0x00};
    frame.insert(frame.begin() + kEth + 20, std::begin(option), std::end(option));
    frame[kEth] = 0x46;
    frame[kEth + 3] = static_cast<std::uint8_t>(frame.size() - kEth);
    fix_ip_checksum(frame);
    inject(at(10), frame);
    expect_icmp_error(expect_one_raw(), 3, 2, ip_bytes(frame));
}

TEST_F(IcmpTest, ProtocolUnreachableForAReassembledDatagram) {
    Tins::IP header = ip_to_us(99);
    header.id(0x4444);
    auto data = pattern(3000);
    auto frames = fragment(header, data, 1480);
    inject_all(at(10), frames);
    // The quote is the datagram's header and the start of its reassembled data.
    Frame error = expect_one_raw();
    expect_icmp_error(error, 3, 2, ip_bytes(frames[0]), /*any_fragment_fields=*/true);
}

TEST_F(IcmpTest, NoErrorForALinkBroadcast) {
    Frame frame = unknown_protocol_frame(pattern(20));
    std::fill(frame.begin(), frame.begin() + 6, 0xff);
    inject(at(10), frame);
    expect_nothing(at(10));
    EXPECT_EQ(stats().ipv4.rx_unknown_protocol, 1u);
    EXPECT_EQ(stats().icmp.tx_dest_unreachable, 0u);
}

TEST_F(IcmpTest, NoErrorForAnIpBroadcast) {
    for (const char* dst : {"255.255.255.255", "10.0.0.255"}) {
        Tins::IP ip = ip_to_us(99);
        ip.dst_addr(dst);
        inject(at(10), eth_to_us() / ip / raw(pattern(20)));  // unicast frame: only the IP says broadcast
        expect_nothing(at(10));
    }
    EXPECT_EQ(stats().ipv4.rx_unknown_protocol, 2u);
    EXPECT_EQ(stats().icmp.tx_dest_unreachable, 0u);
}

TEST_F(IcmpTest, NoErrorForANonFirstFragment) {
    Tins::IP ip = ip_to_us(99);
    ip.id(0x5555);
    ip.fragment_offset(1);  // offset 8, last fragment: the first never comes
    inject(at(10), eth_to_us() / ip / raw(pattern(20)));
    expect_nothing(at(10));
    expect_nothing(at(10 + 30'000));  // timed out, and no time exceeded: no first fragment to quote
    EXPECT_EQ(stats().ipv4.reasm_timeout, 1u);
    EXPECT_EQ(stats().icmp.tx_messages, 0u);
}

TEST_F(IcmpTest, NoErrorToAnUnspecifiedSource) {
    Tins::IP ip = ip_to_us(99);
    ip.src_addr("0.0.0.0");
    inject(at(10), eth_to_us() / ip / raw(pattern(20)));
    expect_nothing(at(10));
    EXPECT_EQ(stats().ipv4.rx_unknown_protocol, 1u);
    EXPECT_EQ(stats().icmp.tx_messages, 0u);
}

TEST_F(IcmpTest, NoErrorAboutAnIcmpError) {
    // A fragmented ICMP error whose first fragment arrives alone: at the timeout, time exceeded
    // would be an error about an error (RFC 1122 3.2.2), so nothing is sent. The same datagram
    // with an echo request in it gets its time exceeded (the control).
    Tins::IP quoted = Tins::IP(kPeerIpStr, kOurIpStr) / raw(pattern(1500));
    auto error_message = icmp_message(Tins::ICMP(Tins::ICMP::DEST_UNREACHABLE), quoted.serialize());
    auto echo_message = icmp_message(echo_request(1, 1), pattern(1520));
    Tins::IP header = ip_to_us(1);
    header.id(0x6001);
    auto error_fragments = fragment(header, error_message, 1480);
    header.id(0x6002);
    auto echo_fragments = fragment(header, echo_message, 1480);
    inject_all(at(10), {error_fragments[0], echo_fragments[0]});
    expect_nothing(at(10));
    poll(at(10 + 30'000));
    EXPECT_EQ(stats().ipv4.reasm_timeout, 2u);
    expect_icmp_error(expect_one_raw(), 11, 1, ip_bytes(echo_fragments[0]));  // only the echo's
}

TEST_F(IcmpTest, ErrorsAreRateLimited) {
    const std::uint32_t burst = config.icmp_error_burst;
    ASSERT_EQ(config.icmp_error_interval, Duration::millis(1));
    for (std::uint16_t i = 0; i < 1000; ++i) queue(unknown_protocol_frame(pattern(8), i));
    poll(at(10));
    auto sent = take_sent_raw();
    EXPECT_GE(sent.size(), 1u);
    EXPECT_LE(sent.size(), burst);
    EXPECT_EQ(stats().ipv4.rx_unknown_protocol, 1000u);
    EXPECT_EQ(stats().icmp.tx_rate_limited, 1000u - sent.size());
    for (const Frame& f : sent) EXPECT_EQ(ip_bytes(f)[20], 3);  // all destination unreachable

    // 10 ms later, 10 tokens have come back (one per icmp_error_interval).
    for (std::uint16_t i = 0; i < 20; ++i) queue(unknown_protocol_frame(pattern(8), i));
    poll(at(20));
    EXPECT_EQ(take_sent_raw().size(), 10u);
    // After a long pause, a full burst again, and no more.
    for (std::uint16_t i = 0; i < 200; ++i) queue(unknown_protocol_frame(pattern(8), i));
    poll(at(10'000));
    EXPECT_EQ(take_sent_raw().size(), burst);
}

TEST_F(IcmpTest, EchoRepliesAreNotRateLimited) {
    for (std::uint16_t i = 0; i < 200; ++i) {
        queue((eth_to_us() / ip_to_us() / echo_request(1, i) / raw(pattern(8))).serialize());
    }
    poll(at(10));
    EXPECT_EQ(take_sent_raw().size(), 200u);
    EXPECT_EQ(stats().icmp.tx_rate_limited, 0u);
}

// ---- Errors we receive ---------------------------------------------------------------------

class IcmpErrorRxTest : public IcmpTest {
protected:
    IcmpErrorRxTest() { stack().ipv4().register_protocol(kTestProtocol, &handler); }

    // The first `quote_len` bytes of a datagram we sent to the peer with protocol 253: a 20-byte
    // header and "ports" 0x12 0x34 0x56 0x78 then more.
    static std::vector<std::uint8_t> our_datagram(std::size_t quote_len, const char* src = kOurIpStr) {
        Tins::IP ip(kPeerIpStr, src);
        ip.protocol(kTestProtocol);
        ip.id(0xabcd);
        ip.ttl(64);
        std::vector<std::uint8_t> data = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4};
        auto bytes = (ip / raw(data)).serialize();
        bytes.resize(quote_len);
        return bytes;
    }
    void inject_error(Instant now, std::uint8_t type, std::uint8_t code, const std::vector<std::uint8_t>& quote,
                      std::uint16_t mtu = 0) {
        Tins::ICMP icmp(static_cast<Tins::ICMP::Flags>(type));
        icmp.code(code);
        auto message = icmp_message(icmp, quote);
        if (mtu) {  // RFC 1191: the next-hop MTU in the low half of the "unused" word
            message[6] = static_cast<std::uint8_t>(mtu >> 8);
            message[7] = static_cast<std::uint8_t>(mtu);
            message[2] = message[3] = 0;
            const std::uint16_t sum = internet_checksum(message.data(), message.size());
            message[2] = static_cast<std::uint8_t>(sum >> 8);
            message[3] = static_cast<std::uint8_t>(sum);
        }
        inject(now, eth_to_us() / ip_to_us(1) / raw(message));
    }

    RecordingHandler handler;
};

TEST_F(IcmpErrorRxTest, DestinationUnreachableIsDeliveredToTheProtocol) {
    inject_error(at(10), 3, 3, our_datagram(28));
    expect_nothing(at(10));  // and no error about the error
    ASSERT_EQ(handler.errors.size(), 1u);
    const auto& e = handler.errors[0];
    EXPECT_EQ(e.error.type, 3);
    EXPECT_EQ(e.error.code, 3);
    EXPECT_EQ(e.error.reporter, kPeerIp);
    EXPECT_EQ(e.error.quoted.src, kOurIp);
    EXPECT_EQ(e.error.quoted.dst, kPeerIp);
    EXPECT_EQ(e.error.quoted.protocol, kTestProtocol);
    EXPECT_EQ(e.error.quoted.ident, 0xabcd);
    EXPECT_EQ(e.quoted_payload, (std::vector<std::uint8_t>{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0}));
    EXPECT_EQ(e.when, at(10));
    EXPECT_EQ(stats().icmp.rx_errors, 1u);
    EXPECT_TRUE(handler.received.empty());
}

TEST_F(IcmpErrorRxTest, LongerQuoteIsDeliveredWhole) {
    inject_error(at(10), 3, 1, our_datagram(32));
    ASSERT_EQ(handler.errors.size(), 1u);
    EXPECT_EQ(handler.errors[0].quoted_payload.size(), 12u);
}

TEST_F(IcmpErrorRxTest, FragmentationNeededCarriesTheMtu) {
    inject_error(at(10), 3, 4, our_datagram(28), 1400);
    ASSERT_EQ(handler.errors.size(), 1u);
    EXPECT_EQ(handler.errors[0].error.code, 4);
    EXPECT_EQ(handler.errors[0].error.next_hop_mtu, 1400);
}

TEST_F(IcmpErrorRxTest, TimeExceededIsDelivered) {
    inject_error(at(10), 11, 0, our_datagram(28));
    ASSERT_EQ(handler.errors.size(), 1u);
    EXPECT_EQ(handler.errors[0].error.type, 11);
    EXPECT_EQ(handler.errors[0].error.code, 0);
}

TEST_F(IcmpErrorRxTest, TooShortQuoteIsMalformed) {
    inject_error(at(10), 3, 3, our_datagram(24));  // header and 4 bytes: the ports are cut
    expect_nothing(at(10));
    EXPECT_TRUE(handler.errors.empty());
    EXPECT_EQ(stats().icmp.rx_malformed, 1u);
}

TEST_F(IcmpErrorRxTest, QuoteShorterThanAnIpHeaderIsMalformed) {
    inject_error(at(10), 3, 3, our_datagram(12));
    EXPECT_TRUE(handler.errors.empty());
    EXPECT_EQ(stats().icmp.rx_malformed, 1u);
}

TEST_F(IcmpErrorRxTest, QuoteOfSomeoneElsesDatagramIsNotDelivered) {
    inject_error(at(10), 3, 3, our_datagram(28, "10.0.0.77"));
    EXPECT_TRUE(handler.errors.empty());
    EXPECT_EQ(stats().icmp.rx_malformed, 1u);
}

TEST_F(IcmpErrorRxTest, ErrorForAnotherProtocolDoesNotReachThisOne) {
    auto quote = our_datagram(28);
    quote[9] = 252;  // a protocol nobody registered
    quote[10] = quote[11] = 0;
    const std::uint16_t sum = internet_checksum(quote.data(), 20);
    quote[10] = static_cast<std::uint8_t>(sum >> 8);
    quote[11] = static_cast<std::uint8_t>(sum);
    inject_error(at(10), 3, 3, quote);
    expect_nothing(at(10));
    EXPECT_TRUE(handler.errors.empty());
}

// ---- End to end: two Stacks on a memory link ----------------------------------------------

TEST(IcmpEndToEnd, TwoStacksPingEachOther) {
    MemoryLink link(kPeerMac, kOurMac);
    Stack left(link.a(), InterfaceConfig{Ipv4Cidr{kPeerIp, 24}, std::nullopt}, StackConfig{}, 1);
    Stack right(link.b(), InterfaceConfig{Ipv4Cidr{kOurIp, 24}, std::nullopt}, StackConfig{}, 2);
    struct Got {
        Ipv4Address from;
        std::uint16_t ident, seq;
        std::vector<std::uint8_t> data;
    };
    std::vector<Got> left_got, right_got;
    left.icmp().set_echo_reply_handler([&](Instant, const Icmp::EchoReply& r) {
        left_got.push_back({r.from, r.ident, r.seq, {r.data.begin(), r.data.end()}});
    });
    right.icmp().set_echo_reply_handler([&](Instant, const Icmp::EchoReply& r) {
        right_got.push_back({r.from, r.ident, r.seq, {r.data.begin(), r.data.end()}});
    });
    auto run = [&](Instant now) {
        for (int i = 0; i < 100; ++i) {
            if (left.poll(now) + right.poll(now) == 0) return;
        }
        ADD_FAILURE() << "the stacks never went quiet";
    };

    std::int64_t t = 0;
    std::uint16_t seq = 0;
    for (std::size_t size : {std::size_t{56}, std::size_t{4000}, std::size_t{65000}}) {
        auto data = pattern(size, static_cast<std::uint8_t>(seq));
        ++seq;
        ASSERT_TRUE(left.icmp().send_echo_request(at(t), kOurIp, 1, seq, data).has_value());
        run(at(t));
        ASSERT_EQ(left_got.size(), seq) << "left's ping of " << size << " bytes";
        EXPECT_EQ(left_got.back().from, kOurIp);
        EXPECT_EQ(left_got.back().seq, seq);
        EXPECT_EQ(left_got.back().data, data);

        ASSERT_TRUE(right.icmp().send_echo_request(at(t), kPeerIp, 2, seq, data).has_value());
        run(at(t));
        ASSERT_EQ(right_got.size(), seq) << "right's ping of " << size << " bytes";
        EXPECT_EQ(right_got.back().from, kPeerIp);
        EXPECT_EQ(right_got.back().data, data);
        t += 1000;
    }
    EXPECT_EQ(left.stats().arp.tx_requests, 1u);  // resolved once, then cached both ways
    EXPECT_EQ(right.stats().arp.tx_requests, 0u);
    // Each reassembles the other's requests and the replies to its own, at 4000 and 65000 bytes.
    EXPECT_EQ(left.stats().ipv4.reasm_ok, 4u);
    EXPECT_EQ(right.stats().ipv4.reasm_ok, 4u);
    EXPECT_EQ(left.ipv4().reassembly_datagrams(), 0u);
    EXPECT_EQ(right.ipv4().reassembly_datagrams(), 0u);
}

}  // namespace
}  // namespace tcpip::layers_test
