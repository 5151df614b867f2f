// The UDP header (RFC 768): the wire format only, a view over bytes and a small typed Repr.
//
//      0      7 8     15 16    23 24    31
//     +--------+--------+--------+--------+
//     |     Source      |   Destination   |
//     |      Port       |      Port       |
//     +--------+--------+--------+--------+
//     |                 |                 |
//     |     Length      |    Checksum     |
//     +--------+--------+--------+--------+
//     |
//     |          data octets ...
//     +---------------- ...
//
// Length counts the header and the data, so it is at least 8. The checksum covers a pseudo-header
// (source address, destination address, zero, protocol 17, UDP length; RFC 768 "Fields"), the
// header and the data. A checksum of zero means the sender computed none; a computed checksum of
// zero is therefore sent as all ones (0xffff), its other one's complement representation.
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

// A read-only view of one UDP datagram. It does not own the bytes, which must outlive it.
//
// parse() checks every length before any read, so after it succeeds no accessor reads out of
// bounds: the view holds exactly `length()` bytes, the header and its payload.
class UdpHeader {
public:
    static constexpr std::size_t kHeaderLen = 8;
    static constexpr std::uint8_t kIpProtocol = 17;  // the IPv4 protocol number (RFC 790)

    // Fewer than 8 bytes: Truncated. A length field below 8, or above the bytes given: BadLength.
    // Bytes after `length` (e.g. Ethernet padding the IPv4 layer did not remove) are ignored.
    // The checksum is not verified here (it needs the IP addresses): see checksum_valid().
    static Result<UdpHeader, ParseError> parse(Bytes bytes);

    std::uint16_t src_port() const { return load_be16(bytes_, kSrcPort); }
    std::uint16_t dst_port() const { return load_be16(bytes_, kDstPort); }
    std::uint16_t length() const { return load_be16(bytes_, kLength); }
    std::uint16_t checksum() const { return load_be16(bytes_, kChecksum); }

    // The data after the header, cut at the length field.
    Bytes payload() const { return bytes_.subspan(kHeaderLen); }
    // The whole datagram, header and payload, cut at the length field.
    Bytes bytes() const { return bytes_; }

    // True if the checksum field is zero ("none computed", RFC 768), or if the one's complement
    // sum over pseudo-header, header and payload is all ones.
    bool checksum_valid(Ipv4Address src, Ipv4Address dst) const;

    // Field offsets, from the diagram above.
    static constexpr std::size_t kSrcPort = 0;
    static constexpr std::size_t kDstPort = 2;
    static constexpr std::size_t kLength = 4;
    static constexpr std::size_t kChecksum = 6;

private:
    explicit UdpHeader(Bytes bytes) : bytes_(bytes) {}

    Bytes bytes_;  // exactly length() bytes, length() >= kHeaderLen
};

// A UDP header as plain values: what a socket fills in to send, what a view reads back.
struct UdpRepr {
    static constexpr std::size_t header_len = UdpHeader::kHeaderLen;

    std::uint16_t src_port = 0;
    std::uint16_t dst_port = 0;
    std::size_t payload_len = 0;  // bytes of data after the header; at most 65535 - 8

    static UdpRepr from(const UdpHeader& header);

    // Header plus data: the value of the length field.
    std::size_t total_len() const { return header_len + payload_len; }

    // Writes the datagram into out[0, total_len()): the header, then the payload, then the
    // checksum over both and the pseudo-header. `payload` may already sit at out[8] (nothing is
    // copied then) or anywhere else. Requires payload.size() == payload_len and
    // out.size() >= total_len() (asserted: a wrong size is a bug in the caller, not bad input).
    void emit(MutableBytes out, Ipv4Address src, Ipv4Address dst, Bytes payload) const;

    // The zero-copy form: the packet's data is the payload (payload.size() == payload_len);
    // the header is prepended in its headroom (push), and the packet then holds the datagram.
    void emit(Packet& packet, Ipv4Address src, Ipv4Address dst) const;

    bool operator==(const UdpRepr&) const = default;
};

// Printed as tcpdump prints the UDP part of a line: "10 > 20 UDP, length 5" (the payload length).
std::ostream& operator<<(std::ostream& os, const UdpHeader& header);
std::ostream& operator<<(std::ostream& os, const UdpRepr& repr);

}  // namespace tcpip
