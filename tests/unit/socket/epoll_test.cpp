// tcpip::epoll_* and tcpip::select: each behaviour is run on our sockets (two Runtimes on a
// MemoryLink, each on its own thread) and, where the kernel can be asked the same question, on the
// kernel's own sockets over 127.0.0.1, and the answers must agree: which events, how often
// (level-triggered, EPOLLET, EPOLLONESHOT), EPOLLRDHUP, and the errno of a bad epoll_ctl. Our
// sockets and kernel descriptors share one instance, as in an application.
//
// The last two tests cover the other calls the LD_PRELOAD shim (apps/run) needs from a Runtime:
// ioctl (FIONREAD, FIONBIO), renumber and detach.
//
// Every wait has a timeout, so a broken wake-up fails the test instead of hanging it.
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/unit/socket/fixture.h"

namespace tcpip::socket_test {
namespace {

using namespace std::chrono_literals;

// The calls a scenario makes, on the kernel's sockets or on ours: one scenario, two runs.
struct Api {
    int (*epoll_create1)(int);
    int (*epoll_ctl)(int, int, int, epoll_event*);
    int (*epoll_wait)(int, epoll_event*, int, int);
    int (*close)(int);
    ssize_t (*recv)(int, void*, std::size_t, int);
    ssize_t (*sendto)(int, const void*, std::size_t, int, const sockaddr*, socklen_t);
};
const Api kKernel{::epoll_create1, ::epoll_ctl, ::epoll_wait, ::close, ::recv, ::sendto};
const Api kOurs{tcpip::epoll_create1, tcpip::epoll_ctl, tcpip::epoll_wait, tcpip::close, tcpip::recv, tcpip::sendto};

// What one epoll_wait returned: (data.u64, events) pairs, in order.
using Events = std::vector<std::pair<std::uint64_t, std::uint32_t>>;
Events wait_events(const Api& api, int epfd, int timeout_ms) {
    epoll_event events[16];
    const int n = api.epoll_wait(epfd, events, 16, timeout_ms);
    Events out;
    for (int i = 0; i < n; ++i) out.emplace_back(std::uint64_t{events[i].data.u64}, std::uint32_t{events[i].events});
    return out;
}

int add(const Api& api, int epfd, int fd, std::uint32_t events, std::uint64_t data) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = data;
    return api.epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

class Epoll : public TwoRuntimes {
protected:
    void SetUp() override {
        TwoRuntimes::SetUp();
        start_threads();
        // One datagram first, so that both ARP caches are warm and later sends go at once.
        int rx = bound(b, kIpB, 9999), tx = bound(a, kIpA, 9998);
        timeval limit{2, 0};
        b.setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
        sockaddr_in to = addr(kIpB, 9999);
        ASSERT_EQ(a.sendto(tx, "warm", 4, 0, sa(to), sizeof to), 4);
        char buf[8];
        ASSERT_EQ(b.recv(rx, buf, sizeof buf, 0), 4);
        b.close(rx);
        a.close(tx);
        Runtime::set_default(&b);
    }

    // A UDP receiver and a sender, on the kernel's loopback or on our two stacks.
    struct Udp {
        const Api* api;
        int rx = -1, tx = -1;
        sockaddr_in to{};
    };
    Udp kernel_udp() {
        Udp u{&kKernel};
        u.rx = ::socket(AF_INET, SOCK_DGRAM, 0);
        u.tx = ::socket(AF_INET, SOCK_DGRAM, 0);
        sockaddr_in any = loopback(0);
        EXPECT_EQ(::bind(u.rx, sa(any), sizeof any), 0);
        u.to = loopback(kernel_port(u.rx));
        return u;
    }
    Udp our_udp() {
        Udp u{&kOurs};
        u.rx = bound(b, kIpB, 7000);
        u.tx = a.socket(AF_INET, SOCK_DGRAM, 0);
        u.to = addr(kIpB, 7000);
        return u;
    }
    // Sends one datagram and waits (up to 2 s) until the receiver has it queued.
    static void send_and_settle(const Udp& u, const char* text) {
        ASSERT_EQ(u.api->sendto(u.tx, text, std::strlen(text), 0, sa(u.to), sizeof u.to),
                  static_cast<ssize_t>(std::strlen(text)));
        pollfd p{u.rx, POLLIN, 0};
        ASSERT_EQ(u.api == &kKernel ? ::poll(&p, 1, 2000) : tcpip::poll(&p, 1, 2000), 1);
    }
    static void close_udp(const Udp& u) {
        u.api->close(u.rx);
        u.api->close(u.tx);
    }
};

// Level-triggered: reported at every wait while data is queued, not after it is read; a pipe in
// the same instance is reported beside it.
TEST_F(Epoll, LevelTriggeredReportsUntilDrainedBesideAKernelPipe) {
    for (bool ours : {false, true}) {
        SCOPED_TRACE(ours ? "ours" : "kernel");
        Udp u = ours ? our_udp() : kernel_udp();
        const Api& api = *u.api;
        int pipe_fds[2];
        ASSERT_EQ(::pipe(pipe_fds), 0);
        const int ep = api.epoll_create1(EPOLL_CLOEXEC);
        ASSERT_GE(ep, 0);
        ASSERT_EQ(add(api, ep, u.rx, EPOLLIN, 1), 0);
        ASSERT_EQ(add(api, ep, pipe_fds[0], EPOLLIN, 2), 0);
        EXPECT_EQ(wait_events(api, ep, 0), Events{});
        send_and_settle(u, "one");
        EXPECT_EQ(wait_events(api, ep, 1000), (Events{{1, EPOLLIN}}));
        EXPECT_EQ(wait_events(api, ep, 0), (Events{{1, EPOLLIN}}));  // still there: again
        char buf[8];
        ASSERT_EQ(api.recv(u.rx, buf, sizeof buf, 0), 3);
        EXPECT_EQ(wait_events(api, ep, 0), Events{});
        ASSERT_EQ(::write(pipe_fds[1], "p", 1), 1);
        EXPECT_EQ(wait_events(api, ep, 1000), (Events{{2, EPOLLIN}}));
        api.close(ep);
        ::close(pipe_fds[0]);
        ::close(pipe_fds[1]);
        close_udp(u);
    }
}

// EPOLLET: one report per arrival, whether or not the data is read.
TEST_F(Epoll, EdgeTriggeredReportsOncePerArrival) {
    for (bool ours : {false, true}) {
        SCOPED_TRACE(ours ? "ours" : "kernel");
        Udp u = ours ? our_udp() : kernel_udp();
        const Api& api = *u.api;
        const int ep = api.epoll_create1(0);
        ASSERT_EQ(add(api, ep, u.rx, EPOLLIN | EPOLLET, 7), 0);
        send_and_settle(u, "a");
        EXPECT_EQ(wait_events(api, ep, 1000), (Events{{7, EPOLLIN}}));
        EXPECT_EQ(wait_events(api, ep, 0), Events{});  // unread, but no new edge
        send_and_settle(u, "b");
        EXPECT_EQ(wait_events(api, ep, 1000), (Events{{7, EPOLLIN}}));
        EXPECT_EQ(wait_events(api, ep, 0), Events{});
        api.close(ep);
        close_udp(u);
    }
}

// EPOLLONESHOT: one report, then silence until EPOLL_CTL_MOD re-arms it.
TEST_F(Epoll, OneShotIsSilentUntilRearmed) {
    for (bool ours : {false, true}) {
        SCOPED_TRACE(ours ? "ours" : "kernel");
        Udp u = ours ? our_udp() : kernel_udp();
        const Api& api = *u.api;
        const int ep = api.epoll_create1(0);
        ASSERT_EQ(add(api, ep, u.rx, EPOLLIN | EPOLLONESHOT, 3), 0);
        send_and_settle(u, "a");
        EXPECT_EQ(wait_events(api, ep, 1000), (Events{{3, EPOLLIN}}));
        EXPECT_EQ(wait_events(api, ep, 0), Events{});
        send_and_settle(u, "b");
        EXPECT_EQ(wait_events(api, ep, 50), Events{});
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLONESHOT;
        ev.data.u64 = 4;
        ASSERT_EQ(api.epoll_ctl(ep, EPOLL_CTL_MOD, u.rx, &ev), 0);
        EXPECT_EQ(wait_events(api, ep, 1000), (Events{{4, EPOLLIN}}));
        api.close(ep);
        close_udp(u);
    }
}

// The errno of each bad epoll_ctl, as the kernel's.
TEST_F(Epoll, BadControlCallsFailAsTheKernelsDo) {
    for (bool ours : {false, true}) {
        SCOPED_TRACE(ours ? "ours" : "kernel");
        Udp u = ours ? our_udp() : kernel_udp();
        const Api& api = *u.api;
        const int ep = api.epoll_create1(0);
        epoll_event ev{};
        ev.events = EPOLLIN;
        EXPECT_EQ(errno_of([&] { return api.epoll_ctl(ep, EPOLL_CTL_MOD, u.rx, &ev); }), ENOENT);
        EXPECT_EQ(errno_of([&] { return api.epoll_ctl(ep, EPOLL_CTL_DEL, u.rx, nullptr); }), ENOENT);
        EXPECT_EQ(errno_of([&] { return api.epoll_ctl(ep, EPOLL_CTL_ADD, u.rx, nullptr); }), EFAULT);
        ev.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT;
        EXPECT_EQ(errno_of([&] { return api.epoll_ctl(ep, EPOLL_CTL_ADD, u.rx, &ev); }), EINVAL);
        ev.events = EPOLLIN | EPOLLEXCLUSIVE;
        ASSERT_EQ(api.epoll_ctl(ep, EPOLL_CTL_ADD, u.rx, &ev), 0);
        EXPECT_EQ(errno_of([&] { return api.epoll_ctl(ep, EPOLL_CTL_ADD, u.rx, &ev); }), EEXIST);
        ev.events = EPOLLIN;
        EXPECT_EQ(errno_of([&] { return api.epoll_ctl(ep, EPOLL_CTL_MOD, u.rx, &ev); }), EINVAL);
        EXPECT_EQ(api.epoll_ctl(ep, EPOLL_CTL_DEL, u.rx, nullptr), 0);
        EXPECT_EQ(errno_of([&] { return api.epoll_create1(42); }), EINVAL);
        epoll_event out[1];
        EXPECT_EQ(errno_of([&] { return api.epoll_wait(ep, out, 0, 0); }), EINVAL);
        api.close(ep);
        close_udp(u);
    }
}

// A closed socket leaves every instance that watched it (Linux: eventpoll_release), and a later
// socket that gets the same number is not watched.
TEST_F(Epoll, ClosingASocketRemovesItFromTheInstance) {
    Udp u = our_udp();
    const int ep = tcpip::epoll_create1(0);
    ASSERT_EQ(add(kOurs, ep, u.rx, EPOLLIN, 1), 0);
    send_and_settle(u, "a");
    ASSERT_EQ(tcpip::close(u.rx), 0);
    EXPECT_EQ(wait_events(kOurs, ep, 0), Events{});
    const int again = bound(b, kIpB, 7001);
    ASSERT_EQ(again, u.rx);  // the eventfd's number came back
    sockaddr_in to = addr(kIpB, 7001);
    ASSERT_EQ(tcpip::sendto(u.tx, "b", 1, 0, sa(to), sizeof to), 1);
    EXPECT_EQ(wait_events(kOurs, ep, 100), Events{});
    ASSERT_EQ(add(kOurs, ep, again, EPOLLIN, 2), 0);  // not EEXIST: the old registration is gone
    EXPECT_EQ(wait_events(kOurs, ep, 1000), (Events{{2, EPOLLIN}}));
    tcpip::close(ep);
    tcpip::close(again);
    tcpip::close(u.tx);
}

// A thread asleep in epoll_wait is woken by a datagram to one of our sockets and by a kernel
// pipe, well before its timeout.
TEST_F(Epoll, ASleepingWaitIsWokenByOursOrTheKernels) {
    Udp u = our_udp();
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    const int ep = tcpip::epoll_create1(0);
    ASSERT_EQ(add(kOurs, ep, u.rx, EPOLLIN | EPOLLET, 1), 0);
    ASSERT_EQ(add(kOurs, ep, pipe_fds[0], EPOLLIN | EPOLLET, 2), 0);
    auto sleeper = [&] { return std::async(std::launch::async, [&] { return wait_events(kOurs, ep, 5000); }); };
    auto first = sleeper();
    EXPECT_EQ(first.wait_for(50ms), std::future_status::timeout);
    ASSERT_EQ(tcpip::sendto(u.tx, "x", 1, 0, sa(u.to), sizeof u.to), 1);
    ASSERT_EQ(first.wait_for(2s), std::future_status::ready);
    EXPECT_EQ(first.get(), (Events{{1, EPOLLIN}}));
    auto second = sleeper();
    EXPECT_EQ(second.wait_for(50ms), std::future_status::timeout);
    ASSERT_EQ(::write(pipe_fds[1], "p", 1), 1);
    ASSERT_EQ(second.wait_for(2s), std::future_status::ready);
    EXPECT_EQ(second.get(), (Events{{2, EPOLLIN}}));
    tcpip::close(ep);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    close_udp(u);
}

// EPOLLRDHUP and the stream events through a TCP connection: connect completes (EPOLLOUT), the
// listener reports the connection (EPOLLIN), the peer's FIN reads as EPOLLIN | EPOLLRDHUP.
TEST_F(Epoll, StreamEventsAndRdhupMatchTheKernels) {
    struct Result {
        std::uint32_t listener, connected, after_fin;
    };
    auto run = [&](bool ours) {
        const Api& api = ours ? kOurs : kKernel;
        auto sock = [&](Runtime& r) { return ours ? r.socket(AF_INET, SOCK_STREAM, 0) : ::socket(AF_INET, SOCK_STREAM, 0); };
        const int listener = sock(b);
        sockaddr_in at = ours ? addr(kIpB, 8000) : loopback(0);
        EXPECT_EQ(ours ? b.bind(listener, sa(at), sizeof at) : ::bind(listener, sa(at), sizeof at), 0);
        EXPECT_EQ(ours ? b.listen(listener, 4) : ::listen(listener, 4), 0);
        if (!ours) at = loopback(kernel_port(listener));
        const int client = sock(a);
        const int ep = api.epoll_create1(0);
        add(api, ep, listener, EPOLLIN, 1);
        EXPECT_EQ(ours ? a.connect(client, sa(at), sizeof at) : ::connect(client, sa(at), sizeof at), 0);
        Result r{};
        auto first = wait_events(api, ep, 2000);
        r.listener = first.empty() ? 0 : first[0].second;
        const int server = ours ? b.accept(listener, nullptr, nullptr) : ::accept(listener, nullptr, nullptr);
        add(api, ep, server, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, 2);
        auto second = wait_events(api, ep, 2000);
        r.connected = second.empty() ? 0 : second[0].second;
        EXPECT_EQ(ours ? a.shutdown(client, SHUT_WR) : ::shutdown(client, SHUT_WR), 0);
        auto third = wait_events(api, ep, 2000);
        r.after_fin = third.empty() ? 0 : third[0].second;
        api.close(ep);
        api.close(server);
        ours ? a.close(client) : ::close(client);
        api.close(listener);
        return r;
    };
    const Result kernel = run(false), ours = run(true);
    EXPECT_EQ(kernel.listener, static_cast<std::uint32_t>(EPOLLIN));
    EXPECT_EQ(ours.listener, kernel.listener);
    EXPECT_EQ(ours.connected, kernel.connected);
    EXPECT_EQ(ours.after_fin, kernel.after_fin);
    EXPECT_TRUE(ours.after_fin & EPOLLRDHUP);
}

// ---- EPOLLEXCLUSIVE, compared with the kernel's ----
// Linux (fs/eventpoll.c, ep_poll_callback) offers a socket's event to the instances that watch it
// exclusively in the order they registered: each one puts the socket on its ready list, and the
// first on which a thread is asleep in epoll_wait wakes that thread and ends the walk. So one
// event wakes one sleeping thread (the man page says "one or more"), and an instance on which no
// thread sleeps does not swallow the event: its next epoll_wait reports the socket. Both
// scenarios use a TCP listener, which the kernel wakes once per connection queued for accept.

// A listening TCP socket on the kernel's loopback or on our stack b, and clients of it (from the
// kernel's loopback or from our stack a).
struct Listener {
    bool ours = false;
    Runtime* server = nullptr;
    Runtime* client_side = nullptr;
    int fd = -1;
    sockaddr_in at{};
    std::vector<int> clients;

    Listener(bool use_ours, Runtime& server_runtime, Runtime& client_runtime, std::uint16_t port)
        : ours(use_ours), server(&server_runtime), client_side(&client_runtime) {
        fd = ours ? server->socket(AF_INET, SOCK_STREAM, 0) : ::socket(AF_INET, SOCK_STREAM, 0);
        at = ours ? addr(kIpB, port) : loopback(0);
        EXPECT_EQ(ours ? server->bind(fd, sa(at), sizeof at) : ::bind(fd, sa(at), sizeof at), 0);
        EXPECT_EQ(ours ? server->listen(fd, 8) : ::listen(fd, 8), 0);
        if (!ours) at = loopback(kernel_port(fd));
    }
    ~Listener() {
        for (int c : clients) ours ? client_side->close(c) : ::close(c);
        ours ? server->close(fd) : ::close(fd);
    }
    // A new connection, once the client's connect() has returned.
    void connect() {
        const int c = ours ? client_side->socket(AF_INET, SOCK_STREAM, 0) : ::socket(AF_INET, SOCK_STREAM, 0);
        EXPECT_EQ(ours ? client_side->connect(c, sa(at), sizeof at) : ::connect(c, sa(at), sizeof at), 0);
        clients.push_back(c);
    }
    // Waits (up to 2 s) until the listener has a connection to accept, without epoll.
    bool readable() const {
        pollfd p{fd, POLLIN, 0};
        return (ours ? tcpip::poll(&p, 1, 2000) : ::poll(&p, 1, 2000)) == 1;
    }
};

// Whether thread `tid` of this process is asleep (state S) in a system call that a wait sleeps in
// (epoll_wait, epoll_pwait, poll, ppoll: ours sleeps in the kernel's epoll_wait on the instance).
bool asleep_in_a_wait(pid_t tid) {
    const std::string task = "/proc/self/task/" + std::to_string(tid);
    std::ifstream syscall_file(task + "/syscall");
    long number = -1;
    if (!(syscall_file >> number)) return false;  // "running"
    const bool waiting = number == SYS_epoll_pwait || number == SYS_ppoll
#ifdef SYS_epoll_wait
                         || number == SYS_epoll_wait
#endif
#ifdef SYS_poll
                         || number == SYS_poll
#endif
        ;
    std::ifstream stat_file(task + "/stat");
    std::string stat;
    std::getline(stat_file, stat);
    const auto end_of_name = stat.rfind(')');
    return waiting && end_of_name != std::string::npos && end_of_name + 2 < stat.size() && stat[end_of_name + 2] == 'S';
}

// Threads that each sleep in one epoll_wait (10 s at most), and the order in which they return.
class Sleepers {
public:
    Sleepers(const Api& api, std::vector<int> instances) : api_(api) {
        for (std::size_t i = 0; i < instances.size(); ++i) {
            threads_.emplace_back([this, i, ep = instances[i]] {
                tids_[i] = ::gettid();
                Events got = wait_events(api_, ep, 10000);
                std::lock_guard<std::mutex> guard(mutex_);
                results_[i] = std::move(got);
                returned_.push_back(i);
                cv_.notify_all();
            });
        }
    }
    ~Sleepers() {
        for (auto& t : threads_) t.join();
    }
    // Until every thread is asleep in its wait (the state is polled, up to 5 s).
    bool all_asleep() const {
        for (int i = 0; i < 500; ++i) {
            bool all = true;
            for (std::size_t k = 0; k < threads_.size(); ++k) all = all && tids_[k] != 0 && asleep_in_a_wait(tids_[k]);
            if (all) return true;
            std::this_thread::sleep_for(10ms);
        }
        return false;
    }
    // Until `n` threads have returned (up to 5 s); the order in which they did.
    std::vector<std::size_t> returned(std::size_t n) {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait_for(lock, 5s, [&] { return returned_.size() >= n; });
        return returned_;
    }
    bool asleep(std::size_t i) const { return asleep_in_a_wait(tids_[i]); }
    Events result(std::size_t i) {
        std::lock_guard<std::mutex> guard(mutex_);
        return results_[i];
    }

private:
    const Api& api_;
    std::array<std::atomic<pid_t>, 2> tids_{};
    std::array<Events, 2> results_;
    std::vector<std::size_t> returned_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<std::thread> threads_;
};

// Two instances watch one listener with EPOLLEXCLUSIVE, one thread asleep on each: the first
// connection wakes exactly one of them (the other is still asleep when it has returned), the
// second connection wakes the other. Which instance wakes first must be the kernel's choice too
// (the one registered first).
TEST_F(Epoll, ExclusiveEventWakesOneSleepingThreadAsTheKernels) {
    struct Result {
        std::size_t first = 9, second = 9;
        Events first_got, second_got;
        bool other_still_asleep = false;
    };
    auto run = [&](bool ours) {
        SCOPED_TRACE(ours ? "ours" : "kernel");
        const Api& api = ours ? kOurs : kKernel;
        Listener listener(ours, b, a, 8100);
        const int ep0 = api.epoll_create1(0), ep1 = api.epoll_create1(0);
        EXPECT_EQ(add(api, ep0, listener.fd, EPOLLIN | EPOLLEXCLUSIVE, 100), 0);
        EXPECT_EQ(add(api, ep1, listener.fd, EPOLLIN | EPOLLEXCLUSIVE, 101), 0);
        Result r;
        {
            Sleepers sleepers(api, {ep0, ep1});
            EXPECT_TRUE(sleepers.all_asleep());
            listener.connect();
            auto returned = sleepers.returned(1);
            EXPECT_GE(returned.size(), 1u) << "no thread woke for the first connection";
            if (!returned.empty()) {
                r.first = returned[0];
                r.first_got = sleepers.result(r.first);
                r.other_still_asleep = returned.size() == 1 && sleepers.asleep(1 - r.first);
            }
            listener.connect();
            returned = sleepers.returned(2);
            EXPECT_EQ(returned.size(), 2u) << "the second connection woke no other thread";
            if (returned.size() == 2) {
                r.second = returned[1];
                r.second_got = sleepers.result(r.second);
            }
        }
        api.close(ep0);
        api.close(ep1);
        return r;
    };
    const Result kernel = run(false), ours = run(true);
    EXPECT_EQ(kernel.first, 0u);
    EXPECT_TRUE(kernel.other_still_asleep);
    EXPECT_EQ(kernel.first_got, (Events{{100, EPOLLIN}}));
    EXPECT_EQ(kernel.second, 1u);
    EXPECT_EQ(kernel.second_got, (Events{{101, EPOLLIN}}));
    EXPECT_EQ(ours.first, kernel.first);
    EXPECT_EQ(ours.other_still_asleep, kernel.other_still_asleep);
    EXPECT_EQ(ours.first_got, kernel.first_got);
    EXPECT_EQ(ours.second, kernel.second);
    EXPECT_EQ(ours.second_got, kernel.second_got);
}

// No thread asleep on either instance: the event is on both ready lists, so a non-blocking
// epoll_wait on either reports the listener (and again, level-triggered, until it is accepted).
TEST_F(Epoll, ExclusiveInstancesWithNoSleeperBothReportTheEventAsTheKernels) {
    for (bool ours : {false, true}) {
        SCOPED_TRACE(ours ? "ours" : "kernel");
        const Api& api = ours ? kOurs : kKernel;
        Listener listener(ours, b, a, 8101);
        const int ep0 = api.epoll_create1(0), ep1 = api.epoll_create1(0);
        ASSERT_EQ(add(api, ep0, listener.fd, EPOLLIN | EPOLLEXCLUSIVE, 100), 0);
        ASSERT_EQ(add(api, ep1, listener.fd, EPOLLIN | EPOLLEXCLUSIVE, 101), 0);
        EXPECT_EQ(wait_events(api, ep0, 0), Events{});
        listener.connect();
        ASSERT_TRUE(listener.readable());
        EXPECT_EQ(wait_events(api, ep1, 0), (Events{{101, EPOLLIN}}));
        EXPECT_EQ(wait_events(api, ep0, 0), (Events{{100, EPOLLIN}}));
        EXPECT_EQ(wait_events(api, ep1, 0), (Events{{101, EPOLLIN}}));  // level-triggered: again
        const int accepted = ours ? b.accept(listener.fd, nullptr, nullptr) : ::accept(listener.fd, nullptr, nullptr);
        ASSERT_GE(accepted, 0);
        EXPECT_EQ(wait_events(api, ep0, 0), Events{});
        EXPECT_EQ(wait_events(api, ep1, 0), Events{});
        api.close(accepted);
        api.close(ep0);
        api.close(ep1);
    }
}

// Many watched, one ready: with 500 sockets in the instance and one datagram, the wait reports
// exactly that socket (the others are not on the ready list at all).
TEST_F(Epoll, AWaitReportsOnlyTheReadySocketAmongMany) {
    const int ep = tcpip::epoll_create1(0);
    std::vector<int> rx;
    for (int i = 0; i < 500; ++i) {
        rx.push_back(bound(b, kIpB, static_cast<std::uint16_t>(10000 + i)));
        ASSERT_EQ(add(kOurs, ep, rx.back(), EPOLLIN | EPOLLOUT | EPOLLET, static_cast<std::uint64_t>(i)), 0);
    }
    // Every UDP socket is writable at once: 500 events, drained in batches of 16 (edge-triggered).
    std::size_t writable = 0;
    for (Events got; !(got = wait_events(kOurs, ep, 0)).empty();) writable += got.size();
    EXPECT_EQ(writable, 500u);
    const int tx = a.socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in to = addr(kIpB, 10321);
    ASSERT_EQ(tcpip::sendto(tx, "x", 1, 0, sa(to), sizeof to), 1);
    EXPECT_EQ(wait_events(kOurs, ep, 2000), (Events{{321, EPOLLIN | EPOLLOUT}}));
    tcpip::close(ep);
    for (int fd : rx) tcpip::close(fd);
    tcpip::close(tx);
}

// select: readable and writable bits over our socket and a kernel pipe, as poll reports them.
TEST_F(Epoll, SelectMixesOurSocketsAndKernelDescriptors) {
    Udp u = our_udp();
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    fd_set r, w;
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_SET(u.rx, &r);
    FD_SET(pipe_fds[0], &r);
    FD_SET(u.rx, &w);
    timeval zero{0, 0};
    const int nfds = std::max(u.rx, pipe_fds[0]) + 1;
    EXPECT_EQ(tcpip::select(nfds, &r, &w, nullptr, &zero), 1);  // only writable
    EXPECT_TRUE(FD_ISSET(u.rx, &w));
    EXPECT_FALSE(FD_ISSET(u.rx, &r));
    send_and_settle(u, "a");
    ASSERT_EQ(::write(pipe_fds[1], "p", 1), 1);
    FD_ZERO(&r);
    FD_SET(u.rx, &r);
    FD_SET(pipe_fds[0], &r);
    timeval second{1, 0};
    EXPECT_EQ(tcpip::select(nfds, &r, nullptr, nullptr, &second), 2);
    EXPECT_TRUE(FD_ISSET(u.rx, &r));
    EXPECT_TRUE(FD_ISSET(pipe_fds[0], &r));
    // A descriptor that is not open: EBADF, as the kernel's.
    FD_ZERO(&r);
    FD_SET(nfds + 50, &r);
    EXPECT_EQ(errno_of([&] { return tcpip::select(nfds + 51, &r, nullptr, nullptr, &zero); }), EBADF);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    close_udp(u);
}

// ioctl FIONREAD (the first datagram's length) and FIONBIO (O_NONBLOCK), as the kernel's.
TEST_F(Epoll, IoctlFionreadAndFionbioMatchTheKernels) {
    for (bool ours : {false, true}) {
        SCOPED_TRACE(ours ? "ours" : "kernel");
        Udp u = ours ? our_udp() : kernel_udp();
        auto ioctl = [&](unsigned long request, int* arg) { return ours ? b.ioctl(u.rx, request, arg) : ::ioctl(u.rx, request, arg); };
        int n = -1;
        ASSERT_EQ(ioctl(FIONREAD, &n), 0);
        EXPECT_EQ(n, 0);
        send_and_settle(u, "hello");
        send_and_settle(u, "hi");
        ASSERT_EQ(ioctl(FIONREAD, &n), 0);
        EXPECT_EQ(n, 5);  // the first datagram, not the queue
        char buf[8];
        ASSERT_EQ(u.api->recv(u.rx, buf, sizeof buf, 0), 5);
        ASSERT_EQ(u.api->recv(u.rx, buf, sizeof buf, 0), 2);
        int on = 1;
        ASSERT_EQ(ioctl(FIONBIO, &on), 0);
        EXPECT_EQ(errno_of([&] { return u.api->recv(u.rx, buf, sizeof buf, 0); }), EAGAIN);
        close_udp(u);
    }
}

// The shim's descriptor moves: renumber() gives a socket the number of a duplicate of its eventfd
// (the original number then closes like any file); detach() forgets a socket and leaves its
// number open for dup2().
TEST_F(Epoll, RenumberAndDetachKeepTheDescriptorTableConsistent) {
    Udp u = our_udp();
    const int copy = ::dup(u.rx);
    ASSERT_GE(copy, 0);
    ASSERT_EQ(b.renumber(u.rx, copy), 0);
    EXPECT_EQ(Runtime::owner(u.rx), nullptr);
    EXPECT_EQ(Runtime::owner(copy), &b);
    ::close(u.rx);
    send_and_settle(Udp{&kOurs, copy, u.tx, u.to}, "moved");
    char buf[8];
    EXPECT_EQ(tcpip::recv(copy, buf, sizeof buf, 0), 5);
    ASSERT_EQ(b.detach(copy), 0);
    EXPECT_EQ(Runtime::owner(copy), nullptr);
    EXPECT_GE(::fcntl(copy, F_GETFD), 0);  // still open, now a plain kernel descriptor
    ::close(copy);
    tcpip::close(u.tx);
}

}  // namespace
}  // namespace tcpip::socket_test
