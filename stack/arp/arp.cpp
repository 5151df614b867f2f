#include "stack/arp/arp.h"

#include "stack/core/trace.h"

namespace tcpip {

ArpLayer::ArpLayer(EthernetLayer& ethernet, TimerQueue& timers, PacketPool& pool, const StackConfig& config,
                   ArpStats& stats)
    : ethernet_(ethernet), timers_(timers), pool_(pool), config_(config), stats_(stats) {}

// RFC 826, "Packet Reception", in its own order:
//   ?Do I have the hardware type / speak the protocol?     (parse: Ethernet/IPv4 only)
//   Merge_flag := false; if the sender is in my table, update its MAC, Merge_flag := true.
//   ?Am I the target protocol address? If not, stop.
//   If Merge_flag is false, add the sender to the table.
//   ?Is the opcode a request? Then swap fields, put my addresses in, send a reply.
void ArpLayer::receive(Instant now, Packet packet, const EthernetRepr& /*header*/) {
    auto parsed = ArpRepr::parse(packet.bytes());
    if (!parsed) {
        ++stats_.rx_malformed;
        if (Tracer* t = config_.tracer) [[unlikely]] t->packet(now, TraceLayer::Arp, TraceDir::Rx, packet.bytes(), TraceNote::ArpMalformed);
        return;
    }
    const ArpRepr& arp = *parsed;
    bool is_request = arp.operation == ArpOperation::Request;
    bool is_reply = arp.operation == ArpOperation::Reply;
    if (!is_request && !is_reply) {
        ++stats_.rx_malformed;
        if (Tracer* t = config_.tracer) [[unlikely]] t->packet(now, TraceLayer::Arp, TraceDir::Rx, packet.bytes(), TraceNote::ArpMalformed);
        return;
    }
    (is_request ? stats_.rx_requests : stats_.rx_replies)++;

    // A sender claiming no address, a broadcast or a multicast address teaches us nothing.
    bool sender_usable = !arp.sender_ip.is_unspecified() && !arp.sender_ip.is_broadcast() &&
                         !arp.sender_ip.is_multicast() && arp.sender_mac.is_unicast();

    // The merge rule: refresh an entry we already have, whoever the packet is for.
    bool merged = false;
    if (sender_usable && cache_.contains(arp.sender_ip)) {
        learn(now, arp.sender_ip, arp.sender_mac, /*create=*/false);
        merged = true;
    }

    if (address_.is_unspecified() || arp.target_ip != address_) {
        ++stats_.rx_not_for_us;
        if (Tracer* t = config_.tracer) [[unlikely]] t->packet(now, TraceLayer::Arp, TraceDir::Rx, packet.bytes(), TraceNote::ArpNotForUs);
        return;
    }
    if (Tracer* t = config_.tracer) [[unlikely]] {
        t->packet(now, TraceLayer::Arp, TraceDir::Rx, packet.bytes(), is_request ? TraceNote::ArpAnswered : TraceNote::ArpLearned);
    }
    // Addressed to us: learn the sender even if new (it is about to talk to us), and answer.
    if (sender_usable && !merged) learn(now, arp.sender_ip, arp.sender_mac, /*create=*/true);
    if (is_request) send_reply(now, arp);
}

void ArpLayer::learn(Instant now, Ipv4Address ip, MacAddress mac, bool create) {
    auto it = cache_.find(ip);
    if (it == cache_.end()) {
        if (!create) return;
        evict_if_full();
        lru_.push_front(ip);
        cache_.emplace(ip, Entry{mac, now + config_.arp_entry_lifetime, false, lru_.begin()});
    } else {
        if (it->second.is_static) return;  // the administrator's word beats the wire's
        it->second.mac = mac;
        it->second.expires = now + config_.arp_entry_lifetime;
        touch(it->second, ip);
    }
    // Anything waiting for this address can go now.
    if (pending_.contains(ip)) flush(now, ip, mac);
}

// Moves the entry's node to the front of the list (no allocation: a lookup per datagram sent).
void ArpLayer::touch(Entry& entry, Ipv4Address ip) {
    lru_.splice(lru_.begin(), lru_, entry.lru_position);
    entry.lru_position = lru_.begin();
    (void)ip;  // the node already holds it
}

void ArpLayer::evict_if_full() {
    if (cache_.size() < config_.arp_cache_capacity) return;
    // From the least recently used end, the first entry that is not static goes.
    for (auto it = lru_.end(); it != lru_.begin();) {
        --it;
        auto entry = cache_.find(*it);
        if (!entry->second.is_static) {
            cache_.erase(entry);
            lru_.erase(it);
            return;
        }
    }
}

std::optional<MacAddress> ArpLayer::lookup(Instant now, Ipv4Address ip) {
    auto it = cache_.find(ip);
    if (it == cache_.end()) return std::nullopt;
    Entry& entry = it->second;
    if (!entry.is_static && now >= entry.expires) {
        // Aged out: forget it, so the next datagram asks again.
        lru_.erase(entry.lru_position);
        cache_.erase(it);
        return std::nullopt;
    }
    touch(entry, ip);
    return entry.mac;
}

void ArpLayer::add_static(Ipv4Address ip, MacAddress mac) {
    auto it = cache_.find(ip);
    if (it != cache_.end()) {
        it->second.mac = mac;
        it->second.is_static = true;
        touch(it->second, ip);
    } else {
        evict_if_full();
        lru_.push_front(ip);
        cache_.emplace(ip, Entry{mac, Instant{}, true, lru_.begin()});
    }
}

void ArpLayer::send_ipv4(Instant now, Ipv4Address next_hop, Packet datagram) {
    if (auto mac = lookup(now, next_hop)) {
        if (Tracer* t = config_.tracer) [[unlikely]] t->resolve(now, next_hop, *mac, TraceNote::ArpCached);
        (void)ethernet_.send(now, *mac, EtherType::Ipv4, std::move(datagram));
        return;
    }
    // Queue it, within the bounds in packets and in bytes, per neighbour and in total. When full,
    // the newest datagram is the one dropped (Linux drops the oldest from unres_qlen; dropping
    // the newest keeps what is queued in order and makes no difference to a flood).
    auto [it, fresh] = pending_.try_emplace(next_hop);
    Resolution& resolution = it->second;
    const std::size_t bytes = datagram.capacity();
    if (resolution.waiting.size() >= config_.arp_pending_per_neighbor || pending_total_ >= config_.arp_pending_total ||
        resolution.bytes + bytes > config_.arp_pending_bytes_per_neighbor ||
        pending_bytes_total_ + bytes > config_.arp_pending_bytes_total) {
        ++stats_.pending_dropped;
        ++stats_.pending_queue_full;
        if (Tracer* t = config_.tracer) [[unlikely]] t->resolve(now, next_hop, MacAddress::zero(), TraceNote::ArpQueueFull);
    } else {
        resolution.waiting.push_back(std::move(datagram));
        resolution.bytes += bytes;
        ++pending_total_;
        pending_bytes_total_ += bytes;
        if (Tracer* t = config_.tracer) [[unlikely]] {
            t->resolve(now, next_hop, MacAddress::zero(), TraceNote::ArpQueued, static_cast<std::uint32_t>(resolution.waiting.size()));
        }
    }
    if (fresh) {
        // First datagram for this address: ask now, and again until the tries run out.
        send_request(now, next_hop);
        resolution.tries = 1;
        resolution.retry_timer = timers_.schedule(now + config_.arp_retry_interval,
                                                  [this, next_hop](Instant t) { on_retry_timer(t, next_hop); });
    }
}

void ArpLayer::on_retry_timer(Instant now, Ipv4Address target) {
    auto it = pending_.find(target);
    if (it == pending_.end()) return;
    Resolution& resolution = it->second;
    if (resolution.tries < config_.arp_request_tries) {
        send_request(now, target);
        ++resolution.tries;
        resolution.retry_timer = timers_.schedule(now + config_.arp_retry_interval,
                                                  [this, target](Instant t) { on_retry_timer(t, target); });
        return;
    }
    // No answer to the last try: give up on everything that waited for this address.
    ++stats_.resolve_failed;
    std::deque<Packet> dropped = std::move(resolution.waiting);
    const std::uint32_t tries = resolution.tries;
    pending_total_ -= dropped.size();
    pending_bytes_total_ -= resolution.bytes;
    pending_.erase(it);
    for (auto& datagram : dropped) {
        ++stats_.pending_dropped;
        if (Tracer* t = config_.tracer) [[unlikely]] {
            t->packet(now, TraceLayer::Ip, TraceDir::Tx, datagram.bytes(), TraceNote::IpQueuedForArp);
            t->resolve(now, target, MacAddress::zero(), TraceNote::ArpNoAnswer, tries);
        }
        if (on_unreachable_) on_unreachable_(now, target, std::move(datagram));
    }
}

void ArpLayer::flush(Instant now, Ipv4Address ip, MacAddress mac) {
    auto it = pending_.find(ip);
    Resolution resolution = std::move(it->second);
    pending_.erase(it);
    timers_.cancel(resolution.retry_timer);
    pending_total_ -= resolution.waiting.size();
    pending_bytes_total_ -= resolution.bytes;
    for (auto& datagram : resolution.waiting) {
        if (Tracer* t = config_.tracer) [[unlikely]] {
            t->packet(now, TraceLayer::Ip, TraceDir::Tx, datagram.bytes(), TraceNote::IpQueuedForArp);
            t->resolve(now, ip, mac, TraceNote::ArpResolved);
        }
        (void)ethernet_.send(now, mac, EtherType::Ipv4, std::move(datagram));
    }
}

void ArpLayer::send_request(Instant now, Ipv4Address target) {
    ArpRepr request{ArpOperation::Request, ethernet_.mac(), address_, MacAddress::zero(), target};
    Packet packet = pool_.allocate(0);
    request.emit(packet);
    ++stats_.tx_requests;
    if (Tracer* t = config_.tracer) [[unlikely]] t->packet(now, TraceLayer::Arp, TraceDir::Tx, packet.bytes());
    (void)ethernet_.send(now, MacAddress::broadcast(), EtherType::Arp, std::move(packet));
}

void ArpLayer::send_reply(Instant now, const ArpRepr& request) {
    ArpRepr reply{ArpOperation::Reply, ethernet_.mac(), address_, request.sender_mac, request.sender_ip};
    Packet packet = pool_.allocate(0);
    reply.emit(packet);
    ++stats_.tx_replies;
    if (Tracer* t = config_.tracer) [[unlikely]] t->packet(now, TraceLayer::Arp, TraceDir::Tx, packet.bytes());
    // Unicast to the asker, as RFC 826 says (not broadcast).
    (void)ethernet_.send(now, request.sender_mac, EtherType::Arp, std::move(packet));
}

void ArpLayer::announce(Instant now) {
    if (address_.is_unspecified()) return;
    // RFC 5227 section 3 recommends a request (not a reply) for announcements, with target MAC
    // zero and target IP our own; Linux's arping -U sends the same.
    ArpRepr announcement{ArpOperation::Request, ethernet_.mac(), address_, MacAddress::zero(), address_};
    Packet packet = pool_.allocate(0);
    announcement.emit(packet);
    ++stats_.tx_requests;
    if (Tracer* t = config_.tracer) [[unlikely]] t->packet(now, TraceLayer::Arp, TraceDir::Tx, packet.bytes());
    (void)ethernet_.send(now, MacAddress::broadcast(), EtherType::Arp, std::move(packet));
}

}  // namespace tcpip
