// Ethernet II header: libtins builds and we parse, we emit and libtins parses, byte fixtures both
// ways, every truncation, and a seeded round trip.
#include "stack/ethernet/header.h"

#include <gtest/gtest.h>
#include <tins/tins.h>

#include <random>
#include <sstream>
#include <vector>

#include "tests/unit/wire/link_ip_fixtures.h"

namespace tcpip {
namespace {

using namespace link_ip_test;

const MacAddress kMacA({0x02, 0x00, 0x00, 0x00, 0x00, 0x01});
const MacAddress kMacB({0x02, 0x00, 0x00, 0x00, 0x00, 0x02});

TEST(EthernetHeader, ParsesFrameBuiltByLibtins) {
    Tins::EthernetII frame = Tins::EthernetII(to_tins(kMacB), to_tins(kMacA)) / Tins::RawPDU("hello, world");
    frame.payload_type(0x88b5);  // IEEE 802 local experimental EtherType
    const std::vector<std::uint8_t> bytes = frame.serialize();

    auto header = EthernetHeader::parse(bytes);
    ASSERT_TRUE(header.has_value());
    EXPECT_EQ(header->dst(), kMacB);
    EXPECT_EQ(header->src(), kMacA);
    EXPECT_EQ(header->ethertype(), 0x88b5);
    // libtins pads to the 60-byte minimum: the payload is our 12 bytes and the padding after them.
    ASSERT_EQ(bytes.size(), 60u);
    ASSERT_EQ(header->payload().size(), 46u);
    EXPECT_EQ(std::string(header->payload().begin(), header->payload().begin() + 12), "hello, world");
    EXPECT_EQ(header->header_bytes().size(), 14u);
}

TEST(EthernetHeader, ParsesEtherTypeOfIpv4AndArpFramesBuiltByLibtins) {
    Tins::EthernetII ip_frame = Tins::EthernetII(to_tins(kMacB), to_tins(kMacA)) / Tins::IP("10.0.0.2", "10.0.0.1");
    const std::vector<std::uint8_t> ip_bytes = ip_frame.serialize();
    auto ip = EthernetHeader::parse(ip_bytes);
    ASSERT_TRUE(ip.has_value());
    EXPECT_EQ(ip->ethertype(), EtherType::Ipv4);

    Tins::EthernetII arp_frame = Tins::ARP::make_arp_request("10.0.0.2", "10.0.0.1", to_tins(kMacA));
    const std::vector<std::uint8_t> arp_bytes = arp_frame.serialize();
    auto arp = EthernetHeader::parse(arp_bytes);
    ASSERT_TRUE(arp.has_value());
    EXPECT_EQ(arp->ethertype(), EtherType::Arp);
    EXPECT_TRUE(arp->dst().is_broadcast());
    EXPECT_EQ(arp->src(), kMacA);
}

TEST(EthernetRepr, EmittedHeaderParsesInLibtins) {
    const EthernetRepr repr{kMacB, kMacA, EtherType::Arp};
    std::vector<std::uint8_t> frame(60, 0);
    repr.emit(frame);

    Tins::EthernetII tins(frame.data(), static_cast<std::uint32_t>(frame.size()));
    EXPECT_EQ(from_tins(tins.dst_addr()), kMacB);
    EXPECT_EQ(from_tins(tins.src_addr()), kMacA);
    EXPECT_EQ(tins.payload_type(), EtherType::Arp);
    // libtins re-serializes to the very same bytes.
    EXPECT_EQ(tins.serialize(), frame);
}

TEST(EthernetRepr, EmitIntoPacketPrependsTheHeader) {
    PacketPool pool;
    Packet packet = pool.allocate(64);
    const std::uint8_t payload[] = {0xde, 0xad, 0xbe, 0xef};
    std::ranges::copy(payload, packet.append(sizeof payload).begin());
    const std::size_t headroom = packet.headroom();

    EthernetRepr{kMacB, kMacA, EtherType::Ipv4}.emit(packet);

    EXPECT_EQ(packet.headroom(), headroom - 14);
    ASSERT_EQ(packet.size(), 18u);
    const std::vector<std::uint8_t> expected = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00,
                                                0x00, 0x00, 0x01, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef};
    EXPECT_EQ(copy_of(packet.bytes()), expected);
}

TEST(EthernetFixture, ArpRequestParsesAndEmitsByteForByte) {
    const Bytes frame = bytes_of(kArpRequestFrame);
    auto header = EthernetHeader::parse(frame);
    ASSERT_TRUE(header.has_value());
    const EthernetRepr repr = EthernetRepr::from(*header);
    EXPECT_EQ(repr.dst, MacAddress::broadcast());
    EXPECT_EQ(repr.src, MacAddress({0x08, 0x00, 0x27, 0x8e, 0x4a, 0x1c}));
    EXPECT_EQ(repr.ethertype, EtherType::Arp);
    EXPECT_EQ(header->payload().size(), 46u);

    std::vector<std::uint8_t> out(14);
    repr.emit(out);
    EXPECT_EQ(out, copy_of(frame.first(14)));
}

TEST(EthernetFixture, PingFrameFromLoopback) {
    auto header = EthernetHeader::parse(bytes_of(kPingRequestFrame));
    ASSERT_TRUE(header.has_value());
    EXPECT_TRUE(header->dst().is_zero());  // the loopback device has no address
    EXPECT_EQ(header->ethertype(), EtherType::Ipv4);
    EXPECT_EQ(header->payload().data(), kPingRequestFrame + 14);
    EXPECT_EQ(header->payload().size(), sizeof kPingRequestFrame - 14);
}

TEST(EthernetHeader, EveryTruncationBelowTheHeaderIsTruncated) {
    // Any prefix of at least 14 bytes is a valid (shorter) frame: the view cannot know the payload
    // length; the layer above checks its own. Below 14 bytes there is no header.
    const Bytes frame = bytes_of(kPingRequestFrame);
    for_each_truncation(frame, [&](Bytes prefix) {
        auto header = EthernetHeader::parse(prefix);
        if (prefix.size() < 14) {
            ASSERT_FALSE(header.has_value()) << prefix.size();
            EXPECT_EQ(header.error(), ParseError::Truncated) << prefix.size();
        } else {
            ASSERT_TRUE(header.has_value()) << prefix.size();
            EXPECT_EQ(header->payload().size(), prefix.size() - 14);
            EXPECT_EQ(header->ethertype(), EtherType::Ipv4);
        }
    });
}

TEST(EthernetHeader, PrintsLikeTcpdump) {
    auto header = EthernetHeader::parse(bytes_of(kArpRequestFrame));
    ASSERT_TRUE(header.has_value());
    std::ostringstream os;
    os << *header;
    EXPECT_EQ(os.str(), "08:00:27:8e:4a:1c > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 60");
}

TEST(EthernetRepr, RandomRoundTripsThroughOursAndLibtins) {
    std::mt19937 rng(0x5eed0001);
    auto random_mac = [&] {
        std::array<std::uint8_t, 6> octets;
        for (auto& o : octets) o = static_cast<std::uint8_t>(rng());
        return MacAddress(octets);
    };
    for (int i = 0; i < 500; ++i) {
        const EthernetRepr repr{random_mac(), random_mac(), static_cast<std::uint16_t>(rng())};
        std::vector<std::uint8_t> frame(14 + rng() % 64);
        repr.emit(frame);

        auto parsed = EthernetRepr::parse(frame);
        ASSERT_TRUE(parsed.has_value());
        EXPECT_EQ(*parsed, repr);

        // Only the header goes to libtins: given a random EtherType it would try to parse the
        // payload as that protocol.
        Tins::EthernetII tins(frame.data(), 14);
        EXPECT_EQ(from_tins(tins.dst_addr()), repr.dst);
        EXPECT_EQ(from_tins(tins.src_addr()), repr.src);
        EXPECT_EQ(tins.payload_type(), repr.ethertype);
    }
}

}  // namespace
}  // namespace tcpip
