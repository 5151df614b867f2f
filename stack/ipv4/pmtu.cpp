#include "stack/ipv4/pmtu.h"

#include <algorithm>

namespace tcpip {

std::size_t PathMtuCache::lookup(Instant now, Ipv4Address destination, std::size_t link_mtu) {
    auto it = entries_.find(destination.to_u32());
    if (it == entries_.end()) return link_mtu;
    if (now >= it->second.expires) {
        entries_.erase(it);  // RFC 1191 6.3: after a while, try the larger MTU again
        return link_mtu;
    }
    return std::min(it->second.mtu, link_mtu);
}

bool PathMtuCache::lower(Instant now, Ipv4Address destination, std::size_t mtu, std::size_t link_mtu) {
    mtu = std::max(mtu, min_mtu_);
    if (mtu >= lookup(now, destination, link_mtu)) return false;  // never raised by an ICMP (6.2)
    auto it = entries_.find(destination.to_u32());
    if (it == entries_.end() && entries_.size() >= capacity_) {
        // Full: the entry closest to its expiry makes room (an O(n) scan, but only when a new
        // destination is learned on a full table, which ICMP's rate limits keep rare).
        auto oldest = std::min_element(entries_.begin(), entries_.end(),
                                       [](const auto& a, const auto& b) { return a.second.expires < b.second.expires; });
        entries_.erase(oldest);
    }
    entries_[destination.to_u32()] = Entry{mtu, now + lifetime_};
    ++generation_;
    return true;
}

}  // namespace tcpip
