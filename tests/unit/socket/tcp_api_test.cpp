// TCP through the socket API: two Runtimes on a MemoryLink, each running its stack on its own
// thread, application threads calling the POSIX names. Where it is cheap, the same steps run on
// the kernel's own TCP sockets over 127.0.0.1 and the errno values and poll bits must agree.
//
// Nothing here may hang: every socket of ours and of the kernel's gets a 10 s SO_RCVTIMEO and
// SO_SNDTIMEO (a blocking call whose wake-up is broken fails instead), polls have timeouts, and
// the threaded tests wait for their threads with a bound.
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/socket/fixture.h"

namespace tcpip::socket_test {
namespace {

using namespace std::chrono_literals;

Instant now() { return Runtime::system_clock().now(); }

// ---- Helpers ------------------------------------------------------------------------------------

// The far bound on any blocking call (see the file comment).
void guard_ours(int fd) {
    timeval ten{10, 0};
    ASSERT_EQ(tcpip::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &ten, sizeof ten), 0);
    ASSERT_EQ(tcpip::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &ten, sizeof ten), 0);
}
void guard_kernel(int fd) {
    timeval ten{10, 0};
    ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &ten, sizeof ten), 0);
    ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &ten, sizeof ten), 0);
}

// A kernel TCP socket, closed at the end of the scope.
struct KernelTcp {
    int fd = -1;
    explicit KernelTcp(int flags = 0) : fd(::socket(AF_INET, SOCK_STREAM | flags, 0)) { guard_kernel(fd); }
    explicit KernelTcp(int adopted, bool) : fd(adopted) {}
    ~KernelTcp() {
        if (fd >= 0) ::close(fd);
    }
    KernelTcp(const KernelTcp&) = delete;
    KernelTcp& operator=(const KernelTcp&) = delete;
    operator int() const { return fd; }
};

// A kernel listener on 127.0.0.1 (an ephemeral port) and a connection to it: client and server.
struct KernelPair {
    KernelTcp listener, client;
    KernelTcp server{-1, true};
    sockaddr_in at = loopback(0);
    KernelPair() {
        socklen_t len = sizeof at;
        EXPECT_EQ(::bind(listener, sa(at), sizeof at), 0);
        EXPECT_EQ(::listen(listener, 8), 0);
        EXPECT_EQ(::getsockname(listener, sa(at), &len), 0);
    }
    void connect() {
        ASSERT_EQ(::connect(client, sa(at), sizeof at), 0) << std::strerror(errno);
        server.fd = ::accept(listener, nullptr, nullptr);
        ASSERT_GE(server.fd, 0);
        guard_kernel(server);
    }
};

// A port of 127.0.0.1 nobody listens on (bound for a moment, then released).
std::uint16_t kernel_free_port() {
    KernelTcp probe;
    sockaddr_in at = loopback(0);
    socklen_t len = sizeof at;
    ::bind(probe, sa(at), sizeof at);
    ::getsockname(probe, sa(at), &len);
    return ntohs(at.sin_port);
}

// poll() on one descriptor through the given poll function; the revents (0 on timeout).
template <class Poll>
short poll_one(Poll poll_fn, int fd, short events, int timeout_ms) {
    pollfd p{fd, events, 0};
    return poll_fn(&p, 1, timeout_ms) > 0 ? p.revents : 0;
}
short our_poll(int fd, short events, int timeout_ms = 0) { return poll_one(tcpip::poll, fd, events, timeout_ms); }
short kernel_poll(int fd, short events, int timeout_ms = 0) { return poll_one(::poll, fd, events, timeout_ms); }

int int_option(int (*get)(int, int, int, void*, socklen_t*), int fd, int level, int name) {
    int v = -1;
    socklen_t len = sizeof v;
    if (get(fd, level, name, &v, &len) != 0) return -1000 - errno;
    return v;
}
int our_int(int fd, int level, int name) { return int_option(tcpip::getsockopt, fd, level, name); }
int kernel_int(int fd, int level, int name) { return int_option(::getsockopt, fd, level, name); }

// Deterministic bytes, different per stream, and a 64-bit FNV-1a hash to compare transfers.
std::vector<std::uint8_t> pattern(std::size_t n, std::uint64_t seed) {
    std::vector<std::uint8_t> out(n);
    std::uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (auto& byte : out) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        byte = static_cast<std::uint8_t>(x);
    }
    return out;
}
struct Fnv {
    std::uint64_t h = 0xcbf29ce484222325ull;
    void add(const std::uint8_t* p, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
    }
};

// ARP retries every 100 ms here, so a connect to a silent neighbour fails in a third of a second.
StackConfig fast_arp() {
    StackConfig c;
    c.arp_retry_interval = Duration::millis(100);
    return c;
}

class TcpApi : public ::testing::Test {
protected:
    MemoryLink link{kMacA, kMacB};
    Runtime a{link.a(), {Ipv4Cidr{kIpA, 24}, std::nullopt}, fast_arp(), 1};
    Runtime b{link.b(), {Ipv4Cidr{kIpB, 24}, std::nullopt}, fast_arp(), 2};

    void SetUp() override {
        Runtime::set_default(&a);
        a.start_thread();
        b.start_thread();
    }
    void TearDown() override { Runtime::set_default(nullptr); }

    // A TCP socket in `r`, with the safety timeouts.
    int stream(Runtime& r, int flags = 0) {
        int fd = r.socket(AF_INET, SOCK_STREAM | flags, 0);
        EXPECT_GE(fd, 0) << std::strerror(errno);
        guard_ours(fd);
        return fd;
    }
    // A listener on b's address.
    int listening(std::uint16_t port, int backlog = 16) {
        int fd = stream(b);
        sockaddr_in at = addr(kIpB, port);
        EXPECT_EQ(tcpip::bind(fd, sa(at), sizeof at), 0) << std::strerror(errno);
        EXPECT_EQ(tcpip::listen(fd, backlog), 0) << std::strerror(errno);
        return fd;
    }
    // A connection: the client in a, the accepted socket in b. The listener is closed.
    std::pair<int, int> connection(std::uint16_t port, int client = -1) {
        int l = listening(port);
        if (client < 0) client = stream(a);
        sockaddr_in to = addr(kIpB, port);
        EXPECT_EQ(tcpip::connect(client, sa(to), sizeof to), 0) << std::strerror(errno);
        int server = tcpip::accept(l, nullptr, nullptr);
        EXPECT_GE(server, 0) << std::strerror(errno);
        tcpip::close(l);
        return {client, server};
    }
};

// ---- socket(), and a socket that was never connected ------------------------------------------

TEST_F(TcpApi, AFreshStreamSocketAnswersAsLinuxDoes) {
    int fd = tcpip::socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    ASSERT_GE(fd, 0);
    KernelTcp k;
    EXPECT_EQ(our_int(fd, SOL_SOCKET, SO_TYPE), SOCK_STREAM);
    EXPECT_EQ(our_int(fd, SOL_SOCKET, SO_ERROR), 0);
    EXPECT_EQ(our_int(fd, SOL_SOCKET, SO_ACCEPTCONN), kernel_int(k, SOL_SOCKET, SO_ACCEPTCONN));
    char c = 'x';
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    // send: EPIPE (sk_stream_wait_connect); recv: ENOTCONN; no peer; nothing to shut; no listener.
    EXPECT_EQ(errno_of([&] { return tcpip::send(fd, &c, 1, MSG_NOSIGNAL); }),
              errno_of([&] { return ::send(k, &c, 1, MSG_NOSIGNAL); }));
    EXPECT_EQ(errno_of([&] { return tcpip::recv(fd, &c, 1, MSG_DONTWAIT); }),
              errno_of([&] { return ::recv(k, &c, 1, MSG_DONTWAIT); }));
    EXPECT_EQ(errno_of([&] { return tcpip::getpeername(fd, sa(peer), &len); }),
              errno_of([&] { return ::getpeername(k, sa(peer), &len); }));
    EXPECT_EQ(errno_of([&] { return tcpip::shutdown(fd, SHUT_WR); }), errno_of([&] { return ::shutdown(k, SHUT_WR); }));
    EXPECT_EQ(errno_of([&] { return tcpip::accept(fd, nullptr, nullptr); }),
              errno_of([&] { return ::accept(k, nullptr, nullptr); }));
    // A fresh socket polls POLLOUT|POLLHUP on Linux (it is "closed", and a send would not block).
    const short all = POLLIN | POLLOUT | POLLRDHUP;
    EXPECT_EQ(our_poll(fd, all), kernel_poll(k, all));
    EXPECT_EQ(our_poll(fd, all), POLLOUT | POLLHUP);
    // getsockname: 0.0.0.0:0 until bound.
    sockaddr_in local{};
    len = sizeof local;
    ASSERT_EQ(tcpip::getsockname(fd, sa(local), &len), 0);
    EXPECT_EQ(local.sin_addr.s_addr, 0u);
    EXPECT_EQ(local.sin_port, 0);
    // connect(AF_UNSPEC) on a fresh socket: nothing to undo, 0.
    sockaddr unspec{};
    unspec.sa_family = AF_UNSPEC;
    EXPECT_EQ(tcpip::connect(fd, &unspec, sizeof unspec), 0);
    EXPECT_EQ(::connect(k, &unspec, sizeof unspec), 0);
    EXPECT_EQ(tcpip::close(fd), 0);
}

TEST_F(TcpApi, BindChecksTheAddressThenThePort) {
    int s1 = stream(b), s2 = stream(b), s3 = stream(b);
    sockaddr_in foreign = addr(kIpA, 5000), ours = addr(kIpB, 5000);
    EXPECT_EQ(errno_of([&] { return tcpip::bind(s1, sa(foreign), sizeof foreign); }), EADDRNOTAVAIL);
    EXPECT_EQ(tcpip::bind(s1, sa(ours), sizeof ours), 0);
    EXPECT_EQ(errno_of([&] { return tcpip::bind(s1, sa(ours), sizeof ours); }), EINVAL);  // bound already
    EXPECT_EQ(errno_of([&] { return tcpip::bind(s2, sa(ours), sizeof ours); }), EADDRINUSE);
    EXPECT_EQ(errno_of([&] { return tcpip::bind(s3, sa(ours), sizeof ours - 1); }), EINVAL);
    for (int fd : {s1, s2, s3}) tcpip::close(fd);
}

// ---- connect() ----------------------------------------------------------------------------------

TEST_F(TcpApi, ConnectToAPortWithoutListenerIsRefusedAsByTheKernel) {
    int fd = stream(a);
    sockaddr_in to = addr(kIpB, 1);
    KernelTcp k;
    sockaddr_in kto = loopback(kernel_free_port());
    EXPECT_EQ(errno_of([&] { return tcpip::connect(fd, sa(to), sizeof to); }), ECONNREFUSED);
    EXPECT_EQ(errno_of([&] { return ::connect(k, sa(kto), sizeof kto); }), ECONNREFUSED);
    // The failed connect left the socket unconnected: another try is refused again, and poll sees
    // a closed socket, no error left.
    EXPECT_EQ(errno_of([&] { return tcpip::connect(fd, sa(to), sizeof to); }), ECONNREFUSED);
    EXPECT_EQ(errno_of([&] { return ::connect(k, sa(kto), sizeof kto); }), ECONNREFUSED);
    const short all = POLLIN | POLLOUT | POLLRDHUP;
    EXPECT_EQ(our_poll(fd, all), kernel_poll(k, all));
    EXPECT_EQ(our_int(fd, SOL_SOCKET, SO_ERROR), 0);
    tcpip::close(fd);
}

TEST_F(TcpApi, NonBlockingConnectThatIsRefusedReportsThroughPollAndSoError) {
    int fd = stream(a, SOCK_NONBLOCK);
    sockaddr_in to = addr(kIpB, 1);
    KernelTcp k(SOCK_NONBLOCK);
    sockaddr_in kto = loopback(kernel_free_port());
    EXPECT_EQ(errno_of([&] { return tcpip::connect(fd, sa(to), sizeof to); }), EINPROGRESS);
    EXPECT_EQ(errno_of([&] { return ::connect(k, sa(kto), sizeof kto); }), EINPROGRESS);
    const short all = POLLIN | POLLOUT | POLLRDHUP;
    ASSERT_NE(our_poll(fd, POLLOUT, 5000), 0);
    ASSERT_NE(kernel_poll(k, POLLOUT, 5000), 0);
    EXPECT_EQ(our_poll(fd, all), kernel_poll(k, all));
    EXPECT_EQ(our_poll(fd, all), POLLIN | POLLOUT | POLLERR | POLLHUP | POLLRDHUP);
    EXPECT_EQ(our_int(fd, SOL_SOCKET, SO_ERROR), ECONNREFUSED);
    EXPECT_EQ(kernel_int(k, SOL_SOCKET, SO_ERROR), ECONNREFUSED);
    EXPECT_EQ(our_int(fd, SOL_SOCKET, SO_ERROR), 0);  // read once
    tcpip::close(fd);
}

TEST_F(TcpApi, BlockingConnectAcceptAndExchange) {
    int l = listening(7000);
    EXPECT_EQ(our_int(l, SOL_SOCKET, SO_ACCEPTCONN), 1);
    auto server = std::async(std::launch::async, [&] {
        sockaddr_in peer{};
        socklen_t len = sizeof peer;
        int s = tcpip::accept(l, sa(peer), &len);  // blocks until the client connects
        EXPECT_EQ(len, sizeof peer);
        EXPECT_EQ(ntohl(peer.sin_addr.s_addr), kIpA.to_u32());
        char buf[64];
        ssize_t n = tcpip::recv(s, buf, sizeof buf, 0);
        EXPECT_EQ(n, 5);
        EXPECT_EQ(tcpip::send(s, "world", 5, 0), 5);
        return std::pair{s, ntohs(peer.sin_port)};
    });
    EXPECT_EQ(server.wait_for(30ms), std::future_status::timeout);  // accept really waits
    int c = stream(a);
    sockaddr_in to = addr(kIpB, 7000);
    ASSERT_EQ(tcpip::connect(c, sa(to), sizeof to), 0) << std::strerror(errno);
    EXPECT_EQ(tcpip::send(c, "hello", 5, 0), 5);
    char buf[64];
    EXPECT_EQ(tcpip::recv(c, buf, sizeof buf, 0), 5);
    EXPECT_EQ(std::string(buf, 5), "world");
    ASSERT_EQ(server.wait_for(10s), std::future_status::ready);
    auto [s, peer_port] = server.get();

    // Both ends agree on the four-tuple.
    sockaddr_in c_local{}, c_peer{}, s_local{}, s_peer{};
    socklen_t len = sizeof c_local;
    ASSERT_EQ(tcpip::getsockname(c, sa(c_local), &len), 0);
    len = sizeof c_peer;
    ASSERT_EQ(tcpip::getpeername(c, sa(c_peer), &len), 0);
    len = sizeof s_local;
    ASSERT_EQ(tcpip::getsockname(s, sa(s_local), &len), 0);
    len = sizeof s_peer;
    ASSERT_EQ(tcpip::getpeername(s, sa(s_peer), &len), 0);
    EXPECT_EQ(ntohl(c_local.sin_addr.s_addr), kIpA.to_u32());
    EXPECT_EQ(ntohs(c_local.sin_port), peer_port);
    EXPECT_EQ(ntohl(c_peer.sin_addr.s_addr), kIpB.to_u32());
    EXPECT_EQ(ntohs(c_peer.sin_port), 7000);
    EXPECT_EQ(ntohl(s_local.sin_addr.s_addr), kIpB.to_u32());
    EXPECT_EQ(ntohs(s_local.sin_port), 7000);
    EXPECT_EQ(s_peer.sin_port, c_local.sin_port);
    // The accepted socket is a connection, the listener still a listener.
    EXPECT_EQ(our_int(s, SOL_SOCKET, SO_ACCEPTCONN), 0);
    EXPECT_EQ(our_int(s, SOL_SOCKET, SO_TYPE), SOCK_STREAM);
    EXPECT_EQ(errno_of([&] { return tcpip::connect(c, sa(to), sizeof to); }), EISCONN);
    EXPECT_EQ(errno_of([&] { return tcpip::listen(c, 5); }), EINVAL);
    for (int fd : {c, s, l}) EXPECT_EQ(tcpip::close(fd), 0);
}

TEST_F(TcpApi, NonBlockingConnectInProgressThenDoneAsByTheKernel) {
    int l = listening(7001);
    int c = stream(a, SOCK_NONBLOCK);
    sockaddr_in to = addr(kIpB, 7001);
    KernelPair kp;
    ASSERT_EQ(::fcntl(kp.client, F_SETFL, O_NONBLOCK), 0);
    // Each step, ours then the kernel's: EINPROGRESS; POLLOUT when done; SO_ERROR 0; the next
    // connect() says 0 (it collects the result), the one after EISCONN.
    EXPECT_EQ(errno_of([&] { return tcpip::connect(c, sa(to), sizeof to); }), EINPROGRESS);
    EXPECT_EQ(errno_of([&] { return ::connect(kp.client, sa(kp.at), sizeof kp.at); }), EINPROGRESS);
    EXPECT_EQ(our_poll(c, POLLOUT, 5000), POLLOUT);
    EXPECT_EQ(kernel_poll(kp.client, POLLOUT, 5000), POLLOUT);
    EXPECT_EQ(our_int(c, SOL_SOCKET, SO_ERROR), 0);
    EXPECT_EQ(kernel_int(kp.client, SOL_SOCKET, SO_ERROR), 0);
    EXPECT_EQ(errno_of([&] { return tcpip::connect(c, sa(to), sizeof to); }), 0);
    EXPECT_EQ(errno_of([&] { return ::connect(kp.client, sa(kp.at), sizeof kp.at); }), 0);
    EXPECT_EQ(errno_of([&] { return tcpip::connect(c, sa(to), sizeof to); }), EISCONN);
    EXPECT_EQ(errno_of([&] { return ::connect(kp.client, sa(kp.at), sizeof kp.at); }), EISCONN);
    // A connection waits on the listener: POLLIN, and a non-blocking accept takes it.
    EXPECT_EQ(our_poll(l, POLLIN, 5000), POLLIN);
    ASSERT_EQ(tcpip::fcntl(l, F_SETFL, O_NONBLOCK), 0);
    int s = tcpip::accept(l, nullptr, nullptr);
    EXPECT_GE(s, 0);
    EXPECT_EQ(tcpip::fcntl(s, F_GETFL) & O_NONBLOCK, 0);  // not inherited, as Linux
    EXPECT_EQ(errno_of([&] { return tcpip::accept(l, nullptr, nullptr); }), EAGAIN);
    for (int fd : {c, s, l}) tcpip::close(fd);
}

TEST_F(TcpApi, SecondConnectWhileTheHandshakeIsPendingIsEalready) {
    int l = listening(7002);
    b.stop_thread();  // b hears nothing until restarted: the SYN waits on the link
    int c = stream(a, SOCK_NONBLOCK);
    sockaddr_in to = addr(kIpB, 7002);
    EXPECT_EQ(errno_of([&] { return tcpip::connect(c, sa(to), sizeof to); }), EINPROGRESS);
    EXPECT_EQ(errno_of([&] { return tcpip::connect(c, sa(to), sizeof to); }), EALREADY);
    EXPECT_EQ(our_poll(c, POLLIN | POLLOUT), 0);  // neither during the handshake
    // A blocking connect bounded by SO_SNDTIMEO gives up with EINPROGRESS, as Linux; the
    // handshake goes on.
    int d = stream(a);
    timeval limit{0, 100000};
    ASSERT_EQ(tcpip::setsockopt(d, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit), 0);
    const Instant start = now();
    EXPECT_EQ(errno_of([&] { return tcpip::connect(d, sa(to), sizeof to); }), EINPROGRESS);
    EXPECT_GE(now() - start, Duration::millis(100));
    b.start_thread();
    EXPECT_EQ(our_poll(c, POLLOUT, 5000), POLLOUT);
    EXPECT_EQ(tcpip::connect(c, sa(to), sizeof to), 0);
    EXPECT_EQ(errno_of([&] { return tcpip::connect(c, sa(to), sizeof to); }), EISCONN);
    EXPECT_EQ(our_poll(d, POLLOUT, 5000), POLLOUT);
    for (int fd : {c, d, l}) tcpip::close(fd);
}

TEST_F(TcpApi, ConnectToASilentNeighbourIsHostUnreachable) {
    int c = stream(a);
    sockaddr_in to = addr(Ipv4Address(10, 0, 0, 3), 80);  // nobody answers its ARP requests
    const Instant start = now();
    EXPECT_EQ(errno_of([&] { return tcpip::connect(c, sa(to), sizeof to); }), EHOSTUNREACH);
    EXPECT_LT(now() - start, Duration::seconds(5));
    tcpip::close(c);
}

// ---- accept() -----------------------------------------------------------------------------------

TEST_F(TcpApi, AcceptTimesOutAndIsWokenByShutdownOfTheListener) {
    int l = listening(7003);
    timeval limit{0, 100000};
    ASSERT_EQ(tcpip::setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit), 0);
    const Instant start = now();
    EXPECT_EQ(errno_of([&] { return tcpip::accept(l, nullptr, nullptr); }), EAGAIN);
    EXPECT_GE(now() - start, Duration::millis(100));
    timeval ten{10, 0};
    ASSERT_EQ(tcpip::setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &ten, sizeof ten), 0);
    auto blocked = std::async(std::launch::async, [&] { return errno_of([&] { return tcpip::accept(l, nullptr, nullptr); }); });
    EXPECT_EQ(blocked.wait_for(30ms), std::future_status::timeout);
    // shutdown(SHUT_RD) of a listener stops it (what Linux does, and threaded servers rely on).
    EXPECT_EQ(tcpip::shutdown(l, SHUT_RDWR), 0);
    ASSERT_EQ(blocked.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(blocked.get(), EINVAL);
    // And the kernel agrees on the return values.
    KernelPair kp;
    EXPECT_EQ(::shutdown(kp.listener, SHUT_RDWR), 0);
    EXPECT_EQ(errno_of([&] { return ::accept(kp.listener, nullptr, nullptr); }), EINVAL);
    // Stopped, it can listen again; a client finds it.
    EXPECT_EQ(tcpip::listen(l, 4), 0);
    int c = stream(a);
    sockaddr_in me{};
    socklen_t len = sizeof me;
    ASSERT_EQ(tcpip::getsockname(l, sa(me), &len), 0);
    sockaddr_in to = addr(kIpB, ntohs(me.sin_port));
    EXPECT_EQ(tcpip::connect(c, sa(to), sizeof to), 0) << std::strerror(errno);
    int s = tcpip::accept(l, nullptr, nullptr);
    EXPECT_GE(s, 0);
    for (int fd : {c, s, l}) tcpip::close(fd);
}

TEST_F(TcpApi, CloseWakesABlockedRecvWithEbadf) {
    auto [c, s] = connection(7004);
    auto blocked = std::async(std::launch::async, [&, c = c] {
        char buf[8];
        return errno_of([&] { return tcpip::recv(c, buf, sizeof buf, 0); });
    });
    EXPECT_EQ(blocked.wait_for(30ms), std::future_status::timeout);
    EXPECT_EQ(tcpip::close(c), 0);
    ASSERT_EQ(blocked.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(blocked.get(), EBADF);
    tcpip::close(s);
}

// ---- send() and recv() ----------------------------------------------------------------------------

TEST_F(TcpApi, NonBlockingSendFillsTheBuffersThenEagain) {
    // Small buffers on both sides, so that they fill quickly.
    int l = stream(b);
    int small = 4096;
    ASSERT_EQ(tcpip::setsockopt(l, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
    sockaddr_in at = addr(kIpB, 7005);
    ASSERT_EQ(tcpip::bind(l, sa(at), sizeof at), 0);
    ASSERT_EQ(tcpip::listen(l, 4), 0);
    int c = stream(a);
    ASSERT_EQ(tcpip::setsockopt(c, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    ASSERT_EQ(tcpip::connect(c, sa(at), sizeof at), 0);
    int s = tcpip::accept(l, nullptr, nullptr);
    ASSERT_GE(s, 0);
    EXPECT_EQ(our_int(s, SOL_SOCKET, SO_RCVBUF), 2 * small);  // inherited from the listener

    ASSERT_EQ(tcpip::fcntl(c, F_SETFL, O_NONBLOCK), 0);
    const auto data = pattern(1 << 20, 5);
    std::size_t total = 0;
    ssize_t first = tcpip::send(c, data.data(), 65536, 0);
    ASSERT_GT(first, 0);
    EXPECT_LT(first, 65536);  // a partial send
    total += static_cast<std::size_t>(first);
    // Keep pushing until both buffers and the window are full.
    const Instant give_up = now() + Duration::seconds(10);
    int eagain_in_a_row = 0;
    while (eagain_in_a_row < 20 && now() < give_up) {
        ssize_t n = tcpip::send(c, data.data() + total, 65536, 0);
        if (n > 0) {
            total += static_cast<std::size_t>(n);
            eagain_in_a_row = 0;
        } else {
            ASSERT_EQ(errno, EAGAIN);
            ++eagain_in_a_row;
            std::this_thread::sleep_for(5ms);
        }
    }
    EXPECT_EQ(eagain_in_a_row, 20);
    EXPECT_LE(total, 4 * static_cast<std::size_t>(small));  // our send buffer + the peer's receive buffer
    EXPECT_EQ(our_poll(c, POLLOUT, 50), 0);  // full
    // MSG_DONTWAIT on a blocking socket, and SO_SNDTIMEO on a blocking send: EAGAIN either way.
    ASSERT_EQ(tcpip::fcntl(c, F_SETFL, 0), 0);
    EXPECT_EQ(errno_of([&] { return tcpip::send(c, data.data(), 100, MSG_DONTWAIT); }), EAGAIN);
    timeval limit{0, 100000};
    ASSERT_EQ(tcpip::setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit), 0);
    const Instant start = now();
    EXPECT_EQ(errno_of([&] { return tcpip::send(c, data.data(), 100, 0); }), EAGAIN);
    EXPECT_GE(now() - start, Duration::millis(100));

    // The reader drains it all, byte-exact; the writer becomes writable again.
    std::vector<std::uint8_t> got(total);
    ASSERT_EQ(tcpip::recv(s, got.data(), total, MSG_WAITALL), static_cast<ssize_t>(total));
    EXPECT_TRUE(std::equal(got.begin(), got.end(), data.begin()));
    EXPECT_EQ(our_poll(c, POLLOUT, 5000), POLLOUT);
    for (int fd : {c, s, l}) tcpip::close(fd);
}

TEST_F(TcpApi, PeekWaitallAndRcvtimeo) {
    auto [c, s] = connection(7006);
    char buf[32];
    // Nothing yet: MSG_DONTWAIT says EAGAIN; SO_RCVTIMEO bounds a blocking recv.
    EXPECT_EQ(errno_of([&] { return tcpip::recv(s, buf, sizeof buf, MSG_DONTWAIT); }), EAGAIN);
    timeval limit{0, 100000};
    ASSERT_EQ(tcpip::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit), 0);
    const Instant start = now();
    EXPECT_EQ(errno_of([&] { return tcpip::recv(s, buf, sizeof buf, 0); }), EAGAIN);
    EXPECT_GE(now() - start, Duration::millis(100));
    timeval ten{10, 0};
    ASSERT_EQ(tcpip::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &ten, sizeof ten), 0);

    // MSG_WAITALL gathers pieces sent apart in time.
    auto writer = std::async(std::launch::async, [&, c = c] {
        EXPECT_EQ(tcpip::send(c, "hello ", 6, 0), 6);
        std::this_thread::sleep_for(30ms);
        EXPECT_EQ(tcpip::send(c, "world", 5, 0), 5);
    });
    EXPECT_EQ(tcpip::recv(s, buf, 11, MSG_WAITALL), 11);
    EXPECT_EQ(std::string(buf, 11), "hello world");
    ASSERT_EQ(writer.wait_for(5s), std::future_status::ready);

    // MSG_PEEK leaves the data in place.
    ASSERT_EQ(tcpip::send(c, "peek", 4, 0), 4);
    EXPECT_EQ(tcpip::recv(s, buf, sizeof buf, MSG_PEEK), 4);
    EXPECT_EQ(tcpip::recv(s, buf, 2, MSG_PEEK), 2);
    EXPECT_EQ(tcpip::recv(s, buf, sizeof buf, 0), 4);
    EXPECT_EQ(std::string(buf, 4), "peek");
    // recvfrom names no source on a stream socket (*addrlen = 0); len 0 reads nothing.
    ASSERT_EQ(tcpip::send(c, "x", 1, 0), 1);
    sockaddr_in from{};
    socklen_t from_len = sizeof from;
    EXPECT_EQ(tcpip::recvfrom(s, buf, sizeof buf, 0, sa(from), &from_len), 1);
    EXPECT_EQ(from_len, 0u);
    EXPECT_EQ(tcpip::recv(s, buf, 0, 0), 0);
    // Urgent data is not supported.
    EXPECT_EQ(errno_of([&, c = c] { return tcpip::send(c, "u", 1, MSG_OOB); }), EOPNOTSUPP);
    tcpip::close(c);
    tcpip::close(s);
}

TEST_F(TcpApi, EndOfStreamAfterShutdownWrAsByTheKernel) {
    auto [c, s] = connection(7007);
    KernelPair kp;
    kp.connect();
    const short all = POLLIN | POLLOUT | POLLRDHUP;
    char buf[16];
    // The client shuts its sending side: the server sees POLLIN|POLLRDHUP and reads 0.
    EXPECT_EQ(tcpip::shutdown(c, SHUT_WR), 0);
    EXPECT_EQ(::shutdown(kp.client, SHUT_WR), 0);
    ASSERT_NE(our_poll(s, POLLRDHUP, 5000), 0);
    ASSERT_NE(kernel_poll(kp.server, POLLRDHUP, 5000), 0);
    EXPECT_EQ(our_poll(s, all), kernel_poll(kp.server, all));
    EXPECT_EQ(our_poll(s, all), POLLIN | POLLOUT | POLLRDHUP);
    EXPECT_EQ(our_poll(c, all), kernel_poll(kp.client, all));
    EXPECT_EQ(tcpip::recv(s, buf, sizeof buf, 0), 0);
    EXPECT_EQ(::recv(kp.server, buf, sizeof buf, 0), 0);
    // The other direction still works; the client's own send fails with EPIPE (no SIGPIPE: we
    // never raise signals, and MSG_NOSIGNAL is accepted).
    EXPECT_EQ(tcpip::send(s, "bye", 3, 0), 3);
    EXPECT_EQ(tcpip::recv(c, buf, sizeof buf, 0), 3);
    EXPECT_EQ(errno_of([&, c = c] { return tcpip::send(c, "x", 1, MSG_NOSIGNAL); }), EPIPE);
    EXPECT_EQ(errno_of([&] { return ::send(kp.client, "x", 1, MSG_NOSIGNAL); }), EPIPE);
    EXPECT_EQ(errno_of([&, c = c] { return tcpip::send(c, "x", 1, 0); }), EPIPE);  // and no signal
    // Then the server shuts too: both directions are over, POLLHUP on both ends.
    EXPECT_EQ(tcpip::shutdown(s, SHUT_WR), 0);
    EXPECT_EQ(::shutdown(kp.server, SHUT_WR), 0);
    ASSERT_NE(our_poll(c, POLLRDHUP, 5000), 0);
    ASSERT_NE(kernel_poll(kp.client, POLLRDHUP, 5000), 0);
    EXPECT_EQ(tcpip::recv(c, buf, sizeof buf, 0), 0);
    EXPECT_EQ(::recv(kp.client, buf, sizeof buf, 0), 0);
    std::this_thread::sleep_for(20ms);  // the last ACKs
    EXPECT_EQ(our_poll(c, all), kernel_poll(kp.client, all));
    EXPECT_EQ(our_poll(s, all), kernel_poll(kp.server, all));
    EXPECT_TRUE(our_poll(c, all) & POLLHUP);
    tcpip::close(c);
    tcpip::close(s);
}

TEST_F(TcpApi, ShutdownRdReadsZeroAndPollsRdhup) {
    auto [c, s] = connection(7008);
    KernelPair kp;
    kp.connect();
    const short all = POLLIN | POLLOUT | POLLRDHUP;
    char buf[8];
    EXPECT_EQ(tcpip::shutdown(s, SHUT_RD), 0);
    EXPECT_EQ(::shutdown(kp.server, SHUT_RD), 0);
    EXPECT_EQ(tcpip::recv(s, buf, sizeof buf, 0), 0);
    EXPECT_EQ(::recv(kp.server, buf, sizeof buf, 0), 0);
    EXPECT_EQ(our_poll(s, all), kernel_poll(kp.server, all));
    EXPECT_EQ(errno_of([&, s = s] { return tcpip::shutdown(s, 7); }), EINVAL);
    tcpip::close(c);
    tcpip::close(s);
}

TEST_F(TcpApi, CloseWithUnreadDataResetsThePeerAsByTheKernel) {
    auto [c, s] = connection(7009);
    KernelPair kp;
    kp.connect();
    // The server has data the application never reads, and closes: RST.
    ASSERT_EQ(tcpip::send(c, "unread", 6, 0), 6);
    ASSERT_EQ(::send(kp.client, "unread", 6, 0), 6);
    ASSERT_EQ(our_poll(s, POLLIN, 5000), POLLIN);
    ASSERT_EQ(kernel_poll(kp.server, POLLIN, 5000), POLLIN);
    tcpip::close(s);
    ::close(kp.server.fd);
    kp.server.fd = -1;
    ASSERT_NE(our_poll(c, POLLERR, 5000), 0);
    ASSERT_NE(kernel_poll(kp.client, POLLERR, 5000), 0);
    const short all = POLLIN | POLLOUT | POLLRDHUP;
    EXPECT_EQ(our_poll(c, all), kernel_poll(kp.client, all));
    char buf[8];
    EXPECT_EQ(errno_of([&, c = c] { return tcpip::recv(c, buf, sizeof buf, 0); }), ECONNRESET);
    EXPECT_EQ(errno_of([&] { return ::recv(kp.client, buf, sizeof buf, 0); }), ECONNRESET);
    // Reported once: then end of stream, and sending is a broken pipe.
    EXPECT_EQ(tcpip::recv(c, buf, sizeof buf, 0), 0);
    EXPECT_EQ(::recv(kp.client, buf, sizeof buf, 0), 0);
    EXPECT_EQ(errno_of([&, c = c] { return tcpip::send(c, "x", 1, MSG_NOSIGNAL); }), EPIPE);
    EXPECT_EQ(errno_of([&] { return ::send(kp.client, "x", 1, MSG_NOSIGNAL); }), EPIPE);
    EXPECT_EQ(our_poll(c, all), kernel_poll(kp.client, all));
    tcpip::close(c);
}

TEST_F(TcpApi, LingerZeroResetsAndLingerWithTimeDeliversFirst) {
    {
        auto [c, s] = connection(7010);
        linger lg{1, 0};
        ASSERT_EQ(tcpip::setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
        linger back{};
        socklen_t len = sizeof back;
        ASSERT_EQ(tcpip::getsockopt(c, SOL_SOCKET, SO_LINGER, &back, &len), 0);
        EXPECT_EQ(back.l_onoff, 1);
        EXPECT_EQ(back.l_linger, 0);
        tcpip::close(c);
        char buf[8];
        EXPECT_EQ(errno_of([&, s = s] { return tcpip::recv(s, buf, sizeof buf, 0); }), ECONNRESET);
        tcpip::close(s);
    }
    {
        // A linger time: close() returns once the data and the FIN are acknowledged.
        auto [c, s] = connection(7011);
        linger lg{1, 5};
        ASSERT_EQ(tcpip::setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
        const auto data = pattern(100000, 11);
        ASSERT_EQ(tcpip::send(c, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
        auto reader = std::async(std::launch::async, [&, s = s] {
            std::vector<std::uint8_t> got(data.size());
            EXPECT_EQ(tcpip::recv(s, got.data(), got.size(), MSG_WAITALL), static_cast<ssize_t>(got.size()));
            char extra;
            EXPECT_EQ(tcpip::recv(s, &extra, 1, 0), 0);
            return got == data;
        });
        const Instant start = now();
        EXPECT_EQ(tcpip::close(c), 0);
        EXPECT_LT(now() - start, Duration::seconds(5));
        ASSERT_EQ(reader.wait_for(10s), std::future_status::ready);
        EXPECT_TRUE(reader.get());
        tcpip::close(s);
    }
    {
        // When close() returns, everything is already with the peer: a reader that starts only
        // then finds all the data and the end of the stream without waiting. (close() used to
        // return at once while data still queued behind the window kept the FIN unsent; a
        // program that then exits takes the stack, and that data, with it.)
        auto [c, s] = connection(7012);
        linger lg{1, 5};
        ASSERT_EQ(tcpip::setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
        const auto data = pattern(100000, 12);
        ASSERT_EQ(tcpip::send(c, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
        EXPECT_EQ(tcpip::close(c), 0);
        std::vector<std::uint8_t> got(data.size());
        EXPECT_EQ(tcpip::recv(s, got.data(), got.size(), MSG_DONTWAIT | MSG_WAITALL), static_cast<ssize_t>(got.size()));
        EXPECT_TRUE(got == data);
        char extra;
        EXPECT_EQ(tcpip::recv(s, &extra, 1, MSG_DONTWAIT), 0);
        tcpip::close(s);
    }
}

// ---- Options --------------------------------------------------------------------------------------

TEST_F(TcpApi, OptionsRoundTripAndRejectWhatTheKernelRejects) {
    int fd = stream(a);
    KernelTcp k;
    // Defaults.
    EXPECT_EQ(our_int(fd, IPPROTO_TCP, TCP_NODELAY), kernel_int(k, IPPROTO_TCP, TCP_NODELAY));
    EXPECT_EQ(our_int(fd, IPPROTO_TCP, TCP_MAXSEG), kernel_int(k, IPPROTO_TCP, TCP_MAXSEG));  // 536
    EXPECT_EQ(our_int(fd, SOL_SOCKET, SO_KEEPALIVE), kernel_int(k, SOL_SOCKET, SO_KEEPALIVE));
    EXPECT_EQ(our_int(fd, IPPROTO_TCP, TCP_KEEPIDLE), 7200);
    EXPECT_EQ(our_int(fd, IPPROTO_TCP, TCP_KEEPINTVL), 75);
    EXPECT_EQ(our_int(fd, IPPROTO_TCP, TCP_KEEPCNT), 9);
    // Set and read back, ours and the kernel's.
    struct Opt {
        int level, name, value;
    };
    for (Opt o : {Opt{IPPROTO_TCP, TCP_NODELAY, 1}, Opt{IPPROTO_TCP, TCP_MAXSEG, 1000}, Opt{SOL_SOCKET, SO_KEEPALIVE, 1},
                  Opt{IPPROTO_TCP, TCP_KEEPIDLE, 30}, Opt{IPPROTO_TCP, TCP_KEEPINTVL, 5}, Opt{IPPROTO_TCP, TCP_KEEPCNT, 3},
                  Opt{SOL_SOCKET, SO_REUSEADDR, 1}, Opt{SOL_SOCKET, SO_RCVBUF, 10000}, Opt{SOL_SOCKET, SO_SNDBUF, 10000},
                  Opt{SOL_SOCKET, SO_RCVBUF, 1}, Opt{SOL_SOCKET, SO_SNDBUF, 1}}) {
        ASSERT_EQ(tcpip::setsockopt(fd, o.level, o.name, &o.value, sizeof o.value), 0) << o.name;
        ASSERT_EQ(::setsockopt(k, o.level, o.name, &o.value, sizeof o.value), 0) << o.name;
        EXPECT_EQ(our_int(fd, o.level, o.name), kernel_int(k, o.level, o.name)) << o.level << " " << o.name;
    }
    EXPECT_EQ(our_int(fd, SOL_SOCKET, SO_RCVBUF), 2304);  // Linux's minimum
    // Out of range, unknown, read-only, too short: the kernel's errno.
    for (Opt o : {Opt{IPPROTO_TCP, TCP_MAXSEG, 50}, Opt{IPPROTO_TCP, TCP_MAXSEG, 40000}, Opt{IPPROTO_TCP, TCP_KEEPIDLE, 0},
                  Opt{IPPROTO_TCP, TCP_KEEPINTVL, 40000}, Opt{IPPROTO_TCP, TCP_KEEPCNT, 0}, Opt{IPPROTO_TCP, TCP_KEEPCNT, 128},
                  Opt{IPPROTO_TCP, 9999, 1}, Opt{IPPROTO_TCP, TCP_INFO, 1}, Opt{SOL_SOCKET, SO_ERROR, 1},
                  Opt{SOL_SOCKET, SO_TYPE, 1}}) {
        const int kernel = errno_of([&] { return ::setsockopt(k, o.level, o.name, &o.value, sizeof o.value); });
        EXPECT_NE(kernel, 0) << o.name;
        EXPECT_EQ(errno_of([&] { return tcpip::setsockopt(fd, o.level, o.name, &o.value, sizeof o.value); }), kernel)
            << o.level << " " << o.name << " " << o.value;
    }
    short two = 1;
    EXPECT_EQ(errno_of([&] { return tcpip::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &two, sizeof two); }),
              errno_of([&] { return ::setsockopt(k, IPPROTO_TCP, TCP_NODELAY, &two, sizeof two); }));
    int v;
    socklen_t len = sizeof v;
    EXPECT_EQ(errno_of([&] { return tcpip::getsockopt(fd, IPPROTO_TCP, 9999, &v, &len); }),
              errno_of([&] { return ::getsockopt(k, IPPROTO_TCP, 9999, &v, &len); }));
    // TCP options on a datagram socket: not its protocol's.
    int u = a.socket(AF_INET, SOCK_DGRAM, 0);
    KernelSocket ku;
    int one = 1;
    EXPECT_EQ(errno_of([&] { return tcpip::setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); }),
              errno_of([&] { return ::setsockopt(ku, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); }));
    tcpip::close(u);
    tcpip::close(fd);
}

// TCP_CONGESTION takes and gives an algorithm's name, as Linux's: "cubic" is the default (as
// Linux's), "reno" and "cubic" are known to both, and the name read back is the one set on both;
// an unknown name is ENOENT on both, and leaves the algorithm as it was.
TEST_F(TcpApi, CongestionControlIsChosenByNameAsOnLinux) {
    int fd = stream(a);
    KernelTcp k;
    auto name_of = [](auto get) {
        char name[16] = {};
        socklen_t len = sizeof name;
        EXPECT_EQ(get(name, &len), 0);
        return std::string(name);
    };
    auto ours = [&] { return name_of([&](char* n, socklen_t* l) { return tcpip::getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, n, l); }); };
    auto kernels = [&] { return name_of([&](char* n, socklen_t* l) { return ::getsockopt(k, IPPROTO_TCP, TCP_CONGESTION, n, l); }); };
    EXPECT_EQ(ours(), "cubic");
    for (const std::string name : {"reno", "cubic"}) {
        ASSERT_EQ(tcpip::setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name.data(), static_cast<socklen_t>(name.size())), 0);
        ASSERT_EQ(::setsockopt(k, IPPROTO_TCP, TCP_CONGESTION, name.data(), static_cast<socklen_t>(name.size())), 0);
        EXPECT_EQ(ours(), name);
        EXPECT_EQ(ours(), kernels());
    }
    const char bogus[] = "no-such-cc";
    EXPECT_EQ(errno_of([&] { return tcpip::setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, bogus, sizeof bogus); }), ENOENT);
    EXPECT_EQ(errno_of([&] { return ::setsockopt(k, IPPROTO_TCP, TCP_CONGESTION, bogus, sizeof bogus); }), ENOENT);
    const char newreno[] = "newreno";  // not a Linux name either
    EXPECT_EQ(errno_of([&] { return tcpip::setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, newreno, sizeof newreno); }), ENOENT);
    EXPECT_EQ(ours(), "cubic");
    tcpip::close(fd);
}

TEST_F(TcpApi, MaxsegBeforeConnectLimitsBothEndsAndChildrenInheritOptions) {
    int l = stream(b);
    int one = 1, idle = 42;
    ASSERT_EQ(tcpip::setsockopt(l, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
    ASSERT_EQ(tcpip::setsockopt(l, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one), 0);
    ASSERT_EQ(tcpip::setsockopt(l, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle), 0);
    sockaddr_in at = addr(kIpB, 7012);
    ASSERT_EQ(tcpip::bind(l, sa(at), sizeof at), 0);
    ASSERT_EQ(tcpip::listen(l, 4), 0);
    int c = stream(a);
    int mss = 1000;
    ASSERT_EQ(tcpip::setsockopt(c, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss), 0);
    ASSERT_EQ(tcpip::connect(c, sa(at), sizeof at), 0);
    int s = tcpip::accept(l, nullptr, nullptr);
    ASSERT_GE(s, 0);
    // Timestamps are on (both stacks offer them, as Linux): a segment holds 1000 - 12 bytes of
    // data, and TCP_MAXSEG says so, as Linux's mss_cache.
    EXPECT_EQ(our_int(c, IPPROTO_TCP, TCP_MAXSEG), 988);
    EXPECT_EQ(our_int(s, IPPROTO_TCP, TCP_MAXSEG), 988);  // our SYN said 1000
    EXPECT_EQ(our_int(s, IPPROTO_TCP, TCP_NODELAY), 1);
    EXPECT_EQ(our_int(s, SOL_SOCKET, SO_KEEPALIVE), 1);
    EXPECT_EQ(our_int(s, IPPROTO_TCP, TCP_KEEPIDLE), 42);
    EXPECT_EQ(our_int(c, IPPROTO_TCP, TCP_NODELAY), 0);
    for (int fd : {c, s, l}) tcpip::close(fd);
}

// Keepalive set before connect() (TcpLayer arms its timer when the connection is established):
// a peer that falls silent is declared dead after idle + count * interval, and the blocked recv
// says ETIMEDOUT.
TEST_F(TcpApi, KeepaliveDetectsASilentPeer) {
    int c = stream(a);
    int one = 1, two = 2;
    ASSERT_EQ(tcpip::setsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one), 0);
    ASSERT_EQ(tcpip::setsockopt(c, IPPROTO_TCP, TCP_KEEPIDLE, &one, sizeof one), 0);
    ASSERT_EQ(tcpip::setsockopt(c, IPPROTO_TCP, TCP_KEEPINTVL, &one, sizeof one), 0);
    ASSERT_EQ(tcpip::setsockopt(c, IPPROTO_TCP, TCP_KEEPCNT, &two, sizeof two), 0);
    auto [client, s] = connection(7015, c);
    b.stop_thread();  // the peer falls silent
    const Instant start = now();
    char buf[8];
    EXPECT_EQ(errno_of([&, client = client] { return tcpip::recv(client, buf, sizeof buf, 0); }), ETIMEDOUT);
    const Duration waited = now() - start;
    EXPECT_GE(waited, Duration::millis(2500));
    EXPECT_LT(waited, Duration::seconds(8));
    b.start_thread();
    tcpip::close(client);
    tcpip::close(s);
}

TEST_F(TcpApi, TcpInfoReportsStateRttAndWindowsInLinuxUnits) {
    auto [c, s] = connection(7013);
    // A few round trips, so that the RTT has samples.
    char buf[256];
    for (int i = 0; i < 5; ++i) {
        ASSERT_EQ(tcpip::send(c, buf, sizeof buf, 0), static_cast<ssize_t>(sizeof buf));
        ASSERT_EQ(tcpip::recv(s, buf, sizeof buf, MSG_WAITALL), static_cast<ssize_t>(sizeof buf));
        ASSERT_EQ(tcpip::send(s, buf, 1, 0), 1);
        ASSERT_EQ(tcpip::recv(c, buf, 1, 0), 1);
    }
    tcp_info ti{};
    socklen_t len = sizeof ti;
    ASSERT_EQ(tcpip::getsockopt(c, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
    EXPECT_EQ(len, sizeof ti);
    EXPECT_EQ(ti.tcpi_state, TCP_ESTABLISHED);
    EXPECT_GT(ti.tcpi_rtt, 0u);
    EXPECT_LT(ti.tcpi_rtt, 1000000u);  // microseconds: well under a second on a memory link
    EXPECT_GE(ti.tcpi_rto, 200000u);   // at least the 200 ms minimum
    EXPECT_EQ(ti.tcpi_snd_mss, 1448u);  // 1460 less the timestamps option, as Linux
    EXPECT_EQ(ti.tcpi_options & (TCPI_OPT_SACK | TCPI_OPT_TIMESTAMPS), TCPI_OPT_SACK | TCPI_OPT_TIMESTAMPS);
    EXPECT_EQ(ti.tcpi_reordering, 3u);  // Linux's initial tp->reordering
    EXPECT_EQ(ti.tcpi_lost, 0u);
    EXPECT_EQ(ti.tcpi_sacked, 0u);
    EXPECT_GE(ti.tcpi_snd_cwnd, 2u);   // segments, not bytes
    EXPECT_LT(ti.tcpi_snd_cwnd, 1000u);
    EXPECT_EQ(ti.tcpi_snd_ssthresh, 0x7fffffffu);  // no loss yet
    EXPECT_EQ(ti.tcpi_total_retrans, 0u);
    EXPECT_EQ(ti.tcpi_unacked, 0u);
    // The kernel reports ESTABLISHED with the same number.
    KernelPair kp;
    kp.connect();
    tcp_info kti{};
    len = sizeof kti;
    ASSERT_EQ(::getsockopt(kp.client, IPPROTO_TCP, TCP_INFO, &kti, &len), 0);
    EXPECT_EQ(kti.tcpi_state, ti.tcpi_state);
    // The kernel's loopback pair negotiated SACK and timestamps too (its defaults, and ours).
    EXPECT_EQ(kti.tcpi_options & (TCPI_OPT_SACK | TCPI_OPT_TIMESTAMPS), ti.tcpi_options & (TCPI_OPT_SACK | TCPI_OPT_TIMESTAMPS));
    // A listener, and a short buffer (the first bytes: the state).
    int l = listening(7014);
    std::uint8_t state = 0;
    len = 1;
    ASSERT_EQ(tcpip::getsockopt(l, IPPROTO_TCP, TCP_INFO, &state, &len), 0);
    EXPECT_EQ(len, 1u);
    EXPECT_EQ(state, TCP_LISTEN);
    // After a shutdown, the states of the closing sequence.
    ASSERT_EQ(tcpip::shutdown(c, SHUT_WR), 0);
    ASSERT_EQ(tcpip::recv(s, buf, sizeof buf, 0), 0);
    len = sizeof ti;
    ASSERT_EQ(tcpip::getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
    EXPECT_EQ(ti.tcpi_state, TCP_CLOSE_WAIT);
    for (int fd : {c, s, l}) tcpip::close(fd);
}

// ---- Many at once -----------------------------------------------------------------------------------

// 50 client threads in a, each with its own connection, echo through a threaded server in b.
TEST_F(TcpApi, FiftyConcurrentConnectionsEchoThroughAThreadedServer) {
    constexpr int kClients = 50;
    constexpr int kMessages = 20;
    int l = listening(7100, 64);
    std::atomic<int> served{0};
    std::thread acceptor([&] {
        std::vector<std::thread> handlers;
        for (int i = 0; i < kClients; ++i) {
            int s = tcpip::accept(l, nullptr, nullptr);
            if (s < 0) break;
            handlers.emplace_back([&, s] {
                std::vector<char> buf(4096);
                for (;;) {
                    ssize_t n = tcpip::recv(s, buf.data(), buf.size(), 0);
                    if (n <= 0) break;
                    if (tcpip::send(s, buf.data(), static_cast<std::size_t>(n), 0) != n) break;
                }
                tcpip::close(s);
                ++served;
            });
        }
        for (auto& t : handlers) t.join();
    });
    std::atomic<int> ok{0};
    std::vector<std::thread> clients;
    for (int i = 0; i < kClients; ++i) {
        clients.emplace_back([&, i] {
            int c = a.socket(AF_INET, SOCK_STREAM, 0);
            guard_ours(c);
            sockaddr_in to = addr(kIpB, 7100);
            if (tcpip::connect(c, sa(to), sizeof to) != 0) {
                ADD_FAILURE() << "client " << i << ": connect: " << std::strerror(errno);
                tcpip::close(c);
                return;
            }
            bool good = true;
            for (int m = 0; m < kMessages && good; ++m) {
                const auto msg = pattern(1 + (i * 97 + m * 131) % 3000, static_cast<std::uint64_t>(i * 1000 + m));
                std::vector<std::uint8_t> back(msg.size());
                good = tcpip::send(c, msg.data(), msg.size(), 0) == static_cast<ssize_t>(msg.size()) &&
                       tcpip::recv(c, back.data(), back.size(), MSG_WAITALL) == static_cast<ssize_t>(back.size()) &&
                       back == msg;
            }
            char end;
            good = good && tcpip::shutdown(c, SHUT_WR) == 0 && tcpip::recv(c, &end, 1, 0) == 0;
            if (good) ++ok;
            tcpip::close(c);
        });
    }
    for (auto& t : clients) t.join();
    acceptor.join();
    EXPECT_EQ(ok.load(), kClients);
    EXPECT_EQ(served.load(), kClients);
    tcpip::close(l);
}

// 10 MB each way at once on one connection, byte-exact (hashes compared).
TEST_F(TcpApi, TenMegabytesEachWayAreByteExact) {
    constexpr std::size_t kBytes = 10 * 1024 * 1024;
    auto [c, s] = connection(7200);
    const auto up = pattern(kBytes, 1), down = pattern(kBytes, 2);
    Fnv up_sent, down_sent;
    up_sent.add(up.data(), up.size());
    down_sent.add(down.data(), down.size());

    auto sender = [](int fd, const std::vector<std::uint8_t>& data) {
        std::size_t off = 0;
        while (off < data.size()) {
            // Uneven chunks, so that sends and segments do not line up.
            const std::size_t chunk = std::min<std::size_t>(data.size() - off, 10000 + off % 70001);
            ssize_t n = tcpip::send(fd, data.data() + off, chunk, 0);
            if (n <= 0) return false;
            off += static_cast<std::size_t>(n);
        }
        return tcpip::shutdown(fd, SHUT_WR) == 0;
    };
    auto receiver = [](int fd) {
        Fnv hash;
        std::size_t total = 0;
        std::vector<std::uint8_t> buf(65536);
        for (;;) {
            ssize_t n = tcpip::recv(fd, buf.data(), 1 + total % buf.size(), 0);
            if (n < 0) return std::pair{total, std::uint64_t{0}};
            if (n == 0) break;
            hash.add(buf.data(), static_cast<std::size_t>(n));
            total += static_cast<std::size_t>(n);
        }
        return std::pair{total, hash.h};
    };
    const Instant start = now();
    auto send_up = std::async(std::launch::async, sender, c, std::cref(up));
    auto send_down = std::async(std::launch::async, sender, s, std::cref(down));
    auto recv_up = std::async(std::launch::async, receiver, s);
    auto recv_down = std::async(std::launch::async, receiver, c);
    for (auto* f : {&send_up, &send_down}) {
        ASSERT_EQ(f->wait_for(60s), std::future_status::ready);
        EXPECT_TRUE(f->get());
    }
    for (auto* f : {&recv_up, &recv_down}) ASSERT_EQ(f->wait_for(60s), std::future_status::ready);
    const auto [up_total, up_hash] = recv_up.get();
    const auto [down_total, down_hash] = recv_down.get();
    EXPECT_EQ(up_total, kBytes);
    EXPECT_EQ(down_total, kBytes);
    EXPECT_EQ(up_hash, up_sent.h);
    EXPECT_EQ(down_hash, down_sent.h);
    std::printf("10 MB each way in %.2f s\n", (now() - start).seconds_f());
    tcpip::close(c);
    tcpip::close(s);
}

}  // namespace
}  // namespace tcpip::socket_test
