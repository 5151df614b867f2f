#include "stack/ipv4/ipv4.h"

#include <cstring>

#include "stack/core/random.h"
#include "stack/core/trace.h"
#include "stack/ipv4/icmp.h"
#include "stack/ipv4/reassembly.h"

namespace tcpip {

const char* to_string(Ipv4SendError error) {
    switch (error) {
        case Ipv4SendError::NoRoute: return "no route to the destination";
        case Ipv4SendError::MessageTooBig: return "datagram too big (DF set, or over 65535 bytes)";
        case Ipv4SendError::NoBuffers: return "no packet buffers";
    }
    return "unknown error";
}

Ipv4Layer::Ipv4Layer(EthernetLayer& ethernet, ArpLayer& arp, TimerQueue& timers, PacketPool& pool,
                     const StackConfig& config, Ipv4Stats& ip_stats, IcmpStats& icmp_stats, std::uint64_t seed)
    : ethernet_(ethernet),
      arp_(arp),
      timers_(timers),
      pool_(pool),
      config_(config),
      stats_(ip_stats),
      pmtu_(config.ip_pmtu_cache_capacity, config.ip_pmtu_expires, config.ip_min_pmtu),
      icmp_(std::make_unique<Icmp>(*this, pool, config, icmp_stats)),
      reassembler_(std::make_unique<Reassembler>(timers, pool, config, ip_stats)) {
    Random random(seed ^ 0x1b1d);
    for (auto& counter : ident_counters_) counter = static_cast<std::uint16_t>(random.next());
    ident_key_ = random.next();
    register_protocol(IpProtocol::Icmp, icmp_.get());
    reassembler_->set_timeout_handler([this](Instant now, const Ipv4Repr& header, std::size_t header_len, Packet first) {
        icmp_->send_time_exceeded_reassembly(now, Ipv4RxInfo{header, header_len, false}, first);
    });
}

Ipv4Layer::~Ipv4Layer() = default;

void Ipv4Layer::configure(Ipv4Cidr address, std::optional<Ipv4Address> gateway) {
    address_ = address;
    routes_.clear();
    routes_.add_connected(address);
    if (gateway) routes_.set_default_gateway(*gateway);
}

void Ipv4Layer::register_protocol(std::uint8_t protocol, Ipv4ProtocolHandler* handler) { handlers_[protocol] = handler; }

std::size_t Ipv4Layer::max_unfragmented_payload() const { return ethernet_.mtu() - Ipv4Repr::header_len(); }
std::size_t Ipv4Layer::path_mtu(Instant now, Ipv4Address dst) { return pmtu_.lookup(now, dst, ethernet_.mtu()); }
bool Ipv4Layer::lower_path_mtu(Instant now, Ipv4Address dst, std::size_t mtu) {
    return pmtu_.lower(now, dst, mtu, ethernet_.mtu());
}
std::size_t Ipv4Layer::reassembly_datagrams() const { return reassembler_->datagrams(); }
std::size_t Ipv4Layer::reassembly_bytes() const { return reassembler_->bytes_held(); }

// RFC 1122 section 3.2.1: validate, then accept or silently discard, counting why.
void Ipv4Layer::receive(Instant now, Packet packet, const EthernetRepr& eth) {
    ++stats_.rx_packets;
    auto parsed = Ipv4Header::parse(packet.bytes());
    if (!parsed) {
        TraceNote why = TraceNote::IpTruncated;
        switch (parsed.error()) {
            case ParseError::BadVersion: ++stats_.rx_bad_version; why = TraceNote::IpBadVersion; break;
            case ParseError::BadHeaderLength: ++stats_.rx_bad_header_length; why = TraceNote::IpBadHeaderLength; break;
            case ParseError::BadTotalLength: ++stats_.rx_bad_total_length; why = TraceNote::IpBadTotalLength; break;
            default: ++stats_.rx_truncated; break;
        }
        if (Tracer* t = config_.tracer) [[unlikely]] t->packet(now, TraceLayer::Ip, TraceDir::Rx, packet.bytes(), why);
        return;
    }
    const Ipv4Header& header = *parsed;
    if (config_.verify_rx_checksums && !header.checksum_valid()) {
        ++stats_.rx_bad_checksum;
        if (Tracer* t = config_.tracer) [[unlikely]] t->packet(now, TraceLayer::Ip, TraceDir::Rx, packet.bytes(), TraceNote::IpBadChecksum);
        return;
    }
    Ipv4RxInfo info{Ipv4Repr::from(header), header.header_len(), eth.dst.is_broadcast()};

    // A datagram from a broadcast or multicast source is never legitimate (RFC 1122 3.2.1.3),
    // and that includes our subnet's broadcast address, {<Network-number>, -1}: an echo request
    // "from" it would make us answer the whole subnet (Linux drops it as a martian source).
    if (info.header.src.is_broadcast() || info.header.src.is_multicast() ||
        (address_.prefix_len < 31 && info.header.src == address_.broadcast())) {
        ++stats_.rx_bad_source;
        if (Tracer* t = config_.tracer) [[unlikely]] t->packet(now, TraceLayer::Ip, TraceDir::Rx, packet.bytes(), TraceNote::IpBadSource);
        return;
    }
    // A host accepts its own address and the broadcasts of its network; it forwards nothing.
    const Ipv4Address dst = info.header.dst;
    if (dst != address_.address && !dst.is_broadcast() && dst != address_.broadcast()) {
        ++stats_.rx_not_for_us;
        if (Tracer* t = config_.tracer) [[unlikely]] t->packet(now, TraceLayer::Ip, TraceDir::Rx, packet.bytes(), TraceNote::IpNotForUs);
        return;
    }

    if (Tracer* t = config_.tracer) [[unlikely]] {
        // A fragment's fate is the reassembler's to tell; a whole datagram goes up, if anyone takes it.
        const TraceNote note = header.is_fragment()                        ? TraceNote::None
                               : handlers_[info.header.protocol] != nullptr ? TraceNote::IpDelivered
                                                                           : TraceNote::IpUnknownProtocol;
        t->packet(now, TraceLayer::Ip, TraceDir::Rx, packet.bytes(), note);
    }
    // Cut Ethernet padding (total length rules), then strip the header. Its bytes stay in the
    // headroom, where ICMP finds them if it must quote this datagram.
    packet.truncate(header.total_length());
    packet.pull(info.header_len);

    if (header.is_fragment()) {
        ++stats_.rx_fragments;
        auto whole = reassembler_->add(now, info.header, info.header_len, std::move(packet));
        if (!whole) return;
        if (Tracer* t = config_.tracer) [[unlikely]] {
            t->note(TraceLayer::Ip, handlers_[whole->header.protocol] ? TraceNote::IpDelivered : TraceNote::IpUnknownProtocol);
        }
        info.header = whole->header;
        info.header_len = whole->header_len;
        deliver(now, info, std::move(whole->payload));
        return;
    }
    deliver(now, info, std::move(packet));
}

void Ipv4Layer::deliver(Instant now, const Ipv4RxInfo& info, Packet payload) {
    Ipv4ProtocolHandler* handler = handlers_[info.header.protocol];
    if (handler == nullptr) {
        ++stats_.rx_unknown_protocol;
        icmp_->send_destination_unreachable(now, IcmpUnreachableCode::Protocol, info, payload);
        return;
    }
    ++stats_.rx_delivered;
    handler->receive(now, info, std::move(payload));
}

std::uint16_t Ipv4Layer::next_ident(Ipv4Address dst, std::uint8_t protocol) {
    // RFC 6864 and RFC 7739: a counter per (destination, protocol) bucket, each started at a
    // random value, so that a peer learns nothing about how much we send to anybody else.
    std::uint64_t bucket = mix64((std::uint64_t{dst.to_u32()} << 8 | protocol) ^ ident_key_) % ident_counters_.size();
    return ident_counters_[bucket]++;
}

Result<void, Ipv4SendError> Ipv4Layer::send(Instant now, Ipv4Address dst, std::uint8_t protocol, Packet payload,
                                            const Ipv4SendOptions& options) {
    if (payload.size() > 65535 - Ipv4Repr::header_len()) {
        ++stats_.frag_fails;
        if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Ip, TraceNote::IpTooBigDontFragment);
        return Unexpected(Ipv4SendError::MessageTooBig);
    }
    // The next hop: broadcasts go to every host on the link; everything else by the routes.
    const bool broadcast = dst.is_broadcast() || dst == address_.broadcast();
    Ipv4Address next_hop = dst;
    if (!broadcast) {
        auto route = routes_.next_hop(dst);
        if (!route) {
            ++stats_.tx_no_route;
            if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Ip, TraceNote::IpNoRoute);
            return Unexpected(Ipv4SendError::NoRoute);
        }
        next_hop = *route;
    }

    Ipv4Repr header;
    header.src = address_.address;
    header.dst = dst;
    header.protocol = protocol;
    header.ttl = options.ttl.value_or(config_.ip_default_ttl);
    header.tos = options.tos;
    header.dont_fragment = options.dont_fragment;
    header.ident = next_ident(dst, protocol);

    const std::size_t mtu = broadcast ? ethernet_.mtu() : path_mtu(now, dst);
    // A TCP segment larger than the MTU that the device will cut into MTU-sized ones (TSO)
    // goes down whole; the device copies this header onto each piece and fixes its length, ID and
    // checksum.
    const bool device_segments = payload.offload().segment_size != 0 && ethernet_.capabilities().tx_tcp_segmentation;
    if (Ipv4Repr::header_len() + payload.size() <= mtu || device_segments) {
        header.payload_len = static_cast<std::uint16_t>(payload.size());
        header.emit(payload);
        ++stats_.tx_packets;
        if (Tracer* t = config_.tracer) [[unlikely]] t->packet(now, TraceLayer::Ip, TraceDir::Tx, payload.bytes());
        transmit(now, dst, broadcast ? Ipv4Address::broadcast() : next_hop, std::move(payload));
        return {};
    }
    if (options.dont_fragment) {
        ++stats_.frag_fails;
        if (Tracer* t = config_.tracer) [[unlikely]] t->note(TraceLayer::Ip, TraceNote::IpTooBigDontFragment);
        return Unexpected(Ipv4SendError::MessageTooBig);
    }

    // RFC 791 "fragmentation": every fragment but the last carries a multiple of 8 bytes, as many
    // as fit in the MTU; each gets a copy of the header with its offset and MF set.
    const std::size_t per_fragment = (mtu - Ipv4Repr::header_len()) / 8 * 8;
    const std::size_t total = payload.size();
    for (std::size_t offset = 0; offset < total; offset += per_fragment) {
        const std::size_t length = std::min(per_fragment, total - offset);
        Packet fragment = pool_.allocate(length);
        if (!fragment.valid()) return Unexpected(Ipv4SendError::NoBuffers);
        std::memcpy(fragment.append(length).data(), payload.data() + offset, length);
        Ipv4Repr part = header;
        part.frag_offset = static_cast<std::uint16_t>(offset);
        part.more_fragments = offset + length < total;
        part.payload_len = static_cast<std::uint16_t>(length);
        part.emit(fragment);
        ++stats_.frag_created;
        ++stats_.tx_packets;
        if (Tracer* t = config_.tracer) [[unlikely]] {
            t->packet(now, TraceLayer::Ip, TraceDir::Tx, fragment.bytes(), TraceNote::IpFragment,
                      static_cast<std::uint32_t>(offset / per_fragment + 1),
                      static_cast<std::uint32_t>((total + per_fragment - 1) / per_fragment));
        }
        transmit(now, dst, broadcast ? Ipv4Address::broadcast() : next_hop, std::move(fragment));
    }
    return {};
}

void Ipv4Layer::transmit(Instant now, Ipv4Address /*dst*/, Ipv4Address next_hop, Packet datagram) {
    if (next_hop.is_broadcast()) {
        (void)ethernet_.send(now, MacAddress::broadcast(), EtherType::Ipv4, std::move(datagram));
        return;
    }
    arp_.send_ipv4(now, next_hop, std::move(datagram));
}

void Ipv4Layer::deliver_icmp_error(Instant now, const IcmpErrorInfo& error) {
    if (Ipv4ProtocolHandler* handler = handlers_[error.quoted.protocol]) handler->icmp_error(now, error);
}

void Ipv4Layer::next_hop_unreachable(Instant now, Ipv4Address next_hop, Packet dropped) {
    auto header = Ipv4Header::parse(dropped.bytes());
    if (!header || header->frag_offset() != 0) return;  // tell once per datagram, by its first fragment
    Ipv4ProtocolHandler* handler = handlers_[header->protocol()];
    if (handler == nullptr) return;
    handler->unreachable(now, UnreachableInfo{header->dst(), next_hop, header->payload()});
}

}  // namespace tcpip
