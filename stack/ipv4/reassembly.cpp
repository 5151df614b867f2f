#include "stack/ipv4/reassembly.h"

#include <cstring>

#include "stack/core/trace.h"

namespace tcpip {

namespace {
constexpr std::uint32_t kMaxDatagramPayload = 65535 - 20;  // total length is a 16-bit field
}

Reassembler::Reassembler(TimerQueue& timers, PacketPool& pool, const StackConfig& config, Ipv4Stats& stats)
    : timers_(timers), pool_(pool), config_(config), stats_(stats) {}

Reassembler::~Reassembler() {
    for (auto& d : datagrams_) timers_.cancel(d.timer);
}

Reassembler::Iterator Reassembler::find_or_create(Instant now, const Ipv4Repr& header) {
    for (auto it = datagrams_.begin(); it != datagrams_.end(); ++it) {
        if (it->ident == header.ident && it->src == header.src && it->dst == header.dst &&
            it->protocol == header.protocol) {
            return it;
        }
    }
    if (datagrams_.size() >= config_.ip_reassembly_max_datagrams) {
        ++stats_.reasm_fails;
        drop(datagrams_.begin());  // the oldest makes way
    }
    InProgress d{header.src, header.dst, header.protocol, header.ident, {}, std::nullopt, 0, 0,
                 std::nullopt, 20, 0, next_serial_++};
    std::uint64_t serial = d.serial;
    d.timer = timers_.schedule(now + config_.ip_reassembly_timeout, [this, serial](Instant t) { on_timeout(t, serial); });
    datagrams_.push_back(std::move(d));
    return std::prev(datagrams_.end());
}

void Reassembler::drop(Iterator it) {
    timers_.cancel(it->timer);
    bytes_held_ -= it->memory;
    datagrams_.erase(it);
}

void Reassembler::make_room(std::size_t bytes) {
    while (!datagrams_.empty() && bytes_held_ + bytes > config_.ip_reassembly_memory) {
        ++stats_.reasm_fails;
        drop(datagrams_.begin());
    }
}

std::optional<Reassembler::Datagram> Reassembler::add(Instant now, const Ipv4Repr& header, std::size_t header_len,
                                                      Packet fragment) {
    const std::uint32_t offset = header.frag_offset;
    const std::uint32_t length = static_cast<std::uint32_t>(fragment.size());
    const std::uint32_t end = offset + length;

    // Sanity first, before anything is kept: no fragment may reach past the largest datagram,
    // and every fragment but the last carries a multiple of 8 bytes (offsets count 8-byte units).
    if (end > kMaxDatagramPayload || (header.more_fragments && (length == 0 || length % 8 != 0))) {
        ++stats_.reasm_fails;
        if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Ip, TraceNote::IpFragmentTooBig);
        return std::nullopt;
    }
    const std::size_t memory = fragment.capacity();
    if (memory > config_.ip_reassembly_memory) {
        ++stats_.reasm_fails;
        return std::nullopt;
    }
    make_room(memory);
    Iterator it = find_or_create(now, header);
    InProgress& d = *it;

    // The last fragment fixes the total length; a second, different "last" is a contradiction.
    if (!header.more_fragments) {
        // A fragment already held that ends past this "last" one contradicts it too. Checking only
        // the byte count is not enough: [0,8) [24,32) and a last [16,24) add up to its 24 bytes,
        // and the datagram would be "complete" with a hole at [8,16). The list is ordered by
        // offset without overlaps, so its back ends furthest.
        const bool held_past_end = !d.fragments.empty() &&
                                   std::uint32_t{d.fragments.back().offset} + d.fragments.back().length > end;
        if ((d.total_length && *d.total_length != end) || end < d.received || held_past_end) {
            ++stats_.reasm_overlap;
            ++stats_.reasm_fails;
            if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Ip, TraceNote::IpFragmentOverlap);
            drop(it);
            return std::nullopt;
        }
        d.total_length = end;
    }
    if (d.total_length && end > *d.total_length) {
        ++stats_.reasm_fails;
        if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Ip, TraceNote::IpFragmentOverlap);
        drop(it);
        return std::nullopt;
    }

    // Find where it goes, checking its neighbours for overlap.
    auto pos = d.fragments.begin();
    while (pos != d.fragments.end() && pos->offset < offset) ++pos;
    if (pos != d.fragments.end() && pos->offset == offset && pos->length == length) {
        // An exact duplicate: keep the one we have.
        if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Ip, TraceNote::IpFragmentDuplicate);
        return std::nullopt;
    }
    bool overlaps_next = pos != d.fragments.end() && end > pos->offset;
    bool overlaps_prev = pos != d.fragments.begin() && std::prev(pos)->offset + std::prev(pos)->length > offset;
    if (overlaps_next || overlaps_prev) {
        ++stats_.reasm_overlap;
        ++stats_.reasm_fails;
        if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Ip, TraceNote::IpFragmentOverlap);
        drop(it);
        return std::nullopt;
    }

    if (offset == 0) {
        d.first_header = header;
        d.first_header_len = header_len;
    }
    d.received += length;
    d.memory += memory;
    bytes_held_ += memory;
    d.fragments.insert(pos, Fragment{static_cast<std::uint16_t>(offset), static_cast<std::uint16_t>(length),
                                     std::move(fragment)});

    // With no overlaps, covering the total length byte for byte means there is no hole left.
    const auto count = static_cast<std::uint32_t>(d.fragments.size());
    if (d.total_length && d.received == *d.total_length && d.first_header) {
        ++stats_.reasm_ok;
        if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Ip, TraceNote::IpReassembled, count, count);
        return assemble(it);
    }
    if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Ip, TraceNote::IpFragmentHeld, count);
    return std::nullopt;
}

Reassembler::Datagram Reassembler::assemble(Iterator it) {
    InProgress& d = *it;
    const std::size_t header_len = d.first_header_len;
    Packet whole = pool_.allocate(*d.total_length, PacketPool::kDefaultHeadroom + header_len);
    for (auto& f : d.fragments) {
        std::memcpy(whole.append(f.length).data(), f.packet.data(), f.length);
    }
    // Put the first fragment's header (options included) back in front, as the headroom of the
    // payload: a handler that quotes the datagram in an ICMP error finds it there.
    Packet& first = d.fragments.front().packet;
    std::memcpy(whole.push(header_len).data(), first.data() - header_len, header_len);
    whole.pull(header_len);

    Ipv4Repr header = *d.first_header;
    header.more_fragments = false;
    header.frag_offset = 0;
    header.payload_len = static_cast<std::uint16_t>(*d.total_length);
    drop(it);
    return Datagram{header, header_len, std::move(whole)};
}

void Reassembler::on_timeout(Instant now, std::uint64_t serial) {
    for (auto it = datagrams_.begin(); it != datagrams_.end(); ++it) {
        if (it->serial != serial) continue;
        ++stats_.reasm_timeout;
        ++stats_.reasm_fails;
        if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Ip, TraceNote::IpReassemblyTimeout, it->ident);
        std::optional<Ipv4Repr> first_header = it->first_header;
        std::size_t first_len = it->first_header_len;
        Packet first;
        if (first_header) first = std::move(it->fragments.front().packet);
        it->timer = 0;
        drop(it);
        if (first_header && on_timeout_) on_timeout_(now, *first_header, first_len, std::move(first));
        return;
    }
}

}  // namespace tcpip
