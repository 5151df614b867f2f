// PcapWriter: see pcap_writer.h for the format and the timestamp decision.
#include "drivers/pcap_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace tcpip {

namespace {

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

void PcapWriter::append_record(std::int64_t micros, Bytes frame) {
    micros = std::max<std::int64_t>(micros, 0);  // the format has no negative times
    const auto captured = static_cast<std::uint32_t>(std::min<std::size_t>(frame.size(), options_.snaplen));
    put_le32(buffer_, static_cast<std::uint32_t>(micros / 1000000));
    put_le32(buffer_, static_cast<std::uint32_t>(micros % 1000000));
    put_le32(buffer_, captured);
    put_le32(buffer_, static_cast<std::uint32_t>(frame.size()));
    buffer_.insert(buffer_.end(), frame.begin(), frame.begin() + captured);
    stats_.frames_written++;
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
    for (std::size_t i = first; i < batch.size(); ++i) append_record(micros, batch[i].bytes());
    stats_.rx_frames += count;
    flush();
    return count;
}

Result<void, DeviceError> PcapWriter::transmit(Instant now, Packet frame) {
    append_record(timestamp_micros(now), frame.bytes());
    stats_.tx_frames++;
    flush();
    return inner_->transmit(now, std::move(frame));
}

}  // namespace tcpip
