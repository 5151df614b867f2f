#include "stack/udp/udp.h"

#include <algorithm>
#include <cstring>

#include "stack/core/trace.h"

namespace tcpip {

UdpSocket::Datagram UdpSocket::pop() {
    Datagram d = std::move(rx_queue.front());
    rx_queue.pop_front();
    rx_queued_bytes -= d.data.capacity();
    return d;
}

UdpLayer::UdpLayer(Ipv4Layer& ip, PacketPool& pool, const StackConfig& config, UdpStats& stats, std::uint64_t seed)
    : ip_(ip), pool_(pool), config_(config), stats_(stats), random_(seed ^ 0x0d9f) {
    ip_.register_protocol(IpProtocol::Udp, this);
}

UdpLayer::~UdpLayer() { ip_.register_protocol(IpProtocol::Udp, nullptr); }

UdpSocket* UdpLayer::open() {
    auto socket = std::make_unique<UdpSocket>();
    socket->rcvbuf = config_.udp_rcvbuf;
    UdpSocket* raw = socket.get();
    sockets_.emplace(raw, std::move(socket));
    return raw;
}

void UdpLayer::close(UdpSocket* socket) {
    unbind(socket);
    sockets_.erase(socket);  // its queued datagrams go back to the pool
}

void UdpLayer::unbind(UdpSocket* socket) {
    if (!socket->bound()) return;
    auto it = by_port_.find(socket->local_port);
    if (it != by_port_.end()) {
        std::erase(it->second, socket);
        if (it->second.empty()) by_port_.erase(it);
    }
    socket->local_port = 0;
}

// Two sockets may share a port only if both asked for it (SO_REUSEADDR), or if their local
// addresses cannot both match one datagram (two different specific addresses).
bool UdpLayer::port_conflicts(const UdpSocket* socket, Ipv4Address address, std::uint16_t port) const {
    auto it = by_port_.find(port);
    if (it == by_port_.end()) return false;
    for (const UdpSocket* other : it->second) {
        if (other == socket) continue;
        bool addresses_overlap = address.is_unspecified() || other->local_address.is_unspecified() ||
                                 address == other->local_address;
        if (addresses_overlap && !(socket->reuse_address && other->reuse_address)) return true;
    }
    return false;
}

Result<std::uint16_t, SocketError> UdpLayer::pick_ephemeral_port(Ipv4Address /*address*/) {
    // Start at a random point of the range and walk from there (RFC 6056 algorithm 1): the next
    // port is not predictable from the last one.
    // The range is StackConfig's (the IANA dynamic ports unless a shard was given a slice).
    const std::uint16_t first = config_.ephemeral_port_first;
    const std::uint32_t range = static_cast<std::uint32_t>(config_.ephemeral_port_last - first) + 1;
    const std::uint32_t start = random_.below(range);
    for (std::uint32_t i = 0; i < range; ++i) {
        auto port = static_cast<std::uint16_t>(first + (start + i) % range);
        if (!by_port_.contains(port)) return port;  // ephemeral ports are never shared
    }
    return Unexpected(SocketError::AddressNotAvailable);  // as Linux: EADDRNOTAVAIL when exhausted
}

Result<void, SocketError> UdpLayer::bind(UdpSocket* socket, Ipv4Address address, std::uint16_t port) {
    // Linux's order (__inet_bind): the address is checked before "already bound".
    const Ipv4Cidr ours = ip_.cidr();
    if (!address.is_unspecified() && address != ours.address && !address.is_broadcast() &&
        address != ours.broadcast()) {
        return Unexpected(SocketError::AddressNotAvailable);
    }
    if (socket->bound()) return Unexpected(SocketError::InvalidArgument);  // Linux: EINVAL on a second bind
    if (port == 0) {
        auto picked = pick_ephemeral_port(address);
        if (!picked) return Unexpected(picked.error());
        port = *picked;
    } else if (port_conflicts(socket, address, port)) {
        return Unexpected(SocketError::AddressInUse);
    }
    socket->local_address = address;
    socket->local_port = port;
    by_port_[port].push_back(socket);
    return {};
}

Result<void, SocketError> UdpLayer::connect(UdpSocket* socket, Ipv4Address address, std::uint16_t port) {
    if (address.is_unspecified() && port == 0) {
        disconnect(socket);
        return {};
    }
    if (port == 0) return Unexpected(SocketError::InvalidArgument);
    if ((address.is_broadcast() || address == ip_.cidr().broadcast()) && !socket->broadcast) {
        return Unexpected(SocketError::AccessDenied);  // Linux checks SO_BROADCAST at connect too
    }
    if (!socket->bound()) {
        if (auto bound = bind(socket, Ipv4Address::any(), 0); !bound) return bound;
    }
    socket->remote_address = address;
    socket->remote_port = port;
    return {};
}

void UdpLayer::disconnect(UdpSocket* socket) {
    socket->remote_address = Ipv4Address::any();
    socket->remote_port = 0;
}

Result<std::size_t, SocketError> UdpLayer::send(Instant now, UdpSocket* socket, Bytes data,
                                                std::optional<std::pair<Ipv4Address, std::uint16_t>> to) {
    if (socket->pending_error) {
        SocketError error = *socket->pending_error;
        socket->pending_error.reset();
        return Unexpected(error);
    }
    Ipv4Address dst;
    std::uint16_t dst_port;
    if (to) {
        std::tie(dst, dst_port) = *to;
        if (dst_port == 0) return Unexpected(SocketError::InvalidArgument);  // Linux: EINVAL for port 0
    } else {
        if (!socket->connected()) return Unexpected(SocketError::DestinationRequired);
        dst = socket->remote_address;
        dst_port = socket->remote_port;
    }
    if (data.size() > UdpSocket::kMaxPayload) return Unexpected(SocketError::MessageTooBig);
    if ((dst.is_broadcast() || dst == ip_.cidr().broadcast()) && !socket->broadcast) {
        return Unexpected(SocketError::AccessDenied);
    }
    if (!socket->bound()) {
        if (auto bound = bind(socket, Ipv4Address::any(), 0); !bound) return Unexpected(bound.error());
    }

    // The one copy on the way down: application bytes into a pooled packet with headroom for
    // every header below.
    Packet packet = pool_.allocate(data.size());
    if (!data.empty()) std::memcpy(packet.append(data.size()).data(), data.data(), data.size());
    UdpRepr repr{socket->local_port, dst_port, data.size()};
    repr.emit(packet, ip_.address(), dst);
    if (Tracer* t = config_.tracer) [[unlikely]] t->packet(now, TraceLayer::Udp, TraceDir::Tx, packet.bytes());

    auto sent = ip_.send(now, dst, IpProtocol::Udp, std::move(packet));
    if (!sent) {
        switch (sent.error()) {
            case Ipv4SendError::NoRoute: return Unexpected(SocketError::NetworkUnreachable);
            case Ipv4SendError::MessageTooBig: return Unexpected(SocketError::MessageTooBig);
            case Ipv4SendError::NoBuffers: return Unexpected(SocketError::NoBuffers);
        }
    }
    ++stats_.tx_datagrams;
    return data.size();
}

// The most specific match wins: 2 points for a connected socket whose peer is the sender, 1 for a
// socket bound to the exact destination address. A socket that fixes a different value is no match.
UdpSocket* UdpLayer::find(Ipv4Address src, std::uint16_t src_port, Ipv4Address dst, std::uint16_t dst_port) const {
    auto it = by_port_.find(dst_port);
    if (it == by_port_.end()) return nullptr;
    UdpSocket* best = nullptr;
    int best_score = -1;
    for (UdpSocket* socket : it->second) {
        int score = 0;
        if (!socket->local_address.is_unspecified()) {
            if (socket->local_address != dst) continue;
            score += 1;
        }
        if (socket->connected()) {
            if (socket->remote_address != src || socket->remote_port != src_port) continue;
            score += 2;
        }
        // Among equals, the socket bound last wins (as Linux does with SO_REUSEADDR).
        if (score >= best_score) {
            best = socket;
            best_score = score;
        }
    }
    return best;
}

void UdpLayer::receive(Instant now, const Ipv4RxInfo& info, Packet payload) {
    auto header = UdpHeader::parse(payload.bytes());
    if (!header) {
        ++stats_.rx_malformed;
        if (Tracer* t = config_.tracer) [[unlikely]] t->packet(now, TraceLayer::Udp, TraceDir::Rx, payload.bytes(), TraceNote::UdpMalformed);
        return;
    }
    if (Tracer* t = config_.tracer) [[unlikely]] t->packet(now, TraceLayer::Udp, TraceDir::Rx, payload.bytes());
    // A device with checksum offload may have vouched for it already (PacketOffload).
    if (config_.verify_rx_checksums && !payload.offload().checksum_verified &&
        !header->checksum_valid(info.header.src, info.header.dst)) {
        ++stats_.rx_bad_checksum;
        if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Udp, TraceNote::UdpBadChecksum);
        return;
    }
    const std::uint16_t src_port = header->src_port();
    const std::uint16_t dst_port = header->dst_port();
    UdpSocket* socket = find(info.header.src, src_port, info.header.dst, dst_port);
    if (socket == nullptr) {
        ++stats_.rx_no_port;
        if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Udp, TraceNote::UdpNoPort);
        ip_.icmp().send_destination_unreachable(now, IcmpUnreachableCode::Port, info, payload);
        return;
    }
    // Charge the buffer against SO_RCVBUF; a full queue drops the newest datagram.
    if (socket->rx_queued_bytes + payload.capacity() > socket->rcvbuf) {
        ++stats_.rx_queue_full;
        if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Udp, TraceNote::UdpQueueFull);
        return;
    }
    const std::size_t length = header->length();
    payload.truncate(length);
    payload.pull(UdpHeader::kHeaderLen);
    socket->rx_queued_bytes += payload.capacity();
    socket->rx_queue.push_back(UdpSocket::Datagram{info.header.src, src_port, std::move(payload)});
    ++stats_.rx_datagrams;
    if (Tracer* t = config_.tracer) [[unlikely]] {
        t->note(TraceLayer::Udp, TraceNote::UdpDelivered, dst_port, static_cast<std::uint32_t>(socket->rx_queue.size()));
    }
    if (socket->on_event) socket->on_event();
}

void UdpLayer::set_error(Ipv4Address local, std::uint16_t local_port, Ipv4Address remote, std::uint16_t remote_port,
                         SocketError error) {
    auto it = by_port_.find(local_port);
    if (it == by_port_.end()) return;
    for (UdpSocket* socket : it->second) {
        // Linux reports these errors only to connected sockets (without IP_RECVERR): an
        // unconnected socket cannot tell which of its peers the error is about.
        if (!socket->connected() || socket->remote_address != remote || socket->remote_port != remote_port) continue;
        if (!socket->local_address.is_unspecified() && socket->local_address != local) continue;
        socket->pending_error = error;
        if (socket->on_event) socket->on_event();
    }
}

void UdpLayer::icmp_error(Instant /*now*/, const IcmpErrorInfo& error) {
    if (error.quoted_payload.size() < 4) return;
    const std::uint16_t local_port = load_be16(error.quoted_payload, 0);
    const std::uint16_t remote_port = load_be16(error.quoted_payload, 2);
    // Linux's icmp_err_convert table, for the codes a host sees.
    SocketError converted = SocketError::HostUnreachable;
    if (error.type == IcmpType::DestinationUnreachable) {
        switch (error.code) {
            case IcmpUnreachableCode::Net: converted = SocketError::NetworkUnreachable; break;
            case IcmpUnreachableCode::Protocol:
            case IcmpUnreachableCode::Port: converted = SocketError::ConnectionRefused; break;
            case IcmpUnreachableCode::FragmentationNeeded: converted = SocketError::MessageTooBig; break;
            default: converted = SocketError::HostUnreachable; break;
        }
    }
    set_error(error.quoted.src, local_port, error.quoted.dst, remote_port, converted);
}

void UdpLayer::unreachable(Instant /*now*/, const UnreachableInfo& info) {
    auto header = UdpHeader::parse(info.payload);
    if (!header) return;
    set_error(ip_.address(), header->src_port(), info.destination, header->dst_port(), SocketError::HostUnreachable);
}

}  // namespace tcpip
