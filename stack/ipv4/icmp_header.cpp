#include "stack/ipv4/icmp_header.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <ostream>

#include "stack/core/checksum.h"

namespace tcpip {

Result<IcmpHeader, ParseError> IcmpHeader::parse(Bytes bytes) {
    if (bytes.size() < kHeaderLen) return Unexpected(ParseError::Truncated);
    return IcmpHeader(bytes);
}

bool IcmpHeader::checksum_valid() const { return InternetChecksum{}.add(bytes_).finish() == 0; }

IcmpRepr IcmpRepr::echo_request(std::uint16_t ident, std::uint16_t seq, Bytes data) {
    return IcmpRepr{IcmpType::EchoRequest, 0, ident, seq, 0, data};
}

IcmpRepr IcmpRepr::echo_reply(std::uint16_t ident, std::uint16_t seq, Bytes data) {
    return IcmpRepr{IcmpType::EchoReply, 0, ident, seq, 0, data};
}

IcmpRepr IcmpRepr::destination_unreachable(std::uint8_t code, Bytes quoted, std::uint16_t next_hop_mtu) {
    // The MTU field exists only for "fragmentation needed"; elsewhere those bytes are unused.
    const std::uint16_t mtu = code == IcmpUnreachableCode::FragmentationNeeded ? next_hop_mtu : 0;
    return IcmpRepr{IcmpType::DestinationUnreachable, code, 0, 0, mtu, quoted};
}

IcmpRepr IcmpRepr::time_exceeded(std::uint8_t code, Bytes quoted) {
    return IcmpRepr{IcmpType::TimeExceeded, code, 0, 0, 0, quoted};
}

Result<IcmpRepr, ParseError> IcmpRepr::from(const IcmpHeader& header) {
    switch (header.type()) {
        case IcmpType::EchoRequest:
            return echo_request(header.ident(), header.seq(), header.payload());
        case IcmpType::EchoReply:
            return echo_reply(header.ident(), header.seq(), header.payload());
        case IcmpType::DestinationUnreachable:
            return destination_unreachable(header.code(), header.payload(), header.next_hop_mtu());
        case IcmpType::TimeExceeded:
            return time_exceeded(header.code(), header.payload());
        default:
            return Unexpected(ParseError::Unsupported);
    }
}

Result<IcmpRepr, ParseError> IcmpRepr::parse(Bytes bytes) {
    auto header = IcmpHeader::parse(bytes);
    if (!header) return Unexpected(header.error());
    return from(*header);
}

void IcmpRepr::emit_header(MutableBytes out) const {
    out[IcmpHeader::kTypeOffset] = type;
    out[IcmpHeader::kCodeOffset] = code;
    store_be16(out, IcmpHeader::kChecksumOffset, 0);
    if (is_echo()) {
        store_be16(out, IcmpHeader::kIdentOffset, ident);
        store_be16(out, IcmpHeader::kSeqOffset, seq);
    } else {
        // RFC 792: the word is "unused" and must be zero, except the RFC 1191 MTU.
        store_be32(out, IcmpHeader::kRestOffset, 0);
        if (type == IcmpType::DestinationUnreachable && code == IcmpUnreachableCode::FragmentationNeeded) {
            store_be16(out, IcmpHeader::kNextHopMtuOffset, next_hop_mtu);
        }
    }
}

void IcmpRepr::emit(MutableBytes out) const {
    assert(out.size() >= buffer_len());
    MutableBytes message = out.first(buffer_len());
    emit_header(message);
    // memmove, not memcpy: the data may overlap the destination (or be it, for in-place replies).
    if (!data.empty() && data.data() != message.data() + header_len()) {
        std::memmove(message.data() + header_len(), data.data(), data.size());
    }
    store_be16(message, IcmpHeader::kChecksumOffset, InternetChecksum{}.add(message).finish());
}

void IcmpRepr::emit(Packet& packet) const {
    emit_header(packet.push(header_len()));
    MutableBytes message = packet.bytes();
    store_be16(message, IcmpHeader::kChecksumOffset, InternetChecksum{}.add(message).finish());
}

bool operator==(const IcmpRepr& a, const IcmpRepr& b) {
    return a.type == b.type && a.code == b.code && a.ident == b.ident && a.seq == b.seq &&
           a.next_hop_mtu == b.next_hop_mtu && std::ranges::equal(a.data, b.data);
}

namespace {

// Names as tcpdump's print-icmp.c uses them.
const char* unreachable_name(std::uint8_t code) {
    switch (code) {
        case IcmpUnreachableCode::Net: return "net unreachable";
        case IcmpUnreachableCode::Host: return "host unreachable";
        case IcmpUnreachableCode::Protocol: return "protocol unreachable";
        case IcmpUnreachableCode::Port: return "port unreachable";
        case IcmpUnreachableCode::FragmentationNeeded: return "need to frag";
        case IcmpUnreachableCode::SourceRouteFailed: return "source route failed";
        case IcmpUnreachableCode::NetUnknown: return "net unknown";
        case IcmpUnreachableCode::HostUnknown: return "host unknown";
        case IcmpUnreachableCode::SourceHostIsolated: return "source host isolated";
        case IcmpUnreachableCode::NetProhibited: return "net prohibited";
        case IcmpUnreachableCode::HostProhibited: return "host prohibited";
        case IcmpUnreachableCode::NetUnreachableForTos: return "net unreachable for tos";
        case IcmpUnreachableCode::HostUnreachableForTos: return "host unreachable for tos";
        case IcmpUnreachableCode::AdminProhibited: return "administratively prohibited";
        case IcmpUnreachableCode::HostPrecedenceViolation: return "host precedence violation";
        case IcmpUnreachableCode::PrecedenceCutoff: return "precedence cutoff";
        default: return "unknown code";
    }
}

std::ostream& print_icmp(std::ostream& os, std::uint8_t type, std::uint8_t code, std::uint16_t ident,
                         std::uint16_t seq, std::uint16_t mtu, std::size_t length) {
    os << "ICMP ";
    switch (type) {
        case IcmpType::EchoRequest:
        case IcmpType::EchoReply:
            os << (type == IcmpType::EchoRequest ? "echo request" : "echo reply") << ", id " << ident << ", seq "
               << seq;
            break;
        case IcmpType::DestinationUnreachable:
            os << "destination unreachable (" << unreachable_name(code);
            if (code == IcmpUnreachableCode::FragmentationNeeded) os << ", mtu " << mtu;
            os << ")";
            break;
        case IcmpType::TimeExceeded:
            if (code == IcmpTimeExceededCode::TtlExceeded) {
                os << "time exceeded in-transit";
            } else if (code == IcmpTimeExceededCode::ReassemblyTimeout) {
                os << "ip reassembly time exceeded";
            } else {
                os << "time exceeded, code " << unsigned{code};
            }
            break;
        default:
            os << "type " << unsigned{type} << ", code " << unsigned{code};
            break;
    }
    return os << ", length " << length;
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const IcmpHeader& h) {
    return print_icmp(os, h.type(), h.code(), h.ident(), h.seq(), h.next_hop_mtu(), h.message_bytes().size());
}

std::ostream& operator<<(std::ostream& os, const IcmpRepr& r) {
    return print_icmp(os, r.type, r.code, r.ident, r.seq, r.next_hop_mtu, r.buffer_len());
}

}  // namespace tcpip
