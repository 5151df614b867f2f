// PcapWriter: see pcap_writer.h for the formats, the comments and the timestamp decision.
#include "drivers/pcap_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <string_view>
#include <utility>

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

// Appends a pcapng option: code, length, value, padded to 32 bits.
void put_option(std::vector<std::uint8_t>& out, std::uint16_t code, const void* value, std::size_t length) {
    put_le16(out, code);
    put_le16(out, static_cast<std::uint16_t>(length));
    const auto* bytes = static_cast<const std::uint8_t*>(value);
    out.insert(out.end(), bytes, bytes + length);
    out.resize(out.size() + (4 - length % 4) % 4, 0);
}

}  // namespace

PcapFormat pcap_format_for(const std::string& path) {
    constexpr std::string_view suffix = ".pcapng";
    return path.size() >= suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0
               ? PcapFormat::PcapNg
               : PcapFormat::Pcap;
}

std::string PcapError::message() const {
    return "cannot create pcap file '" + path + "': " + std::strerror(error_number) +
           "; check that the directory exists and is writable, or pick another path";
}

Result<PcapWriter, PcapError> PcapWriter::open(NetDevice& inner, const std::string& path, PcapOptions options) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd) return Unexpected(PcapError{errno, path});

    std::vector<std::uint8_t> header;
    if (options.format == PcapFormat::PcapNg) {
        // Section Header Block: no options, section length unknown (-1).
        put_le32(header, kSectionHeaderBlock);
        put_le32(header, 28);
        put_le32(header, kByteOrderMagic);
        put_le16(header, 1);  // major version
        put_le16(header, 0);  // minor version
        put_le32(header, 0xffffffff);
        put_le32(header, 0xffffffff);
        put_le32(header, 28);
        // Interface Description Block: Ethernet; if_tsresol left at its default, microseconds.
        put_le32(header, kInterfaceDescriptionBlock);
        put_le32(header, 20);
        put_le16(header, static_cast<std::uint16_t>(kLinkTypeEthernet));
        put_le16(header, 0);  // reserved
        put_le32(header, options.snaplen);
        put_le32(header, 20);
    } else {
        header.reserve(kGlobalHeaderSize);
        put_le32(header, kMagicMicroseconds);
        put_le16(header, 2);  // version_major
        put_le16(header, 4);  // version_minor
        put_le32(header, 0);  // thiszone: timestamps are UTC
        put_le32(header, 0);  // sigfigs: always 0
        put_le32(header, options.snaplen);
        put_le32(header, kLinkTypeEthernet);
    }
    if (!write_all(fd.get(), header.data(), header.size())) return Unexpected(PcapError{errno, path});
    return PcapWriter(inner, std::move(fd), path, options);
}

PcapWriter::~PcapWriter() {
    if (fd_ && !held_.empty()) hold_for_comments(false);
}

std::int64_t PcapWriter::timestamp_micros(Instant now) const {
    if (options_.timestamps == PcapTimestamps::WallClock) {
        timespec ts{};
        ::clock_gettime(CLOCK_REALTIME, &ts);
        return static_cast<std::int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
    }
    return now.total_micros();
}

void PcapWriter::append_record(bool received, std::int64_t micros, Bytes frame, const std::string& comment) {
    micros = std::max<std::int64_t>(micros, 0);  // the format has no negative times
    const auto captured = static_cast<std::uint32_t>(std::min<std::size_t>(frame.size(), options_.snaplen));
    if (options_.format == PcapFormat::Pcap) {
        put_le32(buffer_, static_cast<std::uint32_t>(micros / 1000000));
        put_le32(buffer_, static_cast<std::uint32_t>(micros % 1000000));
        put_le32(buffer_, captured);
        put_le32(buffer_, static_cast<std::uint32_t>(frame.size()));
        buffer_.insert(buffer_.end(), frame.begin(), frame.begin() + captured);
        stats_.frames_written++;
        return;
    }
    // Enhanced Packet Block: interface 0, 64-bit microseconds, the frame padded to 32 bits, then the
    // options (direction, comment) and the total length again.
    const std::size_t start = buffer_.size();
    put_le32(buffer_, kEnhancedPacketBlock);
    put_le32(buffer_, 0);  // total length, filled in below
    put_le32(buffer_, 0);  // interface id
    const auto ticks = static_cast<std::uint64_t>(micros);
    put_le32(buffer_, static_cast<std::uint32_t>(ticks >> 32));
    put_le32(buffer_, static_cast<std::uint32_t>(ticks));
    put_le32(buffer_, captured);
    put_le32(buffer_, static_cast<std::uint32_t>(frame.size()));
    buffer_.insert(buffer_.end(), frame.begin(), frame.begin() + captured);
    buffer_.resize(buffer_.size() + (4 - captured % 4) % 4, 0);
    const std::uint32_t flags = received ? 1 : 2;  // bits 0-1: inbound, outbound
    std::uint8_t flag_bytes[4];
    for (int i = 0; i < 4; ++i) flag_bytes[i] = static_cast<std::uint8_t>(flags >> (8 * i));
    put_option(buffer_, kOptEpbFlags, flag_bytes, sizeof flag_bytes);
    // One opt_comment per line: Wireshark lists each under "Packet comments".
    for (std::size_t at = 0; at < comment.size();) {
        std::size_t end = comment.find('\n', at);
        if (end == std::string::npos) end = comment.size();
        if (end > at) put_option(buffer_, kOptComment, comment.data() + at, std::min<std::size_t>(end - at, 65532));
        at = end + 1;
    }
    put_option(buffer_, kOptEndOfOpt, nullptr, 0);
    const auto total = static_cast<std::uint32_t>(buffer_.size() - start + 4);
    put_le32(buffer_, total);
    for (int i = 0; i < 4; ++i) buffer_[start + 4 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(total >> (8 * i));
    stats_.frames_written++;
}

void PcapWriter::capture(std::int64_t micros, const Packet& frame, bool transmitted, std::string comment) {
    const Bytes bytes = frame.bytes();
    const PacketOffload& request = frame.offload();

    if (options_.segment && bytes.size() > inner_->mtu() + kEthernetHeader) {
        if (auto l = offload::layout_of(bytes, true); l && l->end > l->headers) {
            // Sent: the stack's own segment size. Received (the kernel's GSO frames, whose
            // gso_size the TAP may not pass on): the most payload an MTU-sized datagram holds.
            const std::size_t fits = inner_->mtu() > l->headers - l->ip ? inner_->mtu() - (l->headers - l->ip) : 0;
            const std::size_t mss = transmitted && request.segment_size != 0 ? request.segment_size : fits;
            if (mss > 0) {
                // The comment goes with the first piece; the others wait for none.
                for (std::size_t i = 0, n = offload::piece_count(*l, mss); i < n; ++i) {
                    wire_.resize(offload::piece_size(*l, mss, i));
                    offload::write_piece(bytes, *l, mss, i, wire_.data());
                    record(!transmitted, micros, Bytes{wire_.data(), wire_.size()},
                           i == 0 ? std::move(comment) : std::string{}, i == 0);
                }
                stats_.frames_segmented++;
                return;
            }
        }
    }

    // Only a checksum the offloads may have left partial, and only over the whole datagram.
    const bool maybe_partial = transmitted ? request.checksum_partial : request.checksum_verified;
    auto l = offload::layout_of(bytes, false);
    std::size_t field = request.checksum_field;
    bool complete = options_.complete_checksums && maybe_partial && l &&
                    (load_be16(bytes.data() + l->ip + 6) & 0x3fff) == 0;  // IPv4, not a fragment
    if (complete && !transmitted) {
        if (l->protocol == 6) field = 16;
        else if (l->protocol == 17 && load_be16(bytes.data() + l->transport + 6) != 0) field = 6;
        else complete = false;  // another protocol, or UDP without a checksum
    }
    if (complete && l->transport + field + 2 > l->end) complete = false;
    if (!complete) {
        record(!transmitted, micros, bytes, std::move(comment), true);
        return;
    }
    wire_.assign(bytes.begin(), bytes.end());
    const std::uint16_t before = load_be16(wire_.data() + l->transport + field);
    offload::complete_checksum(MutableBytes{wire_.data(), wire_.size()}, *l, field);
    if (load_be16(wire_.data() + l->transport + field) != before) stats_.checksums_completed++;
    record(!transmitted, micros, Bytes{wire_.data(), wire_.size()}, std::move(comment), true);
}

void PcapWriter::record(bool received, std::int64_t micros, Bytes frame, std::string comment, bool awaits_comment) {
    if (!hold_) {
        append_record(received, micros, frame, comment);
        return;
    }
    // A frame we send has its comment already; a received one waits for comment_received()
    // (the pieces of one cut in the file after the first wait for none).
    held_.push_back(Held{received, !(received && awaits_comment), micros, {frame.begin(), frame.end()}, std::move(comment)});
    release_held();
}

void PcapWriter::release_held() {
    while (!held_.empty() && (held_.front().commented || held_.size() > kMaxHeldRecords)) {
        const Held& front = held_.front();
        append_record(front.received, front.micros, front.frame, front.comment);
        held_.pop_front();
    }
}

void PcapWriter::hold_for_comments(bool hold) {
    hold_ = hold && options_.format == PcapFormat::PcapNg;
    if (!hold_) {
        for (const Held& h : held_) append_record(h.received, h.micros, h.frame, h.comment);
        held_.clear();
        flush();
    }
}

void PcapWriter::comment_received(std::string comment) {
    for (Held& h : held_) {
        if (h.received && !h.commented) {
            h.comment = std::move(comment);
            h.commented = true;
            break;
        }
    }
    release_held();
    flush();
}

void PcapWriter::comment_next_sent(std::string comment) { next_sent_comment_ = std::move(comment); }

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
    for (std::size_t i = first; i < batch.size(); ++i) capture(micros, batch[i], false, {});
    stats_.rx_frames += count;
    flush();
    return count;
}

Result<void, DeviceError> PcapWriter::transmit(Instant now, Packet frame) {
    capture(timestamp_micros(now), frame, true, std::exchange(next_sent_comment_, {}));
    stats_.tx_frames++;
    flush();
    return inner_->transmit(now, std::move(frame));
}

}  // namespace tcpip
