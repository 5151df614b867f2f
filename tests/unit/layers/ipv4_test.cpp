// IPv4 layer tests (RFC 791; RFC 1122 section 3.2.1; RFC 815 and RFC 1858 for reassembly; RFC 6864
// for identification): validation, options, reassembly in every order and its bounds, the
// reassembly timeout, fragmentation on send, routing and the per-destination IP ID.
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <algorithm>
#include <random>

#include "tests/unit/layers/harness.h"

namespace tcpip::layers_test {
namespace {

constexpr Ipv4Address kOtherIp{10, 0, 0, 3};
constexpr MacAddress kOtherMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x03}};
constexpr Ipv4Address kGatewayIp{10, 0, 0, 254};
constexpr MacAddress kGatewayMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0xfe}};
constexpr Ipv4Address kRemoteIp{192, 168, 1, 1};

class Ipv4Test : public LayerTest {
protected:
    Ipv4Test() { peer_known = true; }

    // An echo request from the peer to us, as a frame.
    static Frame echo_frame(std::uint16_t id, std::uint16_t seq, const std::vector<std::uint8_t>& data) {
        return (eth_to_us() / ip_to_us() / echo_request(id, seq) / raw(data)).serialize();
    }
    // The same echo request, as fragments of `chunk` bytes (IP identification `ident`).
    static std::vector<Frame> echo_fragments(std::uint16_t id, std::uint16_t seq, const std::vector<std::uint8_t>& data,
                                             std::size_t chunk, std::uint16_t ident = 0x4242) {
        Tins::IP header = ip_to_us(1);
        header.id(ident);
        return fragment(header, icmp_message(echo_request(id, seq), data), chunk);
    }
    // A frame is dropped silently: no answer, now or later.
    void expect_dropped(const Frame& frame) {
        inject(at(10), frame);
        expect_nothing(at(10));
        expect_nothing(at(40'000));
        EXPECT_EQ(stats().icmp.rx_messages, 0u);
    }
};

// ---- Validation ----------------------------------------------------------------------------

TEST_F(Ipv4Test, WellFormedEchoIsAnswered) {
    // The control for the validation tests below: the unmodified frame gets its reply.
    inject(at(10), echo_frame(7, 1, pattern(32)));
    expect_echo_reply(take_sent_raw(), 7, 1, pattern(32));
    EXPECT_EQ(stats().ipv4.rx_delivered, 1u);
}

TEST_F(Ipv4Test, BadVersionIsDropped) {
    Frame frame = echo_frame(7, 1, pattern(32));
    frame[kEth] = 0x65;  // version 6, IHL 5
    fix_ip_checksum(frame);
    expect_dropped(frame);
    EXPECT_EQ(stats().ipv4.rx_bad_version, 1u);
}

TEST_F(Ipv4Test, BadHeaderLengthIsDropped) {
    Frame frame = echo_frame(7, 1, pattern(32));
    frame[kEth] = 0x44;  // IHL 4: shorter than the fixed header
    fix_ip_checksum(frame);
    expect_dropped(frame);
    EXPECT_EQ(stats().ipv4.rx_bad_header_length, 1u);
}

TEST_F(Ipv4Test, HeaderLengthPastTheFrameIsDropped) {
    Frame frame = (eth_to_us() / ip_to_us(99)).serialize();  // a 20-byte datagram, no payload
    frame.resize(kEth + 20);
    frame[kEth] = 0x46;  // IHL 6: claims 24 bytes of header in 20
    expect_dropped(frame);
    EXPECT_EQ(stats().ipv4.rx_bad_header_length, 1u);
}

TEST_F(Ipv4Test, BadHeaderChecksumIsDropped) {
    Frame frame = echo_frame(7, 1, pattern(32));
    frame[kEth + 8] ^= 0x01;  // one bit of the TTL, checksum left as it was
    expect_dropped(frame);
    EXPECT_EQ(stats().ipv4.rx_bad_checksum, 1u);
}

TEST_F(Ipv4Test, TotalLengthLargerThanFrameIsDropped) {
    Frame frame = echo_frame(7, 1, pattern(32));
    const std::size_t total = frame.size() - kEth + 1;  // one byte more than arrived
    frame[kEth + 2] = static_cast<std::uint8_t>(total >> 8);
    frame[kEth + 3] = static_cast<std::uint8_t>(total);
    fix_ip_checksum(frame);
    expect_dropped(frame);
    EXPECT_EQ(stats().ipv4.rx_bad_total_length, 1u);
}

TEST_F(Ipv4Test, TotalLengthShorterThanHeaderIsDropped) {
    Frame frame = echo_frame(7, 1, pattern(32));
    frame[kEth + 2] = 0;
    frame[kEth + 3] = 19;
    fix_ip_checksum(frame);
    expect_dropped(frame);
    EXPECT_EQ(stats().ipv4.rx_bad_total_length, 1u);
}

TEST_F(Ipv4Test, TruncatedHeaderIsDropped) {
    Frame frame = echo_frame(7, 1, pattern(32));
    frame.resize(kEth + 19);
    expect_dropped(frame);
    EXPECT_EQ(stats().ipv4.rx_truncated, 1u);
}

TEST_F(Ipv4Test, DatagramForAnotherAddressIsDropped) {
    Tins::IP ip = ip_to_us();
    ip.dst_addr(str(kOtherIp));
    expect_dropped((eth_to_us() / ip / echo_request(7, 1) / raw(pattern(32))).serialize());
    EXPECT_EQ(stats().ipv4.rx_not_for_us, 1u);
}

TEST_F(Ipv4Test, BroadcastSourceIsDropped) {
    Tins::IP ip = ip_to_us();
    ip.src_addr("255.255.255.255");
    expect_dropped((eth_to_us() / ip / echo_request(7, 1) / raw(pattern(32))).serialize());
    EXPECT_EQ(stats().ipv4.rx_bad_source, 1u);
}

TEST_F(Ipv4Test, SubnetBroadcastSourceIsDropped) {
    // RFC 1122 3.2.1.3: {<Network-number>, -1} is never a source either. Answering it would send an
    // echo reply to every host on the subnet (a smurf amplifier); Linux drops it as a martian.
    Tins::IP ip = ip_to_us();
    ip.src_addr("10.0.0.255");
    expect_dropped((eth_to_us() / ip / echo_request(7, 1) / raw(pattern(32))).serialize());
    EXPECT_EQ(stats().ipv4.rx_bad_source, 1u);
}

TEST_F(Ipv4Test, MulticastSourceIsDropped) {
    Tins::IP ip = ip_to_us();
    ip.src_addr("224.0.0.1");
    expect_dropped((eth_to_us() / ip / echo_request(7, 1) / raw(pattern(32))).serialize());
    EXPECT_EQ(stats().ipv4.rx_bad_source, 1u);
}

TEST_F(Ipv4Test, EthernetPaddingAfterAShortDatagramIsIgnored) {
    Frame frame = echo_frame(9, 3, {});  // 20 + 8 = 28 bytes of IPv4 in a frame of 42
    ASSERT_EQ(frame.size(), 60u);        // libtins pads to the Ethernet minimum, as a NIC does
    std::fill(frame.begin() + kEth + 28, frame.end(), 0xaa);  // non-zero padding: it must not count
    inject(at(10), frame);
    Frame reply = expect_one_raw();
    expect_echo_reply({reply}, 9, 3, {});
    EXPECT_EQ(ip_bytes(reply).size(), 28u);
}

TEST_F(Ipv4Test, OptionsAreSkippedByLength) {
    Frame frame = echo_frame(7, 2, pattern(40));
    // Insert a 4-byte option (NOP, NOP, NOP, end of list) after the fixed header; IHL 6.
    const std::uint8_t option[] = {0x01, 0x01, 0x01, 0x00};
    frame.insert(frame.begin() + kEth + 20, std::begin(option), std::end(option));
    frame[kEth] = 0x46;
    const std::size_t total = frame.size() - kEth;
    frame[kEth + 2] = static_cast<std::uint8_t>(total >> 8);
    frame[kEth + 3] = static_cast<std::uint8_t>(total);
    fix_ip_checksum(frame);
    inject(at(10), frame);
    expect_echo_reply(take_sent_raw(), 7, 2, pattern(40));  // the reply carries no options (IHL 5)
}

// ---- Reassembly ----------------------------------------------------------------------------

// The echo request used by the reassembly tests: 4000 data bytes in fragments of 808 (6 of them).
constexpr std::size_t kReasmData = 4000;
constexpr std::size_t kReasmChunk = 808;

TEST_F(Ipv4Test, ReassemblesFragmentsInOrder) {
    auto frames = echo_fragments(1, 1, pattern(kReasmData), kReasmChunk);
    ASSERT_EQ(frames.size(), 5u);
    inject_all(at(10), frames);
    expect_echo_reply(take_sent_raw(), 1, 1, pattern(kReasmData));
    EXPECT_EQ(stats().ipv4.rx_fragments, 5u);
    EXPECT_EQ(stats().ipv4.reasm_ok, 1u);
    EXPECT_EQ(stack().ipv4().reassembly_datagrams(), 0u);
    EXPECT_EQ(stack().ipv4().reassembly_bytes(), 0u);
}

TEST_F(Ipv4Test, ReassemblesFragmentsInReverseOrder) {
    auto frames = echo_fragments(1, 2, pattern(kReasmData), kReasmChunk);
    std::reverse(frames.begin(), frames.end());
    inject_all(at(10), frames);
    expect_echo_reply(take_sent_raw(), 1, 2, pattern(kReasmData));
    EXPECT_EQ(stats().ipv4.reasm_ok, 1u);
}

TEST_F(Ipv4Test, ReassemblesFragmentsInRandomOrder) {
    std::mt19937 rng(20240601);
    for (std::uint16_t round = 0; round < 20; ++round) {
        auto data = pattern(kReasmData, static_cast<std::uint8_t>(round));
        auto frames = echo_fragments(1, round, data, 512, static_cast<std::uint16_t>(0x100 + round));
        std::shuffle(frames.begin(), frames.end(), rng);
        inject_all(at(10 + round), frames);
        expect_echo_reply(take_sent_raw(), 1, round, data);
    }
    EXPECT_EQ(stats().ipv4.reasm_ok, 20u);
    EXPECT_EQ(stack().ipv4().reassembly_datagrams(), 0u);
}

TEST_F(Ipv4Test, DuplicateFragmentsAreIgnored) {
    std::mt19937 rng(7);
    for (std::uint16_t round = 0; round < 10; ++round) {
        auto frames = echo_fragments(2, round, pattern(kReasmData), kReasmChunk, static_cast<std::uint16_t>(0x200 + round));
        std::shuffle(frames.begin(), frames.end(), rng);
        // Every fragment but the one that completes the datagram arrives twice, shuffled.
        std::vector<Frame> sequence(frames.begin(), frames.end() - 1);
        sequence.insert(sequence.end(), frames.begin(), frames.end() - 1);
        std::shuffle(sequence.begin(), sequence.end(), rng);
        sequence.push_back(frames.back());
        inject_all(at(10 + round), sequence);
        expect_echo_reply(take_sent_raw(), 2, round, pattern(kReasmData));  // one reply, not two
    }
    EXPECT_EQ(stats().ipv4.reasm_ok, 10u);
    EXPECT_EQ(stats().ipv4.reasm_overlap, 0u);
    EXPECT_EQ(stack().ipv4().reassembly_datagrams(), 0u);
}

TEST_F(Ipv4Test, OverlappingFragmentsDropTheDatagram) {
    // A teardrop-style overlap (RFC 1858): the second fragment starts 8 bytes before the first ends.
    auto message = icmp_message(echo_request(3, 1), pattern(2000));
    Tins::IP header = ip_to_us(1);
    header.id(0x77);
    auto first = fragment(header, std::vector<std::uint8_t>(message.begin(), message.begin() + 1000), 1000);
    header.fragment_offset(992 / 8);
    header.flags(Tins::IP::Flags(0));
    Frame overlapping = (eth_to_us() / header / Tins::RawPDU(message.begin() + 992, message.end())).serialize();
    first[0][kEth + 6] |= 0x20;  // the first piece has MF (fragment() made it the last of its own split)
    fix_ip_checksum(first[0]);
    inject(at(10), first[0]);
    EXPECT_EQ(stack().ipv4().reassembly_datagrams(), 1u);
    inject(at(11), overlapping);
    expect_nothing(at(11));
    EXPECT_EQ(stats().ipv4.reasm_overlap, 1u);
    EXPECT_EQ(stats().ipv4.reasm_ok, 0u);
    EXPECT_EQ(stack().ipv4().reassembly_datagrams(), 0u);
    EXPECT_EQ(stack().ipv4().reassembly_bytes(), 0u);
    expect_nothing(at(40'000));  // dropped, so no time exceeded either
}

TEST_F(Ipv4Test, FragmentBeyondTheLastFragmentsEndIsNotReassembled) {
    // [0,8) MF, [24,32) MF, then a "last" fragment [16,24): it says the datagram is 24 bytes long,
    // and the bytes held add up to 24, but [8,16) is missing and [24,32) lies past the end. The
    // fragments contradict each other: nothing may be delivered.
    auto message = icmp_message(echo_request(3, 2), pattern(24));  // 32 bytes
    Tins::IP header = ip_to_us(1);
    header.id(0x99);
    auto piece = [&](std::size_t offset, bool mf) {
        Tins::IP ip = header;
        ip.fragment_offset(static_cast<std::uint16_t>(offset / 8));
        ip.flags(mf ? Tins::IP::MORE_FRAGMENTS : Tins::IP::Flags(0));
        return (eth_to_us() / ip / Tins::RawPDU(message.begin() + static_cast<std::ptrdiff_t>(offset),
                                                message.begin() + static_cast<std::ptrdiff_t>(offset + 8)))
            .serialize();
    };
    inject_all(at(10), {piece(0, true), piece(24, true), piece(16, false)});
    expect_nothing(at(10));
    EXPECT_EQ(stats().ipv4.reasm_ok, 0u);
    EXPECT_EQ(stats().icmp.rx_messages, 0u);
    EXPECT_EQ(stack().ipv4().reassembly_datagrams(), 0u);
}

TEST_F(Ipv4Test, MissingFragmentTimesOutWithTimeExceeded) {
    auto frames = echo_fragments(4, 1, pattern(kReasmData), 1480, 0x5151);
    ASSERT_EQ(frames.size(), 3u);
    inject_all(at(10), {frames[0], frames[2]});
    expect_nothing(at(10));
    EXPECT_EQ(stack().ipv4().reassembly_datagrams(), 1u);
    EXPECT_GT(stack().ipv4().reassembly_bytes(), 0u);
    expect_nothing(at(10 + 29'999));
    EXPECT_EQ(stack().ipv4().reassembly_datagrams(), 1u);

    poll(at(10 + 30'000));  // ip_reassembly_timeout after the first fragment came
    EXPECT_EQ(stack().ipv4().reassembly_datagrams(), 0u);
    EXPECT_EQ(stack().ipv4().reassembly_bytes(), 0u);
    EXPECT_EQ(stats().ipv4.reasm_timeout, 1u);
    // RFC 1122 3.3.2 / RFC 792: time exceeded, code 1, quoting the first fragment.
    expect_icmp_error(expect_one_raw(), 11, 1, ip_bytes(frames[0]));
    expect_nothing(at(100'000));
}

TEST_F(Ipv4Test, MissingFirstFragmentTimesOutSilently) {
    auto frames = echo_fragments(4, 2, pattern(kReasmData), 1480, 0x5252);
    inject_all(at(10), {frames[1], frames[2]});
    expect_nothing(at(10 + 29'999));
    poll(at(10 + 30'000));
    EXPECT_EQ(stats().ipv4.reasm_timeout, 1u);
    EXPECT_EQ(stack().ipv4().reassembly_datagrams(), 0u);
    expect_nothing(at(10 + 30'000));  // no first fragment: nothing to quote, no error (RFC 792)
}

TEST_F(Ipv4Test, TimeoutComesFromConfig) {
    config.ip_reassembly_timeout = Duration::seconds(5);
    auto frames = echo_fragments(4, 3, pattern(kReasmData), 1480, 0x5353);
    inject(at(10), frames[0]);
    expect_nothing(at(5009));
    poll(at(5010));
    expect_icmp_error(expect_one_raw(), 11, 1, ip_bytes(frames[0]));
}

TEST_F(Ipv4Test, ReassemblyMemoryIsBounded) {
    const std::size_t bound = 5 * PacketPool::kSmallCapacity;  // room for five fragment buffers
    config.ip_reassembly_memory = bound;
    for (std::uint16_t i = 0; i < 40; ++i) {
        auto frames = echo_fragments(5, i, pattern(kReasmData), 1480, static_cast<std::uint16_t>(0x1000 + i));
        inject(at(10), frames[0]);  // first fragments only: every datagram stays partial
        EXPECT_LE(stack().ipv4().reassembly_bytes(), bound) << "after datagram " << i;
    }
    EXPECT_GT(stack().ipv4().reassembly_bytes(), 0u);
    EXPECT_LT(stack().ipv4().reassembly_datagrams(), 40u);
    EXPECT_GE(stats().ipv4.reasm_fails, 35u);  // the oldest made way
    // A whole datagram still gets through.
    inject_all(at(20), echo_fragments(6, 1, pattern(kReasmData), 1480, 0x2000));
    expect_echo_reply(take_sent_raw(), 6, 1, pattern(kReasmData));
    EXPECT_LE(stack().ipv4().reassembly_bytes(), bound);
}

// A flood with the default bounds: 100 datagrams of 64 KiB, every fragment but the last, so none
// ever completes. Each holds 44 buffers (88 KiB); 64 datagrams would hold 5.5 MiB, but the bytes
// stay within ip_reassembly_memory (4 MiB, Linux's ipfrag_high_thresh) by dropping the oldest.
TEST_F(Ipv4Test, ReassemblyFloodStaysWithinTheDefaultMemory) {
    const StackConfig defaults;
    const auto data = pattern(65'000);
    for (std::uint16_t i = 0; i < 100; ++i) {
        auto frames = echo_fragments(7, i, data, 1480, static_cast<std::uint16_t>(0x7000 + i));
        frames.pop_back();  // never the last fragment
        for (auto& frame : frames) queue(frame);
        poll(at(10 + i));
        ASSERT_LE(stack().ipv4().reassembly_bytes(), defaults.ip_reassembly_memory) << "after datagram " << i;
        ASSERT_LE(stack().ipv4().reassembly_datagrams(), defaults.ip_reassembly_max_datagrams);
    }
    EXPECT_GT(stack().ipv4().reassembly_bytes(), defaults.ip_reassembly_memory / 2);
    EXPECT_LT(stack().ipv4().reassembly_datagrams(), 64u);  // the byte bound, not the count, stopped it
    EXPECT_GE(stats().ipv4.reasm_fails, 50u);               // the oldest made way, each counted
    // A whole datagram still gets through, and the time-out empties the rest.
    inject_all(at(200), echo_fragments(8, 1, pattern(kReasmData), 1480, 0x2000));
    expect_echo_reply(take_sent_raw(), 8, 1, pattern(kReasmData));
    poll(at(200 + 30'000));
    (void)take_sent_raw();
    EXPECT_EQ(stack().ipv4().reassembly_bytes(), 0u);
    EXPECT_EQ(stack().ipv4().reassembly_datagrams(), 0u);
}

TEST_F(Ipv4Test, ReassemblyDatagramCountIsBounded) {
    config.ip_reassembly_max_datagrams = 4;
    for (std::uint16_t i = 0; i < 10; ++i) {
        inject(at(10), echo_fragments(5, i, pattern(kReasmData), 1480, static_cast<std::uint16_t>(0x3000 + i))[0]);
        EXPECT_LE(stack().ipv4().reassembly_datagrams(), 4u);
    }
    EXPECT_EQ(stack().ipv4().reassembly_datagrams(), 4u);
    EXPECT_EQ(stats().ipv4.reasm_fails, 6u);
}

TEST_F(Ipv4Test, FragmentPastTheLargestDatagramIsDropped) {
    // The "ping of death": offset + length beyond 65,535 bytes.
    Tins::IP header = ip_to_us(1);
    header.id(0x6666);
    header.fragment_offset(static_cast<std::uint16_t>(65'528 / 8));
    expect_dropped((eth_to_us() / header / raw(pattern(100))).serialize());
    EXPECT_EQ(stats().ipv4.reasm_fails, 1u);
    EXPECT_EQ(stack().ipv4().reassembly_datagrams(), 0u);
}

// ---- Sending: fragmentation, routes, identification ---------------------------------------

TEST_F(Ipv4Test, LargePayloadIsFragmentedForTheMtu) {
    auto data = pattern(4000);
    ASSERT_TRUE(stack().ipv4().send(at(10), kPeerIp, kTestProtocol, payload(data)).has_value());
    auto sent = take_sent_raw();
    ASSERT_EQ(sent.size(), 3u);
    const std::size_t lengths[] = {1480, 1480, 1040};
    const std::size_t offsets[] = {0, 1480, 2960};
    std::uint16_t ident = 0;
    for (std::size_t i = 0; i < 3; ++i) {
        expect_checksums_valid(sent[i]);
        Tins::EthernetII eth(sent[i].data(), static_cast<std::uint32_t>(sent[i].size()));
        EXPECT_EQ(eth.dst_addr(), tins_mac(kPeerMac));
        const Tins::IP& ip = eth.rfind_pdu<Tins::IP>();
        if (i == 0) ident = ip.id();
        EXPECT_EQ(ip.id(), ident) << "fragment " << i;
        EXPECT_EQ(ip.tot_len(), 20 + lengths[i]) << "fragment " << i;
        EXPECT_EQ(std::size_t{ip.fragment_offset()} * 8, offsets[i]) << "fragment " << i;
        EXPECT_EQ((ip.flags() & Tins::IP::MORE_FRAGMENTS) != 0, i < 2) << "fragment " << i;
        EXPECT_EQ((ip.flags() & Tins::IP::DONT_FRAGMENT) != 0, false);
        EXPECT_EQ(ip.protocol(), kTestProtocol);
        EXPECT_EQ(ip.src_addr(), tins_ip(kOurIp));
        EXPECT_EQ(ip.dst_addr(), tins_ip(kPeerIp));
    }
    EXPECT_EQ(reassemble(sent), data);
    EXPECT_EQ(stats().ipv4.frag_created, 3u);
}

TEST_F(Ipv4Test, DontFragmentAndTooBigIsRefused) {
    Ipv4SendOptions options;
    options.dont_fragment = true;
    auto result = stack().ipv4().send(at(10), kPeerIp, kTestProtocol, payload(pattern(1481)), options);
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error(), Ipv4SendError::MessageTooBig);
    expect_nothing(at(10));
    // At the MTU it goes, with DF set.
    ASSERT_TRUE(stack().ipv4().send(at(11), kPeerIp, kTestProtocol, payload(pattern(1480)), options).has_value());
    Tins::EthernetII eth = expect_one();
    EXPECT_NE(eth.rfind_pdu<Tins::IP>().flags() & Tins::IP::DONT_FRAGMENT, 0);
    EXPECT_EQ(eth.rfind_pdu<Tins::IP>().tot_len(), 1500);
}

TEST_F(Ipv4Test, LargerThanAnyDatagramIsRefused) {
    auto result = stack().ipv4().send(at(10), kPeerIp, kTestProtocol, payload(pattern(65'516)));
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error(), Ipv4SendError::MessageTooBig);
    expect_nothing(at(10));
}

TEST_F(Ipv4Test, NoRouteWithoutGateway) {
    auto result = stack().ipv4().send(at(10), kRemoteIp, kTestProtocol, payload(pattern(10)));
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error(), Ipv4SendError::NoRoute);
    EXPECT_EQ(stats().ipv4.tx_no_route, 1u);
    expect_nothing(at(10));
}

class Ipv4GatewayTest : public Ipv4Test {
protected:
    Ipv4GatewayTest() { gateway = kGatewayIp; }
};

TEST_F(Ipv4GatewayTest, OffLinkDestinationGoesToTheGatewayMac) {
    ASSERT_TRUE(stack().ipv4().send(at(10), kRemoteIp, kTestProtocol, payload(pattern(10))).has_value());
    // ARP asks for the gateway, not for the destination.
    Tins::EthernetII request = expect_one();
    EXPECT_EQ(request.rfind_pdu<Tins::ARP>().target_ip_addr(), tins_ip(kGatewayIp));
    inject(at(20), arp_reply(kGatewayMac, kGatewayIp));
    Tins::EthernetII eth = expect_one();
    EXPECT_EQ(eth.dst_addr(), tins_mac(kGatewayMac));
    EXPECT_EQ(eth.rfind_pdu<Tins::IP>().dst_addr(), tins_ip(kRemoteIp));  // the IP destination is unchanged
    EXPECT_EQ(eth.rfind_pdu<Tins::RawPDU>().payload(), pattern(10));
}

TEST_F(Ipv4GatewayTest, OnLinkDestinationStillGoesDirect) {
    ASSERT_TRUE(stack().ipv4().send(at(10), kPeerIp, kTestProtocol, payload(pattern(10))).has_value());
    EXPECT_EQ(expect_one().dst_addr(), tins_mac(kPeerMac));
}

TEST_F(Ipv4Test, IdentificationIsPerDestination) {
    learn(at(1), kOtherMac, kOtherIp);
    // To A, to B, to A, to B, to A: with one global counter A would see every other number.
    std::vector<std::uint16_t> to_a, to_b;
    for (int i = 0; i < 6; ++i) {
        const bool a = i % 2 == 0;
        ASSERT_TRUE(stack().ipv4().send(at(10 + i), a ? kPeerIp : kOtherIp, kTestProtocol, payload(pattern(8))).has_value());
        Tins::EthernetII eth = expect_one();
        (a ? to_a : to_b).push_back(eth.rfind_pdu<Tins::IP>().id());
    }
    for (std::size_t i = 1; i < 3; ++i) {
        EXPECT_EQ(to_a[i], static_cast<std::uint16_t>(to_a[0] + i)) << "IDs to A are consecutive";
        EXPECT_EQ(to_b[i], static_cast<std::uint16_t>(to_b[0] + i)) << "IDs to B are consecutive";
    }
    EXPECT_NE(to_b[0], static_cast<std::uint16_t>(to_a[0] + 1)) << "B's counter is not A's";
}

}  // namespace
}  // namespace tcpip::layers_test
