// ARP layer tests (RFC 826; RFC 1122 section 2.3.2; RFC 5227 section 3 for the announcement):
// answering, learning, resolution with retries and give-up, the pending queues and their bounds,
// ageing, the LRU bound, static entries.
#include <gtest/gtest.h>
#include <tins/tins.h>

#include "tests/unit/layers/harness.h"

namespace tcpip::layers_test {
namespace {

constexpr Ipv4Address kOtherIp{10, 0, 0, 3};
constexpr MacAddress kOtherMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x03}};
constexpr Ipv4Address kThirdIp{10, 0, 0, 4};
constexpr MacAddress kThirdMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x04}};

class ArpTest : public LayerTest {
protected:
    // Sends a datagram of protocol 253 carrying `tag` to `dst`; it must be accepted by IPv4.
    void send_tagged(Instant now, Ipv4Address dst, std::uint8_t tag) {
        ASSERT_TRUE(stack().ipv4().send(now, dst, kTestProtocol, payload({tag, tag, tag, tag})).has_value());
    }
    // A frame is a broadcast ARP request from us for `target`, field by field.
    static void expect_request_for(const Tins::EthernetII& eth, Ipv4Address target) {
        EXPECT_EQ(eth.dst_addr(), Tins::EthernetII::BROADCAST);
        EXPECT_EQ(eth.src_addr(), tins_mac(kOurMac));
        EXPECT_EQ(eth.payload_type(), 0x0806);
        const Tins::ARP& arp = eth.rfind_pdu<Tins::ARP>();
        EXPECT_EQ(arp.opcode(), Tins::ARP::REQUEST);
        EXPECT_EQ(arp.hw_addr_format(), 1);       // Ethernet
        EXPECT_EQ(arp.prot_addr_format(), 0x0800);  // IPv4
        EXPECT_EQ(arp.hw_addr_length(), 6);
        EXPECT_EQ(arp.prot_addr_length(), 4);
        EXPECT_EQ(arp.sender_hw_addr(), tins_mac(kOurMac));
        EXPECT_EQ(arp.sender_ip_addr(), tins_ip(kOurIp));
        EXPECT_EQ(arp.target_hw_addr(), Tins::HWAddress<6>("00:00:00:00:00:00"));
        EXPECT_EQ(arp.target_ip_addr(), tins_ip(target));
    }
    // A frame is an IPv4 datagram of protocol 253 to `mac`/`ip` carrying `tag`.
    static void expect_tagged(const Tins::EthernetII& eth, MacAddress mac, Ipv4Address ip, std::uint8_t tag) {
        EXPECT_EQ(eth.dst_addr(), tins_mac(mac));
        EXPECT_EQ(eth.src_addr(), tins_mac(kOurMac));
        EXPECT_EQ(eth.payload_type(), 0x0800);
        const Tins::IP& datagram = eth.rfind_pdu<Tins::IP>();
        EXPECT_EQ(datagram.dst_addr(), tins_ip(ip));
        EXPECT_EQ(datagram.protocol(), kTestProtocol);
        EXPECT_EQ(eth.rfind_pdu<Tins::RawPDU>().payload(), (std::vector<std::uint8_t>{tag, tag, tag, tag}));
    }
};

// ---- Answering -----------------------------------------------------------------------------

TEST_F(ArpTest, RequestForOurAddressGetsOneUnicastReply) {
    inject(at(0), arp_request(kPeerMac, kPeerIp, kOurIp));
    Tins::EthernetII eth = expect_one();
    EXPECT_EQ(eth.dst_addr(), tins_mac(kPeerMac));  // unicast to the asker, not broadcast
    EXPECT_EQ(eth.src_addr(), tins_mac(kOurMac));
    EXPECT_EQ(eth.payload_type(), 0x0806);
    const Tins::ARP& arp = eth.rfind_pdu<Tins::ARP>();
    EXPECT_EQ(arp.opcode(), Tins::ARP::REPLY);
    EXPECT_EQ(arp.hw_addr_format(), 1);
    EXPECT_EQ(arp.prot_addr_format(), 0x0800);
    EXPECT_EQ(arp.sender_hw_addr(), tins_mac(kOurMac));
    EXPECT_EQ(arp.sender_ip_addr(), tins_ip(kOurIp));
    EXPECT_EQ(arp.target_hw_addr(), tins_mac(kPeerMac));
    EXPECT_EQ(arp.target_ip_addr(), tins_ip(kPeerIp));
    EXPECT_EQ(stats().arp.rx_requests, 1u);
    EXPECT_EQ(stats().arp.tx_replies, 1u);
    expect_nothing(at(10'000));
}

TEST_F(ArpTest, RequestForAnotherAddressIsIgnored) {
    inject(at(0), arp_request(kPeerMac, kPeerIp, kOtherIp));
    expect_nothing(at(0));
    EXPECT_EQ(stats().arp.rx_not_for_us, 1u);
    EXPECT_EQ(stats().arp.tx_replies, 0u);
    // Not learned either (RFC 826: only a packet for us adds a new entry).
    EXPECT_FALSE(stack().arp().lookup(at(0), kPeerIp).has_value());
    EXPECT_EQ(stack().arp().cache_size(), 0u);
}

TEST_F(ArpTest, FrameToAnotherUnicastMacIsIgnored) {
    Tins::EthernetII eth = arp_request(kPeerMac, kPeerIp, kOurIp);
    eth.dst_addr(Tins::HWAddress<6>("02:00:00:00:00:99"));
    inject(at(0), eth);
    expect_nothing(at(0));
    EXPECT_EQ(stats().ethernet.rx_not_for_us, 1u);
    EXPECT_EQ(stats().arp.rx_requests, 0u);
}

TEST_F(ArpTest, UnicastRequestToOurMacIsAnswered) {
    // Linux re-validates its cache with unicast requests: they must be answered too.
    Tins::EthernetII eth = arp_request(kPeerMac, kPeerIp, kOurIp);
    eth.dst_addr(tins_mac(kOurMac));
    inject(at(0), eth);
    EXPECT_EQ(expect_one().rfind_pdu<Tins::ARP>().opcode(), Tins::ARP::REPLY);
}

TEST_F(ArpTest, SenderOfARequestForUsIsLearned) {
    learn_peer(at(0));
    EXPECT_EQ(stack().arp().lookup(at(1), kPeerIp), kPeerMac);
    // A datagram to it leaves at once, with no request of our own.
    send_tagged(at(1), kPeerIp, 7);
    expect_tagged(expect_one(), kPeerMac, kPeerIp, 7);
    EXPECT_EQ(stats().arp.tx_requests, 0u);
}

TEST_F(ArpTest, StartSendsOneGratuitousArp) {
    stack().start(at(0));
    Tins::EthernetII eth = expect_one();
    EXPECT_EQ(eth.dst_addr(), Tins::EthernetII::BROADCAST);
    const Tins::ARP& arp = eth.rfind_pdu<Tins::ARP>();
    EXPECT_EQ(arp.opcode(), Tins::ARP::REQUEST);
    EXPECT_EQ(arp.sender_hw_addr(), tins_mac(kOurMac));
    EXPECT_EQ(arp.sender_ip_addr(), tins_ip(kOurIp));
    EXPECT_EQ(arp.target_ip_addr(), tins_ip(kOurIp));
    EXPECT_EQ(arp.target_hw_addr(), Tins::HWAddress<6>("00:00:00:00:00:00"));
    expect_nothing(at(5000));  // announced once, not repeated
}

// ---- Resolution ----------------------------------------------------------------------------

TEST_F(ArpTest, ResolutionRetriesEverySecondThenGivesUp) {
    RecordingHandler handler;
    stack().ipv4().register_protocol(kTestProtocol, &handler);
    send_tagged(at(0), kPeerIp, 1);
    send_tagged(at(100), kPeerIp, 2);
    expect_request_for(expect_one(), kPeerIp);  // one request at t=0, none for the second datagram
    expect_nothing(at(999));
    poll(at(1000));
    expect_request_for(expect_one(), kPeerIp);
    expect_nothing(at(1999));
    poll(at(2000));
    expect_request_for(expect_one(), kPeerIp);
    expect_nothing(at(2999));
    EXPECT_TRUE(handler.unreachables.empty());
    EXPECT_EQ(stack().arp().pending_packets(), 2u);

    // Third try unanswered: give up at t=3s, no fourth request.
    expect_nothing(at(3000));
    EXPECT_EQ(stats().arp.tx_requests, 3u);
    EXPECT_EQ(stats().arp.resolve_failed, 1u);
    EXPECT_EQ(stats().arp.pending_dropped, 2u);
    EXPECT_EQ(stack().arp().pending_packets(), 0u);
    ASSERT_EQ(handler.unreachables.size(), 2u);
    for (std::uint8_t i = 0; i < 2; ++i) {
        EXPECT_EQ(handler.unreachables[i].destination, kPeerIp);
        EXPECT_EQ(handler.unreachables[i].next_hop, kPeerIp);
        EXPECT_EQ(handler.unreachables[i].when, at(3000));
        EXPECT_EQ(handler.unreachables[i].payload, (std::vector<std::uint8_t>(4, static_cast<std::uint8_t>(i + 1))));
    }
    expect_nothing(at(10'000));

    // A later datagram starts a fresh resolution.
    send_tagged(at(20'000), kPeerIp, 3);
    expect_request_for(expect_one(), kPeerIp);
}

TEST_F(ArpTest, TriesAndIntervalComeFromConfig) {
    config.arp_request_tries = 2;
    config.arp_retry_interval = Duration::millis(250);
    send_tagged(at(0), kPeerIp, 1);
    expect_request_for(expect_one(), kPeerIp);
    expect_nothing(at(249));
    poll(at(250));
    expect_request_for(expect_one(), kPeerIp);
    expect_nothing(at(500));
    EXPECT_EQ(stats().arp.resolve_failed, 1u);
}

TEST_F(ArpTest, ReplyFlushesQueueInOrderAndStopsRequests) {
    RecordingHandler handler;
    stack().ipv4().register_protocol(kTestProtocol, &handler);
    for (std::uint8_t tag = 1; tag <= 5; ++tag) send_tagged(at(tag), kPeerIp, tag);
    expect_request_for(expect_one(), kPeerIp);
    EXPECT_EQ(stack().arp().pending_packets(), 5u);

    inject(at(500), arp_reply(kPeerMac, kPeerIp));
    auto sent = take_sent();
    ASSERT_EQ(sent.size(), 5u);
    for (std::uint8_t i = 0; i < 5; ++i) expect_tagged(sent[i], kPeerMac, kPeerIp, static_cast<std::uint8_t>(i + 1));
    EXPECT_EQ(stack().arp().pending_packets(), 0u);

    // The retry timer is gone: no more requests, no give-up.
    expect_nothing(at(1000));
    expect_nothing(at(2000));
    expect_nothing(at(5000));
    EXPECT_EQ(stats().arp.tx_requests, 1u);
    EXPECT_EQ(stats().arp.resolve_failed, 0u);
    EXPECT_TRUE(handler.unreachables.empty());
    // And the answer is cached.
    send_tagged(at(6000), kPeerIp, 9);
    expect_tagged(expect_one(), kPeerMac, kPeerIp, 9);
}

TEST_F(ArpTest, RequestFromTheAddressBeingResolvedAlsoFlushes) {
    // RFC 826's merge: any ARP packet for us teaches us the sender, a request as well as a reply.
    send_tagged(at(0), kPeerIp, 1);
    expect_request_for(expect_one(), kPeerIp);
    inject(at(300), arp_request(kPeerMac, kPeerIp, kOurIp));
    auto sent = take_sent();
    ASSERT_EQ(sent.size(), 2u);  // our reply to its request, and the datagram (order not specified)
    int datagrams = 0;
    for (auto& eth : sent) {
        if (eth.payload_type() == 0x0800) {
            expect_tagged(eth, kPeerMac, kPeerIp, 1);
            ++datagrams;
        }
    }
    EXPECT_EQ(datagrams, 1);
    expect_nothing(at(5000));
}

TEST_F(ArpTest, ReplyFromSomeoneElseDoesNotFlush) {
    send_tagged(at(0), kPeerIp, 1);
    expect_request_for(expect_one(), kPeerIp);
    inject(at(100), arp_reply(kOtherMac, kOtherIp));
    expect_nothing(at(100));
    EXPECT_EQ(stack().arp().pending_packets(), 1u);
}

TEST_F(ArpTest, PerNeighbourQueueBoundDropsTheNewest) {
    config.arp_pending_per_neighbor = 3;
    for (std::uint8_t tag = 1; tag <= 5; ++tag) send_tagged(at(0), kPeerIp, tag);
    expect_request_for(expect_one(), kPeerIp);
    EXPECT_EQ(stack().arp().pending_packets(), 3u);
    EXPECT_EQ(stats().arp.pending_dropped, 2u);

    inject(at(10), arp_reply(kPeerMac, kPeerIp));
    auto sent = take_sent();
    ASSERT_EQ(sent.size(), 3u);
    for (std::uint8_t i = 0; i < 3; ++i) expect_tagged(sent[i], kPeerMac, kPeerIp, static_cast<std::uint8_t>(i + 1));
}

TEST_F(ArpTest, TotalQueueBoundAcrossNeighbours) {
    config.arp_pending_per_neighbor = 4;
    config.arp_pending_total = 4;
    for (std::uint8_t tag = 1; tag <= 3; ++tag) send_tagged(at(0), kPeerIp, tag);
    for (std::uint8_t tag = 11; tag <= 13; ++tag) send_tagged(at(0), kOtherIp, tag);
    auto requests = take_sent();
    ASSERT_EQ(requests.size(), 2u);  // one request per address
    expect_request_for(requests[0], kPeerIp);
    expect_request_for(requests[1], kOtherIp);
    EXPECT_EQ(stack().arp().pending_packets(), 4u);
    EXPECT_EQ(stats().arp.pending_dropped, 2u);

    inject(at(10), arp_reply(kOtherMac, kOtherIp));
    auto sent = take_sent();
    ASSERT_EQ(sent.size(), 1u);  // only tag 11 fitted in
    expect_tagged(sent[0], kOtherMac, kOtherIp, 11);
    // Room again: a new datagram to the peer queues.
    send_tagged(at(20), kPeerIp, 4);
    EXPECT_EQ(stack().arp().pending_packets(), 4u);
    inject(at(30), arp_reply(kPeerMac, kPeerIp));
    sent = take_sent();
    ASSERT_EQ(sent.size(), 4u);
    for (std::uint8_t i = 0; i < 4; ++i) expect_tagged(sent[i], kPeerMac, kPeerIp, static_cast<std::uint8_t>(i + 1));
}

TEST_F(ArpTest, PerNeighbourQueueIsBoundedInBytes) {
    config.arp_pending_per_neighbor = 1000;  // the count is not what stops it here
    config.arp_pending_bytes_per_neighbor = 3 * PacketPool::kSmallCapacity;
    for (std::uint8_t tag = 1; tag <= 10; ++tag) send_tagged(at(0), kPeerIp, tag);
    expect_request_for(expect_one(), kPeerIp);
    EXPECT_EQ(stack().arp().pending_packets(), 3u);
    EXPECT_EQ(stack().arp().pending_bytes(), 3 * PacketPool::kSmallCapacity);
    EXPECT_EQ(stats().arp.pending_dropped, 7u);
    EXPECT_EQ(stats().arp.pending_queue_full, 7u);

    inject(at(10), arp_reply(kPeerMac, kPeerIp));
    auto sent = take_sent();
    ASSERT_EQ(sent.size(), 3u);
    for (std::uint8_t i = 0; i < 3; ++i) expect_tagged(sent[i], kPeerMac, kPeerIp, static_cast<std::uint8_t>(i + 1));
    EXPECT_EQ(stack().arp().pending_bytes(), 0u);
}

TEST_F(ArpTest, TotalQueueIsBoundedInBytesAcrossNeighbours) {
    config.arp_pending_total = 1000;
    config.arp_pending_bytes_total = 4 * PacketPool::kSmallCapacity;
    for (std::uint8_t tag = 1; tag <= 3; ++tag) send_tagged(at(0), kPeerIp, tag);
    for (std::uint8_t tag = 11; tag <= 13; ++tag) send_tagged(at(0), kOtherIp, tag);
    EXPECT_EQ(take_sent().size(), 2u);  // one request per address
    EXPECT_EQ(stack().arp().pending_packets(), 4u);
    EXPECT_EQ(stack().arp().pending_bytes(), 4 * PacketPool::kSmallCapacity);
    EXPECT_EQ(stats().arp.pending_queue_full, 2u);
    // Nobody answers: after the last try everything queued is dropped, and the bytes are free.
    for (int t = 1'000; t <= 3'000; t += 1'000) poll(at(t));
    (void)take_sent();
    EXPECT_EQ(stack().arp().pending_packets(), 0u);
    EXPECT_EQ(stack().arp().pending_bytes(), 0u);
    EXPECT_EQ(stats().arp.pending_dropped, 6u);
}

// A flood with the default bounds: 64 KiB buffers (what segmentation offload hands down) to 100
// silent neighbours. The count bounds (16 per neighbour, 256 in all) would let 256 of them wait,
// 16 MiB; the byte bounds keep 3 per neighbour (Linux's unres_qlen_bytes) and 1 MiB in all.
TEST_F(ArpTest, FloodOfLargeDatagramsStaysWithinTheDefaultByteBounds) {
    const StackConfig defaults;
    std::size_t offered = 0;
    for (std::uint8_t host = 10; host < 110; ++host) {
        const Ipv4Address dst{10, 0, 0, host};
        for (int i = 0; i < 10; ++i, ++offered) {
            Packet datagram = stack().pool().allocate(60'000);
            ASSERT_GE(datagram.capacity(), PacketPool::kLargeCapacity);
            Tins::IP header(tins_ip(dst), tins_ip(kOurIp));
            header.protocol(kTestProtocol);
            auto bytes = (header / raw(pattern(1000))).serialize();
            auto out = datagram.append(bytes.size());
            std::copy(bytes.begin(), bytes.end(), out.begin());
            stack().arp().send_ipv4(at(0), dst, std::move(datagram));
            ASSERT_LE(stack().arp().pending_bytes(), defaults.arp_pending_bytes_total);
        }
    }
    const std::size_t kept = defaults.arp_pending_bytes_total / PacketPool::kLargeCapacity;  // 15
    EXPECT_EQ(stack().arp().pending_packets(), kept);
    EXPECT_LE(stack().arp().pending_bytes(), defaults.arp_pending_bytes_total);
    EXPECT_EQ(stats().arp.pending_queue_full, offered - kept);
    EXPECT_EQ(stats().arp.pending_dropped, offered - kept);
    // The stack still resolves and sends to a neighbour that answers.
    (void)take_sent();
    send_tagged(at(100), kPeerIp, 7);
    expect_request_for(expect_one(), kPeerIp);
    inject(at(110), arp_reply(kPeerMac, kPeerIp));
    expect_tagged(expect_one(), kPeerMac, kPeerIp, 7);
}

// ---- The cache -----------------------------------------------------------------------------

TEST_F(ArpTest, LearnedEntryIsUsedUntilItsLifetimeThenAskedAgain) {
    config.arp_entry_lifetime = Duration::seconds(60);
    learn_peer(at(0));
    send_tagged(at(59'999), kPeerIp, 1);
    expect_tagged(expect_one(), kPeerMac, kPeerIp, 1);
    // Using an entry does not extend it (only the wire does): at 60 s it is gone.
    send_tagged(at(60'000), kPeerIp, 2);
    expect_request_for(expect_one(), kPeerIp);
    inject(at(60'100), arp_reply(kPeerMac, kPeerIp));
    expect_tagged(expect_one(), kPeerMac, kPeerIp, 2);
}

TEST_F(ArpTest, WireRefreshesTheLifetime) {
    config.arp_entry_lifetime = Duration::seconds(60);
    learn_peer(at(0));
    learn_peer(at(50'000));  // the peer asks again: our entry is refreshed
    send_tagged(at(109'999), kPeerIp, 1);
    expect_tagged(expect_one(), kPeerMac, kPeerIp, 1);
}

TEST_F(ArpTest, MergeRuleUpdatesAKnownSenderEvenWhenNotForUs) {
    learn_peer(at(0));
    // The peer changed its NIC and asks for someone else: our entry follows (RFC 826 merge).
    inject(at(10), arp_request(kOtherMac, kPeerIp, kThirdIp));
    expect_nothing(at(10));
    EXPECT_EQ(stack().arp().lookup(at(20), kPeerIp), kOtherMac);
}

TEST_F(ArpTest, LruBoundEvictsLeastRecentlyUsed) {
    config.arp_cache_capacity = 2;
    learn(at(0), kPeerMac, kPeerIp);
    learn(at(1), kOtherMac, kOtherIp);
    EXPECT_EQ(stack().arp().cache_size(), 2u);
    learn(at(2), kThirdMac, kThirdIp);  // the peer, learned first and unused since, goes
    EXPECT_EQ(stack().arp().cache_size(), 2u);
    EXPECT_FALSE(stack().arp().lookup(at(3), kPeerIp).has_value());
    EXPECT_EQ(stack().arp().lookup(at(3), kOtherIp), kOtherMac);
    EXPECT_EQ(stack().arp().lookup(at(3), kThirdIp), kThirdMac);
}

TEST_F(ArpTest, LruBoundCountsUseNotJustAge) {
    config.arp_cache_capacity = 2;
    learn(at(0), kPeerMac, kPeerIp);
    learn(at(1), kOtherMac, kOtherIp);
    send_tagged(at(2), kPeerIp, 1);  // using the peer's entry makes it the most recent
    expect_tagged(expect_one(), kPeerMac, kPeerIp, 1);
    learn(at(3), kThirdMac, kThirdIp);
    EXPECT_EQ(stack().arp().cache_size(), 2u);
    EXPECT_FALSE(stack().arp().lookup(at(4), kOtherIp).has_value());
    EXPECT_EQ(stack().arp().lookup(at(4), kPeerIp), kPeerMac);
    EXPECT_EQ(stack().arp().lookup(at(4), kThirdIp), kThirdMac);
}

TEST_F(ArpTest, StaticEntryNeverAgesAndIsNotReplacedByTheWire) {
    config.arp_entry_lifetime = Duration::seconds(60);
    stack().arp().add_static(kPeerIp, kPeerMac);
    // Someone claims the peer's address with another MAC, in a request for us and in a reply.
    inject(at(10), arp_request(kOtherMac, kPeerIp, kOurIp));
    take_sent();
    inject(at(20), arp_reply(kOtherMac, kPeerIp));
    EXPECT_EQ(stack().arp().lookup(at(30), kPeerIp), kPeerMac);
    // Long after any lifetime, still there, and used without a request.
    send_tagged(at(1'000'000), kPeerIp, 1);
    expect_tagged(expect_one(), kPeerMac, kPeerIp, 1);
    EXPECT_EQ(stats().arp.tx_requests, 0u);
}

TEST_F(ArpTest, StaticEntryIsNotEvicted) {
    config.arp_cache_capacity = 2;
    stack().arp().add_static(kPeerIp, kPeerMac);
    learn(at(1), kOtherMac, kOtherIp);
    learn(at(2), kThirdMac, kThirdIp);  // the learned entry goes, not the static one
    EXPECT_EQ(stack().arp().cache_size(), 2u);
    EXPECT_EQ(stack().arp().lookup(at(3), kPeerIp), kPeerMac);
    EXPECT_FALSE(stack().arp().lookup(at(3), kOtherIp).has_value());
    EXPECT_EQ(stack().arp().lookup(at(3), kThirdIp), kThirdMac);
}

TEST_F(ArpTest, RuntFrameIsCounted) {
    inject(at(0), Frame(13, 0xff));  // shorter than an Ethernet header
    expect_nothing(at(0));
    EXPECT_EQ(stats().ethernet.rx_runt, 1u);
}

TEST_F(ArpTest, UnknownEtherTypeIsCounted) {
    Frame frame = arp_request(kPeerMac, kPeerIp, kOurIp).serialize();
    frame[12] = 0x86;  // IPv6: not spoken here
    frame[13] = 0xdd;
    inject(at(0), frame);
    expect_nothing(at(0));
    EXPECT_EQ(stats().ethernet.rx_unknown_type, 1u);
    EXPECT_EQ(stats().arp.rx_requests, 0u);
}

TEST_F(ArpTest, MalformedArpIsCounted) {
    Tins::EthernetII eth = arp_request(kPeerMac, kPeerIp, kOurIp);
    Frame frame = eth.serialize();
    frame.resize(kEth + 20);  // an ARP packet cut short (28 bytes needed)
    inject(at(0), frame);
    expect_nothing(at(0));
    EXPECT_EQ(stats().arp.rx_malformed, 1u);
}

}  // namespace
}  // namespace tcpip::layers_test
