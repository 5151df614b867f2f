// ARP for Ethernet/IPv4 (RFC 826): libtins builds and we parse, we emit and libtins parses, byte
// fixtures both ways, every truncation, unsupported formats, and a seeded round trip.
#include "stack/arp/header.h"

#include <gtest/gtest.h>
#include <tins/tins.h>

#include <random>
#include <sstream>
#include <vector>

#include "stack/ethernet/header.h"
#include "tests/unit/wire/link_ip_fixtures.h"

namespace tcpip {
namespace {

using namespace link_ip_test;

const MacAddress kMacA({0x02, 0x00, 0x00, 0x00, 0x00, 0x01});
const MacAddress kMacB({0x02, 0x00, 0x00, 0x00, 0x00, 0x02});
const Ipv4Address kIpA(10, 0, 0, 1);
const Ipv4Address kIpB(10, 0, 0, 2);

// The ARP packet inside an Ethernet frame, padding included.
Bytes arp_of(Bytes frame) { return frame.subspan(kEthernetLen); }

TEST(ArpPacket, ParsesRequestBuiltByLibtins) {
    Tins::EthernetII frame = Tins::ARP::make_arp_request(to_tins(kIpB), to_tins(kIpA), to_tins(kMacA));
    const std::vector<std::uint8_t> bytes = frame.serialize();
    ASSERT_EQ(bytes.size(), 60u) << "libtins pads to the Ethernet minimum";

    auto arp = ArpPacket::parse(arp_of(bytes));
    ASSERT_TRUE(arp.has_value());
    EXPECT_EQ(arp->hardware_type(), 1);
    EXPECT_EQ(arp->protocol_type(), 0x0800);
    EXPECT_EQ(arp->hardware_len(), 6);
    EXPECT_EQ(arp->protocol_len(), 4);
    EXPECT_EQ(arp->operation(), ArpOperation::Request);
    EXPECT_EQ(arp->sender_mac(), kMacA);
    EXPECT_EQ(arp->sender_ip(), kIpA);
    EXPECT_TRUE(arp->target_mac().is_zero());
    EXPECT_EQ(arp->target_ip(), kIpB);
    EXPECT_EQ(arp->header_bytes().size(), 28u);
    EXPECT_EQ(arp->padding().size(), 18u);
}

TEST(ArpPacket, ParsesReplyBuiltByLibtins) {
    Tins::EthernetII frame =
        Tins::ARP::make_arp_reply(to_tins(kIpA), to_tins(kIpB), to_tins(kMacA), to_tins(kMacB));
    const std::vector<std::uint8_t> bytes = frame.serialize();
    auto repr = ArpRepr::parse(arp_of(bytes));  // ArpRepr copies the fields: no view outlives bytes
    ASSERT_TRUE(repr.has_value());
    EXPECT_EQ(*repr, (ArpRepr{ArpOperation::Reply, kMacB, kIpB, kMacA, kIpA}));
}

TEST(ArpRepr, EmittedPacketParsesInLibtins) {
    const ArpRepr repr{ArpOperation::Reply, kMacB, kIpB, kMacA, kIpA};
    std::vector<std::uint8_t> bytes(28);
    repr.emit(bytes);

    Tins::ARP tins(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
    EXPECT_EQ(tins.hw_addr_format(), 1);
    EXPECT_EQ(tins.prot_addr_format(), 0x0800);
    EXPECT_EQ(tins.hw_addr_length(), 6);
    EXPECT_EQ(tins.prot_addr_length(), 4);
    EXPECT_EQ(tins.opcode(), Tins::ARP::REPLY);
    EXPECT_EQ(from_tins(tins.sender_hw_addr()), kMacB);
    EXPECT_EQ(from_tins(tins.sender_ip_addr()), kIpB);
    EXPECT_EQ(from_tins(tins.target_hw_addr()), kMacA);
    EXPECT_EQ(from_tins(tins.target_ip_addr()), kIpA);
    EXPECT_EQ(tins.serialize(), bytes);
}

TEST(ArpRepr, RequestEmittedIntoPacketsEqualsLibtinsFrame) {
    // The whole frame a resolver sends: ARP emitted into a packet, Ethernet prepended, padded to
    // the 60-byte minimum as libtins does.
    PacketPool pool;
    Packet packet = pool.allocate(64);
    ArpRepr{ArpOperation::Request, kMacA, kIpA, MacAddress::zero(), kIpB}.emit(packet);
    EthernetRepr{MacAddress::broadcast(), kMacA, EtherType::Arp}.emit(packet);
    ASSERT_EQ(packet.size(), 42u);
    std::vector<std::uint8_t> ours = copy_of(packet.bytes());
    ours.resize(60, 0);

    Tins::EthernetII theirs = Tins::ARP::make_arp_request(to_tins(kIpB), to_tins(kIpA), to_tins(kMacA));
    EXPECT_EQ(ours, theirs.serialize());
}

TEST(ArpFixture, RequestParsesAndEmitsByteForByte) {
    const Bytes arp = arp_of(bytes_of(kArpRequestFrame));
    auto repr = ArpRepr::parse(arp);
    ASSERT_TRUE(repr.has_value());
    EXPECT_EQ(repr->operation, ArpOperation::Request);
    EXPECT_EQ(repr->sender_mac, MacAddress({0x08, 0x00, 0x27, 0x8e, 0x4a, 0x1c}));
    EXPECT_EQ(repr->sender_ip, Ipv4Address(10, 0, 2, 15));
    EXPECT_EQ(repr->target_mac, MacAddress::zero());
    EXPECT_EQ(repr->target_ip, Ipv4Address(10, 0, 2, 2));

    std::vector<std::uint8_t> out(28, 0xaa);
    repr->emit(out);
    EXPECT_EQ(out, copy_of(arp.first(28)));

    // libtins reads the fixture the same way.
    Tins::EthernetII tins(kArpRequestFrame, sizeof kArpRequestFrame);
    const auto& tins_arp = tins.rfind_pdu<Tins::ARP>();
    EXPECT_EQ(tins_arp.opcode(), Tins::ARP::REQUEST);
    EXPECT_EQ(from_tins(tins_arp.sender_ip_addr()), repr->sender_ip);
    EXPECT_EQ(from_tins(tins_arp.target_ip_addr()), repr->target_ip);
}

TEST(ArpFixture, ReplyParsesAndEmitsByteForByte) {
    const Bytes frame = bytes_of(kArpReplyFrame);
    auto ethernet = EthernetRepr::parse(frame);
    ASSERT_TRUE(ethernet.has_value());
    auto arp = ArpRepr::parse(arp_of(frame));
    ASSERT_TRUE(arp.has_value());
    EXPECT_EQ(*arp, (ArpRepr{ArpOperation::Reply, MacAddress({0x52, 0x54, 0x00, 0x12, 0x35, 0x02}),
                             Ipv4Address(10, 0, 2, 2), MacAddress({0x08, 0x00, 0x27, 0x8e, 0x4a, 0x1c}),
                             Ipv4Address(10, 0, 2, 15)}));

    PacketPool pool;
    Packet packet = pool.allocate(64);
    arp->emit(packet);
    ethernet->emit(packet);
    std::vector<std::uint8_t> ours = copy_of(packet.bytes());
    ours.resize(60, 0);  // Ethernet padding
    EXPECT_EQ(ours, copy_of(frame));
}

TEST(ArpPacket, EveryTruncationIsTruncated) {
    // Only the 28-byte packet itself: every shorter prefix lacks a field.
    for_each_truncation(arp_of(bytes_of(kArpRequestFrame)).first(28), [](Bytes prefix) {
        auto arp = ArpPacket::parse(prefix);
        ASSERT_FALSE(arp.has_value()) << prefix.size();
        EXPECT_EQ(arp.error(), ParseError::Truncated) << prefix.size();
    });
}

TEST(ArpPacket, PaddingOfAnyLengthIsAccepted) {
    // Truncating the padded frame: below 28 bytes an error, from 28 on the same packet.
    const Bytes padded = arp_of(bytes_of(kArpRequestFrame));
    for_each_truncation(padded, [](Bytes prefix) {
        auto arp = ArpPacket::parse(prefix);
        ASSERT_EQ(arp.has_value(), prefix.size() >= 28) << prefix.size();
        if (arp) {
            EXPECT_EQ(arp->target_ip(), Ipv4Address(10, 0, 2, 2));
            EXPECT_EQ(arp->padding().size(), prefix.size() - 28);
        }
    });
}

TEST(ArpPacket, OtherHardwareOrProtocolIsUnsupported) {
    const Bytes valid = arp_of(bytes_of(kArpRequestFrame)).first(28);
    struct Case {
        const char* what;
        std::size_t offset;
        std::uint8_t value;
    };
    const Case cases[] = {
        {"htype 6 (IEEE 802)", 1, 6},      {"htype 0x0101", 0, 1},
        {"ptype 0x86dd (IPv6)", 2, 0x86},  {"ptype 0x0801", 3, 0x01},
        {"hlen 8", 4, 8},                  {"hlen 0", 4, 0},
        {"plen 16", 5, 16},                {"plen 0", 5, 0},
    };
    for (const Case& c : cases) {
        std::vector<std::uint8_t> bytes = copy_of(valid);
        bytes[c.offset] = c.value;
        auto arp = ArpPacket::parse(bytes);
        ASSERT_FALSE(arp.has_value()) << c.what;
        EXPECT_EQ(arp.error(), ParseError::Unsupported) << c.what;

        // The formats are judged from the fixed 8 bytes, before the length they imply.
        std::vector<std::uint8_t> fixed_part(bytes.begin(), bytes.begin() + 8);
        auto short_arp = ArpPacket::parse(fixed_part);
        ASSERT_FALSE(short_arp.has_value()) << c.what;
        EXPECT_EQ(short_arp.error(), ParseError::Unsupported) << c.what;
    }
}

TEST(ArpPacket, UnknownOperationIsReportedAsIs) {
    // RARP's opcode 3 (RFC 903): the view reports it; the layer, not the parser, ignores it.
    std::vector<std::uint8_t> bytes = copy_of(arp_of(bytes_of(kArpRequestFrame)).first(28));
    bytes[7] = 3;
    auto arp = ArpPacket::parse(bytes);
    ASSERT_TRUE(arp.has_value());
    EXPECT_EQ(arp->opcode(), 3);
    EXPECT_NE(arp->operation(), ArpOperation::Request);
    EXPECT_NE(arp->operation(), ArpOperation::Reply);
}

TEST(ArpPacket, PrintsLikeTcpdump) {
    std::ostringstream request, reply;
    request << ArpPacket::parse(arp_of(bytes_of(kArpRequestFrame))).value();
    reply << ArpPacket::parse(arp_of(bytes_of(kArpReplyFrame))).value();
    EXPECT_EQ(request.str(), "ARP, Request who-has 10.0.2.2 tell 10.0.2.15, length 28");
    EXPECT_EQ(reply.str(), "ARP, Reply 10.0.2.2 is-at 52:54:00:12:35:02, length 28");
}

TEST(ArpRepr, RandomRoundTripsThroughOursAndLibtins) {
    std::mt19937 rng(0x5eed0002);
    auto random_mac = [&] {
        std::array<std::uint8_t, 6> octets;
        for (auto& o : octets) o = static_cast<std::uint8_t>(rng());
        return MacAddress(octets);
    };
    for (int i = 0; i < 500; ++i) {
        const ArpRepr repr{rng() % 2 ? ArpOperation::Request : ArpOperation::Reply, random_mac(),
                           Ipv4Address(static_cast<std::uint32_t>(rng())), random_mac(),
                           Ipv4Address(static_cast<std::uint32_t>(rng()))};
        std::vector<std::uint8_t> bytes(28 + rng() % 20);  // with or without padding
        repr.emit(bytes);

        auto parsed = ArpRepr::parse(bytes);
        ASSERT_TRUE(parsed.has_value());
        EXPECT_EQ(*parsed, repr);

        Tins::ARP tins(bytes.data(), 28);
        EXPECT_EQ(tins.opcode(), static_cast<std::uint16_t>(repr.operation));
        EXPECT_EQ(from_tins(tins.sender_hw_addr()), repr.sender_mac);
        EXPECT_EQ(from_tins(tins.sender_ip_addr()), repr.sender_ip);
        EXPECT_EQ(from_tins(tins.target_hw_addr()), repr.target_mac);
        EXPECT_EQ(from_tins(tins.target_ip_addr()), repr.target_ip);
    }
}

}  // namespace
}  // namespace tcpip
