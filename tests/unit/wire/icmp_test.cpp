// ICMP (RFC 792, RFC 1191): libtins builds and we parse, we emit and libtins parses (and
// recomputes our checksum), byte fixtures from Linux both ways, truncations, bit flips against
// the checksum, and a seeded round trip.
#include "stack/ipv4/icmp_header.h"

#include <gtest/gtest.h>
#include <tins/tins.h>

#include <random>
#include <sstream>
#include <vector>

#include "stack/ethernet/header.h"
#include "stack/ipv4/header.h"
#include "tests/unit/wire/link_ip_fixtures.h"

namespace tcpip {
namespace {

using namespace link_ip_test;

const Ipv4Address kIpA(10, 0, 0, 1);
const Ipv4Address kIpB(10, 0, 0, 2);

// The ICMP message inside an Ethernet frame or an IPv4 datagram (20-byte header).
Bytes icmp_of_frame(Bytes frame) { return frame.subspan(kEthernetLen + 20); }
Bytes icmp_of_datagram(Bytes datagram) { return datagram.subspan(20); }

// Our message with the checksum zeroed, parsed by libtins and serialized again: libtins computes
// the checksum itself, so the result equals our bytes only if our checksum was right.
std::vector<std::uint8_t> reserialized_by_libtins(Bytes message) {
    std::vector<std::uint8_t> bytes = copy_of(message);
    bytes[2] = bytes[3] = 0;
    Tins::ICMP tins(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
    return tins.serialize();
}

std::vector<std::uint8_t> tins_payload(const Tins::PDU& pdu) {
    const auto* raw = pdu.find_pdu<Tins::RawPDU>();
    return raw ? raw->payload() : std::vector<std::uint8_t>{};
}

TEST(IcmpHeader, ParsesEchoRequestBuiltByLibtins) {
    Tins::ICMP echo(Tins::ICMP::ECHO_REQUEST);
    echo.id(0x1234);
    echo.sequence(7);
    Tins::IP ip = Tins::IP(to_tins(kIpB), to_tins(kIpA)) / echo / Tins::RawPDU("abcdefgh");
    const std::vector<std::uint8_t> bytes = ip.serialize();

    auto datagram = Ipv4Header::parse(bytes);
    ASSERT_TRUE(datagram.has_value());
    EXPECT_EQ(datagram->protocol(), IpProtocol::Icmp);
    auto icmp = IcmpHeader::parse(datagram->payload());
    ASSERT_TRUE(icmp.has_value());
    EXPECT_EQ(icmp->type(), IcmpType::EchoRequest);
    EXPECT_EQ(icmp->code(), 0);
    EXPECT_EQ(icmp->ident(), 0x1234);
    EXPECT_EQ(icmp->seq(), 7);
    EXPECT_EQ(icmp->rest_of_header(), 0x12340007u);
    EXPECT_EQ(std::string(icmp->payload().begin(), icmp->payload().end()), "abcdefgh");
    EXPECT_TRUE(icmp->checksum_valid());
    Tins::IP reparsed(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
    EXPECT_EQ(icmp->checksum(), reparsed.rfind_pdu<Tins::ICMP>().checksum());

    auto repr = IcmpRepr::from(*icmp);
    ASSERT_TRUE(repr.has_value());
    EXPECT_EQ(*repr, IcmpRepr::echo_request(0x1234, 7, icmp->payload()));
}

TEST(IcmpHeader, ParsesFragmentationNeededBuiltByLibtins) {
    const std::vector<std::uint8_t> quoted = copy_of(icmp_of_datagram(bytes_of(kFragNeededDatagram)).subspan(8));
    Tins::ICMP error(Tins::ICMP::DEST_UNREACHABLE);
    error.code(IcmpUnreachableCode::FragmentationNeeded);
    error.mtu(1400);
    Tins::IP ip = Tins::IP(to_tins(kIpA), to_tins(kIpB)) / error / Tins::RawPDU(quoted);
    const std::vector<std::uint8_t> bytes = ip.serialize();

    auto icmp = IcmpHeader::parse(Ipv4Header::parse(bytes)->payload());
    ASSERT_TRUE(icmp.has_value());
    EXPECT_EQ(icmp->type(), IcmpType::DestinationUnreachable);
    EXPECT_EQ(icmp->code(), IcmpUnreachableCode::FragmentationNeeded);
    EXPECT_EQ(icmp->next_hop_mtu(), 1400);
    EXPECT_EQ(copy_of(icmp->payload()), quoted);
    EXPECT_TRUE(icmp->checksum_valid());

    auto repr = IcmpRepr::from(*icmp);
    ASSERT_TRUE(repr.has_value());
    EXPECT_EQ(*repr, IcmpRepr::destination_unreachable(IcmpUnreachableCode::FragmentationNeeded, quoted, 1400));
    EXPECT_TRUE(repr->is_error());
}

TEST(IcmpHeader, ParsesTimeExceededBuiltByLibtins) {
    const std::vector<std::uint8_t> quoted = copy_of(icmp_of_datagram(bytes_of(kTimeExceededDatagram)).subspan(8));
    Tins::ICMP error(Tins::ICMP::TIME_EXCEEDED);
    error.code(IcmpTimeExceededCode::ReassemblyTimeout);
    Tins::IP ip = Tins::IP(to_tins(kIpA), to_tins(kIpB)) / error / Tins::RawPDU(quoted);
    const std::vector<std::uint8_t> bytes = ip.serialize();

    auto repr = IcmpRepr::parse(Ipv4Header::parse(bytes)->payload());
    ASSERT_TRUE(repr.has_value());
    EXPECT_EQ(*repr, IcmpRepr::time_exceeded(IcmpTimeExceededCode::ReassemblyTimeout, quoted));
    EXPECT_TRUE(IcmpHeader::parse(Ipv4Header::parse(bytes)->payload())->checksum_valid());
}

TEST(IcmpRepr, EmittedEchoReplyParsesInLibtinsWithTheSameChecksum) {
    const std::string data = "0123456789abcdefXYZ";  // odd length: the checksum pads with a zero byte
    const IcmpRepr repr = IcmpRepr::echo_reply(0xfeed, 0x0102, Bytes(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()));
    std::vector<std::uint8_t> bytes(repr.buffer_len());
    repr.emit(bytes);

    Tins::ICMP tins(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
    EXPECT_EQ(tins.type(), Tins::ICMP::ECHO_REPLY);
    EXPECT_EQ(tins.code(), 0);
    EXPECT_EQ(tins.id(), 0xfeed);
    EXPECT_EQ(tins.sequence(), 0x0102);
    EXPECT_EQ(tins.checksum(), load_be16(bytes.data() + 2));
    EXPECT_EQ(tins_payload(tins), std::vector<std::uint8_t>(data.begin(), data.end()));
    EXPECT_EQ(reserialized_by_libtins(bytes), bytes);
}

TEST(IcmpRepr, EmittedErrorsParseInLibtinsWithTheSameChecksum) {
    const std::vector<std::uint8_t> quoted = copy_of(icmp_of_frame(bytes_of(kPortUnreachableFrame)).subspan(8));
    const IcmpRepr reprs[] = {
        IcmpRepr::destination_unreachable(IcmpUnreachableCode::Port, quoted),
        IcmpRepr::destination_unreachable(IcmpUnreachableCode::FragmentationNeeded, quoted, 576),
        IcmpRepr::time_exceeded(IcmpTimeExceededCode::TtlExceeded, quoted),
    };
    for (const IcmpRepr& repr : reprs) {
        std::vector<std::uint8_t> bytes(repr.buffer_len());
        repr.emit(bytes);
        Tins::ICMP tins(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
        EXPECT_EQ(tins.type(), repr.type) << repr;
        EXPECT_EQ(tins.code(), repr.code) << repr;
        EXPECT_EQ(tins.mtu(), repr.next_hop_mtu) << repr;
        EXPECT_EQ(tins_payload(tins), quoted) << repr;
        EXPECT_EQ(reserialized_by_libtins(bytes), bytes) << repr;
    }
}

TEST(IcmpRepr, PingReplyBuiltThroughEveryLayerMatchesLinux) {
    // The way the stack answers a ping: parse the request frame, then build the reply in a new
    // packet, each layer prepending its header. The result is what Linux sent, except for the IP
    // identification, which we copy from the capture.
    const Bytes request_frame = bytes_of(kPingRequestFrame);
    auto ethernet = EthernetRepr::parse(request_frame);
    auto ip = Ipv4Header::parse(request_frame.subspan(kEthernetLen));
    ASSERT_TRUE(ethernet && ip);
    auto request = IcmpHeader::parse(ip->payload());
    ASSERT_TRUE(request.has_value());
    ASSERT_TRUE(request->checksum_valid());

    PacketPool pool;
    Packet packet = pool.allocate(request->payload().size());
    std::ranges::copy(request->payload(), packet.append(request->payload().size()).begin());
    IcmpRepr::echo_reply(request->ident(), request->seq(), request->payload()).emit(packet);
    Ipv4Repr reply_ip = Ipv4Repr::from(*ip);
    std::swap(reply_ip.src, reply_ip.dst);
    reply_ip.ident = 0x069e;
    reply_ip.dont_fragment = false;
    reply_ip.emit(packet);
    EthernetRepr{ethernet->src, ethernet->dst, EtherType::Ipv4}.emit(packet);

    EXPECT_EQ(copy_of(packet.bytes()), copy_of(bytes_of(kPingReplyFrame)));
}

TEST(IcmpFixture, PingRequestAndReplyParseAndEmitByteForByte) {
    for (Bytes message : {icmp_of_frame(bytes_of(kPingRequestFrame)), icmp_of_frame(bytes_of(kPingReplyFrame))}) {
        auto icmp = IcmpHeader::parse(message);
        ASSERT_TRUE(icmp.has_value());
        EXPECT_TRUE(icmp->checksum_valid());
        EXPECT_EQ(icmp->ident(), 0x1925);
        EXPECT_EQ(icmp->seq(), 1);
        EXPECT_EQ(icmp->payload().size(), 56u);
        EXPECT_EQ(icmp->payload()[16], 0x10) << "ping's pattern follows its timestamp";

        auto repr = IcmpRepr::from(*icmp);
        ASSERT_TRUE(repr.has_value());
        EXPECT_TRUE(repr->is_echo());
        std::vector<std::uint8_t> out(repr->buffer_len());
        repr->emit(out);
        EXPECT_EQ(out, copy_of(message));
    }
    EXPECT_EQ(IcmpHeader::parse(icmp_of_frame(bytes_of(kPingRequestFrame)))->type(), IcmpType::EchoRequest);
    EXPECT_EQ(IcmpHeader::parse(icmp_of_frame(bytes_of(kPingReplyFrame)))->type(), IcmpType::EchoReply);
}

TEST(IcmpFixture, ErrorsParseAndEmitByteForByte) {
    struct Case {
        Bytes message;
        IcmpRepr expected_without_data;
    };
    const Case cases[] = {
        {icmp_of_frame(bytes_of(kPortUnreachableFrame)),
         IcmpRepr::destination_unreachable(IcmpUnreachableCode::Port, {})},
        {icmp_of_datagram(bytes_of(kFragNeededDatagram)),
         IcmpRepr::destination_unreachable(IcmpUnreachableCode::FragmentationNeeded, {}, 1400)},
        {icmp_of_datagram(bytes_of(kTimeExceededDatagram)),
         IcmpRepr::time_exceeded(IcmpTimeExceededCode::TtlExceeded, {})},
    };
    for (const Case& c : cases) {
        auto icmp = IcmpHeader::parse(c.message);
        ASSERT_TRUE(icmp.has_value());
        EXPECT_TRUE(icmp->checksum_valid());
        auto repr = IcmpRepr::from(*icmp);
        ASSERT_TRUE(repr.has_value());
        IcmpRepr expected = c.expected_without_data;
        expected.data = c.message.subspan(8);
        EXPECT_EQ(*repr, expected);
        // The quoted datagram starts with the offending IPv4 header.
        EXPECT_EQ(repr->data[0], 0x45);

        std::vector<std::uint8_t> out(repr->buffer_len());
        repr->emit(out);
        EXPECT_EQ(out, copy_of(c.message));
        EXPECT_EQ(reserialized_by_libtins(c.message), copy_of(c.message)) << "libtins agrees with the checksum";
    }
}

TEST(IcmpFixture, PortUnreachableQuotesTheWholeUdpDatagram) {
    auto icmp = IcmpHeader::parse(icmp_of_frame(bytes_of(kPortUnreachableFrame)));
    ASSERT_TRUE(icmp.has_value());
    auto quoted = Ipv4Header::parse(icmp->payload());
    ASSERT_TRUE(quoted.has_value()) << "Linux quoted all 32 bytes, so the inner header parses";
    EXPECT_EQ(quoted->protocol(), IpProtocol::Udp);
    EXPECT_EQ(load_be16(quoted->payload().data() + 2), 9) << "the UDP destination port";
}

TEST(IcmpHeader, EveryTruncationBelowEightBytesIsTruncated) {
    // ICMP has no length field: any prefix of 8 bytes or more is a shorter message, which the
    // checksum then rejects.
    for_each_truncation(icmp_of_frame(bytes_of(kPingRequestFrame)), [](Bytes prefix) {
        auto icmp = IcmpHeader::parse(prefix);
        if (prefix.size() < 8) {
            ASSERT_FALSE(icmp.has_value()) << prefix.size();
            EXPECT_EQ(icmp.error(), ParseError::Truncated) << prefix.size();
            EXPECT_FALSE(IcmpRepr::parse(prefix).has_value()) << prefix.size();
        } else {
            ASSERT_TRUE(icmp.has_value()) << prefix.size();
            EXPECT_EQ(icmp->payload().size(), prefix.size() - 8);
            EXPECT_FALSE(icmp->checksum_valid()) << prefix.size();
        }
    });
}

TEST(IcmpHeader, EveryTruncationOfAnErrorIsCaught) {
    for_each_truncation(icmp_of_datagram(bytes_of(kFragNeededDatagram)), [](Bytes prefix) {
        auto icmp = IcmpHeader::parse(prefix);
        if (prefix.size() < 8) {
            ASSERT_FALSE(icmp.has_value()) << prefix.size();
            EXPECT_EQ(icmp.error(), ParseError::Truncated) << prefix.size();
        } else {
            ASSERT_TRUE(icmp.has_value()) << prefix.size();
            EXPECT_EQ(icmp->next_hop_mtu(), 1400);
            EXPECT_FALSE(icmp->checksum_valid()) << prefix.size();
        }
    });
}

TEST(IcmpHeader, EverySingleBitFlipBreaksTheChecksum) {
    const Bytes message = icmp_of_frame(bytes_of(kPortUnreachableFrame));
    for (std::size_t offset = 0; offset < message.size(); ++offset) {
        for (int bit = 0; bit < 8; ++bit) {
            std::vector<std::uint8_t> bytes = copy_of(message);
            bytes[offset] ^= static_cast<std::uint8_t>(1u << bit);
            auto icmp = IcmpHeader::parse(bytes);
            ASSERT_TRUE(icmp.has_value());
            EXPECT_FALSE(icmp->checksum_valid()) << offset << ":" << bit;
        }
    }
}

TEST(IcmpRepr, OtherTypesAreUnsupported) {
    // Timestamp request (13), redirect (5), parameter problem (12): parsed by the view, not
    // represented.
    for (std::uint8_t type : {5, 12, 13, 17, 255}) {
        std::vector<std::uint8_t> bytes = copy_of(icmp_of_frame(bytes_of(kPingRequestFrame)));
        bytes[0] = type;
        auto icmp = IcmpHeader::parse(bytes);
        ASSERT_TRUE(icmp.has_value());
        EXPECT_EQ(icmp->type(), type);
        auto repr = IcmpRepr::from(*icmp);
        ASSERT_FALSE(repr.has_value()) << int{type};
        EXPECT_EQ(repr.error(), ParseError::Unsupported);
    }
}

TEST(IcmpRepr, EmitCopesWithDataAlreadyInPlace) {
    // An echo reply may be written over its own request: the data is already where it belongs.
    std::vector<std::uint8_t> bytes = copy_of(icmp_of_frame(bytes_of(kPingRequestFrame)));
    const std::vector<std::uint8_t> data = copy_of(Bytes(bytes).subspan(8));
    IcmpRepr::echo_reply(0x1925, 1, Bytes(bytes).subspan(8)).emit(bytes);
    EXPECT_EQ(copy_of(Bytes(bytes).subspan(8)), data);
    EXPECT_EQ(bytes, copy_of(icmp_of_frame(bytes_of(kPingReplyFrame))));
}

TEST(IcmpRepr, UnusedWordIsZeroAndMtuOnlyForFragmentationNeeded) {
    const std::uint8_t quoted[28] = {0x45};
    const IcmpRepr port = IcmpRepr::destination_unreachable(IcmpUnreachableCode::Port, quoted, 1400);
    EXPECT_EQ(port.next_hop_mtu, 0) << "RFC 792: unused for codes other than 4";
    std::vector<std::uint8_t> bytes(port.buffer_len(), 0xff);
    port.emit(bytes);
    EXPECT_EQ(load_be32(bytes.data() + 4), 0u);

    IcmpRepr sloppy = port;
    sloppy.next_hop_mtu = 1400;  // set by hand against the rules: still not emitted
    sloppy.emit(bytes);
    EXPECT_EQ(load_be32(bytes.data() + 4), 0u);
}

TEST(IcmpHeader, PrintsLikeTcpdump) {
    auto print = [](Bytes message) {
        std::ostringstream os;
        os << IcmpHeader::parse(message).value();
        return os.str();
    };
    EXPECT_EQ(print(icmp_of_frame(bytes_of(kPingRequestFrame))), "ICMP echo request, id 6437, seq 1, length 64");
    EXPECT_EQ(print(icmp_of_frame(bytes_of(kPingReplyFrame))), "ICMP echo reply, id 6437, seq 1, length 64");
    EXPECT_EQ(print(icmp_of_frame(bytes_of(kPortUnreachableFrame))),
              "ICMP destination unreachable (port unreachable), length 40");
    EXPECT_EQ(print(icmp_of_datagram(bytes_of(kFragNeededDatagram))),
              "ICMP destination unreachable (need to frag, mtu 1400), length 36");
    EXPECT_EQ(print(icmp_of_datagram(bytes_of(kTimeExceededDatagram))), "ICMP time exceeded in-transit, length 36");
}

TEST(IcmpRepr, RandomRoundTripsThroughOursAndLibtins) {
    std::mt19937 rng(0x5eed0005);
    for (int i = 0; i < 1000; ++i) {
        // ≤ 100 bytes of data: libtins reads RFC 4884 extensions after 128 bytes of an error.
        std::vector<std::uint8_t> data(rng() % 101);
        for (auto& b : data) b = static_cast<std::uint8_t>(rng());
        const auto ident = static_cast<std::uint16_t>(rng());
        const auto seq = static_cast<std::uint16_t>(rng());
        IcmpRepr repr;
        switch (rng() % 4) {
            case 0: repr = IcmpRepr::echo_request(ident, seq, data); break;
            case 1: repr = IcmpRepr::echo_reply(ident, seq, data); break;
            case 2:
                repr = IcmpRepr::destination_unreachable(static_cast<std::uint8_t>(rng() % 16), data,
                                                         static_cast<std::uint16_t>(rng()));
                break;
            default: repr = IcmpRepr::time_exceeded(static_cast<std::uint8_t>(rng() % 2), data); break;
        }
        std::vector<std::uint8_t> bytes(repr.buffer_len());
        repr.emit(bytes);

        auto header = IcmpHeader::parse(bytes);
        ASSERT_TRUE(header.has_value()) << repr;
        EXPECT_TRUE(header->checksum_valid()) << repr;
        auto parsed = IcmpRepr::from(*header);
        ASSERT_TRUE(parsed.has_value()) << repr;
        EXPECT_EQ(*parsed, repr);

        Tins::ICMP tins(bytes.data(), static_cast<std::uint32_t>(bytes.size()));
        EXPECT_EQ(tins.type(), repr.type);
        EXPECT_EQ(tins.code(), repr.code);
        if (repr.is_echo()) {
            EXPECT_EQ(tins.id(), repr.ident);
            EXPECT_EQ(tins.sequence(), repr.seq);
        } else {
            EXPECT_EQ(tins.mtu(), repr.next_hop_mtu);
        }
        EXPECT_EQ(tins_payload(tins), data);
        EXPECT_EQ(reserialized_by_libtins(bytes), bytes) << repr;
    }
}

}  // namespace
}  // namespace tcpip
