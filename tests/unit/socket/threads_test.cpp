// The socket API across threads: each Runtime runs its stack on its own thread, application
// threads block in recv and poll, and many threads send and receive at once.
#include <fcntl.h>
#include <poll.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <thread>
#include <vector>

#include "tests/unit/socket/fixture.h"
#include "tests/unit/socket/portable_udp.h"

namespace tcpip::socket_test {
namespace {

using namespace std::chrono_literals;

Instant now() { return Runtime::system_clock().now(); }

// Far longer than any test waits: if the wake-up under test is broken, the blocked call still
// returns (and the test fails) rather than hanging the run.
void set_safety_timeout(int fd) {
    timeval ten_seconds{10, 0};
    ASSERT_EQ(tcpip::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &ten_seconds, sizeof ten_seconds), 0);
}

class Threaded : public TwoRuntimes {
protected:
    void SetUp() override {
        TwoRuntimes::SetUp();
        start_threads();
        // One datagram each way first, so that both ARP caches are warm.
        int rx = bound(b, kIpB, 9999), tx = bound(a, kIpA, 9998);
        sockaddr_in to = addr(kIpB, 9999);
        timeval limit{2, 0};
        b.setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
        ASSERT_EQ(a.sendto(tx, "warm", 4, 0, sa(to), sizeof to), 4);
        char buf[8];
        ASSERT_EQ(b.recv(rx, buf, sizeof buf, 0), 4);
        b.close(rx);
        a.close(tx);
    }
};

TEST_F(Threaded, BlockingRecvIsWokenByArrivingData) {
    int rx = bound(b, kIpB, 7000), tx = a.socket(AF_INET, SOCK_DGRAM, 0);
    set_safety_timeout(rx);
    auto receiver = std::async(std::launch::async, [&] {
        char buf[16];
        ssize_t n = tcpip::recv(rx, buf, sizeof buf, 0);  // blocks until data
        return n < 0 ? std::string("error") : std::string(buf, n);
    });
    EXPECT_EQ(receiver.wait_for(50ms), std::future_status::timeout);  // it really waits
    sockaddr_in to = addr(kIpB, 7000);
    ASSERT_EQ(tcpip::sendto(tx, "wake", 4, 0, sa(to), sizeof to), 4);
    ASSERT_EQ(receiver.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(receiver.get(), "wake");
    tcpip::close(rx);
    tcpip::close(tx);
}

TEST_F(Threaded, RcvtimeoBoundsABlockingRecv) {
    int rx = bound(b, kIpB, 7000);
    timeval limit{0, 100000};
    ASSERT_EQ(tcpip::setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit), 0);
    char buf[16];
    const Instant start = now();
    EXPECT_EQ(errno_of([&] { return tcpip::recv(rx, buf, sizeof buf, 0); }), EAGAIN);  // as Linux
    const Duration waited = now() - start;
    EXPECT_GE(waited, Duration::millis(100));
    EXPECT_LT(waited, Duration::seconds(5));
    tcpip::close(rx);
}

TEST_F(Threaded, ShutdownAndCloseWakeABlockedRecv) {
    int rx = bound(b, kIpB, 7000);
    set_safety_timeout(rx);
    auto blocked = std::async(std::launch::async, [&] {
        char buf[16];
        return errno_of([&] { return tcpip::recv(rx, buf, sizeof buf, 0) == 0 ? 0 : -1; });
    });
    EXPECT_EQ(blocked.wait_for(50ms), std::future_status::timeout);
    tcpip::shutdown(rx, SHUT_RD);  // the usual way to stop a reader thread: recv returns 0
    ASSERT_EQ(blocked.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(blocked.get(), 0);

    int rx2 = bound(b, kIpB, 7001);
    set_safety_timeout(rx2);
    auto closed = std::async(std::launch::async, [&] {
        char buf[16];
        return errno_of([&] { return tcpip::recv(rx2, buf, sizeof buf, 0); });
    });
    EXPECT_EQ(closed.wait_for(50ms), std::future_status::timeout);
    tcpip::close(rx2);  // Linux would leave the reader blocked; we return EBADF
    ASSERT_EQ(closed.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(closed.get(), EBADF);
    tcpip::close(rx);
}

TEST_F(Threaded, PollIsWokenByADatagramOrByAKernelDescriptor) {
    int rx = bound(b, kIpB, 7000), tx = a.socket(AF_INET, SOCK_DGRAM, 0);
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    auto poll_both = [&] {
        return std::async(std::launch::async, [&] {
            pollfd set[2] = {{rx, POLLIN, 0}, {pipe_fds[0], POLLIN, 0}};
            int n = tcpip::poll(set, 2, 5000);
            return std::tuple{n, set[0].revents, set[1].revents};
        });
    };
    // A datagram wakes it.
    auto first = poll_both();
    EXPECT_EQ(first.wait_for(50ms), std::future_status::timeout);
    sockaddr_in to = addr(kIpB, 7000);
    ASSERT_EQ(tcpip::sendto(tx, "x", 1, 0, sa(to), sizeof to), 1);
    ASSERT_EQ(first.wait_for(2s), std::future_status::ready);  // woken, not timed out (5 s)
    EXPECT_EQ(first.get(), (std::tuple{1, short{POLLIN}, short{0}}));
    char buf[4];
    ASSERT_EQ(tcpip::recv(rx, buf, sizeof buf, 0), 1);
    // So does the pipe.
    auto second = poll_both();
    EXPECT_EQ(second.wait_for(50ms), std::future_status::timeout);
    ASSERT_EQ(::write(pipe_fds[1], "p", 1), 1);
    ASSERT_EQ(second.wait_for(2s), std::future_status::ready);
    EXPECT_EQ(second.get(), (std::tuple{1, short{0}, short{POLLIN}}));
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    tcpip::close(rx);
    tcpip::close(tx);
}

// 4 threads send 2000 datagrams each from runtime a to one socket on runtime b, which 2 threads
// drain. Every datagram is received or counted as dropped (b's queue full, or the link's); no
// deadlock, and within bounded time.
TEST_F(Threaded, ConcurrentSendersAndReceiversLoseNothingUncounted) {
    constexpr int kSenders = 4, kPerSender = 2000, kReceivers = 2;
    int rx = bound(b, kIpB, 7000);
    timeval limit{0, 300000};
    ASSERT_EQ(tcpip::setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit), 0);
    const int big = 1 << 20;  // clamped to the maximum: 208 queued datagrams of 2 KiB buffers
    ASSERT_EQ(tcpip::setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &big, sizeof big), 0);
    const auto before_b = b.stats().udp;

    std::atomic<int> sent{0}, received{0}, senders_done{0};
    std::vector<std::thread> threads;
    for (int r = 0; r < kReceivers; ++r) {
        threads.emplace_back([&] {
            char buf[64];
            for (;;) {
                ssize_t n = tcpip::recv(rx, buf, sizeof buf, 0);
                if (n > 0) {
                    received.fetch_add(1);
                } else if (senders_done.load() == kSenders) {
                    break;  // timed out after the last sender finished: the queue is drained
                }
            }
        });
    }
    for (int s = 0; s < kSenders; ++s) {
        threads.emplace_back([&, s] {
            int tx = tcpip::socket(AF_INET, SOCK_DGRAM, 0);
            sockaddr_in to = addr(kIpB, 7000);
            char payload[32] = {};
            for (int i = 0; i < kPerSender; ++i) {
                payload[0] = static_cast<char>(s);
                if (tcpip::sendto(tx, payload, sizeof payload, 0, sa(to), sizeof to) == sizeof payload) sent.fetch_add(1);
                if (i % 16 == 15) std::this_thread::sleep_for(1ms);  // bursts, not a flood
            }
            tcpip::close(tx);
            senders_done.fetch_add(1);
        });
    }
    const Instant start = now();
    for (auto& t : threads) t.join();
    EXPECT_LT(now() - start, Duration::seconds(60));

    a.stop_thread();  // quiet, so that the link's counters can be read
    b.stop_thread();
    const auto after_b = b.stats().udp;
    const auto link_drops = link.stats_a().tx_queue_full;  // since the link was made: only this test filled it
    const auto queue_drops = after_b.rx_queue_full - before_b.rx_queue_full;
    EXPECT_EQ(sent.load(), kSenders * kPerSender);
    EXPECT_EQ(static_cast<std::uint64_t>(received.load()) + queue_drops + link_drops,
              static_cast<std::uint64_t>(sent.load()));
    EXPECT_EQ(after_b.rx_datagrams - before_b.rx_datagrams, static_cast<std::uint64_t>(received.load()));
    EXPECT_GT(received.load(), 0);
    std::printf("sent %d, received %d, dropped: %llu at the socket, %llu at the link\n", sent.load(), received.load(),
                static_cast<unsigned long long>(queue_drops), static_cast<unsigned long long>(link_drops));
    tcpip::close(rx);
}

// The same echo code on the kernel's sockets and on ours.
TEST(PortableUdp, EchoOnTheKernelLoopback) {
    sockaddr_in server_at = loopback(0), client_at = loopback(0);
    int server = open_udp<KernelSockets>(server_at);
    int client = open_udp<KernelSockets>(client_at);
    ASSERT_GE(server, 0);
    ASSERT_GE(client, 0);
    EXPECT_EQ(echo_once<KernelSockets>(client, server, server_at, "portable"), "portable");
    ::close(server);
    ::close(client);
}

TEST_F(Threaded, PortableEchoOnTwoRuntimes) {
    sockaddr_in server_at = addr(kIpB, 7), client_at = addr(Ipv4Address::any(), 0);
    Runtime::set_default(&b);
    int server = open_udp<TcpipSockets>(server_at);
    Runtime::set_default(&a);
    int client = open_udp<TcpipSockets>(client_at);
    ASSERT_GE(server, 0);
    ASSERT_GE(client, 0);
    EXPECT_EQ(echo_once<TcpipSockets>(client, server, server_at, "portable"), "portable");
    tcpip::close(server);
    tcpip::close(client);
}

}  // namespace
}  // namespace tcpip::socket_test
