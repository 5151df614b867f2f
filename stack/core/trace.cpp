// The words of the trace: what each TraceNote says, and which rule decided it. One table, so that
// `--trace`, its JSON and the comments of a pcapng capture use the same words.
#include "stack/core/trace.h"

namespace tcpip {

TraceWords describe(TraceNote note) {
    switch (note) {
        case TraceNote::None: return {"", nullptr, false};

        case TraceNote::EthRunt: return {"dropped: runt, shorter than an Ethernet header", nullptr, true};
        case TraceNote::EthNotForUs: return {"dropped: not for us (another MAC, or a group we did not join)", nullptr, true};
        case TraceNote::EthUnknownType: return {"dropped: an EtherType we do not speak", nullptr, true};
        case TraceNote::EthDeviceError: return {"dropped: the device refused the frame", nullptr, true};

        case TraceNote::ArpMalformed: return {"dropped: malformed, or not Ethernet/IPv4", "RFC 826", true};
        case TraceNote::ArpNotForUs: return {"not for us: only a known sender refreshed", "RFC 826 packet reception", false};
        case TraceNote::ArpAnswered: return {"for us: sender learned, answered", "RFC 826 packet reception", false};
        case TraceNote::ArpLearned: return {"for us: sender learned", "RFC 826 packet reception", false};
        case TraceNote::ArpCached: return {"(cached)", nullptr, false};
        case TraceNote::ArpQueued: return {"queued for ARP ({n} waiting)", "RFC 1122 2.3.2.2", false};
        case TraceNote::ArpQueueFull: return {"dropped: ARP queue full", "RFC 1122 2.3.2.2", true};
        case TraceNote::ArpResolved: return {"(answered: the queued datagram leaves)", "RFC 1122 2.3.2.2", false};
        case TraceNote::ArpNoAnswer: return {"dropped: no ARP answer after {n} requests", "RFC 1122 2.3.2.1", true};

        case TraceNote::IpTruncated: return {"dropped: truncated", "RFC 791 3.1", true};
        case TraceNote::IpBadVersion: return {"dropped: version is not 4", "RFC 1122 3.2.1.1", true};
        case TraceNote::IpBadHeaderLength: return {"dropped: bad header length", "RFC 791 3.1", true};
        case TraceNote::IpBadTotalLength: return {"dropped: bad total length", "RFC 791 3.1", true};
        case TraceNote::IpBadChecksum: return {"dropped: bad header checksum", "RFC 1122 3.2.1.2", true};
        case TraceNote::IpBadSource: return {"dropped: broadcast or multicast source", "RFC 1122 3.2.1.3", true};
        case TraceNote::IpNotForUs: return {"dropped: not for us (a host does not forward)", "RFC 1122 3.2.1.3", true};
        case TraceNote::IpUnknownProtocol:
            return {"dropped: no such protocol, protocol unreachable sent", "RFC 1122 3.2.2.1", true};
        case TraceNote::IpDelivered: return {"ok", nullptr, false};
        case TraceNote::IpFragmentHeld: return {"fragment held for reassembly ({n} so far)", "RFC 791 3.2", false};
        case TraceNote::IpReassembled: return {"reassembled ({n} of {m})", "RFC 791 3.2", false};
        case TraceNote::IpFragmentDuplicate: return {"dropped: duplicate fragment", "RFC 791 3.2", true};
        case TraceNote::IpFragmentOverlap: return {"dropped: overlapping fragment, datagram discarded", "RFC 1858", true};
        case TraceNote::IpFragmentTooBig: return {"dropped: fragment past 65535 bytes, datagram discarded", "RFC 791 3.2", true};
        case TraceNote::IpReassemblyTimeout: return {"reassembly of datagram id {n} timed out", "RFC 1122 3.3.2", true};
        case TraceNote::IpFragment: return {"fragment {n} of {m}", "RFC 791 3.2", false};
        case TraceNote::IpNoRoute: return {"dropped: no route", "RFC 1122 3.3.1", true};
        case TraceNote::IpTooBigDontFragment:
            return {"dropped: too big to send (DF set, or over 65535 bytes): EMSGSIZE", "RFC 791 3.2", true};
        case TraceNote::IpQueuedForArp: return {"(waited for ARP)", nullptr, false};

        case TraceNote::IcmpMalformed: return {"dropped: malformed", "RFC 792", true};
        case TraceNote::IcmpBadChecksum: return {"dropped: bad checksum", "RFC 792", true};
        case TraceNote::IcmpUnsupported: return {"dropped: a type we do not handle", "RFC 1122 3.2.2", true};
        case TraceNote::IcmpEchoAnswered: return {"answered", "RFC 1122 3.2.2.6", false};
        case TraceNote::IcmpEchoBroadcastIgnored:
            return {"ignored: echo request to a broadcast address", "RFC 1122 3.2.2.6", true};
        case TraceNote::IcmpEchoReply: return {"delivered to ping", nullptr, false};
        case TraceNote::IcmpErrorToTransport: return {"error passed to the transport", "RFC 1122 3.2.2", false};
        case TraceNote::IcmpErrorNotOurs: return {"dropped: error about a datagram we did not send", "RFC 1122 3.2.2", true};
        case TraceNote::IcmpRateLimited: return {"not sent: rate limited", "RFC 1812 4.3.2.8", true};

        case TraceNote::UdpMalformed: return {"dropped: malformed", "RFC 768", true};
        case TraceNote::UdpBadChecksum: return {"dropped: bad checksum", "RFC 1122 4.1.3.4", true};
        case TraceNote::UdpNoPort: return {"dropped: no socket, port unreachable sent", "RFC 1122 4.1.3.1", true};
        case TraceNote::UdpQueueFull: return {"dropped: socket receive buffer full", nullptr, true};
        case TraceNote::UdpDelivered: return {"delivered to port {n} ({m} queued)", nullptr, false};

        case TraceNote::TcpMalformed: return {"dropped: malformed", "RFC 9293 3.1", true};
        case TraceNote::TcpBadChecksum: return {"dropped: bad checksum", "RFC 9293 3.1", true};
        case TraceNote::TcpNotUnicast: return {"dropped: not to our unicast address", "RFC 1122 4.2.3.10", true};
        case TraceNote::TcpNoSocket: return {"no socket: RST sent", "RFC 9293 3.10.7.1", true};
        case TraceNote::TcpNoSocketRst: return {"no socket: a RST, discarded", "RFC 9293 3.10.7.1", true};
        case TraceNote::TcpListenRst: return {"LISTEN: a RST, ignored", "RFC 9293 3.10.7.2", true};
        case TraceNote::TcpListenAck: return {"LISTEN: an ACK, RST sent", "RFC 9293 3.10.7.2", true};
        case TraceNote::TcpListenNotSyn: return {"LISTEN: no SYN, dropped", "RFC 9293 3.10.7.2", true};
        case TraceNote::TcpConnectionLimit: return {"dropped: connection limit reached", nullptr, true};
        case TraceNote::TcpAcceptQueueFull: return {"dropped: accept queue full", nullptr, true};
        case TraceNote::TcpSynCookieSent: return {"SYN queue full: SYN-ACK with a cookie", "RFC 4987 3.6", false};
        case TraceNote::TcpSynCookieBad: return {"bad SYN cookie: RST sent", "RFC 4987 3.6", true};
        case TraceNote::TcpOutOfWindow: return {"unacceptable: ACK sent", "RFC 9293 3.10.7.4", true};
        case TraceNote::TcpChallengeAck: return {"challenge ACK", "RFC 5961", false};
        case TraceNote::TcpResetAccepted: return {"RST accepted", "RFC 5961 3.2", false};
        case TraceNote::TcpAckOfUnsent: return {"ACK of unsent data: answered, dropped", "RFC 5961 5.2", true};
        case TraceNote::TcpDataQueued: return {"{n} B queued ({m} B to read)", nullptr, false};
        case TraceNote::TcpOutOfOrder: return {"{n} B out of order: kept, duplicate ACK", "RFC 5681 4.2", false};
        case TraceNote::TcpDuplicate: return {"duplicate data: ACK sent", "RFC 9293 3.10.7.4", false};
        // After a timeout (RFC 6298) or duplicate ACKs (RFC 5681 3.2): the caller knows which.
        case TraceNote::TcpRetransmission: return {"retransmission: sent before", nullptr, false};
        case TraceNote::TcpResetSent: return {"RST", "RFC 9293 3.10.7", false};
    }
    return {"?", nullptr, false};
}

}  // namespace tcpip
