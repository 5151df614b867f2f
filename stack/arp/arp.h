// ARP, the Address Resolution Protocol (RFC 826), with the host requirements of RFC 1122
// section 2.3.2: find the Ethernet address for an IPv4 next hop, and answer others who ask for ours.
//
// The life of a resolution:
//   1. IPv4 hands a datagram to send_ipv4(next_hop). If the neighbour cache has a fresh entry the
//      frame leaves at once.
//   2. Otherwise the datagram waits in a bounded queue for that address, and a broadcast request
//      goes out. The queues are bounded in packets and in buffer bytes (each datagram charged
//      with the capacity of its buffer, as Linux charges skb truesize against unres_qlen_bytes),
//      per address and in total: a datagram that does not fit is dropped on arrival. It is repeated every `arp_retry_interval` up to `arp_request_tries` times
//      (RFC 1122 2.3.2.1: at most one request per second per address).
//   3. A reply (or any ARP packet from that address, by the merge rule) fills the cache entry and
//      the queued datagrams leave in the order they came.
//   4. If no answer comes after the last try, the queued datagrams are dropped and the unreachable
//      handler is told, so the transport above can report EHOSTUNREACH.
//
// Cache entries age out after `arp_entry_lifetime` (learned entries only; static ones stay); the
// cache holds at most `arp_cache_capacity` entries, the least recently used goes first.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <optional>
#include <unordered_map>

#include "stack/arp/header.h"
#include "stack/core/config.h"
#include "stack/core/packet.h"
#include "stack/core/stats.h"
#include "stack/core/timer.h"
#include "stack/ethernet/ethernet.h"

namespace tcpip {

class ArpLayer {
public:
    // Told when a resolution fails, once per dropped datagram (the datagram still holds its IPv4
    // header, so the handler can see which protocol and which socket it came from).
    using UnreachableHandler = std::function<void(Instant now, Ipv4Address next_hop, Packet dropped)>;

    ArpLayer(EthernetLayer& ethernet, TimerQueue& timers, PacketPool& pool, const StackConfig& config, ArpStats& stats);

    // Our own protocol address (what we answer for). Until it is set, we answer nothing.
    void set_address(Ipv4Address address) { address_ = address; }
    Ipv4Address address() const { return address_; }

    void set_unreachable_handler(UnreachableHandler handler) { on_unreachable_ = std::move(handler); }

    // An ARP packet from the Ethernet layer (registered for EtherType::Arp).
    void receive(Instant now, Packet packet, const EthernetRepr& header);

    // Sends an IPv4 datagram (IPv4 header already in front) to `next_hop` on the link, resolving
    // its MAC first if needed. The caller has already decided next_hop is on our subnet.
    void send_ipv4(Instant now, Ipv4Address next_hop, Packet datagram);

    // A gratuitous ARP (RFC 5227 section 3: an ARP request with sender and target both our
    // address), sent when the interface comes up so neighbours refresh their caches.
    void announce(Instant now);

    // A permanent entry: never ages out, never evicted, not replaced by what the wire says.
    void add_static(Ipv4Address ip, MacAddress mac);

    // The cached MAC for `ip`, if there is a fresh entry. Counts as a use for the LRU order.
    std::optional<MacAddress> lookup(Instant now, Ipv4Address ip);

    std::size_t cache_size() const { return cache_.size(); }
    std::size_t pending_packets() const { return pending_total_; }
    std::size_t pending_bytes() const { return pending_bytes_total_; }

private:
    struct Entry {
        MacAddress mac;
        Instant expires;         // ignored for static entries
        bool is_static = false;
        std::list<Ipv4Address>::iterator lru_position;  // front = most recently used
    };
    struct Resolution {
        std::deque<Packet> waiting;  // datagrams to send once the answer comes, oldest first
        std::size_t bytes = 0;       // buffer bytes they hold (the sum of their capacities)
        std::uint32_t tries = 0;     // requests sent so far
        TimerId retry_timer = 0;
    };

    void learn(Instant now, Ipv4Address ip, MacAddress mac, bool create);
    void touch(Entry& entry, Ipv4Address ip);
    void evict_if_full();
    void send_request(Instant now, Ipv4Address target);
    void send_reply(Instant now, const ArpRepr& request);
    void on_retry_timer(Instant now, Ipv4Address target);
    void flush(Instant now, Ipv4Address ip, MacAddress mac);

    EthernetLayer& ethernet_;
    TimerQueue& timers_;
    PacketPool& pool_;
    const StackConfig& config_;
    ArpStats& stats_;
    Ipv4Address address_;
    UnreachableHandler on_unreachable_;

    std::unordered_map<Ipv4Address, Entry> cache_;
    std::list<Ipv4Address> lru_;  // every cached address, most recently used first
    std::unordered_map<Ipv4Address, Resolution> pending_;
    std::size_t pending_total_ = 0;  // datagrams waiting across all resolutions
    std::size_t pending_bytes_total_ = 0;  // their buffer bytes
};

}  // namespace tcpip
