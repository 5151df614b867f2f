// Path MTU discovery (RFC 1191): the largest datagram that crosses the whole path to a destination
// without fragmentation, learned from the routers on the way. TCP sends with DF set; a router whose
// next link is too small drops the datagram and answers ICMP destination unreachable,
// fragmentation needed (type 3 code 4), naming its next-hop MTU. That MTU, once the transport has
// checked that the ICMP is about data it really has in flight (RFC 5927), is kept here per
// destination, and every later datagram to it is sized to fit.
//
// The cache is bounded (StackConfig::ip_pmtu_cache_capacity; when full, the entry that expires
// first makes room) and its entries expire (ip_pmtu_expires, 10 minutes as Linux's
// ip_rt_mtu_expires), after which the interface MTU is tried again (RFC 1191 section 6.3). An ICMP
// never raises a path MTU (section 6.2), and none goes below ip_min_pmtu (552, Linux's min_pmtu:
// a forged ICMP must not make us send tiny segments).
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>

#include "stack/core/address.h"
#include "stack/core/time.h"

namespace tcpip {

class PathMtuCache {
public:
    PathMtuCache(std::size_t capacity, Duration lifetime, std::size_t min_mtu)
        : capacity_(capacity), lifetime_(lifetime), min_mtu_(min_mtu) {}

    // The path MTU to `destination`: what was learned, or `link_mtu` if nothing (or it expired).
    std::size_t lookup(Instant now, Ipv4Address destination, std::size_t link_mtu);
    // A router reported `mtu` on the way to `destination`. Returns true if the path MTU went down
    // (raised to min_mtu first; a value not below the current one changes nothing).
    bool lower(Instant now, Ipv4Address destination, std::size_t mtu, std::size_t link_mtu);

    // Changes whenever a path MTU goes down: a transport that fitted its segments under one
    // generation need not look again until it changes.
    std::uint32_t generation() const { return generation_; }
    std::size_t size() const { return entries_.size(); }

private:
    struct Entry {
        std::size_t mtu;
        Instant expires;
    };
    std::size_t capacity_;
    Duration lifetime_;
    std::size_t min_mtu_;
    std::unordered_map<std::uint32_t, Entry> entries_;  // by destination address
    std::uint32_t generation_ = 0;
};

}  // namespace tcpip
