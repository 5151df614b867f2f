// ICMP for a host (RFC 792, RFC 1122 section 3.2.2): an integral part of IP, so it lives in ipv4/.
//
// - Echo: every echo request for us gets an echo reply with the same identifier, sequence and
//   data, at any size an IPv4 datagram carries (reassembled first if fragmented).
// - Errors we generate (destination unreachable: protocol or port) quote the offending IP header
//   and the first 8 bytes of its payload, and are rate-limited by a token bucket. RFC 1122
//   3.2.2 forbids them in answer to: an ICMP error, a datagram sent to a broadcast or multicast
//   address (IP or link level), a fragment other than the first, or a datagram whose source is not
//   a single host.
// - Errors we receive are handed to IPv4, which passes them to the transport protocol named in the
//   quoted header.
#pragma once

#include <cstdint>
#include <functional>

#include "stack/core/config.h"
#include "stack/core/packet.h"
#include "stack/core/stats.h"
#include "stack/ipv4/icmp_header.h"
#include "stack/ipv4/ipv4.h"

namespace tcpip {

class Icmp final : public Ipv4ProtocolHandler {
public:
    struct EchoReply {
        Ipv4Address from;
        std::uint16_t ident = 0;
        std::uint16_t seq = 0;
        std::uint8_t ttl = 0;
        Bytes data;
    };
    using EchoReplyHandler = std::function<void(Instant now, const EchoReply& reply)>;

    Icmp(Ipv4Layer& ip, PacketPool& pool, const StackConfig& config, IcmpStats& stats);

    void receive(Instant now, const Ipv4RxInfo& info, Packet payload) override;

    // Sends a destination unreachable with `code` about the datagram in `offending`, whose data
    // starts at the transport header and whose IPv4 header sits in its headroom (as handed to a
    // protocol handler). Does nothing where RFC 1122 forbids an error, or when rate-limited.
    void send_destination_unreachable(Instant now, std::uint8_t code, const Ipv4RxInfo& info, const Packet& offending);

    // Sends a time exceeded, code 1 (fragment reassembly time exceeded), quoting the first fragment
    // of a datagram that did not complete in time (RFC 792; RFC 1122 section 3.3.2). Same rules.
    void send_time_exceeded_reassembly(Instant now, const Ipv4RxInfo& info, const Packet& first_fragment);

    // Sends an echo request: what tcpip-ping uses.
    Result<void, Ipv4SendError> send_echo_request(Instant now, Ipv4Address dst, std::uint16_t ident,
                                                  std::uint16_t seq, Bytes data);
    void set_echo_reply_handler(EchoReplyHandler handler) { on_echo_reply_ = std::move(handler); }

private:
    bool error_allowed(const Ipv4RxInfo& info, const Packet& offending) const;
    void send_error(Instant now, std::uint8_t type, std::uint8_t code, const Ipv4RxInfo& info, const Packet& offending);
    void receive_error(Instant now, const Ipv4RxInfo& info, const IcmpRepr& message);
    bool take_rate_token(Instant now);

    Ipv4Layer& ip_;
    PacketPool& pool_;
    const StackConfig& config_;
    IcmpStats& stats_;
    EchoReplyHandler on_echo_reply_;

    // Token bucket for the errors we send (as Linux's icmp_ratelimit / icmp_msgs_burst).
    double tokens_ = 0;
    Instant last_refill_;
    bool bucket_started_ = false;
};

}  // namespace tcpip
