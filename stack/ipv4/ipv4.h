// The IPv4 layer of a host (RFC 791, RFC 1122 section 3.2.1): no forwarding.
//
// Receive: validate the header (version, length, checksum, total length against the frame) and
// drop with a counted reason; accept datagrams for our address and broadcast; reassemble
// fragments; hand the payload to the protocol registered for its number (ICMP, UDP, TCP).
//
// Send: choose the next hop from the routing table, prepend the header, fragment when the
// datagram is larger than the MTU (unless DF is set: then EMSGSIZE), and give it to ARP.
//
// IPv4 knows nothing above itself: protocols register by number (register_protocol).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>

#include "stack/arp/arp.h"
#include "stack/core/config.h"
#include "stack/core/packet.h"
#include "stack/core/stats.h"
#include "stack/core/timer.h"
#include "stack/ethernet/ethernet.h"
#include "stack/ipv4/header.h"
#include "stack/ipv4/pmtu.h"
#include "stack/ipv4/route.h"

namespace tcpip {

class Icmp;
class Reassembler;

// What a protocol handler learns about a datagram besides its payload.
struct Ipv4RxInfo {
    Ipv4Repr header;               // the parsed header (fragment fields as in the first fragment)
    std::size_t header_len = 20;   // with options; these bytes sit in the packet's headroom,
                                   // right before the payload: packet.push(header_len) gets them back
    bool link_broadcast = false;   // arrived in an Ethernet broadcast frame
};

// An ICMP error that arrived about a datagram we sent (RFC 1122 3.2.2.1: passed to the transport).
struct IcmpErrorInfo {
    std::uint8_t type = 0;         // 3 destination unreachable, 11 time exceeded, ...
    std::uint8_t code = 0;
    std::uint16_t next_hop_mtu = 0;  // for "fragmentation needed" (RFC 1191)
    Ipv4Address reporter;          // who sent the error
    Ipv4Repr quoted;               // the header of our datagram, as quoted
    Bytes quoted_payload;          // the first bytes (at least 8) of our datagram's payload: ports live there
};

// A local failure to deliver a datagram we sent: the next hop did not answer ARP.
struct UnreachableInfo {
    Ipv4Address destination;
    Ipv4Address next_hop;
    Bytes payload;                 // the transport header and data of the dropped datagram
};

class Ipv4ProtocolHandler {
public:
    virtual ~Ipv4ProtocolHandler() = default;
    // A datagram for us with this protocol number; `payload` starts at the transport header.
    virtual void receive(Instant now, const Ipv4RxInfo& info, Packet payload) = 0;
    virtual void icmp_error(Instant /*now*/, const IcmpErrorInfo& /*error*/) {}
    virtual void unreachable(Instant /*now*/, const UnreachableInfo& /*info*/) {}
};

enum class Ipv4SendError {
    NoRoute,        // ENETUNREACH
    MessageTooBig,  // EMSGSIZE: DF set and larger than the MTU, or larger than 65,535 bytes
    NoBuffers,      // ENOBUFS: could not get packet buffers for fragments
};
const char* to_string(Ipv4SendError error);

struct Ipv4SendOptions {
    std::optional<std::uint8_t> ttl;   // default: config.ip_default_ttl
    bool dont_fragment = false;
    std::uint8_t tos = 0;
};

class Ipv4Layer {
public:
    Ipv4Layer(EthernetLayer& ethernet, ArpLayer& arp, TimerQueue& timers, PacketPool& pool,
              const StackConfig& config, Ipv4Stats& ip_stats, IcmpStats& icmp_stats, std::uint64_t seed);
    ~Ipv4Layer();

    // Our address and subnet, and the default gateway if any. Sets up the connected route.
    void configure(Ipv4Cidr address, std::optional<Ipv4Address> gateway);
    Ipv4Address address() const { return address_.address; }
    Ipv4Cidr cidr() const { return address_; }
    RoutingTable& routes() { return routes_; }

    void register_protocol(std::uint8_t protocol, Ipv4ProtocolHandler* handler);

    // An IPv4 packet from the Ethernet layer (registered for EtherType::Ipv4).
    void receive(Instant now, Packet packet, const EthernetRepr& eth);

    // Sends `payload` (a transport header and data) to `dst`, from our address.
    Result<void, Ipv4SendError> send(Instant now, Ipv4Address dst, std::uint8_t protocol, Packet payload,
                                     const Ipv4SendOptions& options = {});

    // The largest payload send() takes without fragmenting: MTU minus a 20-byte header.
    std::size_t max_unfragmented_payload() const;

    // Path MTU discovery (RFC 1191, pmtu.h): the MTU of the path to `dst` (the interface's until a
    // router said less), and what a transport calls once it has checked a fragmentation-needed
    // ICMP (RFC 5927): true if the path MTU went down. send() fragments to the path MTU, and
    // refuses a DF datagram larger than it (EMSGSIZE).
    std::size_t path_mtu(Instant now, Ipv4Address dst);
    bool lower_path_mtu(Instant now, Ipv4Address dst, std::size_t mtu);
    std::uint32_t path_mtu_generation() const { return pmtu_.generation(); }

    // The device's offloads, for the transports: a transport that asks for one (PacketOffload on
    // the packet it sends) must check here first.
    const DeviceCapabilities& device_capabilities() const { return ethernet_.capabilities(); }
    // The largest TCP segment (IPv4 payload) send() takes with PacketOffload::segment_size set,
    // when the device segments: an IPv4 datagram's 65,535 bytes less the IPv4 header.
    static constexpr std::size_t kMaxSegmentationPayload = 65535 - 20;

    Icmp& icmp() { return *icmp_; }

    // Called by ICMP when an error about one of our datagrams arrives: hands it to the protocol
    // named in the quoted header.
    void deliver_icmp_error(Instant now, const IcmpErrorInfo& error);

    // Called by ARP when a next hop did not answer (wired by the Stack).
    void next_hop_unreachable(Instant now, Ipv4Address next_hop, Packet dropped);

    // Partial datagrams held for reassembly (for tests and stats).
    std::size_t reassembly_datagrams() const;
    std::size_t reassembly_bytes() const;

private:
    void deliver(Instant now, const Ipv4RxInfo& info, Packet payload);
    std::uint16_t next_ident(Ipv4Address dst, std::uint8_t protocol);
    void transmit(Instant now, Ipv4Address dst, Ipv4Address next_hop, Packet datagram);

    EthernetLayer& ethernet_;
    ArpLayer& arp_;
    TimerQueue& timers_;
    PacketPool& pool_;
    const StackConfig& config_;
    Ipv4Stats& stats_;
    Ipv4Cidr address_;
    RoutingTable routes_;
    PathMtuCache pmtu_;
    std::array<Ipv4ProtocolHandler*, 256> handlers_{};
    std::unique_ptr<Icmp> icmp_;
    std::unique_ptr<Reassembler> reassembler_;

    // IP identification (RFC 6864): a counter per bucket of (destination, protocol), each
    // starting at a random value, so the IDs one peer sees reveal nothing about traffic to others.
    std::array<std::uint16_t, 256> ident_counters_{};
    std::uint64_t ident_key_ = 0;  // secret for the bucket hash
};

}  // namespace tcpip
