#include "stack/ipv4/icmp.h"

#include <algorithm>
#include <cstring>

#include "stack/core/checksum.h"
#include "stack/core/trace.h"

namespace tcpip {

namespace {

// RFC 1812 section 4.3.2.3 (followed by Linux for hosts too): an error message, IP header
// included, is at most 576 bytes, and quotes as much of the offending datagram as fits.
constexpr std::size_t kMaxErrorDatagram = 576;

// The header of a datagram quoted in an ICMP error. The quote is cut short on purpose (usually
// its header and 8 bytes), so its total length does not match the bytes: Ipv4Header::parse would
// refuse it. Only the fixed fields are needed, with the header length checked against the bytes.
std::optional<std::pair<Ipv4Repr, std::size_t>> parse_quoted(Bytes quoted) {
    if (quoted.size() < Ipv4Header::kMinHeaderLen) return std::nullopt;
    const std::uint8_t version = quoted[0] >> 4;
    const std::size_t header_len = std::size_t{quoted[0] & 0x0fu} * 4;
    if (version != 4 || header_len < Ipv4Header::kMinHeaderLen || header_len > quoted.size()) return std::nullopt;
    Ipv4Repr repr;
    repr.tos = quoted[Ipv4Header::kTosOffset];
    repr.ident = load_be16(quoted, Ipv4Header::kIdentOffset);
    const std::uint16_t flags = load_be16(quoted, Ipv4Header::kFlagsFragOffset);
    repr.dont_fragment = (flags & Ipv4Header::kDontFragmentFlag) != 0;
    repr.more_fragments = (flags & Ipv4Header::kMoreFragmentsFlag) != 0;
    repr.frag_offset = static_cast<std::uint16_t>((flags & Ipv4Header::kFragOffsetMask) * 8);
    repr.ttl = quoted[Ipv4Header::kTtlOffset];
    repr.protocol = quoted[Ipv4Header::kProtocolOffset];
    repr.src = Ipv4Address::from_bytes(quoted.data() + Ipv4Header::kSrcOffset);
    repr.dst = Ipv4Address::from_bytes(quoted.data() + Ipv4Header::kDstOffset);
    const std::uint16_t total = load_be16(quoted, Ipv4Header::kTotalLengthOffset);
    repr.payload_len = static_cast<std::uint16_t>(total >= header_len ? total - header_len : 0);
    return std::make_pair(repr, header_len);
}

bool is_error_type(std::uint8_t type) {
    // RFC 792's error messages: destination unreachable, source quench, redirect, time exceeded,
    // parameter problem.
    return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

}  // namespace

Icmp::Icmp(Ipv4Layer& ip, PacketPool& pool, const StackConfig& config, IcmpStats& stats)
    : ip_(ip), pool_(pool), config_(config), stats_(stats) {}

void Icmp::receive(Instant now, const Ipv4RxInfo& info, Packet payload) {
    ++stats_.rx_messages;
    auto header = IcmpHeader::parse(payload.bytes());
    if (!header) {
        ++stats_.rx_malformed;
        if (Tracer* t = config_.tracer) [[unlikely]] t->packet(now, TraceLayer::Icmp, TraceDir::Rx, payload.bytes(), TraceNote::IcmpMalformed);
        return;
    }
    if (Tracer* t = config_.tracer) [[unlikely]] t->packet(now, TraceLayer::Icmp, TraceDir::Rx, payload.bytes());
    if (config_.verify_rx_checksums && !header->checksum_valid()) {
        ++stats_.rx_bad_checksum;
        if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Icmp, TraceNote::IcmpBadChecksum);
        return;
    }
    auto message = IcmpRepr::from(*header);
    if (!message) {
        ++stats_.rx_malformed;  // a type we do not handle (timestamp, redirect, ...)
        if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Icmp, TraceNote::IcmpUnsupported);
        return;
    }

    switch (message->type) {
        case IcmpType::EchoRequest: {
            ++stats_.rx_echo_requests;
            // Linux ignores echo requests sent to a broadcast address (icmp_echo_ignore_broadcasts).
            if (info.link_broadcast || info.header.dst != ip_.address()) {
                if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Icmp, TraceNote::IcmpEchoBroadcastIgnored);
                return;
            }
            if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Icmp, TraceNote::IcmpEchoAnswered);
            // The reply is the request with its type changed: turn it around in place. Only one
            // 16-bit word of the message changes (type/code 8/0 -> 0/0), so the checksum is
            // adjusted by RFC 1624 instead of summing up to 64 KiB again.
            MutableBytes bytes = payload.bytes();
            const std::uint16_t old_word = load_be16(bytes, IcmpHeader::kTypeOffset);
            const std::uint16_t new_word = static_cast<std::uint16_t>(IcmpType::EchoReply << 8 | message->code);
            store_be16(bytes, IcmpHeader::kTypeOffset, new_word);
            const std::uint16_t old_checksum = load_be16(bytes, IcmpHeader::kChecksumOffset);
            store_be16(bytes, IcmpHeader::kChecksumOffset, checksum_adjust(old_checksum, old_word, new_word));
            Ipv4SendOptions options;
            options.tos = info.header.tos;
            if (Tracer* t = config_.tracer) [[unlikely]] t->packet(now, TraceLayer::Icmp, TraceDir::Tx, payload.bytes());
            if (ip_.send(now, info.header.src, IpProtocol::Icmp, std::move(payload), options)) {
                ++stats_.tx_messages;
                ++stats_.tx_echo_replies;
            }
            return;
        }
        case IcmpType::EchoReply:
            ++stats_.rx_echo_replies;
            if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Icmp, TraceNote::IcmpEchoReply);
            if (on_echo_reply_) {
                on_echo_reply_(now, EchoReply{info.header.src, message->ident, message->seq, info.header.ttl, message->data});
            }
            return;
        default:
            receive_error(now, info, *message);
            return;
    }
}

void Icmp::receive_error(Instant now, const Ipv4RxInfo& info, const IcmpRepr& message) {
    ++stats_.rx_errors;
    auto quoted = parse_quoted(message.data);
    // RFC 1122 3.2.2: the quote must hold the header and at least 8 bytes (the transport ports);
    // and it must be about a datagram we sent.
    if (!quoted || message.data.size() < quoted->second + 8 || quoted->first.src != ip_.address()) {
        ++stats_.rx_malformed;
        if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Icmp, TraceNote::IcmpErrorNotOurs);
        return;
    }
    if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Icmp, TraceNote::IcmpErrorToTransport);
    IcmpErrorInfo error;
    error.type = message.type;
    error.code = message.code;
    error.next_hop_mtu = message.next_hop_mtu;
    error.reporter = info.header.src;
    error.quoted = quoted->first;
    error.quoted_payload = message.data.subspan(quoted->second);
    ip_.deliver_icmp_error(now, error);
}

bool Icmp::error_allowed(const Ipv4RxInfo& info, const Packet& offending) const {
    const Ipv4Repr& h = info.header;
    // RFC 1122 section 3.2.2: never about a datagram sent to a broadcast or multicast address,
    if (info.link_broadcast || h.dst.is_broadcast() || h.dst.is_multicast() || h.dst != ip_.address()) return false;
    // ...nor about a fragment other than the first,
    if (h.frag_offset != 0) return false;
    // ...nor to a source that is not one host,
    if (h.src.is_unspecified() || h.src.is_broadcast() || h.src.is_multicast() || h.src.is_loopback() ||
        h.src == ip_.cidr().broadcast()) {
        return false;
    }
    // ...nor about an ICMP error message (an error about an error could loop forever).
    if (h.protocol == IpProtocol::Icmp && (offending.size() < 1 || is_error_type(offending.data()[0]))) return false;
    return true;
}

// A token bucket, as Linux's icmp_global_allow: `burst` tokens at most, one more every
// `icmp_error_interval`. Only errors are limited; echo replies are not.
bool Icmp::take_rate_token(Instant now) {
    const double burst = static_cast<double>(config_.icmp_error_burst);
    if (!bucket_started_) {
        tokens_ = burst;
        last_refill_ = now;
        bucket_started_ = true;
    }
    const double interval = static_cast<double>(config_.icmp_error_interval.total_micros());
    if (interval > 0) {
        tokens_ = std::min(burst, tokens_ + static_cast<double>((now - last_refill_).total_micros()) / interval);
    } else {
        tokens_ = burst;
    }
    last_refill_ = now;
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
}

void Icmp::send_destination_unreachable(Instant now, std::uint8_t code, const Ipv4RxInfo& info, const Packet& offending) {
    send_error(now, IcmpType::DestinationUnreachable, code, info, offending);
}

void Icmp::send_time_exceeded_reassembly(Instant now, const Ipv4RxInfo& info, const Packet& first_fragment) {
    send_error(now, IcmpType::TimeExceeded, IcmpTimeExceededCode::ReassemblyTimeout, info, first_fragment);
}

void Icmp::send_error(Instant now, std::uint8_t type, std::uint8_t code, const Ipv4RxInfo& info,
                      const Packet& offending) {
    if (!error_allowed(info, offending)) return;
    if (!take_rate_token(now)) {
        ++stats_.tx_rate_limited;
        if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Icmp, TraceNote::IcmpRateLimited);
        return;
    }
    // The quote: the offending header (still in the packet's headroom) and as much of its payload
    // as fits in a 576-byte error datagram.
    const std::size_t room = kMaxErrorDatagram - Ipv4Repr::header_len() - IcmpRepr::header_len() - info.header_len;
    const std::size_t quoted_payload = std::min(offending.size(), room);
    Packet message = pool_.allocate(info.header_len + quoted_payload);
    MutableBytes quote = message.append(info.header_len + quoted_payload);
    std::memcpy(quote.data(), offending.data() - info.header_len, info.header_len + quoted_payload);

    IcmpRepr repr = type == IcmpType::DestinationUnreachable ? IcmpRepr::destination_unreachable(code, quote)
                                                             : IcmpRepr::time_exceeded(code, quote);
    repr.emit(message);
    if (Tracer* t = config_.tracer) [[unlikely]] t->packet(now, TraceLayer::Icmp, TraceDir::Tx, message.bytes());
    if (ip_.send(now, info.header.src, IpProtocol::Icmp, std::move(message))) {
        ++stats_.tx_messages;
        if (type == IcmpType::DestinationUnreachable) ++stats_.tx_dest_unreachable;
    }
}

Result<void, Ipv4SendError> Icmp::send_echo_request(Instant now, Ipv4Address dst, std::uint16_t ident,
                                                    std::uint16_t seq, Bytes data) {
    Packet message = pool_.allocate(IcmpRepr::header_len() + data.size());
    std::memcpy(message.append(data.size()).data(), data.data(), data.size());
    IcmpRepr::echo_request(ident, seq, {}).emit(message);
    if (Tracer* t = config_.tracer) [[unlikely]] t->packet(now, TraceLayer::Icmp, TraceDir::Tx, message.bytes());
    auto sent = ip_.send(now, dst, IpProtocol::Icmp, std::move(message));
    if (sent) ++stats_.tx_messages;
    return sent;
}

}  // namespace tcpip
