// ARP, the Address Resolution Protocol (RFC 826), for the one case this stack needs: IPv4
// addresses over Ethernet. The general packet carries the address sizes in the header; fixed to
// Ethernet (hlen 6) and IPv4 (plen 4) it is always 28 bytes long:
//
//     0                   1                   2                   3
//     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |      Hardware type (1)        |     Protocol type (0x0800)    |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |  Hw len (6)   | Proto len (4) |          Operation            |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                Sender hardware address (6 bytes)              |
//    +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |                               |   Sender protocol address     |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+        (4 bytes)              +
//    |                               |                               |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//    |                Target hardware address (6 bytes)              |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//    |             Target protocol address (4 bytes)                 |
//    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Note that the 4-byte addresses start at offsets 14 and 24, not on 4-byte boundaries: one more
// reason to read fields through load_be32() and offsets rather than through a struct.
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

// The ARP opcode (RFC 826 "ar$op"). RFC 903 (RARP) and others add more values; a received packet
// may carry any 16-bit value, which the view reports as is and the layer ignores.
enum class ArpOperation : std::uint16_t {
    Request = 1,
    Reply = 2,
};

// A read-only view of an ARP packet for Ethernet/IPv4. parse() checks the address formats and the
// length before returning; after a successful parse no accessor reads out of bounds.
class ArpPacket {
public:
    static constexpr std::uint16_t kHardwareEthernet = 1;     // RFC 826 "ar$hrd", from Assigned Numbers
    static constexpr std::uint16_t kProtocolIpv4 = 0x0800;    // "ar$pro": the EtherType of IPv4

    static constexpr std::size_t kHardwareTypeOffset = 0;
    static constexpr std::size_t kProtocolTypeOffset = 2;
    static constexpr std::size_t kHardwareLenOffset = 4;
    static constexpr std::size_t kProtocolLenOffset = 5;
    static constexpr std::size_t kOperationOffset = 6;
    static constexpr std::size_t kFixedLen = 8;               // the part before the addresses
    static constexpr std::size_t kSenderMacOffset = 8;
    static constexpr std::size_t kSenderIpOffset = 14;
    static constexpr std::size_t kTargetMacOffset = 18;
    static constexpr std::size_t kTargetIpOffset = 24;
    static constexpr std::size_t kPacketLen = 28;

    // Checks, in order: the 8 fixed bytes are present (else Truncated); they describe
    // Ethernet/IPv4, htype 1, ptype 0x0800, hlen 6, plen 4 (else Unsupported); the 28 bytes those
    // sizes imply are present (else Truncated). Bytes after the 28 are Ethernet padding (a 42-byte
    // ARP frame is padded to the 60-byte minimum) and are accepted and ignored.
    static Result<ArpPacket, ParseError> parse(Bytes bytes);

    std::uint16_t hardware_type() const { return load_be16(bytes_, kHardwareTypeOffset); }
    std::uint16_t protocol_type() const { return load_be16(bytes_, kProtocolTypeOffset); }
    std::uint8_t hardware_len() const { return bytes_[kHardwareLenOffset]; }
    std::uint8_t protocol_len() const { return bytes_[kProtocolLenOffset]; }
    std::uint16_t opcode() const { return load_be16(bytes_, kOperationOffset); }
    ArpOperation operation() const { return static_cast<ArpOperation>(opcode()); }
    MacAddress sender_mac() const { return MacAddress::from_bytes(bytes_.data() + kSenderMacOffset); }
    Ipv4Address sender_ip() const { return Ipv4Address::from_bytes(bytes_.data() + kSenderIpOffset); }
    MacAddress target_mac() const { return MacAddress::from_bytes(bytes_.data() + kTargetMacOffset); }
    Ipv4Address target_ip() const { return Ipv4Address::from_bytes(bytes_.data() + kTargetIpOffset); }

    // The 28 bytes of the ARP packet, without any padding that followed it.
    Bytes header_bytes() const { return bytes_.first(kPacketLen); }
    // What followed the 28 bytes in the frame: Ethernet padding, normally zeros. ARP has no payload.
    Bytes padding() const { return bytes_.subspan(kPacketLen); }

private:
    explicit ArpPacket(Bytes bytes) : bytes_(bytes) {}
    Bytes bytes_;  // invariant: bytes_.size() >= kPacketLen, and the formats are Ethernet/IPv4
};

// An Ethernet/IPv4 ARP packet as values. The address formats are implied, not stored.
struct ArpRepr {
    ArpOperation operation = ArpOperation::Request;
    MacAddress sender_mac;
    Ipv4Address sender_ip;
    MacAddress target_mac;   // all zeros in a request: it is what the sender asks for (RFC 826)
    Ipv4Address target_ip;

    static ArpRepr from(const ArpPacket& packet);
    static Result<ArpRepr, ParseError> parse(Bytes bytes);

    static constexpr std::size_t header_len() { return ArpPacket::kPacketLen; }

    // Writes the 28 bytes into out[0, 28). Precondition: out.size() >= header_len().
    void emit(MutableBytes out) const;
    // Prepends the 28 bytes to the packet (normally empty), taking headroom.
    void emit(Packet& packet) const;

    bool operator==(const ArpRepr&) const = default;
};

// tcpdump style: "ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28",
//                "ARP, Reply 10.0.0.2 is-at 02:00:00:00:00:02, length 28".
std::ostream& operator<<(std::ostream& os, const ArpPacket& packet);
std::ostream& operator<<(std::ostream& os, const ArpRepr& repr);
std::ostream& operator<<(std::ostream& os, ArpOperation operation);

}  // namespace tcpip
