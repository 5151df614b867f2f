#include "stack/arp/header.h"

#include <cassert>
#include <ostream>

namespace tcpip {

Result<ArpPacket, ParseError> ArpPacket::parse(Bytes bytes) {
    // RFC 826 "Packet Reception": the hardware and protocol types are checked first; a packet for
    // another kind of link or another protocol is not ours to understand, rather than malformed.
    if (bytes.size() < kFixedLen) return Unexpected(ParseError::Truncated);
    if (load_be16(bytes, kHardwareTypeOffset) != kHardwareEthernet ||
        load_be16(bytes, kProtocolTypeOffset) != kProtocolIpv4 ||
        bytes[kHardwareLenOffset] != MacAddress::kSize || bytes[kProtocolLenOffset] != Ipv4Address::kSize) {
        return Unexpected(ParseError::Unsupported);
    }
    if (bytes.size() < kPacketLen) return Unexpected(ParseError::Truncated);
    return ArpPacket(bytes);
}

ArpRepr ArpRepr::from(const ArpPacket& packet) {
    return ArpRepr{packet.operation(), packet.sender_mac(), packet.sender_ip(), packet.target_mac(),
                   packet.target_ip()};
}

Result<ArpRepr, ParseError> ArpRepr::parse(Bytes bytes) {
    auto packet = ArpPacket::parse(bytes);
    if (!packet) return Unexpected(packet.error());
    return from(*packet);
}

void ArpRepr::emit(MutableBytes out) const {
    assert(out.size() >= header_len());
    store_be16(out, ArpPacket::kHardwareTypeOffset, ArpPacket::kHardwareEthernet);
    store_be16(out, ArpPacket::kProtocolTypeOffset, ArpPacket::kProtocolIpv4);
    out[ArpPacket::kHardwareLenOffset] = MacAddress::kSize;
    out[ArpPacket::kProtocolLenOffset] = Ipv4Address::kSize;
    store_be16(out, ArpPacket::kOperationOffset, static_cast<std::uint16_t>(operation));
    sender_mac.copy_to(out.data() + ArpPacket::kSenderMacOffset);
    sender_ip.copy_to(out.data() + ArpPacket::kSenderIpOffset);
    target_mac.copy_to(out.data() + ArpPacket::kTargetMacOffset);
    target_ip.copy_to(out.data() + ArpPacket::kTargetIpOffset);
}

void ArpRepr::emit(Packet& packet) const { emit(packet.push(header_len())); }

std::ostream& operator<<(std::ostream& os, ArpOperation operation) {
    switch (operation) {
        case ArpOperation::Request: return os << "Request";
        case ArpOperation::Reply: return os << "Reply";
    }
    return os << "Unknown (" << static_cast<std::uint16_t>(operation) << ")";
}

namespace {

void print_arp(std::ostream& os, ArpOperation operation, MacAddress sender_mac, Ipv4Address sender_ip,
               Ipv4Address target_ip) {
    os << "ARP, " << operation;
    switch (operation) {
        case ArpOperation::Request: os << " who-has " << target_ip << " tell " << sender_ip; break;
        case ArpOperation::Reply: os << " " << sender_ip << " is-at " << sender_mac; break;
    }
    os << ", length " << ArpPacket::kPacketLen;
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const ArpPacket& packet) {
    print_arp(os, packet.operation(), packet.sender_mac(), packet.sender_ip(), packet.target_ip());
    return os;
}

std::ostream& operator<<(std::ostream& os, const ArpRepr& repr) {
    print_arp(os, repr.operation, repr.sender_mac, repr.sender_ip, repr.target_ip);
    return os;
}

}  // namespace tcpip
