#include "stack/ipv4/header.h"

#include <cassert>
#include <ios>
#include <ostream>

#include "stack/core/checksum.h"

namespace tcpip {

const char* ip_protocol_name(std::uint8_t protocol) {
    switch (protocol) {
        case IpProtocol::Icmp: return "ICMP";
        case IpProtocol::Tcp: return "TCP";
        case IpProtocol::Udp: return "UDP";
        default: return "unknown";
    }
}

Result<Ipv4Header, ParseError> Ipv4Header::parse(Bytes bytes) {
    // Every check below only reads bytes that an earlier check proved present.
    if (bytes.size() < kMinHeaderLen) return Unexpected(ParseError::Truncated);
    const std::uint8_t version = bytes[kVersionIhlOffset] >> 4;
    if (version != 4) return Unexpected(ParseError::BadVersion);
    const std::size_t header_len = std::size_t{bytes[kVersionIhlOffset] & 0x0fu} * 4;
    if (header_len < kMinHeaderLen || header_len > bytes.size()) return Unexpected(ParseError::BadHeaderLength);
    const std::size_t total_length = load_be16(bytes, kTotalLengthOffset);
    if (total_length < header_len || total_length > bytes.size()) return Unexpected(ParseError::BadTotalLength);
    return Ipv4Header(bytes);
}

bool Ipv4Header::checksum_valid() const { return InternetChecksum{}.add(header_bytes()).finish() == 0; }

Ipv4Repr Ipv4Repr::from(const Ipv4Header& header) {
    Ipv4Repr repr;
    repr.src = header.src();
    repr.dst = header.dst();
    repr.protocol = header.protocol();
    repr.payload_len = static_cast<std::uint16_t>(header.payload().size());
    repr.ttl = header.ttl();
    repr.ident = header.ident();
    repr.dont_fragment = header.dont_fragment();
    repr.more_fragments = header.more_fragments();
    repr.frag_offset = header.frag_offset();
    repr.tos = header.tos();
    return repr;
}

Result<Ipv4Repr, ParseError> Ipv4Repr::parse(Bytes bytes) {
    auto header = Ipv4Header::parse(bytes);
    if (!header) return Unexpected(header.error());
    return from(*header);
}

void Ipv4Repr::emit_header(MutableBytes out, std::uint16_t total_length) const {
    assert(out.size() >= header_len());
    assert(frag_offset % 8 == 0);
    out[Ipv4Header::kVersionIhlOffset] = static_cast<std::uint8_t>((4u << 4) | (header_len() / 4));
    out[Ipv4Header::kTosOffset] = tos;
    store_be16(out, Ipv4Header::kTotalLengthOffset, total_length);
    store_be16(out, Ipv4Header::kIdentOffset, ident);
    auto flags_frag = static_cast<std::uint16_t>((frag_offset / 8) & Ipv4Header::kFragOffsetMask);
    if (dont_fragment) flags_frag |= Ipv4Header::kDontFragmentFlag;
    if (more_fragments) flags_frag |= Ipv4Header::kMoreFragmentsFlag;
    store_be16(out, Ipv4Header::kFlagsFragOffset, flags_frag);
    out[Ipv4Header::kTtlOffset] = ttl;
    out[Ipv4Header::kProtocolOffset] = protocol;
    // RFC 791: "For purposes of computing the checksum, the value of the checksum field is zero."
    store_be16(out, Ipv4Header::kChecksumOffset, 0);
    src.copy_to(out.data() + Ipv4Header::kSrcOffset);
    dst.copy_to(out.data() + Ipv4Header::kDstOffset);
    const std::uint16_t checksum = InternetChecksum{}.add(out.first(header_len())).finish();
    store_be16(out, Ipv4Header::kChecksumOffset, checksum);
}

void Ipv4Repr::emit(MutableBytes out) const {
    assert(header_len() + payload_len <= 0xffff);
    emit_header(out, static_cast<std::uint16_t>(header_len() + payload_len));
}

void Ipv4Repr::emit(Packet& packet) const {
    const std::size_t total_length = header_len() + packet.size();
    assert(total_length <= 0xffff);
    emit_header(packet.push(header_len()), static_cast<std::uint16_t>(total_length));
}

namespace {

struct Ipv4Fields {
    std::uint8_t tos, ttl, protocol;
    std::uint16_t ident, frag_offset, total_length;
    bool reserved, dont_fragment, more_fragments;
    Ipv4Address src, dst;
};

// As tcpdump's ip_print() with -v.
std::ostream& print_ipv4(std::ostream& os, const Ipv4Fields& f) {
    const auto flags = os.flags();
    os << "IP (tos 0x" << std::hex << unsigned{f.tos} << std::dec << ", ttl " << unsigned{f.ttl} << ", id "
       << f.ident << ", offset " << f.frag_offset << ", flags [";
    if (!f.reserved && !f.dont_fragment && !f.more_fragments) os << "none";
    if (f.reserved) os << "rsvd";
    if (f.dont_fragment) os << "DF";
    if (f.more_fragments) os << "+";
    os << "], proto " << ip_protocol_name(f.protocol) << " (" << unsigned{f.protocol} << "), length "
       << f.total_length << ") " << f.src << " > " << f.dst;
    os.flags(flags);
    return os;
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const Ipv4Header& h) {
    return print_ipv4(os, {h.tos(), h.ttl(), h.protocol(), h.ident(), h.frag_offset(), h.total_length(),
                           h.reserved_flag(), h.dont_fragment(), h.more_fragments(), h.src(), h.dst()});
}

std::ostream& operator<<(std::ostream& os, const Ipv4Repr& r) {
    return print_ipv4(os, {r.tos, r.ttl, r.protocol, r.ident, r.frag_offset,
                           static_cast<std::uint16_t>(r.header_len() + r.payload_len), false, r.dont_fragment,
                           r.more_fragments, r.src, r.dst});
}

}  // namespace tcpip
