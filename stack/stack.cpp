#include "stack/stack.h"

#include <ostream>

#include "stack/core/trace.h"

namespace tcpip {

Stack::Stack(NetDevice& device, InterfaceConfig iface, StackConfig config, std::uint64_t seed)
    : device_(device),
      iface_(iface),
      config_(config),
      ethernet_(device_, stats_.ethernet),
      arp_(ethernet_, timers_, pool_, config_, stats_.arp),
      ipv4_(ethernet_, arp_, timers_, pool_, config_, stats_.ipv4, stats_.icmp, seed),
      udp_(ipv4_, pool_, config_, stats_.udp, seed),
      tcp_(ipv4_, timers_, pool_, config_, stats_.tcp, seed) {
    // Wire the layers bottom-up: each upper layer registers with the one below.
    ethernet_.register_handler(EtherType::Arp, [this](Instant now, Packet p, const EthernetRepr& eth) {
        arp_.receive(now, std::move(p), eth);
    });
    ethernet_.register_handler(EtherType::Ipv4, [this](Instant now, Packet p, const EthernetRepr& eth) {
        ipv4_.receive(now, std::move(p), eth);
    });
    arp_.set_address(iface_.address.address);
    arp_.set_unreachable_handler([this](Instant now, Ipv4Address next_hop, Packet dropped) {
        ipv4_.next_hop_unreachable(now, next_hop, std::move(dropped));
    });
    ipv4_.configure(iface_.address, iface_.gateway);
    ethernet_.set_tracer(config_.tracer);
    rx_batch_.reserve(config_.rx_batch);
}

void Stack::start(Instant now) {
    arp_.announce(now);
    if (Tracer* t = config_.tracer) [[unlikely]] t->done();
}

std::size_t Stack::poll(Instant now) {
    std::size_t total = 0;
    // Drain the device in batches: one wake-up may bring many frames.
    for (;;) {
        rx_batch_.clear();
        std::size_t n = device_.receive(now, pool_, rx_batch_, config_.rx_batch);
        for (auto& frame : rx_batch_) {
            ethernet_.receive(now, std::move(frame));
            if (Tracer* t = config_.tracer) [[unlikely]] t->done();  // the frame went as far up as it goes
        }
        total += n;
        if (n < config_.rx_batch) break;
    }
    rx_batch_.clear();
    run_timers(now);
    return total;
}

void Stack::run_timers(Instant now) {
    timers_.run_due(now);
    if (Tracer* t = config_.tracer) [[unlikely]] t->done();  // what the timers sent
}

std::optional<Instant> Stack::poll_at() {
    auto timer = timers_.next_deadline();
    auto dev = device_.poll_at();
    if (timer && dev) return std::min(*timer, *dev);
    return timer ? timer : dev;
}

void Stack::print_stats(std::ostream& os) const {
    tcpip::print_stats(os, "ethernet", stats_.ethernet);
    tcpip::print_stats(os, "arp", stats_.arp);
    tcpip::print_stats(os, "ipv4", stats_.ipv4);
    tcpip::print_stats(os, "icmp", stats_.icmp);
    tcpip::print_stats(os, "udp", stats_.udp);
    tcpip::print_stats(os, "tcp", stats_.tcp);
    // Gauges, not counters: what the stack holds right now (a leak shows up here).
    os << "state:\n"
       << "    tcp_sockets: " << tcp_.socket_count() << "\n"
       << "    tcp_time_wait: " << tcp_.time_wait_count() << "\n"
       << "    udp_sockets: " << udp_.socket_count() << "\n"
       << "    arp_pending: " << arp_.pending_packets() << "\n"
       << "    packet_buffers_in_use: " << pool_.buffers_in_use() << "\n"
       << "    tcp_buffer_bytes: " << tcp_.buffer_bytes() << "\n"                           // in connections' buffers
       << "    tcp_buffer_cache_bytes: " << tcp_.buffer_cache().cached_bytes() << "\n";   // kept for reuse (bounded)
}

}  // namespace tcpip
