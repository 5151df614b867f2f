// The routing table of a host (RFC 1122 section 3.3.1): no forwarding, just the choice of next hop
// for each datagram we send. Three kinds of route, longest prefix first:
//   - host routes (a /32 via a gateway),
//   - the connected subnet (destinations on the link itself: the next hop is the destination),
//   - the default gateway (0.0.0.0/0).
#pragma once

#include <optional>
#include <vector>

#include "stack/core/address.h"
#include "stack/core/result.h"

namespace tcpip {

enum class RouteError {
    NoRoute,  // nothing matches: like Linux's "Network is unreachable" (ENETUNREACH)
};

struct Route {
    Ipv4Cidr destination;                // the addresses this route covers
    std::optional<Ipv4Address> gateway;  // none: on the link (deliver directly)
};

class RoutingTable {
public:
    void add(Route route);
    void add_connected(Ipv4Cidr subnet) { add(Route{Ipv4Cidr{subnet.network(), subnet.prefix_len}, std::nullopt}); }
    void add_host_route(Ipv4Address host, Ipv4Address gateway) { add(Route{Ipv4Cidr{host, 32}, gateway}); }
    void set_default_gateway(Ipv4Address gateway) { add(Route{Ipv4Cidr{Ipv4Address::any(), 0}, gateway}); }
    void clear() { routes_.clear(); }

    // The next hop for `destination`: the destination itself on the link, or a gateway.
    Result<Ipv4Address, RouteError> next_hop(Ipv4Address destination) const;

    const std::vector<Route>& routes() const { return routes_; }

private:
    std::vector<Route> routes_;  // kept sorted by prefix length, longest first
};

}  // namespace tcpip
