// The facade's small helpers, shared by runtime.cpp (creation, UDP, poll) and runtime_tcp.cpp:
// errno returns, addresses in and out of struct sockaddr_in, real-time deadlines, and Linux's
// socket buffer arithmetic. Internal to stack/socket/: applications include socket.h.
#pragma once

#include <poll.h>
#include <signal.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <optional>

#include "stack/core/address.h"
#include "stack/core/result.h"
#include "stack/core/time.h"
#include "stack/socket/runtime.h"

namespace tcpip::posix {

// Linux's defaults and bounds for SO_RCVBUF / SO_SNDBUF (net.core.rmem_max, wmem_max, and
// SOCK_MIN_RCVBUF / SOCK_MIN_SNDBUF, which are 2048 + sizeof(struct sk_buff) rounded: 2304).
inline constexpr int kRmemMax = 212992;
inline constexpr int kWmemMax = 212992;
inline constexpr int kMinRcvbuf = 2304;
inline constexpr int kMinSndbuf = 2 * 2304;

// The POSIX failure convention: errno set, -1 returned.
inline int fail(int error) {
    errno = error;
    return -1;
}

// API timeouts are real time, whatever clock the stack runs on (runtime.h).
inline Instant wall_now() { return Runtime::system_clock().now(); }

// The kernel's poll for a wait of `timeout_ms` (-1: forever) with `sigmask` as the thread's signal
// mask while it sleeps, set and restored atomically (ppoll); null: the mask as it is (poll).
inline int kernel_poll(pollfd* fds, nfds_t n, int timeout_ms, const sigset_t* sigmask) {
    if (sigmask == nullptr) return ::poll(fds, n, timeout_ms);
    timespec ts{timeout_ms / 1000, static_cast<long>(timeout_ms % 1000) * 1000000L};
    return ::ppoll(fds, n, timeout_ms < 0 ? nullptr : &ts, sigmask);
}

inline std::chrono::microseconds to_chrono(Duration d) {
    return std::chrono::microseconds(std::max<std::int64_t>(d.total_micros(), 0));
}

// When a call that may wait gives up: now (do not wait), never (nullopt), or after `timeout`.
// `timeout` follows runtime.h: Duration::max() waits forever, Duration::zero() not at all.
inline std::optional<Instant> deadline_after(bool dont_wait, Duration timeout) {
    if (dont_wait || timeout == Duration::zero()) return wall_now();
    if (timeout == Duration::max()) return std::nullopt;
    return wall_now() + timeout;
}

// Writes `src` into a caller's (addr, *len) as Linux's move_addr_to_user does: truncated to the
// caller's length, and *len set to the full length.
inline int copy_address_out(const sockaddr_in& src, sockaddr* addr, socklen_t* len) {
    if (addr == nullptr || len == nullptr) return fail(EFAULT);
    if (static_cast<int>(*len) < 0) return fail(EINVAL);
    std::memcpy(addr, &src, std::min<std::size_t>(*len, sizeof src));
    *len = sizeof src;
    return 0;
}

inline sockaddr_in make_sockaddr(Ipv4Address address, std::uint16_t port) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(address.to_u32());
    return sin;
}

struct Endpoint {
    Ipv4Address address;
    std::uint16_t port = 0;
    sa_family_t family = AF_INET;
};

// Reads a sockaddr_in the way inet_bind / ip4_datagram_connect / udp_sendmsg do: too short ->
// EINVAL, then a family other than AF_INET -> EAFNOSUPPORT (AF_UNSPEC is let through: Linux
// accepts it as AF_INET in bind with INADDR_ANY, and in sendto).
inline Result<Endpoint, int> read_address(const sockaddr* addr, socklen_t len) {
    if (static_cast<int>(len) < 0 || len > sizeof(sockaddr_storage)) return Unexpected(EINVAL);
    if (len < sizeof(sockaddr_in)) return Unexpected(EINVAL);
    if (addr == nullptr) return Unexpected(EFAULT);
    sockaddr_in sin;
    std::memcpy(&sin, addr, sizeof sin);
    if (sin.sin_family != AF_INET && sin.sin_family != AF_UNSPEC) return Unexpected(EAFNOSUPPORT);
    return Endpoint{Ipv4Address(ntohl(sin.sin_addr.s_addr)), ntohs(sin.sin_port), sin.sin_family};
}

// SO_RCVBUF / SO_SNDBUF: capped at the sysctl maximum, doubled (the kernel counts its own
// overhead), and no less than the minimum. The result is what getsockopt reports.
inline int buffer_size(int requested, int max, int min) {
    const unsigned capped = std::min(static_cast<unsigned>(requested), static_cast<unsigned>(max));
    const int value = static_cast<int>(std::min<unsigned>(capped, INT_MAX / 2));
    return std::max(value * 2, min);
}

// An int option's value, as the kernel's setsockopt reads it: at least sizeof(int) bytes.
inline Result<int, int> read_int(const void* value, socklen_t len) {
    if (len < sizeof(int)) return Unexpected(EINVAL);
    if (value == nullptr) return Unexpected(EFAULT);
    int v = 0;
    std::memcpy(&v, value, sizeof v);
    return v;
}

// As sk_getsockopt / do_tcp_getsockopt: a shorter buffer gets the first bytes, *len says how many.
inline int copy_option_out(const void* src, socklen_t size, void* value, socklen_t* len) {
    const socklen_t n = std::min(*len, size);
    if (n > 0 && value == nullptr) return fail(EFAULT);
    if (n > 0) std::memcpy(value, src, n);
    *len = n;
    return 0;
}

// sock_set_timeout: a timeval; tv_usec out of [0, 1e6) -> EDOM; a negative tv_sec sets a zero
// timeout (calls fail with EAGAIN at once); {0, 0} waits forever.
inline int read_timeout(const void* value, socklen_t len, Duration& out) {
    if (len < sizeof(timeval)) return fail(EINVAL);
    timeval tv;
    std::memcpy(&tv, value, sizeof tv);
    if (tv.tv_usec < 0 || tv.tv_usec >= 1000000) return fail(EDOM);
    if (tv.tv_sec < 0) {
        out = Duration::zero();
    } else if (tv.tv_sec == 0 && tv.tv_usec == 0) {
        out = Duration::max();
    } else {
        const std::int64_t max_sec = Duration::max().total_micros() / 1000000 - 1;
        out = tv.tv_sec >= max_sec ? Duration::max() : Duration::seconds(tv.tv_sec) + Duration::micros(tv.tv_usec);
    }
    return 0;
}

inline timeval timeout_value(Duration d) {
    timeval tv{};
    if (d == Duration::max() || d == Duration::zero()) return tv;
    tv.tv_sec = d.total_micros() / 1000000;
    tv.tv_usec = d.total_micros() % 1000000;
    return tv;
}

// SO_LINGER: a struct linger; l_onoff set keeps l_linger seconds (a negative or huge value
// lingers "forever", as sock_setsockopt caps it at MAX_SCHEDULE_TIMEOUT).
inline int read_linger(const void* value, socklen_t len, std::optional<Duration>& out) {
    if (len < sizeof(linger)) return fail(EINVAL);
    if (value == nullptr) return fail(EFAULT);
    linger lg;
    std::memcpy(&lg, value, sizeof lg);
    if (!lg.l_onoff) {
        out.reset();
    } else {
        const std::int64_t max_sec = Duration::max().total_micros() / 1000000 - 1;
        out = lg.l_linger < 0 || lg.l_linger >= max_sec ? Duration::max() : Duration::seconds(lg.l_linger);
    }
    return 0;
}

inline linger linger_value(const std::optional<Duration>& d) {
    linger lg{};
    if (d) {
        lg.l_onoff = 1;
        lg.l_linger = *d == Duration::max() ? INT_MAX : static_cast<int>(d->total_micros() / 1000000);
    }
    return lg;
}

}  // namespace tcpip::posix
