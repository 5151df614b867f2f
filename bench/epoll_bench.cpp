// tcpip::epoll_wait with one ready socket among N watched (N = 10, 1000, 10000): the time per
// wait should not grow with N, since a wait looks only at the instance's ready list
// (stack/socket/runtime_epoll.cpp). Beside it, in the same run, tcpip::poll over the same N
// sockets, which must look at every one of them (O(N), as Linux's poll): it shows that the
// measurement does see a cost per watched socket where there is one. scripts/bench.sh prints the
// ratios N=10000 / N=10 of both.
//
// The sockets are UDP sockets of one Runtime on a MemoryLink; another Runtime sends the one
// datagram that makes one of them readable. Both are threadless, so that no stack thread runs
// beside the measured loop: each wait runs the watched runtime's stack once (an empty poll of
// its device), then reports the socket, level-triggered, and the socket stays ready.
#include <benchmark/benchmark.h>
#include <sys/ioctl.h>
#include <sys/resource.h>

#include <memory>
#include <string>
#include <vector>

#include "drivers/memory_link.h"
#include "stack/socket/socket.h"

namespace {

using namespace tcpip;

constexpr MacAddress kMacA{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
constexpr MacAddress kMacB{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
constexpr Ipv4Address kIpA{10, 0, 0, 1};
constexpr Ipv4Address kIpB{10, 0, 0, 2};
constexpr std::uint16_t kFirstPort = 20000;

sockaddr_in address(Ipv4Address ip, std::uint16_t port) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(ip.to_u32());
    return sin;
}

// Each of our sockets holds an eventfd open: N sockets need N descriptors and some more.
bool allow_descriptors(rlim_t n) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return false;
    if (limit.rlim_cur >= n) return true;
    if (limit.rlim_max < n) return false;
    limit.rlim_cur = n;
    return ::setrlimit(RLIMIT_NOFILE, &limit) == 0;
}

// N UDP sockets in runtime `b`, one of them (the middle one) with a datagram queued.
class OneReadyAmongN {
public:
    explicit OneReadyAmongN(std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) {
            const int fd = b_.socket(AF_INET, SOCK_DGRAM, 0);
            const sockaddr_in at = address(kIpB, static_cast<std::uint16_t>(kFirstPort + i));
            if (fd < 0 || b_.bind(fd, reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0) {
                error_ = "cannot make socket " + std::to_string(i);
                return;
            }
            fds_.push_back(fd);
        }
        ready_ = fds_[n / 2];
        const int tx = a_.socket(AF_INET, SOCK_DGRAM, 0);
        const sockaddr_in to = address(kIpB, static_cast<std::uint16_t>(kFirstPort + n / 2));
        if (a_.sendto(tx, "x", 1, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 1) error_ = "sendto";
        for (int i = 0; i < 8; ++i) {  // ARP, then the datagram
            a_.poll();
            b_.poll();
        }
        a_.close(tx);
        int queued = 0;
        if (b_.ioctl(ready_, FIONREAD, &queued) != 0 || queued != 1) error_ = "the datagram did not arrive";
    }
    ~OneReadyAmongN() {
        for (int fd : fds_) b_.close(fd);
    }
    const std::string& error() const { return error_; }
    const std::vector<int>& fds() const { return fds_; }
    int ready() const { return ready_; }

private:
    MemoryLink link_{kMacA, kMacB};
    Runtime a_{link_.a(), {Ipv4Cidr{kIpA, 24}, std::nullopt}, {}, 1};
    Runtime b_{link_.b(), {Ipv4Cidr{kIpB, 24}, std::nullopt}, {}, 2};
    std::vector<int> fds_;
    int ready_ = -1;
    std::string error_;
};

void BM_EpollWaitOneReadyAmongN(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    if (!allow_descriptors(n + 256)) return state.SkipWithError("RLIMIT_NOFILE too low for N sockets");
    OneReadyAmongN sockets(n);
    if (!sockets.error().empty()) return state.SkipWithError(sockets.error().c_str());
    const int ep = tcpip::epoll_create1(0);
    for (int fd : sockets.fds()) {
        epoll_event ev{};
        ev.events = EPOLLIN;  // level-triggered: the ready socket is reported at every wait
        ev.data.fd = fd;
        if (tcpip::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) return state.SkipWithError("epoll_ctl");
    }
    epoll_event events[16];
    for (auto _ : state) {
        const int got = tcpip::epoll_wait(ep, events, 16, 0);
        if (got != 1 || events[0].data.fd != sockets.ready()) {
            state.SkipWithError("epoll_wait did not report exactly the ready socket");
            break;
        }
        benchmark::DoNotOptimize(events);
    }
    tcpip::close(ep);
}

void BM_PollOneReadyAmongN(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    if (!allow_descriptors(n + 256)) return state.SkipWithError("RLIMIT_NOFILE too low for N sockets");
    OneReadyAmongN sockets(n);
    if (!sockets.error().empty()) return state.SkipWithError(sockets.error().c_str());
    std::vector<pollfd> fds;
    for (int fd : sockets.fds()) fds.push_back(pollfd{fd, POLLIN, 0});
    for (auto _ : state) {
        const int got = tcpip::poll(fds.data(), fds.size(), 0);
        if (got != 1) {
            state.SkipWithError("poll did not report exactly one ready socket");
            break;
        }
        benchmark::DoNotOptimize(fds.data());
    }
}

}  // namespace

BENCHMARK(BM_EpollWaitOneReadyAmongN)->Arg(10)->Arg(1000)->Arg(10000);
BENCHMARK(BM_PollOneReadyAmongN)->Arg(10)->Arg(1000)->Arg(10000);
