#include "stack/ipv4/route.h"

#include <algorithm>

namespace tcpip {

void RoutingTable::add(Route route) {
    // Normalise the destination to its network address, and replace a route for the same prefix.
    route.destination = Ipv4Cidr{route.destination.network(), route.destination.prefix_len};
    std::erase_if(routes_, [&](const Route& r) { return r.destination == route.destination; });
    // Longest prefix first, so the first match is the most specific one.
    auto pos = std::find_if(routes_.begin(), routes_.end(),
                            [&](const Route& r) { return r.destination.prefix_len < route.destination.prefix_len; });
    routes_.insert(pos, route);
}

Result<Ipv4Address, RouteError> RoutingTable::next_hop(Ipv4Address destination) const {
    for (const Route& route : routes_) {
        if (route.destination.contains(destination)) return route.gateway.value_or(destination);
    }
    return Unexpected(RouteError::NoRoute);
}

}  // namespace tcpip
