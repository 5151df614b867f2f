// The UDP wire format (RFC 768) against libtins, a byte fixture captured from Linux, and malformed
// input. libtins builds and reads the IPv4 wrapper, so this test depends on no other layer of ours.
#include "stack/udp/header.h"

#include <gtest/gtest.h>
#include <tins/tins.h>

#include <cstring>
#include <sstream>
#include <vector>

#include "stack/core/packet.h"
#include "tests/unit/wire/transport_testing.h"

namespace tcpip {
namespace {

using wire_testing::from_hex;
using wire_testing::to_tins;
using wire_testing::to_vector;
using wire_testing::transport_part;
using wire_testing::wrap_in_ipv4;

const Ipv4Address kSrc(10, 0, 0, 1);
const Ipv4Address kDst(10, 0, 0, 2);

std::vector<std::uint8_t> payload_of(std::size_t n) {
    std::vector<std::uint8_t> payload(n);
    for (std::size_t i = 0; i < n; ++i) payload[i] = static_cast<std::uint8_t>(i * 7 + 3);
    return payload;
}

// Ours, emitted through the zero-copy Packet form.
std::vector<std::uint8_t> emit_packet(const UdpRepr& repr, const std::vector<std::uint8_t>& payload,
                                      Ipv4Address src = kSrc, Ipv4Address dst = kDst) {
    PacketPool pool;
    Packet packet = pool.allocate(payload.size());
    if (!payload.empty()) std::memcpy(packet.append(payload.size()).data(), payload.data(), payload.size());
    repr.emit(packet, src, dst);
    return to_vector(packet.bytes());
}

// Ours, emitted into a plain buffer from a payload somewhere else.
std::vector<std::uint8_t> emit_buffer(const UdpRepr& repr, const std::vector<std::uint8_t>& payload,
                                      Ipv4Address src = kSrc, Ipv4Address dst = kDst) {
    std::vector<std::uint8_t> out(repr.total_len());
    repr.emit(out, src, dst, payload);
    return out;
}

// ---------------------------------------------------------------------------------------------
// 1. Built by libtins, read by us.

TEST(UdpWire, LibtinsBuiltDatagramsParse) {
    for (std::size_t len : {0u, 1u, 2u, 5u, 17u, 512u, 1472u}) {
        SCOPED_TRACE(len);
        const auto payload = payload_of(len);
        Tins::IP ip = Tins::IP(to_tins(kDst), to_tins(kSrc)) / Tins::UDP(5353, 40000);
        if (len > 0) ip /= Tins::RawPDU(payload.data(), static_cast<std::uint32_t>(len));
        const auto datagram = transport_part(ip.serialize());

        auto udp = UdpHeader::parse(datagram);
        ASSERT_TRUE(udp.has_value()) << to_string(udp.error());
        EXPECT_EQ(udp->src_port(), 40000);
        EXPECT_EQ(udp->dst_port(), 5353);
        EXPECT_EQ(udp->length(), 8 + len);
        EXPECT_EQ(udp->checksum(), load_be16(datagram.data() + 6));
        EXPECT_NE(udp->checksum(), 0) << "libtins computes a checksum";
        EXPECT_EQ(to_vector(udp->payload()), payload);
        EXPECT_TRUE(udp->checksum_valid(kSrc, kDst));
        EXPECT_FALSE(udp->checksum_valid(kSrc, Ipv4Address(10, 0, 0, 3))) << "the pseudo-header is covered";
        EXPECT_EQ(UdpRepr::from(*udp), (UdpRepr{40000, 5353, len}));
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Emitted by us, read by libtins; libtins' own checksum equals ours.

TEST(UdpWire, OursParseInLibtins) {
    for (std::size_t len : {0u, 1u, 2u, 5u, 17u, 512u, 1472u}) {
        SCOPED_TRACE(len);
        const auto payload = payload_of(len);
        const UdpRepr repr{.src_port = 53, .dst_port = 33333, .payload_len = len};
        const auto ours = emit_packet(repr, payload);
        EXPECT_EQ(ours, emit_buffer(repr, payload)) << "both emit forms agree";

        const auto sent = wrap_in_ipv4(ours, kSrc, kDst, UdpHeader::kIpProtocol);
        Tins::IP ip(sent.data(), static_cast<std::uint32_t>(sent.size()));
        const auto& udp = ip.rfind_pdu<Tins::UDP>();
        EXPECT_EQ(udp.sport(), 53);
        EXPECT_EQ(udp.dport(), 33333);
        EXPECT_EQ(udp.length(), 8 + len);
        EXPECT_EQ(udp.checksum(), load_be16(ours.data() + 6));
        if (len > 0) {
            EXPECT_EQ(udp.rfind_pdu<Tins::RawPDU>().payload(), payload);
        } else {
            EXPECT_EQ(udp.inner_pdu(), nullptr);
        }

        // Serializing again makes libtins compute the checksum itself: every byte must agree.
        EXPECT_EQ(ip.serialize(), sent);
    }
}

// ---------------------------------------------------------------------------------------------
// 3. A byte fixture: a DNS query for example.com, sent by Linux from 127.0.0.1:51409 to
// 127.0.0.1:53 and captured on lo (the checksum filled in, since loopback leaves it to offload).

const Ipv4Address kLoopback(127, 0, 0, 1);
const char* const kDnsQuery =
    "c8d1 0035 0025 56f9"                                // ports, length 37, checksum
    "1234 0100 0001 0000 0000 0000"                      // DNS header: id, RD, one question
    "07 6578616d706c65 03 636f6d 00 0001 0001";          // example.com, type A, class IN

TEST(UdpWire, FixtureParses) {
    const auto bytes = from_hex(kDnsQuery);
    auto udp = UdpHeader::parse(bytes);
    ASSERT_TRUE(udp.has_value());
    EXPECT_EQ(udp->src_port(), 51409);
    EXPECT_EQ(udp->dst_port(), 53);
    EXPECT_EQ(udp->length(), 37);
    EXPECT_EQ(udp->checksum(), 0x56f9);
    EXPECT_EQ(udp->payload().size(), 29u);
    EXPECT_EQ(udp->payload()[0], 0x12);
    EXPECT_EQ(udp->payload()[28], 0x01);
    EXPECT_TRUE(udp->checksum_valid(kLoopback, kLoopback));
    std::ostringstream text;
    text << *udp;
    EXPECT_EQ(text.str(), "51409 > 53 UDP, length 29");
}

TEST(UdpWire, FixtureEmitsByteForByte) {
    const auto bytes = from_hex(kDnsQuery);
    auto udp = UdpHeader::parse(bytes);
    ASSERT_TRUE(udp.has_value());
    const UdpRepr repr = UdpRepr::from(*udp);
    EXPECT_EQ(repr, (UdpRepr{51409, 53, 29}));
    const auto payload = to_vector(udp->payload());
    EXPECT_EQ(emit_packet(repr, payload, kLoopback, kLoopback), bytes);
    EXPECT_EQ(emit_buffer(repr, payload, kLoopback, kLoopback), bytes);
}

TEST(UdpWire, EmitWithPayloadAlreadyInPlace) {
    // The payload already sits right after the header in `out`: emit must not disturb it.
    const auto fixture = from_hex(kDnsQuery);
    std::vector<std::uint8_t> out(fixture.size(), 0xee);
    std::memcpy(out.data() + 8, fixture.data() + 8, fixture.size() - 8);
    const UdpRepr repr{51409, 53, 29};
    repr.emit(out, kLoopback, kLoopback, Bytes(out).subspan(8));
    EXPECT_EQ(out, fixture);
}

// ---------------------------------------------------------------------------------------------
// 4. Malformed input.

TEST(UdpWire, EveryTruncationIsRejected) {
    const auto whole = from_hex(kDnsQuery);
    for (std::size_t n = 0; n < whole.size(); ++n) {
        SCOPED_TRACE(n);
        // A fresh vector of exactly n bytes, so that AddressSanitizer sees any read beyond it.
        const std::vector<std::uint8_t> cut(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(n));
        auto udp = UdpHeader::parse(cut);
        ASSERT_FALSE(udp.has_value());
        EXPECT_EQ(udp.error(), n < 8 ? ParseError::Truncated : ParseError::BadLength);
    }
}

TEST(UdpWire, LengthFieldBelowHeaderIsRejected) {
    auto bytes = from_hex(kDnsQuery);
    for (std::uint16_t length = 0; length < 8; ++length) {
        SCOPED_TRACE(length);
        store_be16(bytes.data() + 4, length);
        auto udp = UdpHeader::parse(bytes);
        ASSERT_FALSE(udp.has_value());
        EXPECT_EQ(udp.error(), ParseError::BadLength);
    }
}

TEST(UdpWire, LengthFieldBeyondBytesIsRejected) {
    auto bytes = from_hex(kDnsQuery);
    for (std::uint16_t length : {38, 39, 100, 0xffff}) {
        store_be16(bytes.data() + 4, length);
        auto udp = UdpHeader::parse(bytes);
        ASSERT_FALSE(udp.has_value());
        EXPECT_EQ(udp.error(), ParseError::BadLength);
    }
}

TEST(UdpWire, BytesAfterLengthAreIgnored) {
    // E.g. Ethernet padding of a short frame that reached us: the datagram ends at its length.
    auto bytes = from_hex(kDnsQuery);
    bytes.insert(bytes.end(), {0, 0, 0, 0, 0xab});
    auto udp = UdpHeader::parse(bytes);
    ASSERT_TRUE(udp.has_value());
    EXPECT_EQ(udp->payload().size(), 29u);
    EXPECT_EQ(udp->bytes().size(), 37u);
    EXPECT_TRUE(udp->checksum_valid(kLoopback, kLoopback)) << "the padding is not summed";

    // A length of exactly 8 is a datagram with no data.
    store_be16(bytes.data() + 4, 8);
    udp = UdpHeader::parse(bytes);
    ASSERT_TRUE(udp.has_value());
    EXPECT_TRUE(udp->payload().empty());
}

TEST(UdpWire, EverySingleBitErrorIsDetected) {
    const auto good = from_hex(kDnsQuery);
    for (std::size_t bit = 0; bit < good.size() * 8; ++bit) {
        auto bad = good;
        bad[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
        auto udp = UdpHeader::parse(bad);
        if (!udp.has_value()) continue;  // a flipped length bit: rejected before any checksum
        if (udp->checksum() == 0) continue;  // cannot happen from 0x56f9 by one bit, but stated
        EXPECT_FALSE(udp->checksum_valid(kLoopback, kLoopback)) << "bit " << bit;
    }
    auto udp = UdpHeader::parse(good);
    ASSERT_TRUE(udp.has_value());
    EXPECT_FALSE(udp->checksum_valid(kLoopback, Ipv4Address(127, 0, 0, 2)));
    EXPECT_FALSE(udp->checksum_valid(Ipv4Address(127, 0, 0, 2), kLoopback));
}

TEST(UdpWire, ZeroChecksumMeansNone) {
    auto bytes = from_hex(kDnsQuery);
    bytes[20] ^= 0xff;  // corrupt the data...
    store_be16(bytes.data() + 6, 0);  // ...but the sender computed no checksum (RFC 768)
    auto udp = UdpHeader::parse(bytes);
    ASSERT_TRUE(udp.has_value());
    EXPECT_EQ(udp->checksum(), 0);
    EXPECT_TRUE(udp->checksum_valid(kSrc, kDst));
}

TEST(UdpWire, ComputedZeroIsSentAsAllOnes) {
    // Find a payload whose checksum computes to zero: with two data bytes equal to the checksum of
    // a zero payload, the one's complement sum becomes all ones and its complement zero.
    const UdpRepr repr{.src_port = 1000, .dst_port = 2000, .payload_len = 2};
    const auto zero = emit_buffer(repr, {0, 0});
    const std::vector<std::uint8_t> payload{zero[6], zero[7]};
    const auto datagram = emit_buffer(repr, payload);
    EXPECT_EQ(load_be16(datagram.data() + 6), 0xffff);
    EXPECT_EQ(emit_packet(repr, payload), datagram);
    auto udp = UdpHeader::parse(datagram);
    ASSERT_TRUE(udp.has_value());
    EXPECT_TRUE(udp->checksum_valid(kSrc, kDst));
    EXPECT_FALSE(udp->checksum_valid(kSrc, Ipv4Address(10, 0, 0, 3)));
}

TEST(UdpWire, ReprPrints) {
    std::ostringstream text;
    text << UdpRepr{10, 20, 5};
    EXPECT_EQ(text.str(), "10 > 20 UDP, length 5");
}

}  // namespace
}  // namespace tcpip
