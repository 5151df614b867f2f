// SoftwareOffload: see software_offload.h.
#include "drivers/software_offload.h"

#include <algorithm>
#include <cstring>

#include "stack/core/bytes.h"
#include "stack/core/checksum.h"

namespace tcpip {

namespace {

constexpr std::size_t kEthernetHeader = 14;
constexpr std::uint8_t kTcpFin = 0x01, kTcpPsh = 0x08, kTcpCwr = 0x80;

// Where the headers of an IPv4 frame are, or nothing if it is not one we can work on.
struct Layout {
    std::size_t ip = kEthernetHeader;
    std::size_t transport = 0;  // offset of the transport header in the frame
    std::size_t headers = 0;    // Ethernet + IPv4 + TCP header bytes (TCP only)
};

std::optional<Layout> layout_of(const Packet& frame, bool need_tcp) {
    const std::uint8_t* p = frame.data();
    const std::size_t size = frame.size();
    if (size < kEthernetHeader + 20 || load_be16(p + 12) != 0x0800) return std::nullopt;
    Layout l;
    l.transport = l.ip + std::size_t{p[l.ip] & 0x0fu} * 4;
    if (l.transport < l.ip + 20 || l.transport > size) return std::nullopt;
    if (need_tcp) {
        if (p[l.ip + 9] != 6 || l.transport + 20 > size) return std::nullopt;
        l.headers = l.transport + std::size_t{static_cast<std::uint8_t>(p[l.transport + 12] >> 4)} * 4;
        if (l.headers < l.transport + 20 || l.headers > size) return std::nullopt;
    }
    return l;
}

// The transport checksum of the frame's segment from `transport` on, over the pseudo-header.
void complete_checksum(std::uint8_t* p, std::size_t size, const Layout& l, std::size_t field) {
    const Ipv4Address src = Ipv4Address::from_bytes(p + l.ip + 12);
    const Ipv4Address dst = Ipv4Address::from_bytes(p + l.ip + 16);
    const std::size_t length = size - l.transport;
    store_be16(p + l.transport + field, 0);
    const std::uint16_t sum = InternetChecksum{}
                                  .add_pseudo_header(src, dst, p[l.ip + 9], static_cast<std::uint16_t>(length))
                                  .add(Bytes{p + l.transport, length})
                                  .finish();
    store_be16(p + l.transport + field, sum);
}

void fix_ipv4_header(std::uint8_t* p, const Layout& l, std::size_t total_length, std::uint16_t ident) {
    store_be16(p + l.ip + 2, static_cast<std::uint16_t>(total_length));
    store_be16(p + l.ip + 4, ident);
    store_be16(p + l.ip + 10, 0);
    const std::uint16_t sum = InternetChecksum{}.add(Bytes{p + l.ip, l.transport - l.ip}).finish();
    store_be16(p + l.ip + 10, sum);
}

}  // namespace

DeviceCapabilities SoftwareOffload::capabilities() const {
    DeviceCapabilities caps = inner_.capabilities();
    caps.tx_checksum_offload = true;
    caps.tx_tcp_segmentation = true;
    caps.max_frame_size = kEthernetHeader + 65535;
    return caps;
}

Result<void, DeviceError> SoftwareOffload::transmit(Instant now, Packet frame) {
    const PacketOffload offload = frame.offload();
    if (offload.segment_size != 0 && frame.size() > inner_.mtu() + kEthernetHeader) return segment(now, frame);
    if (offload.checksum_partial) {
        auto l = layout_of(frame, false);
        if (!l || l->transport + offload.checksum_field + 2 > frame.size()) {
            ++stats_.malformed;
            return Unexpected(DeviceError::Io);
        }
        complete_checksum(frame.data(), frame.size(), *l, offload.checksum_field);
        frame.offload() = {};
        ++stats_.checksums_completed;
    }
    return inner_.transmit(now, std::move(frame));
}

Result<void, DeviceError> SoftwareOffload::segment(Instant now, const Packet& frame) {
    auto l = layout_of(frame, true);
    if (!l || frame.pool() == nullptr) {
        ++stats_.malformed;
        return Unexpected(DeviceError::Io);
    }
    const std::uint8_t* p = frame.data();
    const std::size_t mss = frame.offload().segment_size;
    const std::size_t payload = frame.size() - l->headers;
    const std::uint32_t seq = load_be32(p + l->transport + 4);
    const std::uint16_t ident = load_be16(p + l->ip + 4);
    const std::uint8_t flags = p[l->transport + 13];
    ++stats_.segmented_frames;

    Result<void, DeviceError> result;
    std::size_t index = 0;
    for (std::size_t offset = 0; offset < payload; offset += mss, ++index) {
        const std::size_t chunk = std::min(mss, payload - offset);
        const bool last = offset + chunk == payload;
        Packet piece = frame.pool()->allocate(l->headers + chunk, frame.headroom());
        std::uint8_t* q = piece.append(l->headers + chunk).data();
        std::memcpy(q, p, l->headers);
        std::memcpy(q + l->headers, p + l->headers + offset, chunk);
        fix_ipv4_header(q, *l, l->headers - l->ip + chunk, static_cast<std::uint16_t>(ident + index));
        store_be32(q + l->transport + 4, seq + static_cast<std::uint32_t>(offset));
        std::uint8_t piece_flags = flags;
        if (!last) piece_flags &= static_cast<std::uint8_t>(~(kTcpFin | kTcpPsh));
        if (index > 0) piece_flags &= static_cast<std::uint8_t>(~kTcpCwr);
        q[l->transport + 13] = piece_flags;
        complete_checksum(q, l->headers + chunk, *l, 16);
        ++stats_.pieces;
        // Like a NIC, the pieces all go; the first error is what the caller hears about.
        auto sent = inner_.transmit(now, std::move(piece));
        if (!sent && result) result = sent;
    }
    return result;
}

}  // namespace tcpip
