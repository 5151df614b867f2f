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
    pieces_.clear();
    if (frame.pool() == nullptr ||
        !segment_tcp_frame(frame, frame.offload().segment_size, *frame.pool(), frame.headroom(), pieces_)) {
        ++stats_.malformed;
        return Unexpected(DeviceError::Io);
    }
    ++stats_.segmented_frames;
    Result<void, DeviceError> result;
    for (Packet& piece : pieces_) {
        ++stats_.pieces;
        // Like a NIC, the pieces all go; the first error is what the caller hears about.
        auto sent = inner_.transmit(now, std::move(piece));
        if (!sent && result) result = sent;
    }
    pieces_.clear();
    return result;
}

std::size_t SoftwareOffload::receive(Instant now, PacketPool& pool, std::vector<Packet>& batch, std::size_t max) {
    last_receive_ = now;
    const std::size_t largest = inner_.mtu() + kEthernetHeader;
    // Read only as many frames as may go up in this call; pieces left over from a large frame
    // count against that, so what waits here stays bounded.
    if (ready_.size() < max) {
        received_.clear();
        inner_.receive(now, pool, received_, max - ready_.size());
        for (Packet& frame : received_) {
            if (frame.size() <= largest) {
                ready_.push_back(std::move(frame));
                continue;
            }
            // The sender's MSS, or the most a frame of our MTU holds after these headers.
            auto l = layout_of(frame, true);
            std::size_t mss = frame.offload().segment_size;
            if (l && mss == 0) mss = largest - l->headers;
            pieces_.clear();
            if (!l || !segment_tcp_frame(frame, mss, pool, frame.headroom(), pieces_)) {
                ++stats_.rx_large_passed;  // not ours to cut: up whole, as without this decorator
                ready_.push_back(std::move(frame));
                continue;
            }
            ++stats_.rx_segmented_frames;
            for (Packet& piece : pieces_) {
                piece.offload().checksum_verified = frame.offload().checksum_verified;
                ++stats_.rx_pieces;
                ready_.push_back(std::move(piece));
            }
            pieces_.clear();
        }
        received_.clear();
    }
    std::size_t count = 0;
    while (count < max && !ready_.empty()) {
        batch.push_back(std::move(ready_.front()));
        ready_.pop_front();
        ++count;
    }
    return count;
}

std::optional<Instant> SoftwareOffload::poll_at() const {
    if (!ready_.empty()) return last_receive_;  // pieces wait: come back at once
    return inner_.poll_at();
}

bool segment_tcp_frame(const Packet& frame, std::size_t mss, PacketPool& pool, std::size_t headroom,
                       std::vector<Packet>& out) {
    auto l = layout_of(frame, true);
    if (!l || mss == 0) return false;
    const std::uint8_t* p = frame.data();
    // Only the IPv4 datagram is cut: Ethernet padding after it (a short frame) is not payload.
    const std::size_t datagram_end = l->ip + load_be16(p + l->ip + 2);
    if (datagram_end < l->headers || datagram_end > frame.size()) return false;
    const std::size_t payload = datagram_end - l->headers;
    if (payload == 0) return false;
    const std::uint32_t seq = load_be32(p + l->transport + 4);
    const std::uint16_t ident = load_be16(p + l->ip + 4);
    const std::uint8_t flags = p[l->transport + 13];

    std::size_t index = 0;
    for (std::size_t offset = 0; offset < payload; offset += mss, ++index) {
        const std::size_t chunk = std::min(mss, payload - offset);
        const bool last = offset + chunk == payload;
        Packet piece = pool.allocate(l->headers + chunk, headroom);
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
        out.push_back(std::move(piece));
    }
    return true;
}

}  // namespace tcpip
