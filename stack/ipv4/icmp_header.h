// ICMP, the Internet Control Message Protocol (RFC 792), the messages this stack sends and
// understands: echo request and reply (ping), destination unreachable, and time exceeded.
//
//     0                   1                   2                   3
//     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |     Type      |     Code      |          Checksum             |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                 Rest of header (depends on the type)          |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |     Data ...
//    +-+-+-+-+-
//
// The rest-of-header word, by type:
//    Echo request (8) / reply (0):     | Identifier              | Sequence number           |
//    Destination unreachable (3):      | unused (zero)           | Next-hop MTU (code 4 only,|
//                                      |                         |   RFC 1191 section 4)     |
//    Time exceeded (11):               | unused (zero)                                       |
//
// The data of an echo is whatever the requester sent, and the reply returns it unchanged (RFC 792
// "Echo or Echo Reply Message"). The data of an error message quotes the datagram that caused it:
// its IP header and at least its first 8 bytes of data (RFC 792; RFC 1122 section 3.2.2 allows
// more, and Linux quotes up to 576 bytes in all), which is enough for the receiver to find the
// transport ports and hand the error to the right connection.
//
// The checksum (RFC 792) covers the whole ICMP message, header and data, with no pseudo-header.
// ICMP has no length field: the message is the IPv4 payload, so the view is parsed from exactly
// Ipv4Header::payload().
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>

#include "stack/core/bytes.h"
#include "stack/core/packet.h"
#include "stack/core/parse_error.h"
#include "stack/core/result.h"

namespace tcpip {

// ICMP types (RFC 792) this stack names. Plain numbers: a received message may carry any type.
struct IcmpType {
    static constexpr std::uint8_t EchoReply = 0;
    static constexpr std::uint8_t DestinationUnreachable = 3;
    static constexpr std::uint8_t EchoRequest = 8;
    static constexpr std::uint8_t TimeExceeded = 11;
};

// Codes of Destination Unreachable: 0-5 from RFC 792, 6-12 from RFC 1122 section 3.2.2.1, 13-15
// from RFC 1812 section 5.2.7.1.
struct IcmpUnreachableCode {
    static constexpr std::uint8_t Net = 0;
    static constexpr std::uint8_t Host = 1;
    static constexpr std::uint8_t Protocol = 2;             // sent by a host with no such transport
    static constexpr std::uint8_t Port = 3;                 // sent by UDP for a port nobody listens on
    static constexpr std::uint8_t FragmentationNeeded = 4;  // DF set and too big: carries the next-hop MTU
    static constexpr std::uint8_t SourceRouteFailed = 5;
    static constexpr std::uint8_t NetUnknown = 6;
    static constexpr std::uint8_t HostUnknown = 7;
    static constexpr std::uint8_t SourceHostIsolated = 8;
    static constexpr std::uint8_t NetProhibited = 9;
    static constexpr std::uint8_t HostProhibited = 10;
    static constexpr std::uint8_t NetUnreachableForTos = 11;
    static constexpr std::uint8_t HostUnreachableForTos = 12;
    static constexpr std::uint8_t AdminProhibited = 13;
    static constexpr std::uint8_t HostPrecedenceViolation = 14;
    static constexpr std::uint8_t PrecedenceCutoff = 15;
};

// Codes of Time Exceeded (RFC 792).
struct IcmpTimeExceededCode {
    static constexpr std::uint8_t TtlExceeded = 0;          // a router's TTL reached zero (traceroute)
    static constexpr std::uint8_t ReassemblyTimeout = 1;    // a host gave up reassembling fragments
};

// A read-only view of an ICMP message. parse() checks that the 8-byte header is present; after a
// successful parse no accessor reads out of bounds. The checksum is verified separately, by
// checksum_valid(), so that the layer decides.
class IcmpHeader {
public:
    static constexpr std::size_t kTypeOffset = 0;
    static constexpr std::size_t kCodeOffset = 1;
    static constexpr std::size_t kChecksumOffset = 2;
    static constexpr std::size_t kRestOffset = 4;
    static constexpr std::size_t kIdentOffset = 4;        // echo
    static constexpr std::size_t kSeqOffset = 6;          // echo
    static constexpr std::size_t kNextHopMtuOffset = 6;   // destination unreachable, code 4
    static constexpr std::size_t kHeaderLen = 8;

    // `bytes` is the whole ICMP message (the IPv4 payload). Fewer than 8 bytes is Truncated.
    static Result<IcmpHeader, ParseError> parse(Bytes bytes);

    std::uint8_t type() const { return bytes_[kTypeOffset]; }
    std::uint8_t code() const { return bytes_[kCodeOffset]; }
    std::uint16_t checksum() const { return load_be16(bytes_, kChecksumOffset); }
    std::uint32_t rest_of_header() const { return load_be32(bytes_, kRestOffset); }
    // Meaningful for echo request and reply.
    std::uint16_t ident() const { return load_be16(bytes_, kIdentOffset); }
    std::uint16_t seq() const { return load_be16(bytes_, kSeqOffset); }
    // Meaningful for destination unreachable with code FragmentationNeeded; zero from routers that
    // predate RFC 1191.
    std::uint16_t next_hop_mtu() const { return load_be16(bytes_, kNextHopMtuOffset); }

    Bytes header_bytes() const { return bytes_.first(kHeaderLen); }
    // The data after the 8-byte header: echo data, or the quoted datagram of an error.
    Bytes payload() const { return bytes_.subspan(kHeaderLen); }
    // The whole message, header and data: what the checksum covers.
    Bytes message_bytes() const { return bytes_; }

    // True when the whole message, with its checksum field, sums to zero.
    bool checksum_valid() const;

private:
    explicit IcmpHeader(Bytes bytes) : bytes_(bytes) {}
    Bytes bytes_;  // invariant: bytes_.size() >= kHeaderLen
};

// An ICMP message of one of the four types above, as values: a small tagged struct whose `type`
// says which of the other fields mean something. Build one with the named constructors.
struct IcmpRepr {
    std::uint8_t type = IcmpType::EchoRequest;
    std::uint8_t code = 0;
    std::uint16_t ident = 0;         // echo request/reply only
    std::uint16_t seq = 0;           // echo request/reply only
    std::uint16_t next_hop_mtu = 0;  // destination unreachable with code FragmentationNeeded only
    // Echo: the data. Error: the quoted datagram (its IP header and at least 8 bytes of its data).
    // A view: it points into the received packet or the caller's buffer, which must outlive it.
    Bytes data;

    static IcmpRepr echo_request(std::uint16_t ident, std::uint16_t seq, Bytes data);
    static IcmpRepr echo_reply(std::uint16_t ident, std::uint16_t seq, Bytes data);
    static IcmpRepr destination_unreachable(std::uint8_t code, Bytes quoted, std::uint16_t next_hop_mtu = 0);
    static IcmpRepr time_exceeded(std::uint8_t code, Bytes quoted);

    bool is_echo() const { return type == IcmpType::EchoRequest || type == IcmpType::EchoReply; }
    bool is_error() const { return type == IcmpType::DestinationUnreachable || type == IcmpType::TimeExceeded; }

    // Fails with Unsupported for a type other than the four above (timestamp, redirect, ...), which
    // the layer counts and drops. The checksum is not looked at.
    static Result<IcmpRepr, ParseError> from(const IcmpHeader& header);
    static Result<IcmpRepr, ParseError> parse(Bytes bytes);

    static constexpr std::size_t header_len() { return IcmpHeader::kHeaderLen; }
    std::size_t buffer_len() const { return header_len() + data.size(); }

    // Writes the whole message, header then data, into out[0, buffer_len()), with its checksum.
    // Precondition: out.size() >= buffer_len(). `data` may already sit at out[8, ...): an echo
    // reply built in place over its request is not copied over itself.
    void emit(MutableBytes out) const;
    // Prepends the 8-byte header to the packet, whose current bytes are the message data (the
    // `data` field is not used: the caller has put the data in the packet already). The checksum
    // covers the header and those bytes.
    void emit(Packet& packet) const;

    // Field by field; `data` is compared by content.
    friend bool operator==(const IcmpRepr& a, const IcmpRepr& b);

private:
    void emit_header(MutableBytes header) const;
};

// tcpdump style: "ICMP echo request, id 1, seq 2, length 64",
// "ICMP destination unreachable (port unreachable), length 36",
// "ICMP destination unreachable (need to frag, mtu 1400), length 36",
// "ICMP time exceeded in-transit, length 36".
std::ostream& operator<<(std::ostream& os, const IcmpHeader& header);
std::ostream& operator<<(std::ostream& os, const IcmpRepr& repr);

}  // namespace tcpip
