// Receive-buffer auto-tuning (autotune.cpp) in virtual time: two Stacks over an in-memory link
// whose fault injectors give it a 100 ms round trip and 100 Mbit/s one way, so its bandwidth-delay
// product is 1.25 MB, five times the 256 KiB a receive buffer starts with. Stack A sends as fast as
// its windows allow; stack B's application reads everything at once.
#include <gtest/gtest.h>

#include <bit>
#include <memory>
#include <vector>

#include "drivers/fault_injector.h"
#include "drivers/memory_link.h"
#include "stack/stack.h"

namespace tcpip {
namespace {

const MacAddress kMacA({0x02, 0, 0, 0, 0, 0x0a});
const MacAddress kMacB({0x02, 0, 0, 0, 0, 0x0b});
const Ipv4Address kIpA(10, 0, 0, 1);
const Ipv4Address kIpB(10, 0, 0, 2);
constexpr std::uint16_t kPort = 5001;
constexpr std::uint64_t kRate = 12'500'000;             // bytes per second: 100 Mbit/s, A to B
constexpr Duration kOneWay = Duration::millis(49);      // plus the link's 1 ms: 100 ms round trip
constexpr double kBdp = kRate * 0.100;                  // 1.25 MB

struct Path {
    explicit Path(StackConfig config)
        : link(kMacA, kMacB, 1500, Duration::millis(1)),
          faults_a(link.a(), FaultConfig::tx_only(forward()), 1),
          faults_b(link.b(), FaultConfig::tx_only(backward()), 2),
          a(faults_a, InterfaceConfig{Ipv4Cidr{kIpA, 24}, std::nullopt}, config, 11),
          b(faults_b, InterfaceConfig{Ipv4Cidr{kIpB, 24}, std::nullopt}, config, 12) {
        a.arp().add_static(kIpB, kMacB);
        b.arp().add_static(kIpA, kMacA);
    }
    static LinkFaults forward() {
        LinkFaults f;
        f.delay = kOneWay;
        f.rate_bytes_per_second = kRate;
        f.queue_limit = 4000;  // a deep router queue: the test is about windows, not losses
        return f;
    }
    static LinkFaults backward() {
        LinkFaults f;
        f.delay = kOneWay;
        return f;
    }

    // Runs the transfer for `duration` of virtual time; `lock_rcvbuf` makes B's listener (and so
    // the connection) keep a fixed SO_RCVBUF of 256 KiB. Calls `each_rtt` every 100 ms. A's send
    // buffer is `sndbuf` bytes (large enough never to limit the transfer), or 0 for the default
    // size and auto-tuning.
    template <class F>
    void run(Duration duration, bool lock_rcvbuf, F&& each_rtt, std::size_t sndbuf = 16 << 20) {
        TcpSocket* listener = b.tcp().open();
        if (lock_rcvbuf) {
            TcpUserOptions o = b.tcp().options(listener);
            o.rcvbuf_locked = true;
            b.tcp().set_options(now, listener, o);
        }
        ASSERT_TRUE(b.tcp().bind(listener, Ipv4Address::any(), kPort).has_value());
        ASSERT_TRUE(b.tcp().listen(listener, 4).has_value());
        client = a.tcp().open();
        if (sndbuf != 0) {
            TcpUserOptions o = a.tcp().options(client);
            o.sndbuf = sndbuf;
            a.tcp().set_options(now, client, o);
        }
        (void)a.tcp().connect(now, client, kIpB, kPort);
        const std::vector<std::uint8_t> chunk(256 * 1024, 0x5a);
        std::vector<std::uint8_t> sink(1 << 20);
        const Instant end = now + duration;
        Instant next_report = now + Duration::millis(100);
        while (now < end) {
            if (server == nullptr) {
                if (auto s = b.tcp().accept(listener)) server = *s;
            }
            if (a.tcp().writable(client)) (void)a.tcp().send(now, client, chunk);
            if (server != nullptr) {
                while (true) {
                    auto n = b.tcp().recv(now, server, sink, false);
                    if (!n || *n == 0) break;
                    received += *n;
                }
            }
            if (now >= next_report) {
                each_rtt();
                next_report = next_report + Duration::millis(100);
            }
            std::optional<Instant> next;
            for (auto t : {a.poll_at(), b.poll_at()}) {
                if (t && (!next || *t < *next)) next = t;
            }
            if (next && *next > now) now = std::min(*next, next_report);
            if (!next) now = next_report;
            a.poll(now);
            b.poll(now);
            ASSERT_EQ(a.tcp().check_invariants(), "");
            ASSERT_EQ(b.tcp().check_invariants(), "");
        }
    }

    MemoryLink link;
    FaultInjector faults_a, faults_b;
    Stack a, b;
    Instant now = Instant::from_millis(1);
    TcpSocket* client = nullptr;
    TcpSocket* server = nullptr;
    std::size_t received = 0;
};

// The window grows from 256 KiB to about the bandwidth-delay product (twice what arrives in a round
// trip, by Linux's rule), and the transfer reaches the link's rate; it does not grow past that.
TEST(ReceiveAutotune, WindowGrowsToTheBandwidthDelayProduct) {
    Path path(StackConfig{});
    std::size_t received_before = 0;
    std::size_t largest = 0;
    Instant measure_from;
    path.run(Duration::seconds(6), false, [&] {
        if (path.server == nullptr) return;
        largest = std::max(largest, path.server->rcv.buffer.capacity());
        if (path.now >= Instant::from_millis(5000) && measure_from == Instant{}) {  // measure the last second
            measure_from = path.now;
            received_before = path.received;
        }
    });
    const double seconds = (path.now - measure_from).seconds_f();
    const double last_second = static_cast<double>(path.received - received_before) / seconds;
    ASSERT_NE(path.server, nullptr);
    const std::size_t capacity = path.server->rcv.buffer.capacity();
    const double window = static_cast<double>(path.server->rcv.wnd);
    std::printf("receive buffer %zu bytes, window %.0f, BDP %.0f, last %.2f s: %.0f bytes/s\n", capacity, window, kBdp,
                seconds, last_second);
    EXPECT_GE(static_cast<double>(capacity), kBdp);
    EXPECT_GE(window, kBdp * 0.9);
    EXPECT_LE(static_cast<double>(largest), 2.2 * kBdp) << "twice what one round trip delivers, not more";
    EXPECT_LE(largest, StackConfig{}.tcp_rmem_max);
    EXPECT_GE(last_second, 0.9 * kRate) << "the window no longer limits the transfer";
    EXPECT_GT(path.b.stats().tcp.rcvbuf_grown, 0u);
}

// The bound: with tcp_rmem_max at 512 KiB, the buffer stops there, and the transfer is window-bound.
TEST(ReceiveAutotune, NeverBeyondTheConfiguredMaximum) {
    StackConfig config;
    config.tcp_rmem_max = 512 * 1024;
    Path path(config);
    std::size_t largest = 0;
    path.run(Duration::seconds(4), false, [&] {
        if (path.server != nullptr) largest = std::max(largest, path.server->rcv.buffer.capacity());
    });
    EXPECT_EQ(largest, 512u * 1024);
    EXPECT_EQ(path.server->rcv.wscale, 4) << "the scale fits the maximum: 512 KiB >> 4 < 65536";
}

// An application that set SO_RCVBUF keeps its size: 256 KiB, about 2.6 MB/s at this RTT.
TEST(ReceiveAutotune, AFixedBufferStaysFixed) {
    Path path(StackConfig{});
    std::size_t largest = 0;
    path.run(Duration::seconds(3), true, [&] {
        if (path.server != nullptr) largest = std::max(largest, path.server->rcv.buffer.capacity());
    });
    EXPECT_EQ(largest, StackConfig{}.tcp_rcvbuf);
    EXPECT_EQ(path.b.stats().tcp.rcvbuf_grown, 0u);
    EXPECT_LT(static_cast<double>(path.received), 3 * 3.0e6) << "window-bound: about 256 KiB per 100 ms";
}

// The send side: A starts with the default 256 KiB send buffer, which holds a fifth of this path's
// bandwidth-delay product. It grows with the congestion window, in powers of two (a few steps, not
// one per ACK), to tcp_wmem_max at most, and the transfer reaches the link's rate.
TEST(SendAutotune, BufferGrowsWithTheWindowInPowersOfTwo) {
    Path path(StackConfig{});
    std::size_t received_before = 0;
    Instant measure_from;
    std::vector<std::size_t> capacities;
    path.run(
        Duration::seconds(6), false,
        [&] {
            const std::size_t c = path.client->snd.buffer.capacity();
            if (capacities.empty() || capacities.back() != c) capacities.push_back(c);
            if (path.now >= Instant::from_millis(5000) && measure_from == Instant{}) {
                measure_from = path.now;
                received_before = path.received;
            }
        },
        0);
    const double last_second = static_cast<double>(path.received - received_before) / (path.now - measure_from).seconds_f();
    std::printf("send buffer sizes:");
    for (std::size_t c : capacities) std::printf(" %zu", c);
    std::printf("; last second %.0f bytes/s\n", last_second);
    const std::size_t final_capacity = path.client->snd.buffer.capacity();
    EXPECT_GE(static_cast<double>(final_capacity), kBdp);
    EXPECT_LE(final_capacity, StackConfig{}.tcp_wmem_max);
    for (std::size_t c : capacities) EXPECT_TRUE(std::has_single_bit(c)) << c << " is not a power of two";
    EXPECT_LE(path.a.stats().tcp.sndbuf_grown, 4u) << "256 KiB to 4 MiB is four doublings";
    EXPECT_GE(path.a.stats().tcp.sndbuf_grown, 3u);
    EXPECT_GE(last_second, 0.9 * kRate) << "the send buffer no longer limits the transfer";
}

}  // namespace
}  // namespace tcpip
