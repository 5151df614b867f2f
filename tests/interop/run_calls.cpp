// run-calls: the socket calls that scripting languages do not reach (pselect, ppoll, epoll_pwait,
// dup3, accept4's flags, fcntl and FIONBIO, getsockopt), made one by one on sockets of tcpip-run's
// shim, with a kernel descriptor (a pipe) in every wait beside them. tests/interop/run_test.cpp
// runs it under tcpip-run:
//
//     run-calls KERNEL_IP ECHO_PORT CLOSED_PORT LISTEN_PORT READY_FILE
//
// ECHO_PORT is an echo server on the kernel's side (socat ... EXEC:cat), CLOSED_PORT a port where
// nothing listens there. After the client part, it listens on LISTEN_PORT of our address, makes
// READY_FILE, and accepts two connections from the kernel's side: the first with accept4's
// SOCK_NONBLOCK | SOCK_CLOEXEC, the second without flags; each is answered with one line.
//
// Each check prints "ok NAME" or "FAIL NAME: what was seen"; the test looks for every "ok" line it
// expects and for no "FAIL". Built without sanitizers (meson.build): a sanitizer's runtime must be
// the first library loaded, and tcpip-run puts the shim there.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

namespace {

int failures = 0;

void check(const char* name, bool ok, const std::string& seen = "") {
    if (ok) {
        std::printf("ok %s\n", name);
    } else {
        std::printf("FAIL %s: %s (errno %s)\n", name, seen.c_str(), std::strerror(errno));
        ++failures;
    }
    std::fflush(stdout);
}

sockaddr_in address(const char* ip, int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

timespec in_ms(long ms) { return timespec{ms / 1000, (ms % 1000) * 1000000}; }

long elapsed_ms(std::chrono::steady_clock::time_point since) {
    return static_cast<long>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - since).count());
}

int int_option(int fd, int level, int name) {
    int value = -1;
    socklen_t len = sizeof value;
    if (getsockopt(fd, level, name, &value, &len) < 0) return -1000 - errno;
    return value;
}

// Reads exactly `n` bytes from a blocking socket (or "" on EOF or error).
std::string read_exact(int fd, std::size_t n) {
    std::string out(n, '\0');
    std::size_t got = 0;
    while (got < n) {
        const ssize_t r = read(fd, out.data() + got, n - got);
        if (r <= 0) return "";
        got += static_cast<std::size_t>(r);
    }
    return out;
}

volatile sig_atomic_t g_signals = 0;
void on_signal(int) { g_signals = g_signals + 1; }

}  // namespace

int main(int argc, char** argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: run-calls KERNEL_IP ECHO_PORT CLOSED_PORT LISTEN_PORT READY_FILE\n");
        return 2;
    }
    const char* kernel = argv[1];
    const int echo_port = std::atoi(argv[2]), closed_port = std::atoi(argv[3]), listen_port = std::atoi(argv[4]);
    int pipe_fds[2];
    if (pipe(pipe_fds) < 0) return 2;
    const int pipe_in = pipe_fds[0], pipe_out = pipe_fds[1];

    // ---- fcntl, a non-blocking connect, getsockopt ----
    const int s = socket(AF_INET, SOCK_STREAM, 0);
    check("socket", s >= 0);
    check("fcntl F_GETFL blocking", (fcntl(s, F_GETFL) & O_NONBLOCK) == 0);
    check("fcntl F_GETFD no FD_CLOEXEC", fcntl(s, F_GETFD) == 0);
    check("fcntl F_SETFD FD_CLOEXEC", fcntl(s, F_SETFD, FD_CLOEXEC) == 0 && fcntl(s, F_GETFD) == FD_CLOEXEC);
    check("fcntl F_SETFL O_NONBLOCK", fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK) == 0 &&
                                          (fcntl(s, F_GETFL) & O_NONBLOCK) != 0);
    const sockaddr_in echo = address(kernel, echo_port);
    const int c = connect(s, reinterpret_cast<const sockaddr*>(&echo), sizeof echo);
    check("connect EINPROGRESS", c == -1 && errno == EINPROGRESS, "connect returned " + std::to_string(c));
    {
        fd_set w;
        FD_ZERO(&w);
        FD_SET(s, &w);
        const timespec five = in_ms(5000);
        const int n = pselect(s + 1, nullptr, &w, nullptr, &five, nullptr);
        check("pselect writable after connect", n == 1 && FD_ISSET(s, &w), "pselect returned " + std::to_string(n));
    }
    check("getsockopt SO_ERROR 0", int_option(s, SOL_SOCKET, SO_ERROR) == 0);
    check("getsockopt SO_TYPE SOCK_STREAM", int_option(s, SOL_SOCKET, SO_TYPE) == SOCK_STREAM);
    check("getsockopt TCP_NODELAY 0", int_option(s, IPPROTO_TCP, TCP_NODELAY) == 0);
    const int one = 1, zero = 0;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    check("TCP_NODELAY set 1, got 1", int_option(s, IPPROTO_TCP, TCP_NODELAY) == 1);
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &zero, sizeof zero);
    check("TCP_NODELAY set 0, got 0", int_option(s, IPPROTO_TCP, TCP_NODELAY) == 0);
    char byte;
    check("recv EAGAIN when non-blocking", recv(s, &byte, 1, 0) == -1 && errno == EAGAIN);

    // ---- ioctl FIONBIO ----
    int off = 0, on = 1;
    check("ioctl FIONBIO 0", ioctl(s, FIONBIO, &off) == 0 && (fcntl(s, F_GETFL) & O_NONBLOCK) == 0);
    check("ioctl FIONBIO 1", ioctl(s, FIONBIO, &on) == 0 && (fcntl(s, F_GETFL) & O_NONBLOCK) != 0);

    // ---- ppoll over our socket and a pipe ----
    {
        pollfd fds[2] = {{s, POLLIN, 0}, {pipe_in, POLLIN, 0}};
        const timespec short_wait = in_ms(100), long_wait = in_ms(5000);
        const auto start = std::chrono::steady_clock::now();
        int n = ppoll(fds, 2, &short_wait, nullptr);
        check("ppoll times out", n == 0 && elapsed_ms(start) >= 90, "ppoll returned " + std::to_string(n));
        send(s, "ppoll", 5, 0);
        n = ppoll(fds, 2, &long_wait, nullptr);
        check("ppoll our socket readable", n == 1 && fds[0].revents == POLLIN && fds[1].revents == 0);
        ioctl(s, FIONBIO, &off);
        check("ppoll's data", read_exact(s, 5) == "ppoll");
        [[maybe_unused]] auto w = write(pipe_out, "p", 1);
        n = ppoll(fds, 2, &long_wait, nullptr);
        check("ppoll the pipe readable", n == 1 && fds[0].revents == 0 && fds[1].revents == POLLIN);
        [[maybe_unused]] auto r = read(pipe_in, &byte, 1);
    }

    // ---- pselect over our socket and a pipe ----
    {
        fd_set rs;
        const timespec five = in_ms(5000);
        send(s, "pselect", 7, 0);
        FD_ZERO(&rs);
        FD_SET(s, &rs);
        FD_SET(pipe_in, &rs);
        int n = pselect(std::max(s, pipe_in) + 1, &rs, nullptr, nullptr, &five, nullptr);
        check("pselect our socket readable", n == 1 && FD_ISSET(s, &rs) && !FD_ISSET(pipe_in, &rs));
        check("pselect's data", read_exact(s, 7) == "pselect");
        [[maybe_unused]] auto w = write(pipe_out, "p", 1);
        FD_ZERO(&rs);
        FD_SET(s, &rs);
        FD_SET(pipe_in, &rs);
        n = pselect(std::max(s, pipe_in) + 1, &rs, nullptr, nullptr, &five, nullptr);
        check("pselect the pipe readable", n == 1 && !FD_ISSET(s, &rs) && FD_ISSET(pipe_in, &rs));
        [[maybe_unused]] auto r = read(pipe_in, &byte, 1);
    }

    // ---- epoll_pwait over our socket and a pipe ----
    {
        const int ep = epoll_create1(EPOLL_CLOEXEC);
        check("epoll_create1 EPOLL_CLOEXEC", ep >= 0 && fcntl(ep, F_GETFD) == FD_CLOEXEC);
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = 1;
        const int a = epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
        ev.data.u64 = 2;
        const int b = epoll_ctl(ep, EPOLL_CTL_ADD, pipe_in, &ev);
        check("epoll_ctl ADD", a == 0 && b == 0);
        epoll_event got[4];
        int n = epoll_pwait(ep, got, 4, 100, nullptr);
        check("epoll_pwait times out", n == 0, "epoll_pwait returned " + std::to_string(n));
        send(s, "epoll", 5, 0);
        n = epoll_pwait(ep, got, 4, 5000, nullptr);
        check("epoll_pwait our socket readable", n == 1 && got[0].data.u64 == 1 && got[0].events == EPOLLIN);
        check("epoll's data", read_exact(s, 5) == "epoll");
        [[maybe_unused]] auto w = write(pipe_out, "p", 1);
        n = epoll_pwait(ep, got, 4, 5000, nullptr);
        check("epoll_pwait the pipe readable", n == 1 && got[0].data.u64 == 2 && got[0].events == EPOLLIN);
        [[maybe_unused]] auto r = read(pipe_in, &byte, 1);
        close(ep);
    }

    // ---- The p* calls' signal mask: a signal pending but blocked, which the call's mask lets in,
    // interrupts the call at once (EINTR), as the kernel's calls do ----
    {
        struct sigaction action{};
        action.sa_handler = on_signal;
        sigaction(SIGUSR1, &action, nullptr);
        sigset_t blocked, open;
        sigemptyset(&blocked);
        sigaddset(&blocked, SIGUSR1);
        sigemptyset(&open);
        sigprocmask(SIG_BLOCK, &blocked, nullptr);
        const timespec five = in_ms(5000);
        pollfd fds[2] = {{s, POLLIN, 0}, {pipe_in, POLLIN, 0}};
        fd_set rs;
        epoll_event got[1];
        const int ep = epoll_create1(0);
        epoll_event ev{};
        ev.events = EPOLLIN;
        epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
        for (const char* call : {"ppoll", "pselect", "epoll_pwait"}) {
            g_signals = 0;
            raise(SIGUSR1);  // pending: SIGUSR1 is blocked
            const auto start = std::chrono::steady_clock::now();
            int n;
            if (std::strcmp(call, "ppoll") == 0) {
                n = ppoll(fds, 2, &five, &open);
            } else if (std::strcmp(call, "pselect") == 0) {
                FD_ZERO(&rs);
                FD_SET(s, &rs);
                n = pselect(s + 1, &rs, nullptr, nullptr, &five, &open);
            } else {
                n = epoll_pwait(ep, got, 1, 5000, &open);
            }
            const std::string name = std::string(call) + " EINTR from a signal its mask lets in";
            check(name.c_str(), n == -1 && errno == EINTR && g_signals == 1 && elapsed_ms(start) < 2000,
                  "returned " + std::to_string(n) + " after " + std::to_string(elapsed_ms(start)) + " ms, " +
                      std::to_string(g_signals) + " signals");
        }
        close(ep);
        sigprocmask(SIG_UNBLOCK, &blocked, nullptr);
    }

    // ---- dup3 over a kernel descriptor's number, with and without O_CLOEXEC ----
    {
        const int spare = open("/dev/null", O_RDONLY), spare2 = open("/dev/null", O_RDONLY);
        check("dup3 O_CLOEXEC", dup3(s, spare, O_CLOEXEC) == spare && fcntl(spare, F_GETFD) == FD_CLOEXEC);
        check("dup3 no flags", dup3(s, spare2, 0) == spare2 && fcntl(spare2, F_GETFD) == 0);
        check("dup3 onto itself EINVAL", dup3(s, s, 0) == -1 && errno == EINVAL);
        check("dup3 shares the flags", (fcntl(spare, F_GETFL) & O_NONBLOCK) == 0);
        send(spare, "via dup3", 8, 0);
        check("dup3's copy sends", read_exact(s, 8) == "via dup3");
        send(s, "to dup3", 7, 0);
        check("dup3's copy receives", read_exact(spare2, 7) == "to dup3");
        // The copies in the waits, named by their own numbers: not readable, and then readable.
        const timespec short_wait = in_ms(100), five = in_ms(5000);
        pollfd fds[1] = {{spare, POLLIN, 0}};
        check("ppoll on a dup3 copy times out", ppoll(fds, 1, &short_wait, nullptr) == 0);
        fd_set rs;
        FD_ZERO(&rs);
        FD_SET(spare2, &rs);
        check("pselect on a dup3 copy times out", pselect(spare2 + 1, &rs, nullptr, nullptr, &short_wait, nullptr) == 0);
        send(s, "x", 1, 0);
        check("ppoll on a dup3 copy", ppoll(fds, 1, &five, nullptr) == 1 && fds[0].revents == POLLIN);
        FD_ZERO(&rs);
        FD_SET(spare2, &rs);
        const int n = pselect(spare2 + 1, &rs, nullptr, nullptr, &five, nullptr);
        check("pselect on a dup3 copy", n == 1 && FD_ISSET(spare2, &rs), "pselect returned " + std::to_string(n));
        check("the byte", read_exact(spare2, 1) == "x");
        close(spare);
        close(spare2);
        send(s, "after", 5, 0);
        check("the original outlives its dup3 copies", read_exact(s, 5) == "after");
    }

    // ---- 256 KiB through the echo, driven by epoll_pwait (EPOLLIN | EPOLLOUT), non-blocking ----
    {
        std::string data(256 * 1024, '\0');
        std::mt19937 generator(16);
        for (auto& ch : data) ch = static_cast<char>(generator());
        ioctl(s, FIONBIO, &on);
        const int ep = epoll_create1(0);
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT;
        epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
        std::string back;
        std::size_t sent = 0;
        const auto start = std::chrono::steady_clock::now();
        char buffer[16384];
        while (back.size() < data.size() && elapsed_ms(start) < 20000) {
            epoll_event got[1];
            if (epoll_pwait(ep, got, 1, 1000, nullptr) < 1) continue;
            if ((got[0].events & EPOLLOUT) && sent < data.size()) {
                const ssize_t n = send(s, data.data() + sent, std::min<std::size_t>(data.size() - sent, 32768), 0);
                if (n > 0) sent += static_cast<std::size_t>(n);
                if (sent == data.size()) {
                    ev.events = EPOLLIN;
                    epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev);
                }
            }
            if (got[0].events & EPOLLIN) {
                const ssize_t n = recv(s, buffer, sizeof buffer, 0);
                if (n > 0) back.append(buffer, static_cast<std::size_t>(n));
            }
        }
        check("256 KiB echoed byte-exact", back == data, std::to_string(back.size()) + " bytes back");
        close(ep);
        close(s);
    }

    // ---- A refused connection: SO_ERROR says ECONNREFUSED once, then 0 ----
    {
        const int r = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        const sockaddr_in closed = address(kernel, closed_port);
        connect(r, reinterpret_cast<const sockaddr*>(&closed), sizeof closed);
        pollfd fds[1] = {{r, POLLOUT, 0}};
        const timespec five = in_ms(5000);
        const int n = ppoll(fds, 1, &five, nullptr);
        check("ppoll reports the refused connect", n == 1 && (fds[0].revents & POLLERR) != 0);
        const int error = int_option(r, SOL_SOCKET, SO_ERROR);
        check("getsockopt SO_ERROR ECONNREFUSED", error == ECONNREFUSED, "SO_ERROR " + std::to_string(error));
        check("getsockopt SO_ERROR cleared", int_option(r, SOL_SOCKET, SO_ERROR) == 0);
        close(r);
    }

    // ---- A listener made with socket()'s flags; accept4 with and without them ----
    {
        const int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        check("socket SOCK_NONBLOCK | SOCK_CLOEXEC",
              (fcntl(l, F_GETFL) & O_NONBLOCK) != 0 && fcntl(l, F_GETFD) == FD_CLOEXEC);
        setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        const sockaddr_in any = address("0.0.0.0", listen_port);
        check("bind and listen", bind(l, reinterpret_cast<const sockaddr*>(&any), sizeof any) == 0 && listen(l, 8) == 0);
        check("accept4 EAGAIN with nobody waiting", accept4(l, nullptr, nullptr, 0) == -1 && errno == EAGAIN);
        close(open(argv[5], O_WRONLY | O_CREAT, 0644));  // the kernel's side may connect now
        for (int flags : {SOCK_NONBLOCK | SOCK_CLOEXEC, 0}) {
            pollfd fds[2] = {{l, POLLIN, 0}, {pipe_in, POLLIN, 0}};
            const timespec thirty = in_ms(30000);
            if (ppoll(fds, 2, &thirty, nullptr) != 1) {
                check("a connection came", false);
                break;
            }
            sockaddr_in peer{};
            socklen_t len = sizeof peer;
            const int a = accept4(l, reinterpret_cast<sockaddr*>(&peer), &len, flags);
            char ip[INET_ADDRSTRLEN] = "";
            inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
            const bool nonblock = (fcntl(a, F_GETFL) & O_NONBLOCK) != 0, cloexec = fcntl(a, F_GETFD) == FD_CLOEXEC;
            if (flags != 0) {
                check("accept4 SOCK_NONBLOCK | SOCK_CLOEXEC", a >= 0 && nonblock && cloexec);
            } else {
                check("accept4 without flags", a >= 0 && !nonblock && !cloexec);
            }
            check("accept4's peer is the kernel", std::strcmp(ip, kernel) == 0, ip);
            const std::string line = std::string("accepted ") + (nonblock ? "nonblock" : "block") +
                                     (cloexec ? " cloexec" : "") + "\n";
            ioctl(a, FIONBIO, &off);
            send(a, line.data(), line.size(), 0);
            close(a);
        }
        close(l);
    }
    std::printf("%d failed\n", failures);
    return failures == 0 ? 0 : 1;
}
