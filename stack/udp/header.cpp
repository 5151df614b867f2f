// The UDP header (RFC 768): parsing, checksum and emission. See header.h for the format.
#include "stack/udp/header.h"

#include <cassert>
#include <cstring>
#include <ostream>

#include "stack/core/checksum.h"

namespace tcpip {

Result<UdpHeader, ParseError> UdpHeader::parse(Bytes bytes) {
    if (bytes.size() < kHeaderLen) return Unexpected(ParseError::Truncated);
    // Safe to read: the 8 header bytes are there.
    const std::size_t length = load_be16(bytes, kLength);
    if (length < kHeaderLen || length > bytes.size()) return Unexpected(ParseError::BadLength);
    return UdpHeader(bytes.first(length));
}

bool UdpHeader::checksum_valid(Ipv4Address src, Ipv4Address dst) const {
    if (checksum() == 0) return true;  // the sender computed none (RFC 768)
    // Summing over a correct checksum field makes the whole sum all ones, so finish() is zero.
    // A field of 0xffff standing for a computed zero verifies the same way: in one's complement
    // 0x0000 and 0xffff are both zero.
    return InternetChecksum{}.add_pseudo_header(src, dst, kIpProtocol, length()).add(bytes_).finish() == 0;
}

UdpRepr UdpRepr::from(const UdpHeader& header) {
    return UdpRepr{
        .src_port = header.src_port(),
        .dst_port = header.dst_port(),
        .payload_len = header.payload().size(),
    };
}

void UdpRepr::emit(MutableBytes out, Ipv4Address src, Ipv4Address dst, Bytes payload) const {
    assert(payload.size() == payload_len);
    assert(total_len() <= 0xffff);
    assert(out.size() >= total_len());
    MutableBytes datagram = out.first(total_len());

    // The payload first, so that the checksum below covers it where it finally lies. memmove:
    // the caller may hand us a payload that overlaps `out`.
    if (payload.data() != datagram.data() + header_len && !payload.empty()) {
        std::memmove(datagram.data() + header_len, payload.data(), payload.size());
    }

    const auto length = static_cast<std::uint16_t>(total_len());
    store_be16(datagram, UdpHeader::kSrcPort, src_port);
    store_be16(datagram, UdpHeader::kDstPort, dst_port);
    store_be16(datagram, UdpHeader::kLength, length);
    store_be16(datagram, UdpHeader::kChecksum, 0);  // the checksum field counts as zero while it is computed
    std::uint16_t checksum =
        InternetChecksum{}.add_pseudo_header(src, dst, UdpHeader::kIpProtocol, length).add(datagram).finish();
    // Zero on the wire would mean "no checksum" (RFC 768), so a computed zero goes out as its
    // one's complement twin, all ones.
    if (checksum == 0) checksum = 0xffff;
    store_be16(datagram, UdpHeader::kChecksum, checksum);
}

void UdpRepr::emit(Packet& packet, Ipv4Address src, Ipv4Address dst) const {
    assert(packet.size() == payload_len);
    MutableBytes header = packet.push(header_len);
    const Bytes payload{header.data() + header_len, payload_len};
    emit(packet.bytes(), src, dst, payload);
}

std::ostream& operator<<(std::ostream& os, const UdpHeader& header) {
    return os << header.src_port() << " > " << header.dst_port() << " UDP, length " << header.payload().size();
}

std::ostream& operator<<(std::ostream& os, const UdpRepr& repr) {
    return os << repr.src_port << " > " << repr.dst_port << " UDP, length " << repr.payload_len;
}

}  // namespace tcpip
