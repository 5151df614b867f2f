// The IPv4 header (RFC 791 section 3.1).
//
//     0                   1                   2                   3
//     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |Version|  IHL  |    DSCP   |ECN|          Total Length         |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |         Identification        |Flags|      Fragment Offset    |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |  Time to Live |    Protocol   |         Header Checksum       |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                       Source Address                          |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                    Destination Address                        |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                    Options                    |    Padding    |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// IHL counts 32-bit words (5 without options, at most 15). The old Type of Service byte is now
// DSCP (RFC 2474) and ECN (RFC 3168). Flags are, from the most significant bit: reserved (must be
// zero), DF (don't fragment), MF (more fragments). Fragment Offset counts 8-byte units; this view
// and Ipv4Repr speak bytes, so the factor 8 lives in one place. The header checksum (RFC 791,
// computed as in RFC 1071) covers the header only, options included.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>

#include "stack/core/address.h"
#include "stack/core/bytes.h"
#include "stack/core/packet.h"
#include "stack/core/parse_error.h"
#include "stack/core/result.h"

namespace tcpip {

// IP protocol numbers (IANA "Assigned Internet Protocol Numbers"), as plain numbers so that a
// received, unknown value is still an ordinary std::uint8_t and can be passed straight to
// InternetChecksum::add_pseudo_header().
struct IpProtocol {
    static constexpr std::uint8_t Icmp = 1;
    static constexpr std::uint8_t Tcp = 6;
    static constexpr std::uint8_t Udp = 17;
};

// "ICMP", "TCP", "UDP", or "unknown".
const char* ip_protocol_name(std::uint8_t protocol);

// A read-only view of an IPv4 datagram (header and payload). parse() validates every length field
// against the bytes it was given; after a successful parse no accessor reads out of bounds.
// The checksum is not verified by parse(): call checksum_valid(), so that the layer decides (and a
// driver that did checksum offload can skip it).
class Ipv4Header {
public:
    static constexpr std::size_t kVersionIhlOffset = 0;
    static constexpr std::size_t kTosOffset = 1;
    static constexpr std::size_t kTotalLengthOffset = 2;
    static constexpr std::size_t kIdentOffset = 4;
    static constexpr std::size_t kFlagsFragOffset = 6;
    static constexpr std::size_t kTtlOffset = 8;
    static constexpr std::size_t kProtocolOffset = 9;
    static constexpr std::size_t kChecksumOffset = 10;
    static constexpr std::size_t kSrcOffset = 12;
    static constexpr std::size_t kDstOffset = 16;
    static constexpr std::size_t kMinHeaderLen = 20;
    static constexpr std::size_t kMaxHeaderLen = 60;

    static constexpr std::uint16_t kReservedFlag = 0x8000;  // "evil bit" (RFC 3514); must be zero
    static constexpr std::uint16_t kDontFragmentFlag = 0x4000;
    static constexpr std::uint16_t kMoreFragmentsFlag = 0x2000;
    static constexpr std::uint16_t kFragOffsetMask = 0x1fff;

    // `bytes` is the datagram as received, possibly followed by link padding. Checks, in order:
    //   fewer than 20 bytes                          -> Truncated
    //   version is not 4                             -> BadVersion
    //   IHL < 5, or IHL * 4 > bytes                  -> BadHeaderLength
    //   total length < IHL * 4, or > bytes           -> BadTotalLength
    // Bytes beyond the total length (Ethernet pads short frames to 60 bytes) are accepted and
    // excluded from payload(); RFC 1122 section 3.3.2 expects the receiver to cope with them.
    static Result<Ipv4Header, ParseError> parse(Bytes bytes);

    std::uint8_t version() const { return bytes_[kVersionIhlOffset] >> 4; }
    std::uint8_t ihl() const { return bytes_[kVersionIhlOffset] & 0x0f; }         // in 32-bit words
    std::size_t header_len() const { return std::size_t{ihl()} * 4; }            // in bytes
    std::uint8_t tos() const { return bytes_[kTosOffset]; }                       // DSCP << 2 | ECN
    std::uint8_t dscp() const { return tos() >> 2; }
    std::uint8_t ecn() const { return tos() & 0x03; }
    std::uint16_t total_length() const { return load_be16(bytes_, kTotalLengthOffset); }
    std::uint16_t ident() const { return load_be16(bytes_, kIdentOffset); }
    bool reserved_flag() const { return (flags_frag() & kReservedFlag) != 0; }
    bool dont_fragment() const { return (flags_frag() & kDontFragmentFlag) != 0; }
    bool more_fragments() const { return (flags_frag() & kMoreFragmentsFlag) != 0; }
    // The offset of this fragment's data in the original datagram, in bytes (the field times 8).
    std::uint16_t frag_offset() const { return static_cast<std::uint16_t>((flags_frag() & kFragOffsetMask) * 8); }
    // A fragment is any datagram that is not a whole one: MF set, or a non-zero offset.
    bool is_fragment() const { return more_fragments() || frag_offset() != 0; }
    std::uint8_t ttl() const { return bytes_[kTtlOffset]; }
    std::uint8_t protocol() const { return bytes_[kProtocolOffset]; }
    std::uint16_t checksum() const { return load_be16(bytes_, kChecksumOffset); }
    Ipv4Address src() const { return Ipv4Address::from_bytes(bytes_.data() + kSrcOffset); }
    Ipv4Address dst() const { return Ipv4Address::from_bytes(bytes_.data() + kDstOffset); }

    // The option bytes (RFC 791 section 3.1 "Options"), padding included; empty when IHL is 5.
    // They are not interpreted: this stack neither honours nor sends IP options.
    Bytes options() const { return bytes_.subspan(kMinHeaderLen, header_len() - kMinHeaderLen); }
    Bytes header_bytes() const { return bytes_.first(header_len()); }
    // The data after the header, up to the total length (link padding cut off).
    Bytes payload() const { return bytes_.subspan(header_len(), total_length() - header_len()); }
    // Header and payload: the datagram, up to the total length.
    Bytes datagram_bytes() const { return bytes_.first(total_length()); }

    // True when the header, with its checksum field, sums to zero (RFC 1071 section 1).
    bool checksum_valid() const;

private:
    explicit Ipv4Header(Bytes bytes) : bytes_(bytes) {}
    std::uint16_t flags_frag() const { return load_be16(bytes_, kFlagsFragOffset); }
    Bytes bytes_;  // invariant: 20 <= IHL * 4 <= total length <= bytes_.size()
};

// An IPv4 header without options, as values. frag_offset is in bytes and must be a multiple of 8.
// The ECN field: the two low bits of the TOS byte (RFC 3168 section 5). A sender that negotiated
// ECN marks its packets ECN-capable (ECT); a router that would drop one for congestion may mark it
// CE instead, and the receiver's transport echoes that to the sender.
namespace ecn {
inline constexpr std::uint8_t kMask = 0b11;
inline constexpr std::uint8_t kNotEct = 0b00;  // not ECN-capable
inline constexpr std::uint8_t kEct1 = 0b01;    // ECN-capable transport, ECT(1)
inline constexpr std::uint8_t kEct0 = 0b10;    // ECN-capable transport, ECT(0): what TCP sends (as Linux)
inline constexpr std::uint8_t kCe = 0b11;      // congestion experienced
}  // namespace ecn

struct Ipv4Repr {
    static constexpr std::uint8_t kDefaultTtl = 64;  // Linux's net.ipv4.ip_default_ttl

    Ipv4Address src;
    Ipv4Address dst;
    std::uint8_t protocol = 0;
    std::uint16_t payload_len = 0;   // total length minus the header
    std::uint8_t ttl = kDefaultTtl;
    std::uint16_t ident = 0;
    bool dont_fragment = false;
    bool more_fragments = false;
    std::uint16_t frag_offset = 0;   // in bytes
    std::uint8_t tos = 0;            // DSCP << 2 | ECN

    // Takes the fields of a parsed header; options, if any, are dropped (header_len() is then 20
    // and payload_len counts from the end of the received header), and the checksum is not
    // looked at.
    static Ipv4Repr from(const Ipv4Header& header);
    static Result<Ipv4Repr, ParseError> parse(Bytes bytes);

    static constexpr std::size_t header_len() { return Ipv4Header::kMinHeaderLen; }

    // Writes the 20-byte header into out[0, 20), total length header_len() + payload_len, with its
    // checksum. Preconditions: out.size() >= header_len(); frag_offset % 8 == 0;
    // header_len() + payload_len <= 65535.
    void emit(MutableBytes out) const;
    // Prepends the header to the packet, which holds the payload: the total length is taken from
    // the packet (header_len() + packet.size() before the push), not from payload_len.
    void emit(Packet& packet) const;

    bool operator==(const Ipv4Repr&) const = default;

private:
    void emit_header(MutableBytes out, std::uint16_t total_length) const;
};

// tcpdump -v style:
// "IP (tos 0x0, ttl 64, id 4660, offset 0, flags [DF], proto ICMP (1), length 84) 10.0.0.1 > 10.0.0.2"
std::ostream& operator<<(std::ostream& os, const Ipv4Header& header);
std::ostream& operator<<(std::ostream& os, const Ipv4Repr& repr);

}  // namespace tcpip
