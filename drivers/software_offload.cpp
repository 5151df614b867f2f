// SoftwareOffload: see software_offload.h.
#include "drivers/software_offload.h"

#include <algorithm>
#include <cstring>

#include "stack/core/bytes.h"
#include "stack/core/checksum.h"

namespace tcpip {

namespace {
constexpr std::size_t kEthernetHeader = 14;
}  // namespace

namespace offload {

namespace {

constexpr std::uint8_t kTcpFin = 0x01, kTcpPsh = 0x08, kTcpCwr = 0x80;
constexpr std::uint8_t kUdp = 17;

void fix_ipv4_header(std::uint8_t* p, const FrameLayout& l, std::size_t total_length, std::uint16_t ident) {
    store_be16(p + l.ip + 2, static_cast<std::uint16_t>(total_length));
    store_be16(p + l.ip + 4, ident);
    store_be16(p + l.ip + 10, 0);
    const std::uint16_t sum = InternetChecksum{}.add(Bytes{p + l.ip, l.transport - l.ip}).finish();
    store_be16(p + l.ip + 10, sum);
}

}  // namespace

std::optional<FrameLayout> layout_of(Bytes frame, bool need_tcp) {
    const std::uint8_t* p = frame.data();
    const std::size_t size = frame.size();
    if (size < kEthernetHeader + 20 || load_be16(p + 12) != 0x0800) return std::nullopt;
    FrameLayout l;
    l.protocol = p[l.ip + 9];
    l.transport = l.ip + std::size_t{p[l.ip] & 0x0fu} * 4;
    l.end = l.ip + load_be16(p + l.ip + 2);
    if (l.transport < l.ip + 20 || l.transport > l.end || l.end > size) return std::nullopt;
    if (need_tcp) {
        if (l.protocol != 6 || l.transport + 20 > l.end) return std::nullopt;
        l.headers = l.transport + std::size_t{static_cast<std::uint8_t>(p[l.transport + 12] >> 4)} * 4;
        if (l.headers < l.transport + 20 || l.headers > l.end) return std::nullopt;
    }
    return l;
}

void complete_checksum(MutableBytes frame, const FrameLayout& l, std::size_t field) {
    std::uint8_t* p = frame.data();
    const Ipv4Address src = Ipv4Address::from_bytes(p + l.ip + 12);
    const Ipv4Address dst = Ipv4Address::from_bytes(p + l.ip + 16);
    const std::size_t length = l.end - l.transport;
    store_be16(p + l.transport + field, 0);
    std::uint16_t sum = InternetChecksum{}
                            .add_pseudo_header(src, dst, l.protocol, static_cast<std::uint16_t>(length))
                            .add(Bytes{p + l.transport, length})
                            .finish();
    if (sum == 0 && l.protocol == kUdp) sum = 0xffff;  // 0 would mean "no checksum"
    store_be16(p + l.transport + field, sum);
}

std::size_t piece_count(const FrameLayout& l, std::size_t mss) {
    const std::size_t payload = l.end - l.headers;
    return payload == 0 ? 1 : (payload + mss - 1) / mss;
}

std::size_t piece_size(const FrameLayout& l, std::size_t mss, std::size_t index) {
    const std::size_t payload = l.end - l.headers;
    return l.headers + std::min(mss, payload - std::min(payload, index * mss));
}

void write_piece(Bytes frame, const FrameLayout& l, std::size_t mss, std::size_t index, std::uint8_t* out) {
    const std::uint8_t* p = frame.data();
    const std::size_t offset = index * mss;
    const std::size_t chunk = piece_size(l, mss, index) - l.headers;
    const bool last = offset + chunk >= l.end - l.headers;
    std::memcpy(out, p, l.headers);
    std::memcpy(out + l.headers, p + l.headers + offset, chunk);
    const std::uint16_t ident = load_be16(p + l.ip + 4);
    fix_ipv4_header(out, l, l.headers - l.ip + chunk, static_cast<std::uint16_t>(ident + index));
    store_be32(out + l.transport + 4, load_be32(p + l.transport + 4) + static_cast<std::uint32_t>(offset));
    std::uint8_t flags = p[l.transport + 13];
    if (!last) flags &= static_cast<std::uint8_t>(~(kTcpFin | kTcpPsh));
    if (index > 0) flags &= static_cast<std::uint8_t>(~kTcpCwr);
    out[l.transport + 13] = flags;
    FrameLayout piece = l;
    piece.end = l.headers + chunk;
    complete_checksum(MutableBytes{out, piece.end}, piece, 16);
}

}  // namespace offload

DeviceCapabilities SoftwareOffload::capabilities() const {
    DeviceCapabilities caps = inner_.capabilities();
    caps.tx_checksum_offload = true;
    caps.tx_tcp_segmentation = true;
    caps.max_frame_size = kEthernetHeader + 65535;
    return caps;
}

Result<void, DeviceError> SoftwareOffload::transmit(Instant now, Packet frame) {
    const PacketOffload request = frame.offload();
    if (request.segment_size != 0 && frame.size() > inner_.mtu() + kEthernetHeader) return segment(now, frame);
    if (request.checksum_partial) {
        auto l = offload::layout_of(frame.bytes(), false);
        if (!l || l->transport + request.checksum_field + 2 > l->end) {
            ++stats_.malformed;
            return Unexpected(DeviceError::Io);
        }
        offload::complete_checksum(frame.bytes(), *l, request.checksum_field);
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
            auto l = offload::layout_of(frame.bytes(), true);
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
    auto l = offload::layout_of(frame.bytes(), true);
    if (!l || mss == 0 || l->end == l->headers) return false;
    for (std::size_t index = 0, count = offload::piece_count(*l, mss); index < count; ++index) {
        const std::size_t size = offload::piece_size(*l, mss, index);
        Packet piece = pool.allocate(size, headroom);
        offload::write_piece(frame.bytes(), *l, mss, index, piece.append(size).data());
        out.push_back(std::move(piece));
    }
    return true;
}

}  // namespace tcpip
