// UDP, the User Datagram Protocol (RFC 768, RFC 1122 section 4.1): ports on top of IPv4, one
// datagram at a time, no connection and no delivery guarantee.
//
// - Demultiplexing: a datagram goes to the socket bound to its destination port whose addresses
//   match it most specifically: a connected socket (remote address and port fixed) beats an
//   unconnected one, a socket bound to our address beats one bound to the wildcard 0.0.0.0.
// - No socket for it: ICMP port unreachable (rate-limited by ICMP), counted as rx_no_port.
// - Checksums are always generated, verified when non-zero (zero means "none": RFC 768).
// - Each socket's receive queue is bounded by its receive buffer (SO_RCVBUF, by default
//   StackConfig::udp_rcvbuf, Linux's rmem_default), charged with the buffer size each datagram
//   occupies, as Linux charges skb truesize: a datagram that does not fit is dropped and counted
//   (rx_queue_full), and the stack never waits for an application.
// - An ICMP error about a datagram a connected socket sent becomes that socket's pending error
//   (port unreachable -> ECONNREFUSED), reported by its next call, as on Linux.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "stack/core/packet.h"
#include "stack/core/random.h"
#include "stack/core/result.h"
#include "stack/core/socket_error.h"
#include "stack/core/stats.h"
#include "stack/ipv4/icmp.h"
#include "stack/ipv4/ipv4.h"
#include "stack/udp/header.h"

namespace tcpip {

class UdpSocket {
public:
    static constexpr std::size_t kMaxPayload = 65535 - 20 - 8;  // 65,507

    struct Datagram {
        Ipv4Address src;
        std::uint16_t src_port = 0;
        Packet data;  // the payload; its buffer counts against the receive buffer
    };

    Ipv4Address local_address;   // 0.0.0.0: any of ours
    std::uint16_t local_port = 0;  // 0: not bound yet
    Ipv4Address remote_address;  // set by connect()
    std::uint16_t remote_port = 0; // 0: not connected
    bool reuse_address = false;  // SO_REUSEADDR
    bool broadcast = false;      // SO_BROADCAST: may send to broadcast addresses
    std::size_t rcvbuf = 0;      // SO_RCVBUF, in buffer bytes; UdpLayer::open sets StackConfig::udp_rcvbuf

    bool bound() const { return local_port != 0; }
    bool connected() const { return remote_port != 0; }

    // Received datagrams, oldest first, and the buffer bytes they hold.
    std::deque<Datagram> rx_queue;
    std::size_t rx_queued_bytes = 0;

    // An error to report on the next call (Linux's sk_err), then cleared.
    std::optional<SocketError> pending_error;

    // Called (under the stack's lock) when a datagram or an error arrives: the socket facade
    // uses it to wake threads blocked in recv or poll.
    std::function<void()> on_event;

    // Removes and returns the oldest datagram (the queue must not be empty).
    Datagram pop();
};

class UdpLayer final : public Ipv4ProtocolHandler {
public:
    static constexpr std::uint16_t kEphemeralFirst = 49152;  // RFC 6335 section 6: the dynamic ports
    static constexpr std::uint16_t kEphemeralLast = 65535;

    UdpLayer(Ipv4Layer& ip, PacketPool& pool, const StackConfig& config, UdpStats& stats, std::uint64_t seed);
    ~UdpLayer() override;

    UdpSocket* open();
    void close(UdpSocket* socket);

    // bind(): a specific address must be ours (or 0.0.0.0, or a broadcast address to receive
    // broadcasts); port 0 picks an ephemeral port.
    Result<void, SocketError> bind(UdpSocket* socket, Ipv4Address address, std::uint16_t port);
    // connect(): fixes the peer (binding to an ephemeral port first if needed). Address 0.0.0.0 with
    // port 0 (AF_UNSPEC on Linux) dissolves the association.
    Result<void, SocketError> connect(UdpSocket* socket, Ipv4Address address, std::uint16_t port);
    void disconnect(UdpSocket* socket);

    // Sends one datagram to `to` (address, port), or to the connected peer when `to` is empty.
    // An unbound socket is bound to an ephemeral port first. Returns the bytes sent.
    Result<std::size_t, SocketError> send(Instant now, UdpSocket* socket, Bytes data,
                                          std::optional<std::pair<Ipv4Address, std::uint16_t>> to);

    // From IPv4.
    void receive(Instant now, const Ipv4RxInfo& info, Packet payload) override;
    void icmp_error(Instant now, const IcmpErrorInfo& error) override;
    void unreachable(Instant now, const UnreachableInfo& info) override;

    std::size_t socket_count() const { return sockets_.size(); }

private:
    Result<std::uint16_t, SocketError> pick_ephemeral_port(Ipv4Address address);
    bool port_conflicts(const UdpSocket* socket, Ipv4Address address, std::uint16_t port) const;
    UdpSocket* find(Ipv4Address src, std::uint16_t src_port, Ipv4Address dst, std::uint16_t dst_port) const;
    void unbind(UdpSocket* socket);
    void set_error(Ipv4Address local, std::uint16_t local_port, Ipv4Address remote, std::uint16_t remote_port,
                   SocketError error);

    Ipv4Layer& ip_;
    PacketPool& pool_;
    const StackConfig& config_;
    UdpStats& stats_;
    Random random_;
    std::unordered_map<UdpSocket*, std::unique_ptr<UdpSocket>> sockets_;
    std::unordered_map<std::uint16_t, std::vector<UdpSocket*>> by_port_;  // bound sockets
};

}  // namespace tcpip
