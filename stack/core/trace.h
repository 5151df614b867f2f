// The tracer: how a layer tells an observer what it did with a packet, for `--trace` (each frame,
// one line per layer, with the layer's decision) and for the comments of a pcapng capture.
//
// A layer calls it at each decision point, once:
//
//     if (Tracer* t = config_.tracer) [[unlikely]] t->packet(now, TraceLayer::Ip, TraceDir::Rx, bytes, TraceNote::IpBadChecksum);
//
// The layer passes raw facts (the bytes that start at its header, a TraceNote naming the
// decision, a number or two); all formatting happens behind the interface, in stack/trace/. So a
// stack without a tracer (the default: StackConfig::tracer is null) pays one predictable branch
// per decision point and formats nothing.
//
// Everything here is called under the stack's lock, on whichever thread runs the stack.
#pragma once

#include <cstdint>

#include "stack/core/address.h"
#include "stack/core/packet.h"
#include "stack/core/time.h"

namespace tcpip {

// The layers, as the trace names them (top to bottom).
enum class TraceLayer : std::uint8_t { Sock, Tcp, Udp, Icmp, Ip, Arp, Eth };
inline constexpr int kTraceLayerCount = 7;

// Up the stack (a received frame, or data the application takes) or down (what we send).
enum class TraceDir : std::uint8_t { Rx, Tx };

constexpr const char* to_string(TraceLayer layer) {
    switch (layer) {
        case TraceLayer::Sock: return "sock";
        case TraceLayer::Tcp: return "tcp";
        case TraceLayer::Udp: return "udp";
        case TraceLayer::Icmp: return "icmp";
        case TraceLayer::Ip: return "ip";
        case TraceLayer::Arp: return "arp";
        case TraceLayer::Eth: return "eth";
    }
    return "?";
}
constexpr const char* to_string(TraceDir dir) { return dir == TraceDir::Rx ? "rx" : "tx"; }

// What a layer decided about a packet. Each has its words, and where a rule of an RFC decided it,
// the section (describe() below; trace.cpp holds the table). `n` and `m` in the calls below fill
// the numbers some of them speak of.
enum class TraceNote : std::uint8_t {
    None,
    // Ethernet
    EthRunt, EthNotForUs, EthUnknownType, EthDeviceError,
    // ARP
    ArpMalformed, ArpNotForUs, ArpAnswered, ArpLearned,
    ArpCached, ArpQueued, ArpQueueFull, ArpResolved, ArpNoAnswer,
    // IPv4
    IpTruncated, IpBadVersion, IpBadHeaderLength, IpBadTotalLength, IpBadChecksum, IpBadSource, IpNotForUs,
    IpUnknownProtocol, IpDelivered, IpFragmentHeld, IpReassembled, IpFragmentDuplicate, IpFragmentOverlap,
    IpFragmentTooBig, IpReassemblyTimeout, IpFragment, IpNoRoute, IpTooBigDontFragment, IpQueuedForArp,
    // ICMP
    IcmpMalformed, IcmpBadChecksum, IcmpUnsupported, IcmpEchoAnswered, IcmpEchoBroadcastIgnored, IcmpEchoReply,
    IcmpErrorToTransport, IcmpErrorNotOurs, IcmpRateLimited,
    // UDP
    UdpMalformed, UdpBadChecksum, UdpNoPort, UdpQueueFull, UdpDelivered,
    // TCP
    TcpMalformed, TcpBadChecksum, TcpNotUnicast, TcpNoSocket, TcpNoSocketRst, TcpListenRst, TcpListenAck,
    TcpListenNotSyn, TcpConnectionLimit, TcpAcceptQueueFull, TcpSynCookieSent, TcpSynCookieBad, TcpOutOfWindow,
    TcpChallengeAck, TcpResetAccepted, TcpAckOfUnsent, TcpDataQueued, TcpOutOfOrder, TcpDuplicate,
    TcpRetransmission, TcpResetSent,
};

struct TraceWords {
    const char* words;  // e.g. "dropped: bad checksum"; may hold "{n}" and "{m}"
    const char* rule;   // e.g. "RFC 1122 3.2.1.2", or null where no RFC rule decides
    bool drop;          // the packet goes no further
};
TraceWords describe(TraceNote note);

class Tracer {
public:
    virtual ~Tracer() = default;

    // A packet at one layer: `bytes` start at that layer's header (for Eth, the whole frame). A
    // received frame begins with its Eth call; a frame we send begins with the topmost layer that
    // built it (or a Sock call) and ends with its Eth call, or with a note that stops it (queued,
    // dropped).
    virtual void packet(Instant now, TraceLayer layer, TraceDir dir, Bytes bytes, TraceNote note = TraceNote::None,
                        std::uint32_t n = 0, std::uint32_t m = 0) = 0;
    // A further decision about the packet `layer` saw last (TCP queued its data, sent a RST, ...).
    virtual void note(TraceLayer layer, TraceNote note, std::uint32_t n = 0, std::uint32_t m = 0) = 0;
    // ARP's part in sending an IPv4 datagram: `mac` is the next hop's when known (cached, resolved).
    virtual void resolve(Instant now, Ipv4Address next_hop, MacAddress mac, TraceNote note, std::uint32_t n = 0) = 0;
    // A TCP connection changed state; `from` and `to` are RFC 9293's names (to_string(TcpState)).
    virtual void tcp_state(std::uint16_t local_port, std::uint16_t remote_port, const char* from, const char* to) = 0;
    // An application's call on socket `fd` ("send", "recv", "connect", ...): Tx for the calls that
    // make frames, Rx for those that take what frames brought. `bytes`: the length, -1 when none.
    virtual void socket_call(Instant now, TraceDir dir, int fd, const char* call, std::int64_t bytes = -1) = 0;
    // What a received frame brought woke the application's socket `fd` (data, a connection, an error).
    virtual void socket_woken(int fd) = 0;
    // The end of one piece of work (a received frame processed, a socket call, a pass of timers):
    // what is complete can be written out.
    virtual void done() = 0;
};

}  // namespace tcpip
