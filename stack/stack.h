// Stack: one network interface and the layers on top of it, wired together.
//
//     device ──frames──▶ EthernetLayer ──0x0806──▶ ArpLayer
//                                      └─0x0800──▶ Ipv4Layer ──1──▶ Icmp
//                                                            ├─17─▶ UdpLayer ─┐
//                                                            └─6──▶ TcpLayer ─┴─▶ socket API
//                                                                                 (stack/socket/)
//
// The Stack is single-threaded and holds no global state: two Stacks live in one process (the
// simulation tests put two on a memory link). It never reads a clock: poll(now) receives what the
// device has, processes it, and runs the timers that are due; poll_at() says when it next needs to
// run. The EventLoop (event_loop.h) drives it from a real clock and the device's file descriptor;
// tests drive it from a ManualClock.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <vector>

#include "stack/net_device.h"
#include "stack/arp/arp.h"
#include "stack/core/config.h"
#include "stack/core/packet.h"
#include "stack/core/stats.h"
#include "stack/core/timer.h"
#include "stack/ethernet/ethernet.h"
#include "stack/ipv4/icmp.h"
#include "stack/ipv4/ipv4.h"
#include "stack/tcp/tcp.h"
#include "stack/udp/udp.h"

namespace tcpip {

struct InterfaceConfig {
    Ipv4Cidr address;                    // our address and subnet, e.g. 10.0.0.2/24
    std::optional<Ipv4Address> gateway;  // default gateway, if any
};

struct StackStats {
    EthernetStats ethernet;
    ArpStats arp;
    Ipv4Stats ipv4;
    IcmpStats icmp;
    UdpStats udp;
    TcpStats tcp;
};

class Stack {
public:
    // `seed` keys everything that must be unpredictable to others (IP IDs, later ISNs and
    // ephemeral ports); apps pass getrandom() bytes, tests a fixed number.
    Stack(NetDevice& device, InterfaceConfig iface, StackConfig config = {}, std::uint64_t seed = 0);
    Stack(const Stack&) = delete;
    Stack& operator=(const Stack&) = delete;

    // Brings the interface up: announces our address with a gratuitous ARP.
    void start(Instant now);

    // Receives and processes every frame the device has (in batches of config.rx_batch), then
    // runs due timers. Returns the number of frames processed.
    std::size_t poll(Instant now);
    // Only the second half of poll(): runs due timers without asking the device for frames. For
    // a runtime that knows the device is empty (its last poll drained it, and it will wait on the
    // device's descriptor next, which reports any frame that came since): one read fewer.
    void run_timers(Instant now);

    // When poll() must next run even if no frame arrives: the earliest timer of any layer (ARP
    // retry, IP reassembly, TCP retransmission, delayed ACK, TIME-WAIT, ...: all are in timers())
    // and the device's own (a FaultInjector's delayed frames). nullopt when nothing is due: the
    // runtimes then sleep until a frame or a call arrives, so an idle stack costs no CPU.
    // (tests/unit/tcp/deadline_test.cpp checks it layer by layer, in virtual time.)
    std::optional<Instant> poll_at();

    NetDevice& device() { return device_; }
    PacketPool& pool() { return pool_; }
    TimerQueue& timers() { return timers_; }
    const StackConfig& config() const { return config_; }
    const StackStats& stats() const { return stats_; }
    EthernetLayer& ethernet() { return ethernet_; }
    ArpLayer& arp() { return arp_; }
    Ipv4Layer& ipv4() { return ipv4_; }
    Icmp& icmp() { return ipv4_.icmp(); }
    UdpLayer& udp() { return udp_; }
    TcpLayer& tcp() { return tcp_; }
    MacAddress mac() const { return device_.mac(); }
    Ipv4Address address() const { return iface_.address.address; }

    // Every layer's counters, like `netstat -s`.
    void print_stats(std::ostream& os) const;

private:
    NetDevice& device_;
    InterfaceConfig iface_;
    StackConfig config_;
    StackStats stats_;
    PacketPool pool_;
    TimerQueue timers_;
    EthernetLayer ethernet_;
    ArpLayer arp_;
    Ipv4Layer ipv4_;
    UdpLayer udp_;
    TcpLayer tcp_;
    std::vector<Packet> rx_batch_;
};

}  // namespace tcpip
