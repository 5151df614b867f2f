// The TCP header and options (RFC 9293 sections 3.1 and 3.2, RFC 7323, RFC 2018): parsing,
// checksum, emission and printing. See header.h for the format.
#include "stack/tcp/header.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <ostream>

#include "stack/core/checksum.h"

namespace tcpip {

// ---------------------------------------------------------------------------------------------
// Flags

std::string TcpFlags::to_string() const {
    // tcpdump's table (print-tcp.c, tcp_flag_values), in its order.
    static constexpr struct {
        std::uint8_t bit;
        char letter;
    } kLetters[] = {{0x01, 'F'}, {0x02, 'S'}, {0x04, 'R'}, {0x08, 'P'},
                    {0x10, '.'}, {0x20, 'U'}, {0x40, 'E'}, {0x80, 'W'}};
    if (empty()) return "none";
    std::string text;
    for (const auto& [bit, letter] : kLetters) {
        if ((bits_ & bit) != 0) text += letter;
    }
    return text;
}

// ---------------------------------------------------------------------------------------------
// Options

bool TcpOptions::add_sack(SackBlock block) {
    if (sack_count >= kMaxSackBlocks) return false;
    sack_blocks[sack_count++] = block;
    return true;
}

Result<TcpOptions, ParseError> TcpOptions::parse(Bytes area) {
    TcpOptions options;
    std::size_t at = 0;
    while (at < area.size()) {
        const std::uint8_t kind = area[at];
        if (kind == kEol) break;  // end of the list; the rest is padding
        if (kind == kNop) {       // one byte of padding between options
            ++at;
            continue;
        }
        // Every other kind is kind, length, data, and its length counts the first two bytes.
        // Check the length before reading anything it promises.
        if (area.size() - at < 2) return Unexpected(ParseError::BadOption);
        const std::size_t len = area[at + 1];
        if (len < 2 || len > area.size() - at) return Unexpected(ParseError::BadOption);
        const Bytes data = area.subspan(at + 2, len - 2);

        switch (kind) {
            case kMss:
                if (len != kMssLen) return Unexpected(ParseError::BadOption);
                options.mss = load_be16(data, 0);
                break;
            case kWindowScale:
                if (len != kWindowScaleLen) return Unexpected(ParseError::BadOption);
                options.window_scale = data[0];
                break;
            case kSackPermitted:
                if (len != kSackPermittedLen) return Unexpected(ParseError::BadOption);
                options.sack_permitted = true;
                break;
            case kSack: {
                // 2 + 8n bytes with 1 <= n <= 4 (RFC 2018 section 3).
                const std::size_t blocks = (len - 2) / kSackBlockLen;
                if ((len - 2) % kSackBlockLen != 0 || blocks < 1 || blocks > kMaxSackBlocks) {
                    return Unexpected(ParseError::BadOption);
                }
                options.sack_count = 0;  // a repeated SACK option replaces the earlier one
                for (std::size_t i = 0; i < blocks; ++i) {
                    const std::size_t edge = i * kSackBlockLen;
                    options.add_sack({SeqNum(load_be32(data, edge)), SeqNum(load_be32(data, edge + 4))});
                }
                break;
            }
            case kTimestamps:
                if (len != kTimestampsLen) return Unexpected(ParseError::BadOption);
                options.timestamps = Timestamps{load_be32(data, 0), load_be32(data, 4)};
                break;
            default:
                // A kind we do not implement is ignored without error, skipped by its length
                // (RFC 9293 section 3.1, MUST-6).
                break;
        }
        at += len;
    }
    return options;
}

std::size_t TcpOptions::len_without_sack() const {
    std::size_t len = 0;
    if (mss) len += 4;
    if (timestamps) {
        len += 12;  // NOP NOP TS, or SACK-Permitted TS: either way three words
    } else if (sack_permitted) {
        len += 4;   // NOP NOP SACK-Permitted
    }
    if (window_scale) len += 4;  // NOP WS
    return len;
}

std::size_t TcpOptions::sack_capacity() const {
    // A SACK option costs a word (NOP NOP kind length) plus two words per block.
    const std::size_t room = kMaxLen - len_without_sack();  // len_without_sack() <= 24
    if (room < 4 + kSackBlockLen) return 0;
    return std::min(kMaxSackBlocks, (room - 4) / kSackBlockLen);
}

std::size_t TcpOptions::wire_len() const {
    const std::size_t blocks = std::min<std::size_t>(sack_count, sack_capacity());
    return len_without_sack() + (blocks > 0 ? 4 + blocks * kSackBlockLen : 0);
}

std::size_t TcpOptions::emit(MutableBytes out) const {
    const std::size_t len = wire_len();
    assert(out.size() >= len);
    std::size_t at = 0;
    auto put8 = [&](std::uint8_t value) { out[at++] = value; };
    auto put16 = [&](std::uint16_t value) { store_be16(out, at, value); at += 2; };
    auto put32 = [&](std::uint32_t value) { store_be32(out, at, value); at += 4; };

    if (mss) {
        put8(kMss);
        put8(kMssLen);
        put16(*mss);
    }
    if (timestamps) {
        // SACK-Permitted fills the two bytes the timestamps would otherwise pad with NOPs.
        if (sack_permitted) {
            put8(kSackPermitted);
            put8(kSackPermittedLen);
        } else {
            put8(kNop);
            put8(kNop);
        }
        put8(kTimestamps);
        put8(kTimestampsLen);
        put32(timestamps->tsval);
        put32(timestamps->tsecr);
    } else if (sack_permitted) {
        put8(kNop);
        put8(kNop);
        put8(kSackPermitted);
        put8(kSackPermittedLen);
    }
    if (window_scale) {
        put8(kNop);
        put8(kWindowScale);
        put8(kWindowScaleLen);
        put8(*window_scale);
    }
    const std::size_t blocks = std::min<std::size_t>(sack_count, sack_capacity());
    if (blocks > 0) {
        put8(kNop);
        put8(kNop);
        put8(kSack);
        put8(static_cast<std::uint8_t>(2 + blocks * kSackBlockLen));
        for (std::size_t i = 0; i < blocks; ++i) {
            put32(sack_blocks[i].left.raw());
            put32(sack_blocks[i].right.raw());
        }
    }
    assert(at == len);
    return at;
}

bool TcpOptions::operator==(const TcpOptions& other) const {
    const auto a = sacks();
    const auto b = other.sacks();
    return mss == other.mss && window_scale == other.window_scale && sack_permitted == other.sack_permitted &&
           timestamps == other.timestamps && std::equal(a.begin(), a.end(), b.begin(), b.end());
}

// ---------------------------------------------------------------------------------------------
// Header view

Result<TcpHeader, ParseError> TcpHeader::parse(Bytes bytes) {
    if (bytes.size() < kMinHeaderLen) return Unexpected(ParseError::Truncated);
    // Safe to read: the 20 fixed bytes are there.
    const std::size_t header_len = std::size_t{static_cast<std::uint8_t>(bytes[kDataOffset] >> 4)} * 4;
    if (header_len < kMinHeaderLen || header_len > bytes.size()) {
        return Unexpected(ParseError::BadHeaderLength);
    }
    auto options = TcpOptions::parse(bytes.subspan(kOptions, header_len - kOptions));
    if (!options) return Unexpected(options.error());
    return TcpHeader(bytes, *options);
}

bool TcpHeader::checksum_valid(Ipv4Address src, Ipv4Address dst) const {
    // Summing over a correct checksum field makes the whole sum all ones, so finish() is zero.
    // A segment longer than 65535 bytes cannot have come in one IPv4 datagram.
    if (bytes_.size() > 0xffff) return false;
    const auto length = static_cast<std::uint16_t>(bytes_.size());
    return InternetChecksum{}.add_pseudo_header(src, dst, kIpProtocol, length).add(bytes_).finish() == 0;
}

// ---------------------------------------------------------------------------------------------
// Repr

TcpRepr TcpRepr::from(const TcpHeader& header) {
    return TcpRepr{
        .src_port = header.src_port(),
        .dst_port = header.dst_port(),
        .seq = header.seq(),
        .ack = header.ack(),
        .flags = header.flags(),
        .window = header.window(),
        .urgent = header.urgent(),
        .options = header.options(),
    };
}

MutableBytes TcpRepr::emit_without_checksum(MutableBytes out, Bytes payload) const {
    const std::size_t hlen = header_len();
    const std::size_t total = hlen + payload.size();
    assert(total <= 0xffff);
    assert(out.size() >= total);
    MutableBytes segment = out.first(total);

    // The payload first, so that the checksum computed over the segment covers it where it
    // finally lies. memmove: the caller may hand us a payload that overlaps `out`.
    if (payload.data() != segment.data() + hlen && !payload.empty()) {
        std::memmove(segment.data() + hlen, payload.data(), payload.size());
    }

    store_be16(segment, TcpHeader::kSrcPort, src_port);
    store_be16(segment, TcpHeader::kDstPort, dst_port);
    store_be32(segment, TcpHeader::kSeq, seq.raw());
    store_be32(segment, TcpHeader::kAck, ack.raw());
    segment[TcpHeader::kDataOffset] = static_cast<std::uint8_t>((hlen / 4) << 4);  // reserved bits zero
    segment[TcpHeader::kFlags] = flags.bits();
    store_be16(segment, TcpHeader::kWindow, window);
    store_be16(segment, TcpHeader::kChecksum, 0);  // counts as zero while it is computed
    store_be16(segment, TcpHeader::kUrgent, urgent);
    options.emit(segment.subspan(TcpHeader::kOptions, hlen - TcpHeader::kOptions));
    return segment;
}

void TcpRepr::emit(MutableBytes out, Ipv4Address src, Ipv4Address dst, Bytes payload) const {
    MutableBytes segment = emit_without_checksum(out, payload);
    const std::uint16_t checksum = InternetChecksum{}
                                       .add_pseudo_header(src, dst, TcpHeader::kIpProtocol,
                                                          static_cast<std::uint16_t>(segment.size()))
                                       .add(segment)
                                       .finish();
    store_be16(segment, TcpHeader::kChecksum, checksum);
}

void TcpRepr::emit(Packet& packet, Ipv4Address src, Ipv4Address dst) const {
    const std::size_t payload_len = packet.size();
    const std::size_t hlen = header_len();
    MutableBytes header = packet.push(hlen);
    const Bytes payload{header.data() + hlen, payload_len};
    emit(packet.bytes(), src, dst, payload);
}

void TcpRepr::emit_checksum_partial(Packet& packet, Ipv4Address src, Ipv4Address dst) const {
    const std::size_t payload_len = packet.size();
    const std::size_t hlen = header_len();
    MutableBytes header = packet.push(hlen);
    MutableBytes segment = emit_without_checksum(packet.bytes(), Bytes{header.data() + hlen, payload_len});
    // The device will sum from the TCP header on, this field included, and store the complement:
    // so the field holds the pseudo-header's sum, not complemented (Linux: __tcp_v4_send_check).
    const std::uint16_t pseudo = InternetChecksum{}
                                     .add_pseudo_header(src, dst, TcpHeader::kIpProtocol,
                                                        static_cast<std::uint16_t>(segment.size()))
                                     .sum();
    store_be16(segment, TcpHeader::kChecksum, pseudo);
    packet.offload().checksum_partial = true;
    packet.offload().checksum_field = static_cast<std::uint8_t>(TcpHeader::kChecksum);
}

// ---------------------------------------------------------------------------------------------
// Printing

namespace {

// Prints an options area in wire order, as tcpdump does. It re-checks each length, so it is safe
// on any bytes, but it is only ever given areas that parse() accepted or that emit() wrote.
void print_options(std::ostream& os, Bytes area) {
    os << '[';
    std::size_t at = 0;
    bool first = true;
    while (at < area.size()) {
        if (!first) os << ',';
        first = false;
        const std::uint8_t kind = area[at];
        if (kind == TcpOptions::kEol) {
            os << "eol";
            break;
        }
        if (kind == TcpOptions::kNop) {
            os << "nop";
            ++at;
            continue;
        }
        if (area.size() - at < 2 || area[at + 1] < 2 || area[at + 1] > area.size() - at) {
            os << "bad-opt-" << unsigned{kind};
            break;
        }
        const std::size_t len = area[at + 1];
        const Bytes data = area.subspan(at + 2, len - 2);
        if (kind == TcpOptions::kMss && len == TcpOptions::kMssLen) {
            os << "mss " << load_be16(data, 0);
        } else if (kind == TcpOptions::kWindowScale && len == TcpOptions::kWindowScaleLen) {
            os << "wscale " << unsigned{data[0]};
        } else if (kind == TcpOptions::kSackPermitted && len == TcpOptions::kSackPermittedLen) {
            os << "sackOK";
        } else if (kind == TcpOptions::kSack && (len - 2) % TcpOptions::kSackBlockLen == 0) {
            os << "sack " << (len - 2) / TcpOptions::kSackBlockLen << ' ';
            for (std::size_t edge = 0; edge < data.size(); edge += TcpOptions::kSackBlockLen) {
                os << SackBlock{SeqNum(load_be32(data, edge)), SeqNum(load_be32(data, edge + 4))};
            }
        } else if (kind == TcpOptions::kTimestamps && len == TcpOptions::kTimestampsLen) {
            os << "TS val " << load_be32(data, 0) << " ecr " << load_be32(data, 4);
        } else {
            os << "unknown-" << unsigned{kind};
        }
        at += len;
    }
    os << ']';
}

// The fields both a view and a Repr print, in tcpdump's order.
void print_segment(std::ostream& os, std::uint16_t src_port, std::uint16_t dst_port, TcpFlags flags, SeqNum seq,
                   std::size_t payload_len, SeqNum ack, std::uint16_t window, std::uint16_t urgent, Bytes options) {
    os << src_port << " > " << dst_port << " Flags " << flags << ", seq " << seq;
    if (payload_len > 0) os << ':' << seq + static_cast<std::uint32_t>(payload_len);
    if (flags.ack() || ack.raw() != 0) os << ", ack " << ack;
    os << ", win " << window;
    if (flags.urg() || urgent != 0) os << ", urg " << urgent;
    if (!options.empty()) {
        os << ", options ";
        print_options(os, options);
    }
}

}  // namespace

std::ostream& operator<<(std::ostream& os, TcpFlags flags) { return os << '[' << flags.to_string() << ']'; }

std::ostream& operator<<(std::ostream& os, const SackBlock& block) {
    return os << '{' << block.left << ':' << block.right << '}';
}

std::ostream& operator<<(std::ostream& os, const TcpOptions& options) {
    std::array<std::uint8_t, TcpOptions::kMaxLen> area{};
    const std::size_t len = options.emit(area);
    print_options(os, Bytes(area).first(len));
    return os;
}

std::ostream& operator<<(std::ostream& os, const TcpHeader& header) {
    print_segment(os, header.src_port(), header.dst_port(), header.flags(), header.seq(), header.payload().size(),
                  header.ack(), header.window(), header.urgent(), header.options_bytes());
    return os << ", length " << header.payload().size();
}

std::ostream& operator<<(std::ostream& os, const TcpRepr& repr) {
    std::array<std::uint8_t, TcpOptions::kMaxLen> area{};
    const std::size_t len = repr.options.emit(area);
    print_segment(os, repr.src_port, repr.dst_port, repr.flags, repr.seq, 0, repr.ack, repr.window, repr.urgent,
                  Bytes(area).first(len));
    return os;
}

}  // namespace tcpip
