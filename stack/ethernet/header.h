// Ethernet II framing (DIX Ethernet version 2; RFC 894 for IPv4 over it): the 14-byte header that
// every frame on the wire starts with.
//
//     0                   1                   2                   3
//     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                  Destination MAC address                      |
//    +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                               |                               |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//    |                     Source MAC address                        |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |           EtherType           |  Payload ...                  |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The preamble, start-of-frame delimiter and frame check sequence (FCS) never reach software
// through a TAP device or a packet socket, so they are not part of this view. A frame shorter than
// the 60-byte minimum is padded by the sender (RFC 894): the payload seen here may therefore carry
// trailing zero bytes, which the layer above cuts off using its own length field (IPv4 total
// length; ARP's fixed size).
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

// EtherType values (IEEE registry), as plain numbers so that a received, unknown value is still
// an ordinary std::uint16_t: `switch (header.ethertype()) { case EtherType::Ipv4: ... }`.
// Values below 0x0600 are not EtherTypes but IEEE 802.3 length fields; this stack does not speak
// 802.3/LLC and the layer drops them as unknown types.
struct EtherType {
    static constexpr std::uint16_t Ipv4 = 0x0800;
    static constexpr std::uint16_t Arp = 0x0806;
    static constexpr std::uint16_t Vlan = 0x8100;  // IEEE 802.1Q tag: recognised only to name it
    static constexpr std::uint16_t Ipv6 = 0x86dd;  // named only, for printing
};

// A read-only view of an Ethernet II frame. parse() checks that the 14-byte header is present;
// after a successful parse no accessor reads out of bounds.
class EthernetHeader {
public:
    static constexpr std::size_t kDstOffset = 0;
    static constexpr std::size_t kSrcOffset = 6;
    static constexpr std::size_t kEtherTypeOffset = 12;
    static constexpr std::size_t kHeaderLen = 14;

    // The whole frame (header and payload, no FCS). Fails with Truncated below 14 bytes.
    static Result<EthernetHeader, ParseError> parse(Bytes frame);

    MacAddress dst() const { return MacAddress::from_bytes(frame_.data() + kDstOffset); }
    MacAddress src() const { return MacAddress::from_bytes(frame_.data() + kSrcOffset); }
    std::uint16_t ethertype() const { return load_be16(frame_, kEtherTypeOffset); }

    Bytes header_bytes() const { return frame_.first(kHeaderLen); }
    // Everything after the header, including any minimum-size padding the sender added.
    Bytes payload() const { return frame_.subspan(kHeaderLen); }
    // The whole frame this view was parsed from.
    Bytes frame_bytes() const { return frame_; }

private:
    explicit EthernetHeader(Bytes frame) : frame_(frame) {}
    Bytes frame_;  // invariant: frame_.size() >= kHeaderLen
};

// The fields of an Ethernet II header as values: what the layer decides, before any bytes exist.
struct EthernetRepr {
    MacAddress dst;
    MacAddress src;
    std::uint16_t ethertype = 0;

    static EthernetRepr from(const EthernetHeader& header);
    static Result<EthernetRepr, ParseError> parse(Bytes frame);

    static constexpr std::size_t header_len() { return EthernetHeader::kHeaderLen; }

    // Writes the 14-byte header into out[0, 14). Precondition: out.size() >= header_len().
    void emit(MutableBytes out) const;
    // Prepends the header to the packet (which holds the payload), taking 14 bytes of headroom.
    void emit(Packet& packet) const;

    bool operator==(const EthernetRepr&) const = default;
};

// tcpdump -e style: "02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 60".
std::ostream& operator<<(std::ostream& os, const EthernetHeader& header);
std::ostream& operator<<(std::ostream& os, const EthernetRepr& repr);

// "IPv4", "ARP", ... or "Unknown" for a number this stack does not name.
const char* ethertype_name(std::uint16_t ethertype);

}  // namespace tcpip
