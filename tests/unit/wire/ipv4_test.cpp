// IPv4 header (RFC 791): libtins builds and we parse, we emit and libtins parses (and recomputes
// our checksum), byte fixtures both ways, every truncation, each length and version check, bit
// flips against the checksum, and a seeded round trip.
#include "stack/ipv4/header.h"

#include <gtest/gtest.h>
#include <tins/tins.h>

#include <random>
#include <sstream>
#include <vector>

#include "stack/core/checksum.h"
#include "stack/ethernet/header.h"
#include "tests/unit/wire/link_ip_fixtures.h"

namespace tcpip {
namespace {

using namespace link_ip_test;

const Ipv4Address kIpA(10, 0, 0, 1);
const Ipv4Address kIpB(10, 0, 0, 2);
constexpr std::uint8_t kExperimentalProtocol = 253;  // RFC 3692: libtins leaves its payload raw

Bytes ping_datagram() { return bytes_of(kPingRequestFrame).subspan(kEthernetLen); }

// Our bytes with the checksum field zeroed, parsed by libtins and serialized again: libtins
// computes the checksum itself, so the result equals our bytes only if our checksum was right.
std::vector<std::uint8_t> reserialized_by_libtins(Bytes datagram) {
    std::vector<std::uint8_t> bytes = copy_of(datagram);
    bytes[10] = bytes[11] = 0;
    Tins::IP tins(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
    return tins.serialize();
}

TEST(Ipv4Header, ParsesDatagramBuiltByLibtins) {
    Tins::IP ip = Tins::IP(to_tins(kIpB), to_tins(kIpA)) / Tins::RawPDU("some payload");
    ip.id(0xbeef);
    ip.ttl(17);
    ip.tos(0xb9);  // DSCP 46 (EF), ECN 1 (ECT(1))
    ip.flags(Tins::IP::DONT_FRAGMENT);
    ip.protocol(kExperimentalProtocol);
    const std::vector<std::uint8_t> bytes = ip.serialize();

    auto header = Ipv4Header::parse(bytes);
    ASSERT_TRUE(header.has_value());
    EXPECT_EQ(header->version(), 4);
    EXPECT_EQ(header->ihl(), 5);
    EXPECT_EQ(header->header_len(), 20u);
    EXPECT_EQ(header->tos(), 0xb9);
    EXPECT_EQ(header->dscp(), 46);
    EXPECT_EQ(header->ecn(), 1);
    EXPECT_EQ(header->total_length(), 32);
    EXPECT_EQ(header->ident(), 0xbeef);
    EXPECT_TRUE(header->dont_fragment());
    EXPECT_FALSE(header->more_fragments());
    EXPECT_FALSE(header->reserved_flag());
    EXPECT_EQ(header->frag_offset(), 0);
    EXPECT_FALSE(header->is_fragment());
    EXPECT_EQ(header->ttl(), 17);
    EXPECT_EQ(header->protocol(), kExperimentalProtocol);
    EXPECT_EQ(header->src(), kIpA);
    EXPECT_EQ(header->dst(), kIpB);
    EXPECT_TRUE(header->options().empty());
    EXPECT_EQ(std::string(header->payload().begin(), header->payload().end()), "some payload");
    EXPECT_TRUE(header->checksum_valid());
    // The checksum libtins wrote is the one we read.
    EXPECT_EQ(header->checksum(), Tins::IP(bytes.data(), static_cast<std::uint32_t>(bytes.size())).checksum());
}

TEST(Ipv4Header, ParsesFragmentBuiltByLibtins) {
    Tins::IP ip = Tins::IP(to_tins(kIpB), to_tins(kIpA)) / Tins::RawPDU(std::string(16, 'x'));
    ip.flags(Tins::IP::MORE_FRAGMENTS);
    ip.fragment_offset(185);  // in 8-byte units: 1480 bytes, the second fragment of a 1500-MTU split
    ip.protocol(IpProtocol::Udp);
    const std::vector<std::uint8_t> bytes = ip.serialize();

    auto header = Ipv4Header::parse(bytes);
    ASSERT_TRUE(header.has_value());
    EXPECT_TRUE(header->more_fragments());
    EXPECT_FALSE(header->dont_fragment());
    EXPECT_EQ(header->frag_offset(), 1480);
    EXPECT_TRUE(header->is_fragment());
    EXPECT_EQ(header->protocol(), IpProtocol::Udp);
    EXPECT_TRUE(header->checksum_valid());

    const Ipv4Repr repr = Ipv4Repr::from(*header);
    EXPECT_EQ(repr.frag_offset, 1480);
    EXPECT_TRUE(repr.more_fragments);
    EXPECT_EQ(repr.payload_len, 16);
}

TEST(Ipv4Header, ParsesOptionsBuiltByLibtins) {
    Tins::IP ip = Tins::IP(to_tins(kIpB), to_tins(kIpA)) / Tins::RawPDU("data");
    ip.stream_identifier(0x1234);  // option 136, length 4 (RFC 791 "Stream Identifier")
    ip.protocol(kExperimentalProtocol);
    const std::vector<std::uint8_t> bytes = ip.serialize();

    auto header = Ipv4Header::parse(bytes);
    ASSERT_TRUE(header.has_value());
    EXPECT_EQ(header->ihl(), 6);
    EXPECT_EQ(header->header_len(), 24u);
    EXPECT_EQ(copy_of(header->options()), (std::vector<std::uint8_t>{0x88, 0x04, 0x12, 0x34}));
    // libtins 4.0 writes one padding byte too many after the options, over the first payload
    // byte ("data" goes out as "\0ata"), so only the rest of the payload is compared.
    ASSERT_EQ(header->payload().size(), 4u);
    EXPECT_EQ(std::string(header->payload().begin() + 1, header->payload().end()), "ata");
    EXPECT_TRUE(header->checksum_valid()) << "the checksum covers the options";

    // The repr drops the options and keeps the payload length.
    const Ipv4Repr repr = Ipv4Repr::from(*header);
    EXPECT_EQ(repr.header_len(), 20u);
    EXPECT_EQ(repr.payload_len, 4);
}

TEST(Ipv4Repr, EmittedHeaderParsesInLibtinsWithTheSameChecksum) {
    Ipv4Repr repr;
    repr.src = kIpA;
    repr.dst = kIpB;
    repr.protocol = kExperimentalProtocol;
    repr.payload_len = 5;
    repr.ttl = 3;
    repr.ident = 0x4242;
    repr.dont_fragment = true;
    repr.tos = 0x2e;
    std::vector<std::uint8_t> bytes(25, 0);
    repr.emit(bytes);
    std::ranges::copy(std::string("hello"), bytes.begin() + 20);

    Tins::IP tins(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
    EXPECT_EQ(tins.version(), 4);
    EXPECT_EQ(tins.head_len(), 5);
    EXPECT_EQ(tins.tos(), 0x2e);
    EXPECT_EQ(tins.tot_len(), 25);
    EXPECT_EQ(tins.id(), 0x4242);
    EXPECT_EQ(tins.flags(), Tins::IP::DONT_FRAGMENT);
    EXPECT_EQ(tins.fragment_offset(), 0);
    EXPECT_EQ(tins.ttl(), 3);
    EXPECT_EQ(tins.protocol(), kExperimentalProtocol);
    EXPECT_EQ(from_tins(tins.src_addr()), kIpA);
    EXPECT_EQ(from_tins(tins.dst_addr()), kIpB);
    EXPECT_EQ(tins.checksum(), load_be16(bytes.data() + 10));
    EXPECT_EQ(reserialized_by_libtins(bytes), bytes);
}

TEST(Ipv4Repr, EmitIntoPacketTakesTheLengthFromThePacket) {
    PacketPool pool;
    Packet packet = pool.allocate(100);
    MutableBytes payload = packet.append(30);
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i);

    Ipv4Repr repr;
    repr.src = kIpA;
    repr.dst = kIpB;
    repr.protocol = kExperimentalProtocol;
    repr.payload_len = 9999;  // ignored: the packet knows its own size
    repr.emit(packet);

    ASSERT_EQ(packet.size(), 50u);
    auto header = Ipv4Header::parse(packet.bytes());
    ASSERT_TRUE(header.has_value());
    EXPECT_EQ(header->total_length(), 50);
    EXPECT_TRUE(header->checksum_valid());
    EXPECT_EQ(header->payload().data(), payload.data()) << "the payload was not moved";
    EXPECT_EQ(reserialized_by_libtins(packet.bytes()), copy_of(packet.bytes()));
}

TEST(Ipv4Fixture, PingRequestParsesAndEmitsByteForByte) {
    const Bytes datagram = ping_datagram();
    auto header = Ipv4Header::parse(datagram);
    ASSERT_TRUE(header.has_value());
    EXPECT_EQ(header->total_length(), 84);
    EXPECT_EQ(header->ident(), 0x069d);
    EXPECT_TRUE(header->dont_fragment());
    EXPECT_EQ(header->ttl(), 64);
    EXPECT_EQ(header->protocol(), IpProtocol::Icmp);
    EXPECT_EQ(header->checksum(), 0x360a);
    EXPECT_TRUE(header->checksum_valid());
    EXPECT_EQ(header->src(), Ipv4Address(127, 0, 0, 1));
    EXPECT_EQ(header->dst(), Ipv4Address(127, 0, 0, 1));
    EXPECT_EQ(header->payload().size(), 64u);

    const Ipv4Repr repr = Ipv4Repr::from(*header);
    std::vector<std::uint8_t> out(20, 0xaa);
    repr.emit(out);
    EXPECT_EQ(out, copy_of(datagram.first(20)));
}

TEST(Ipv4Fixture, PingReplyAndIcmpErrorsEmitByteForByte) {
    const Bytes fixtures[] = {bytes_of(kPingReplyFrame).subspan(kEthernetLen),
                              bytes_of(kPortUnreachableFrame).subspan(kEthernetLen),
                              bytes_of(kFragNeededDatagram), bytes_of(kTimeExceededDatagram)};
    for (Bytes datagram : fixtures) {
        auto repr = Ipv4Repr::parse(datagram);
        ASSERT_TRUE(repr.has_value());
        std::vector<std::uint8_t> out(datagram.size());
        repr->emit(out);
        std::ranges::copy(datagram.subspan(20), out.begin() + 20);
        EXPECT_EQ(out, copy_of(datagram));
        // libtins agrees with the fixture's checksum.
        EXPECT_EQ(reserialized_by_libtins(datagram), copy_of(datagram));
    }
}

TEST(Ipv4Fixture, IgmpWithRouterAlertOption) {
    const Bytes datagram = bytes_of(kIgmpWithRouterAlert);
    auto header = Ipv4Header::parse(datagram);
    ASSERT_TRUE(header.has_value());
    EXPECT_EQ(header->ihl(), 6);
    EXPECT_EQ(copy_of(header->options()), (std::vector<std::uint8_t>{0x94, 0x04, 0x00, 0x00}));
    EXPECT_EQ(header->protocol(), 2);
    EXPECT_EQ(header->ttl(), 1);
    EXPECT_EQ(header->payload().size(), 8u);
    EXPECT_TRUE(header->checksum_valid());

    Tins::IP tins(datagram.data(), static_cast<std::uint32_t>(datagram.size()));
    ASSERT_EQ(tins.options().size(), 1u);
    EXPECT_EQ(tins.options()[0].option(), 0x94);
    EXPECT_EQ(tins.checksum(), header->checksum());
}

TEST(Ipv4Header, EthernetPaddingIsCutFromThePayload) {
    // An echo with no data is a 28-byte datagram: libtins pads the frame to 60 bytes, so the IPv4
    // view sees 46 bytes, of which 18 are padding.
    Tins::EthernetII frame = Tins::EthernetII() / Tins::IP(to_tins(kIpB), to_tins(kIpA)) / Tins::ICMP();
    const std::vector<std::uint8_t> bytes = frame.serialize();
    ASSERT_EQ(bytes.size(), 60u);

    auto header = Ipv4Header::parse(Bytes(bytes).subspan(kEthernetLen));
    ASSERT_TRUE(header.has_value());
    EXPECT_EQ(header->total_length(), 28);
    EXPECT_EQ(header->payload().size(), 8u);
    EXPECT_EQ(header->datagram_bytes().size(), 28u);
    EXPECT_EQ(Ipv4Repr::from(*header).payload_len, 8);
}

TEST(Ipv4Header, EveryTruncationIsAnError) {
    for_each_truncation(ping_datagram(), [](Bytes prefix) {
        auto header = Ipv4Header::parse(prefix);
        ASSERT_FALSE(header.has_value()) << prefix.size();
        // Below 20 bytes there is no header; from there on, the header says 84 bytes.
        EXPECT_EQ(header.error(), prefix.size() < 20 ? ParseError::Truncated : ParseError::BadTotalLength)
            << prefix.size();
    });
}

TEST(Ipv4Header, EveryTruncationWithOptionsIsAnError) {
    for_each_truncation(bytes_of(kIgmpWithRouterAlert), [](Bytes prefix) {
        auto header = Ipv4Header::parse(prefix);
        ASSERT_FALSE(header.has_value()) << prefix.size();
        const ParseError expected = prefix.size() < 20   ? ParseError::Truncated
                                    : prefix.size() < 24 ? ParseError::BadHeaderLength  // options cut
                                                         : ParseError::BadTotalLength;
        EXPECT_EQ(header.error(), expected) << prefix.size();
    });
}

TEST(Ipv4Header, EveryTruncationOfTheWholeFrameIsAnError) {
    // Through Ethernet then IPv4, as the receive path does.
    for_each_truncation(bytes_of(kPingRequestFrame), [](Bytes prefix) {
        auto ethernet = EthernetHeader::parse(prefix);
        if (!ethernet) {
            EXPECT_LT(prefix.size(), kEthernetLen);
            return;
        }
        EXPECT_FALSE(Ipv4Header::parse(ethernet->payload()).has_value()) << prefix.size();
    });
}

std::vector<std::uint8_t> with_byte(Bytes bytes, std::size_t offset, std::uint8_t value) {
    std::vector<std::uint8_t> copy = copy_of(bytes);
    copy[offset] = value;
    return copy;
}

TEST(Ipv4Header, IhlBelowFiveIsBadHeaderLength) {
    for (std::uint8_t ihl = 0; ihl < 5; ++ihl) {
        const std::vector<std::uint8_t> bad = with_byte(ping_datagram(), 0, static_cast<std::uint8_t>(0x40 | ihl));
        auto header = Ipv4Header::parse(bad);
        ASSERT_FALSE(header.has_value()) << int{ihl};
        EXPECT_EQ(header.error(), ParseError::BadHeaderLength) << int{ihl};
    }
}

TEST(Ipv4Header, IhlPastTheBytesIsBadHeaderLength) {
    // A 20-byte datagram (total length 20) whose IHL claims 24 to 60 bytes.
    std::vector<std::uint8_t> bytes = copy_of(ping_datagram().first(20));
    store_be16(bytes.data() + 2, 20);
    ASSERT_TRUE(Ipv4Header::parse(bytes).has_value());
    for (std::uint8_t ihl = 6; ihl <= 15; ++ihl) {
        const std::vector<std::uint8_t> bad = with_byte(bytes, 0, static_cast<std::uint8_t>(0x40 | ihl));
        auto header = Ipv4Header::parse(bad);
        ASSERT_FALSE(header.has_value()) << int{ihl};
        EXPECT_EQ(header.error(), ParseError::BadHeaderLength) << int{ihl};
    }
}

TEST(Ipv4Header, TotalLengthLargerThanTheBytesIsBadTotalLength) {
    for (std::uint16_t total : {std::uint16_t{85}, std::uint16_t{1500}, std::uint16_t{65535}}) {
        std::vector<std::uint8_t> bytes = copy_of(ping_datagram());
        store_be16(bytes.data() + 2, total);
        auto header = Ipv4Header::parse(bytes);
        ASSERT_FALSE(header.has_value()) << total;
        EXPECT_EQ(header.error(), ParseError::BadTotalLength) << total;
    }
}

TEST(Ipv4Header, TotalLengthSmallerThanTheHeaderIsBadTotalLength) {
    for (std::uint16_t total : {std::uint16_t{0}, std::uint16_t{1}, std::uint16_t{19}}) {
        std::vector<std::uint8_t> bytes = copy_of(ping_datagram());
        store_be16(bytes.data() + 2, total);
        auto header = Ipv4Header::parse(bytes);
        ASSERT_FALSE(header.has_value()) << total;
        EXPECT_EQ(header.error(), ParseError::BadTotalLength) << total;
    }
    // With options the header is 24 bytes: a total length of 20 to 23 cuts them.
    for (std::uint16_t total = 20; total < 24; ++total) {
        std::vector<std::uint8_t> bytes = copy_of(bytes_of(kIgmpWithRouterAlert));
        store_be16(bytes.data() + 2, total);
        auto header = Ipv4Header::parse(bytes);
        ASSERT_FALSE(header.has_value()) << total;
        EXPECT_EQ(header.error(), ParseError::BadTotalLength) << total;
    }
}

TEST(Ipv4Header, TotalLengthSmallerThanTheBytesCutsThePayload) {
    for (std::uint16_t total : {std::uint16_t{20}, std::uint16_t{21}, std::uint16_t{83}}) {
        std::vector<std::uint8_t> bytes = copy_of(ping_datagram());
        store_be16(bytes.data() + 2, total);
        auto header = Ipv4Header::parse(bytes);
        ASSERT_TRUE(header.has_value()) << total;
        EXPECT_EQ(header->payload().size(), total - 20u);
        EXPECT_EQ(header->datagram_bytes().size(), total);
    }
}

TEST(Ipv4Header, VersionOtherThanFourIsBadVersion) {
    for (std::uint8_t version : {0, 1, 5, 6, 15}) {
        // Checked before the IHL: 0x60 also has IHL 0, and 0x65 is a plausible IPv6-looking byte.
        for (std::uint8_t ihl : {0, 5}) {
            const std::vector<std::uint8_t> bad =
                with_byte(ping_datagram(), 0, static_cast<std::uint8_t>(version << 4 | ihl));
            auto header = Ipv4Header::parse(bad);
            ASSERT_FALSE(header.has_value()) << int{version};
            EXPECT_EQ(header.error(), ParseError::BadVersion) << int{version};
        }
    }
}

TEST(Ipv4Header, EverySingleBitFlipBreaksTheChecksum) {
    // Bytes 0 and 2-3 are left alone: flipping them is caught earlier, by the length checks.
    const Bytes datagram = ping_datagram();
    for (std::size_t offset = 1; offset < 20; ++offset) {
        if (offset == 2 || offset == 3) continue;
        for (int bit = 0; bit < 8; ++bit) {
            std::vector<std::uint8_t> bytes = with_byte(datagram, offset, static_cast<std::uint8_t>(datagram[offset] ^ (1u << bit)));
            auto header = Ipv4Header::parse(bytes);
            ASSERT_TRUE(header.has_value()) << offset << ":" << bit;
            EXPECT_FALSE(header->checksum_valid()) << offset << ":" << bit;
        }
    }
    // The checksum does not cover the payload: flipping a payload bit leaves it valid.
    const std::vector<std::uint8_t> bytes = with_byte(datagram, 40, static_cast<std::uint8_t>(datagram[40] ^ 1));
    auto header = Ipv4Header::parse(bytes);
    ASSERT_TRUE(header.has_value());
    EXPECT_TRUE(header->checksum_valid());
}

TEST(Ipv4Header, PrintsLikeTcpdump) {
    std::ostringstream ping, fragment;
    ping << Ipv4Header::parse(ping_datagram()).value();
    EXPECT_EQ(ping.str(),
              "IP (tos 0x0, ttl 64, id 1693, offset 0, flags [DF], proto ICMP (1), length 84) 127.0.0.1 > 127.0.0.1");

    Ipv4Repr repr;
    repr.src = kIpA;
    repr.dst = kIpB;
    repr.protocol = IpProtocol::Udp;
    repr.payload_len = 8;
    repr.ident = 7;
    repr.more_fragments = true;
    repr.frag_offset = 1480;
    repr.tos = 0xc0;
    fragment << repr;
    EXPECT_EQ(fragment.str(),
              "IP (tos 0xc0, ttl 64, id 7, offset 1480, flags [+], proto UDP (17), length 28) 10.0.0.1 > 10.0.0.2");
}

TEST(Ipv4Repr, RandomRoundTripsThroughOursAndLibtins) {
    std::mt19937 rng(0x5eed0004);
    int checked_by_libtins = 0;
    for (int i = 0; i < 1000; ++i) {
        Ipv4Repr repr;
        repr.src = Ipv4Address(static_cast<std::uint32_t>(rng()));
        repr.dst = Ipv4Address(static_cast<std::uint32_t>(rng()));
        repr.protocol = static_cast<std::uint8_t>(rng());
        repr.payload_len = static_cast<std::uint16_t>(rng() % 1500);
        repr.ttl = static_cast<std::uint8_t>(rng());
        repr.ident = static_cast<std::uint16_t>(rng());
        repr.dont_fragment = rng() % 2;
        repr.more_fragments = rng() % 2;
        repr.frag_offset = static_cast<std::uint16_t>((rng() % 8192) * 8);
        repr.tos = static_cast<std::uint8_t>(rng());

        std::vector<std::uint8_t> bytes(repr.header_len() + repr.payload_len);
        for (std::size_t j = 20; j < bytes.size(); ++j) bytes[j] = static_cast<std::uint8_t>(rng());
        repr.emit(bytes);

        auto header = Ipv4Header::parse(bytes);
        ASSERT_TRUE(header.has_value()) << repr;
        EXPECT_TRUE(header->checksum_valid()) << repr;
        EXPECT_EQ(Ipv4Repr::from(*header), repr);

        // libtins would decode a whole datagram's payload by its protocol (and reject random bytes
        // as TCP); fragments and unassigned protocol numbers it keeps raw.
        const bool raw_for_libtins = header->is_fragment() || repr.protocol >= 143;
        if (!raw_for_libtins) continue;
        ++checked_by_libtins;
        Tins::IP tins(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
        EXPECT_EQ(from_tins(tins.src_addr()), repr.src);
        EXPECT_EQ(from_tins(tins.dst_addr()), repr.dst);
        EXPECT_EQ(tins.protocol(), repr.protocol);
        EXPECT_EQ(tins.tot_len(), bytes.size());
        EXPECT_EQ(tins.ttl(), repr.ttl);
        EXPECT_EQ(tins.id(), repr.ident);
        EXPECT_EQ((tins.flags() & Tins::IP::DONT_FRAGMENT) != 0, repr.dont_fragment);
        EXPECT_EQ((tins.flags() & Tins::IP::MORE_FRAGMENTS) != 0, repr.more_fragments);
        EXPECT_EQ(tins.fragment_offset() * 8u, repr.frag_offset);
        EXPECT_EQ(tins.tos(), repr.tos);
        EXPECT_EQ(reserialized_by_libtins(bytes), bytes) << repr;
    }
    EXPECT_GT(checked_by_libtins, 500);
}

}  // namespace
}  // namespace tcpip
