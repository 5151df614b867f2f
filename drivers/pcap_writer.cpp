// PcapWriter: see pcap_writer.h for the format and the timestamp decision.
#include "drivers/pcap_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "stack/core/bytes.h"

namespace tcpip {

namespace {

constexpr std::size_t kEthernetHeader = 14;

void put_le16(std::vector<std::uint8_t>& out, std::uint16_t v) {
    out.push_back(static_cast<std::uint8_t>(v));
    out.push_back(static_cast<std::uint8_t>(v >> 8));
}

void put_le32(std::vector<std::uint8_t>& out, std::uint32_t v) {
    for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

// Writes all of `bytes`, retrying short writes and EINTR (bounded).
bool write_all(int fd, const std::uint8_t* data, std::size_t size) {
    for (int attempts = 0; size > 0 && attempts < 64; ++attempts) {
        ssize_t n = ::write(fd, data, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return size == 0;
}

}  // namespace

std::string PcapError::message() const {
    return "cannot create pcap file '" + path + "': " + std::strerror(error_number) +
           "; check that the directory exists and is writable, or pick another path";
}

Result<PcapWriter, PcapError> PcapWriter::open(NetDevice& inner, const std::string& path, PcapOptions options) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd) return Unexpected(PcapError{errno, path});

    std::vector<std::uint8_t> header;
    header.reserve(kGlobalHeaderSize);
    put_le32(header, kMagicMicroseconds);
    put_le16(header, 2);  // version_major
    put_le16(header, 4);  // version_minor
    put_le32(header, 0);  // thiszone: timestamps are UTC
    put_le32(header, 0);  // sigfigs: always 0
    put_le32(header, options.snaplen);
    put_le32(header, kLinkTypeEthernet);
    if (!write_all(fd.get(), header.data(), header.size())) return Unexpected(PcapError{errno, path});
    return PcapWriter(inner, std::move(fd), path, options);
}

std::int64_t PcapWriter::timestamp_micros(Instant now) const {
    if (options_.timestamps == PcapTimestamps::WallClock) {
        timespec ts{};
        ::clock_gettime(CLOCK_REALTIME, &ts);
        return static_cast<std::int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
    }
    return now.total_micros();
}

std::uint8_t* PcapWriter::begin_record(std::int64_t micros, std::size_t size, std::size_t& captured) {
    micros = std::max<std::int64_t>(micros, 0);  // the format has no negative times
    captured = std::min<std::size_t>(size, options_.snaplen);
    put_le32(buffer_, static_cast<std::uint32_t>(micros / 1000000));
    put_le32(buffer_, static_cast<std::uint32_t>(micros % 1000000));
    put_le32(buffer_, static_cast<std::uint32_t>(captured));
    put_le32(buffer_, static_cast<std::uint32_t>(size));
    buffer_.resize(buffer_.size() + captured);
    stats_.frames_written++;
    return buffer_.data() + buffer_.size() - captured;
}

void PcapWriter::record(std::int64_t micros, const Packet& frame, bool transmitted) {
    const Bytes bytes = frame.bytes();
    const PacketOffload& request = frame.offload();
    std::size_t captured = 0;

    if (options_.segment && bytes.size() > inner_->mtu() + kEthernetHeader) {
        if (auto l = offload::layout_of(bytes, true); l && l->end > l->headers) {
            // Sent: the stack's own segment size. Received (the kernel's GSO frames, whose
            // gso_size the TAP does not pass on): the most payload an MTU-sized datagram holds.
            const std::size_t fits = inner_->mtu() > l->headers - l->ip ? inner_->mtu() - (l->headers - l->ip) : 0;
            const std::size_t mss = transmitted && request.segment_size != 0 ? request.segment_size : fits;
            if (mss > 0) {
                for (std::size_t i = 0, n = offload::piece_count(*l, mss); i < n; ++i) {
                    const std::size_t size = offload::piece_size(*l, mss, i);
                    std::uint8_t* out = begin_record(micros, size, captured);
                    if (captured == size) {
                        offload::write_piece(bytes, *l, mss, i, out);
                    } else {
                        piece_.resize(size);
                        offload::write_piece(bytes, *l, mss, i, piece_.data());
                        std::memcpy(out, piece_.data(), captured);
                    }
                }
                stats_.frames_segmented++;
                return;
            }
        }
    }

    std::uint8_t* copy = begin_record(micros, bytes.size(), captured);
    std::memcpy(copy, bytes.data(), captured);
    // Only a checksum the offloads may have left partial, and only over the whole datagram.
    const bool maybe_partial = transmitted ? request.checksum_partial : request.checksum_verified;
    if (!options_.complete_checksums || !maybe_partial || captured < bytes.size()) return;
    auto l = offload::layout_of(bytes, false);
    if (!l || (load_be16(bytes.data() + l->ip + 6) & 0x3fff) != 0) return;  // not IPv4, or a fragment
    std::size_t field = request.checksum_field;
    if (!transmitted) {
        if (l->protocol == 6) field = 16;
        else if (l->protocol == 17 && load_be16(bytes.data() + l->transport + 6) != 0) field = 6;
        else return;  // another protocol, or UDP without a checksum
    }
    if (l->transport + field + 2 > l->end) return;
    const std::uint16_t before = load_be16(copy + l->transport + field);
    offload::complete_checksum(MutableBytes{copy, captured}, *l, field);
    if (load_be16(copy + l->transport + field) != before) stats_.checksums_completed++;
}

void PcapWriter::flush() {
    if (buffer_.empty()) return;
    if (!write_all(fd_.get(), buffer_.data(), buffer_.size())) stats_.write_errors++;
    buffer_.clear();
}

std::size_t PcapWriter::receive(Instant now, PacketPool& pool, std::vector<Packet>& batch, std::size_t max) {
    const std::size_t first = batch.size();
    const std::size_t count = inner_->receive(now, pool, batch, max);
    if (count == 0) return 0;
    const std::int64_t micros = timestamp_micros(now);
    for (std::size_t i = first; i < batch.size(); ++i) record(micros, batch[i], false);
    stats_.rx_frames += count;
    flush();
    return count;
}

Result<void, DeviceError> PcapWriter::transmit(Instant now, Packet frame) {
    record(timestamp_micros(now), frame, true);
    stats_.tx_frames++;
    flush();
    return inner_->transmit(now, std::move(frame));
}

}  // namespace tcpip
