#include "stack/ethernet/header.h"

#include <cassert>
#include <ios>
#include <ostream>

namespace tcpip {

Result<EthernetHeader, ParseError> EthernetHeader::parse(Bytes frame) {
    if (frame.size() < kHeaderLen) return Unexpected(ParseError::Truncated);
    return EthernetHeader(frame);
}

EthernetRepr EthernetRepr::from(const EthernetHeader& header) {
    return EthernetRepr{header.dst(), header.src(), header.ethertype()};
}

Result<EthernetRepr, ParseError> EthernetRepr::parse(Bytes frame) {
    auto header = EthernetHeader::parse(frame);
    if (!header) return Unexpected(header.error());
    return from(*header);
}

void EthernetRepr::emit(MutableBytes out) const {
    assert(out.size() >= header_len());
    dst.copy_to(out.data() + EthernetHeader::kDstOffset);
    src.copy_to(out.data() + EthernetHeader::kSrcOffset);
    store_be16(out, EthernetHeader::kEtherTypeOffset, ethertype);
}

void EthernetRepr::emit(Packet& packet) const { emit(packet.push(header_len())); }

const char* ethertype_name(std::uint16_t ethertype) {
    switch (ethertype) {
        case EtherType::Ipv4: return "IPv4";
        case EtherType::Arp: return "ARP";
        case EtherType::Vlan: return "802.1Q";
        case EtherType::Ipv6: return "IPv6";
        default: return "Unknown";
    }
}

namespace {

void print_ethertype(std::ostream& os, std::uint16_t ethertype) {
    const auto flags = os.flags();
    const auto fill = os.fill();
    os << "ethertype " << ethertype_name(ethertype) << " (0x" << std::hex;
    os.width(4);
    os.fill('0');
    os << ethertype << ")";
    os.flags(flags);
    os.fill(fill);
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const EthernetHeader& header) {
    os << header.src() << " > " << header.dst() << ", ";
    print_ethertype(os, header.ethertype());
    return os << ", length " << header.frame_bytes().size();
}

std::ostream& operator<<(std::ostream& os, const EthernetRepr& repr) {
    os << repr.src << " > " << repr.dst << ", ";
    print_ethertype(os, repr.ethertype);
    return os;
}

}  // namespace tcpip
