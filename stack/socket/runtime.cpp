// Runtime: see runtime.h. Each call below names the Linux function whose behaviour it mirrors
// (net/socket.c, net/ipv4/af_inet.c, net/ipv4/udp.c, net/core/sock.c), including the order in
// which Linux checks its arguments, since that decides which errno a bad call gets. This file has
// creation, descriptors, the datagram (UDP) calls, SOL_SOCKET options and poll; each call hands a
// stream socket to its TCP half in runtime_tcp.cpp.
#include "stack/socket/runtime.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

#include "stack/core/trace.h"
#include "stack/socket/epoll_set.h"
#include "stack/socket/error_map.h"
#include "stack/socket/posix.h"

namespace tcpip {

using namespace posix;

namespace {

// A blocking call in threadless mode polls a stack whose device has no descriptor to wait on at
// least this often (see runtime.h).
constexpr Duration kThreadlessTick = Duration::millis(1);

// The facade's process-wide state (runtime.h): descriptor -> runtime, and the default runtime.
struct Registry {
    std::mutex mutex;
    std::unordered_map<int, Runtime*> owners;
};
Registry& registry() {
    static Registry instance;
    return instance;
}
std::atomic<Runtime*> default_runtime{nullptr};

// The eventfd a thread waits on in poll() (and, threadless, in a blocking call), one per thread,
// reused across calls; other threads write it when one of the sockets it waits for changes.
struct PollWaiter {
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    ~PollWaiter() {
        if (fd >= 0) ::close(fd);
    }
    void drain() const {
        std::uint64_t count;
        [[maybe_unused]] auto r = ::read(fd, &count, sizeof count);
    }
};

// An application's call that may send frames, told to the tracer (if any) as it starts; when it
// returns, the frames it sent are complete (Tracer::done).
class TracedCall {
public:
    TracedCall(const Stack& stack, const Clock& clock, int fd, const char* call, std::int64_t value = -1)
        : tracer_(stack.config().tracer) {
        if (tracer_) [[unlikely]] tracer_->socket_call(clock.now(), TraceDir::Tx, fd, call, value);
    }
    ~TracedCall() {
        if (tracer_) [[unlikely]] tracer_->done();
    }
    TracedCall(const TracedCall&) = delete;
    TracedCall& operator=(const TracedCall&) = delete;

private:
    Tracer* tracer_;
};

// Out of line and cold, so that on_stack_event stays small enough to inline.
[[gnu::cold, gnu::noinline]] void trace_woken(Tracer* tracer, int fd) { tracer->socket_woken(fd); }

// A call that took what frames brought (recv, accept): told once it knows what it took.
void trace_taken(const Stack& stack, const Clock& clock, int fd, const char* call, std::int64_t value) {
    if (Tracer* t = stack.config().tracer) [[unlikely]] {
        if (value >= 0) t->socket_call(clock.now(), TraceDir::Rx, fd, call, value);
        t->done();
    }
}

PollWaiter& this_thread_waiter() {
    thread_local PollWaiter waiter;
    return waiter;
}

// A sleep for ::poll: whole milliseconds, rounded up (a timer is never run early).
int ms_rounded_up(Duration d) {
    return static_cast<int>(std::clamp<std::int64_t>((d.total_micros() + 999) / 1000, 0, INT_MAX));
}

}  // namespace

// A thread never wakes itself: when it runs the stack (threadless) it checks its sockets again
// right after, so writing its own eventfd would only cost two system calls per event.
void SocketEntry::notify() {
    cv.notify_all();
    const std::uint64_t one = 1;
    const int own = this_thread_waiter().fd;
    for (int waiter : poll_waiters) {
        if (waiter == own) continue;
        [[maybe_unused]] auto r = ::write(waiter, &one, sizeof one);
    }
    // Every epoll instance watching the socket gets the event, except that the walk over those
    // registered with EPOLLEXCLUSIVE stops at the first one that woke a sleeping thread, as
    // Linux's wake-up stops at the first exclusive waiter whose ep_poll_callback says it woke
    // one (__wake_up_common; exclusive entries sit in the socket's wait queue in the order they
    // were added, as the watches here). The instances before it have the socket on their ready
    // lists all the same: no thread waits there, and their next epoll_wait reports it. Linux's
    // wake-ups carry the event (EPOLLIN or EPOLLOUT) and a watch that did not ask for it neither
    // queues nor ends the walk; ours carry none, as a device's keyless wake-up in Linux.
    bool woke_exclusive = false;
    for (const auto& watch : epoll_watches) {
        if (watch->exclusive && woke_exclusive) continue;
        auto set = watch->set.lock();
        if (!set) continue;
        if (set->enqueue(watch) && watch->exclusive) woke_exclusive = true;
    }
}

// ---------------------------------------------------------------------------------------------
// The runtime itself

const Clock& Runtime::system_clock() {
    static const SystemClock clock;  // stateless: reads CLOCK_MONOTONIC
    return clock;
}

Runtime::Runtime(NetDevice& device, InterfaceConfig iface, StackConfig config, std::uint64_t seed, const Clock& clock)
    : clock_(clock), stack_(device, iface, config, seed) {
    stack_.start(clock_.now());
}

Runtime::~Runtime() {
    stop_thread();
    std::vector<int> fds;
    {
        Lock lock(mutex_);
        for (auto& [fd, entry] : sockets_) {
            fds.push_back(fd);
            close_locked(*entry);
        }
        sockets_.clear();
    }
    for (int fd : fds) ::close(fd);
    Runtime* self = this;
    default_runtime.compare_exchange_strong(self, nullptr);
}

void Runtime::start_thread() {
    Lock lock(mutex_);
    if (loop_) return;
    loop_ = std::make_unique<EventLoop>(stack_, clock_, &mutex_);
    thread_ = std::thread([this, loop = loop_.get()] { loop->run([this](Instant) { deliver_events(); }); });
}

void Runtime::stop_thread() {
    std::unique_ptr<EventLoop> loop;
    {
        Lock lock(mutex_);
        loop = std::move(loop_);  // from now on blocking calls drive the stack themselves
        for (auto& [fd, entry] : sockets_) entry->notify();
    }
    if (!loop) return;
    loop->stop();
    thread_.join();
}

bool Runtime::thread_running() {
    Lock lock(mutex_);
    return loop_ != nullptr;
}

std::size_t Runtime::poll() {
    Lock lock(mutex_);
    return poll_stack();
}

std::size_t Runtime::poll_stack() {
    const std::size_t frames = stack_.poll(clock_.now());
    device_drained_ = true;  // Stack::poll reads until the device has no more
    deliver_events();
    wake_sleepers();  // what this pass did may have armed a timer another thread sleeps past
    return frames;
}

void Runtime::poll_stack_before_wait() {
    const Instant now = clock_.now();
    const auto device_due = stack_.device().poll_at();
    if (!device_drained_ || stack_.device().wait_fd() < 0 || (device_due && *device_due <= now)) {
        poll_stack();
        return;
    }
    stack_.run_timers(now);
    deliver_events();
    wake_sleepers();
}

std::optional<Duration> Runtime::begin_sleep(int fd) {
    const std::optional<Instant> due = stack_.poll_at();
    std::optional<Duration> nap;
    if (due) nap = std::max(*due - clock_.now(), Duration::zero());
    if (stack_.device().wait_fd() < 0) return nap ? std::min(*nap, kThreadlessTick) : kThreadlessTick;
    auto it = std::find_if(sleepers_.begin(), sleepers_.end(), [fd](const Sleeper& s) { return s.fd == fd; });
    if (it == sleepers_.end()) {
        sleepers_.push_back(Sleeper{fd, due});
    } else {
        it->until = due;
    }
    return nap;
}

void Runtime::end_sleep(int fd) {
    if (sleepers_.empty()) return;
    std::erase_if(sleepers_, [fd](const Sleeper& s) { return s.fd == fd; });
}

void Runtime::wake_sleepers() {
    if (sleepers_.empty()) return;  // the single-threaded case: nobody else is asleep
    const std::optional<Instant> due = stack_.poll_at();
    if (!due) return;
    const std::uint64_t one = 1;
    for (Sleeper& s : sleepers_) {
        if (s.until && *s.until <= *due) continue;  // it wakes in time by itself
        [[maybe_unused]] auto r = ::write(s.fd, &one, sizeof one);
        s.until = due;  // one write is enough: it runs the stack when it wakes
    }
}

void Runtime::on_stack_event(SocketEntry& entry) {
    if (Tracer* t = stack_.config().tracer) [[unlikely]] trace_woken(t, entry.fd);
    if (entry.event_pending) return;
    entry.event_pending = true;
    pending_events_.push_back(&entry);
}

void Runtime::deliver_events() {
    for (SocketEntry* entry : pending_events_) {
        entry->event_pending = false;
        entry->notify();
    }
    pending_events_.clear();
}

void Runtime::set_default(Runtime* runtime) { default_runtime.store(runtime); }
Runtime* Runtime::get_default() { return default_runtime.load(); }

Runtime* Runtime::owner(int fd) {
    Registry& r = registry();
    std::lock_guard<std::mutex> guard(r.mutex);
    auto it = r.owners.find(fd);
    return it == r.owners.end() ? nullptr : it->second;
}

StackStats Runtime::stats() {
    Lock lock(mutex_);
    return stack_.stats();
}

std::size_t Runtime::socket_count() {
    Lock lock(mutex_);
    return sockets_.size();
}

std::optional<TcpLogSnapshot> Runtime::tcp_log(int fd) {
    Lock lock(mutex_);
    auto entry = find(fd);
    if (!entry || entry->tcp() == nullptr) return std::nullopt;
    return stack_.tcp().log_snapshot(entry->tcp());
}

std::shared_ptr<SocketEntry> Runtime::find(int fd) {
    auto it = sockets_.find(fd);
    return it == sockets_.end() ? nullptr : it->second;
}

// Not a descriptor of this runtime. Linux: a number that is no open descriptor -> EBADF; an open
// descriptor that is no socket -> ENOTSOCK. A kernel socket is "no socket" to us, and a socket
// of another Runtime is no descriptor of this one (EBADF).
int Runtime::fail_unknown(int fd) {
    if (fd < 0 || owner(fd) != nullptr) return fail(EBADF);
    return fail(::fcntl(fd, F_GETFD) >= 0 ? ENOTSOCK : EBADF);
}

bool Runtime::wait(Lock& lock, SocketEntry& entry, std::optional<Instant> deadline, const std::function<bool()>& ready) {
    for (;;) {
        if (ready()) return true;
        std::optional<Duration> left;
        if (deadline) {
            left = *deadline - wall_now();
            if (*left <= Duration::zero()) return false;
        }
        if (loop_) {
            // The stack's thread will signal entry.cv (on_event, shutdown, close).
            if (left) entry.cv.wait_for(lock, to_chrono(*left));
            else entry.cv.wait(lock);
        } else {
            // Threadless: run the stack ourselves, then sleep until there is something to do.
            poll_stack();
            if (ready()) return true;
            PollWaiter& waiter = this_thread_waiter();
            std::optional<Duration> nap = begin_sleep(waiter.fd);
            if (left && (!nap || *left < *nap)) nap = left;
            const int device_fd = stack_.device().wait_fd();
            if (device_fd < 0) {
                entry.cv.wait_for(lock, to_chrono(nap.value_or(kThreadlessTick)));
                continue;
            }
            // A device with a descriptor: sleep in the kernel until a frame arrives (then run the
            // stack at once), the stack's next timer is due, or another thread says this socket
            // changed or armed an earlier timer (through the waiter, as poll() below).
            entry.poll_waiters.push_back(waiter.fd);
            lock.unlock();
            pollfd fds[2] = {{device_fd, POLLIN, 0}, {waiter.fd, POLLIN, 0}};
            (void)::poll(fds, 2, nap ? ms_rounded_up(*nap) : -1);
            if (fds[1].revents != 0) waiter.drain();
            lock.lock();
            std::erase(entry.poll_waiters, waiter.fd);
            end_sleep(waiter.fd);
        }
    }
}

void Runtime::close_locked(SocketEntry& entry) {
    // The entry may be about to go: not in the list of those to notify any more (it is notified
    // below anyway).
    if (entry.event_pending) {
        std::erase(pending_events_, &entry);
        entry.event_pending = false;
    }
    {
        Registry& r = registry();
        std::lock_guard<std::mutex> guard(r.mutex);
        r.owners.erase(entry.fd);
    }
    // As Linux removes a closed file from every epoll set (eventpoll_release).
    for (const auto& watch : entry.epoll_watches) {
        if (auto set = watch->set.lock()) forget_watch(*set, watch);
    }
    entry.epoll_watches.clear();
    if (UdpSocket* udp = entry.udp()) stack_.udp().close(udp);  // queued packets go back to the pool
    if (TcpSocket* tcp = entry.tcp()) {
        // Graceful (FIN), or RST with unread data or a zero linger: the layer's decision. The
        // layer owns the socket from here on and frees it when the connection is over.
        call_layer([&](Instant now) {
            stack_.tcp().close(now, tcp);
            return 0;
        });
        entry.transport = static_cast<TcpSocket*>(nullptr);
    } else {
        entry.transport = static_cast<UdpSocket*>(nullptr);
    }
    entry.closed = true;
    entry.notify();
}

// A call that may have armed an earlier timer (ARP resolution, later TCP retransmission) wakes
// the loop so that it recomputes how long it may sleep. Under the lock, so the loop cannot be
// torn down meanwhile.
void Runtime::wake_if_earlier(std::optional<Instant> before) {
    if (!loop_) {
        wake_sleepers();
        return;
    }
    auto after = stack_.poll_at();
    if (after && (!before || *after < *before)) loop_->wake();
}

// ---------------------------------------------------------------------------------------------
// Creating and closing

// __sys_socket + __sock_create + inet_create.
int Runtime::socket(int domain, int type, int protocol) {
    constexpr int kTypeMask = 0xf;  // the kernel's SOCK_TYPE_MASK: the rest are SOCK_* flags
    const int flags = type & ~kTypeMask;
    type &= kTypeMask;
    if (flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK)) return fail(EINVAL);
    if (domain < 0 || domain >= AF_MAX) return fail(EAFNOSUPPORT);
    if (type < 0 || type >= SOCK_PACKET + 1) return fail(EINVAL);  // SOCK_MAX
    if (domain != AF_INET) return fail(EAFNOSUPPORT);
    // inet_create: no protocol registered for the type -> ESOCKTNOSUPPORT; a type we have, with
    // a protocol it is not -> EPROTONOSUPPORT.
    if (type != SOCK_DGRAM && type != SOCK_STREAM) return fail(ESOCKTNOSUPPORT);
    if (protocol != 0 && protocol != (type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP)) return fail(EPROTONOSUPPORT);

    const int fd = eventfd(0, EFD_NONBLOCK | ((flags & SOCK_CLOEXEC) ? EFD_CLOEXEC : 0));
    if (fd < 0) return -1;  // EMFILE / ENFILE, as the kernel said

    auto entry = std::make_shared<SocketEntry>();
    entry->fd = fd;
    entry->type = type;
    entry->nonblocking = (flags & SOCK_NONBLOCK) != 0;
    {
        Lock lock(mutex_);
        if (type == SOCK_STREAM) {
            tcp_open(*entry);
        } else {
            UdpSocket* udp = stack_.udp().open();
            // Called by the stack (under the lock) when a datagram or an error arrives.
            udp->on_event = [this, raw = entry.get()] { on_stack_event(*raw); };
            entry->transport = udp;
        }
        add_entry_locked(entry);
    }
    return fd;
}

void Runtime::add_entry_locked(const std::shared_ptr<SocketEntry>& entry) {
    sockets_.emplace(entry->fd, entry);
    Registry& r = registry();
    std::lock_guard<std::mutex> guard(r.mutex);
    r.owners[entry->fd] = this;
}

int Runtime::close(int fd) {
    {
        Lock lock(mutex_);
        auto entry = find(fd);
        if (!entry) return fail_unknown(fd);
        TracedCall traced(stack_, clock_, fd, "close");
        sockets_.erase(fd);
        if (entry->tcp()) tcp_linger(lock, *entry);  // SO_LINGER: wait for the data to be delivered
        close_locked(*entry);
    }
    // Only now may the kernel hand this number out again.
    ::close(fd);
    return 0;
}

int Runtime::detach(int fd) {
    Lock lock(mutex_);
    auto entry = find(fd);
    if (!entry) return fail_unknown(fd);
    sockets_.erase(fd);
    if (entry->tcp()) tcp_linger(lock, *entry);  // SO_LINGER, as close()
    close_locked(*entry);
    return 0;
}

int Runtime::renumber(int from, int to) {
    Lock lock(mutex_);
    auto entry = find(from);
    if (!entry) return fail_unknown(from);
    if (find(to) || owner(to) != nullptr) return fail(EBUSY);
    sockets_.erase(from);
    entry->fd = to;
    sockets_.emplace(to, entry);
    Registry& r = registry();
    std::lock_guard<std::mutex> guard(r.mutex);
    r.owners.erase(from);
    r.owners[to] = this;
    return 0;
}

void Runtime::before_fork() {
    stop_thread();
    mutex_.lock();
}

void Runtime::after_fork() { mutex_.unlock(); }

// ---------------------------------------------------------------------------------------------
// Addresses

// inet_bind: length, family, then the address must be ours, then "already bound".
int Runtime::bind(int fd, const sockaddr* addr, socklen_t len) {
    Lock lock(mutex_);
    auto entry = find(fd);
    if (!entry) return fail_unknown(fd);
    auto endpoint = read_address(addr, len);
    if (!endpoint) return fail(endpoint.error());
    // AF_UNSPEC passes only with INADDR_ANY (a compatibility hack Linux keeps).
    if (endpoint->family == AF_UNSPEC && !endpoint->address.is_unspecified()) return fail(EAFNOSUPPORT);
    if (entry->tcp()) return tcp_bind(*entry, addr, len);
    auto bound = stack_.udp().bind(entry->udp(), endpoint->address, endpoint->port);
    if (!bound) return fail(to_errno(bound.error()));
    return 0;
}

// inet_dgram_connect + ip4_datagram_connect. AF_UNSPEC dissolves the association.
int Runtime::connect(int fd, const sockaddr* addr, socklen_t len) {
    Lock lock(mutex_);
    auto entry = find(fd);
    if (!entry) return fail_unknown(fd);
    if (static_cast<int>(len) < 0 || len > sizeof(sockaddr_storage) || len < sizeof(sa_family_t)) return fail(EINVAL);
    if (addr == nullptr) return fail(EFAULT);
    if (entry->tcp()) {
        TracedCall traced(stack_, clock_, fd, "connect");
        return tcp_connect(lock, *entry, addr, len);
    }
    if (addr->sa_family == AF_UNSPEC) {
        stack_.udp().disconnect(entry->udp());
        return 0;
    }
    auto endpoint = read_address(addr, len);
    if (!endpoint) return fail(endpoint.error());
    if (endpoint->family != AF_INET) return fail(EAFNOSUPPORT);
    auto connected = stack_.udp().connect(entry->udp(), endpoint->address, endpoint->port);
    if (!connected) return fail(to_errno(connected.error()));
    return 0;
}

int Runtime::getsockname(int fd, sockaddr* addr, socklen_t* len) {
    Lock lock(mutex_);
    auto entry = find(fd);
    if (!entry) return fail_unknown(fd);
    if (entry->tcp()) return tcp_getsockname(*entry, addr, len);
    const UdpSocket& udp = *entry->udp();
    Ipv4Address local = udp.local_address;
    // Linux fills in the source address when a wildcard-bound socket connects.
    if (local.is_unspecified() && udp.connected()) local = stack_.address();
    return copy_address_out(make_sockaddr(local, udp.local_port), addr, len);
}

int Runtime::getpeername(int fd, sockaddr* addr, socklen_t* len) {
    Lock lock(mutex_);
    auto entry = find(fd);
    if (!entry) return fail_unknown(fd);
    if (entry->tcp()) return tcp_getpeername(*entry, addr, len);
    const UdpSocket& udp = *entry->udp();
    if (!udp.connected()) return fail(ENOTCONN);
    return copy_address_out(make_sockaddr(udp.remote_address, udp.remote_port), addr, len);
}

// Datagram sockets do not listen or accept (sock_no_listen, sock_no_accept).
int Runtime::listen(int fd, int backlog) {
    Lock lock(mutex_);
    auto entry = find(fd);
    if (!entry) return fail_unknown(fd);
    if (entry->tcp()) return tcp_listen(*entry, backlog);
    return fail(EOPNOTSUPP);
}

int Runtime::accept(int fd, sockaddr* addr, socklen_t* len) {
    Lock lock(mutex_);
    auto entry = find(fd);  // held: a close() meanwhile cannot free it under us
    if (!entry) return fail_unknown(fd);
    if (entry->tcp()) {
        const int accepted = tcp_accept(lock, *entry, addr, len);
        trace_taken(stack_, clock_, fd, "accept", accepted);
        return accepted;
    }
    return fail(EOPNOTSUPP);
}

// ---------------------------------------------------------------------------------------------
// Data

ssize_t Runtime::send(int fd, const void* buf, std::size_t len, int flags) {
    return sendto(fd, buf, len, flags, nullptr, 0);
}

// udp_sendmsg. UDP has no send buffer to wait for: a datagram is built and handed to IPv4 at once
// (or queued by ARP), so send never blocks and SO_SNDTIMEO has nothing to bound yet.
ssize_t Runtime::sendto(int fd, const void* buf, std::size_t len, int flags, const sockaddr* addr, socklen_t addrlen) {
    Lock lock(mutex_);
    auto entry = find(fd);  // held: a close() meanwhile cannot free it under us
    if (!entry) return fail_unknown(fd);
    TracedCall traced(stack_, clock_, fd, addr != nullptr && !entry->tcp() ? "sendto" : "send", static_cast<std::int64_t>(len));
    // tcp_sendmsg ignores a destination address on a connection-mode socket, as POSIX allows.
    if (entry->tcp()) return tcp_send(lock, *entry, buf, len, flags);
    if (flags & MSG_OOB) return fail(EOPNOTSUPP);
    if (buf == nullptr && len > 0) return fail(EFAULT);
    std::optional<std::pair<Ipv4Address, std::uint16_t>> to;
    if (addr != nullptr) {
        auto endpoint = read_address(addr, addrlen);
        if (!endpoint) return fail(endpoint.error());
        to = std::pair{endpoint->address, endpoint->port};
    }
    UdpSocket* udp = entry->udp();
    // sock_alloc_send_pskb: a pending error first, then SEND_SHUTDOWN -> EPIPE. (Linux also
    // raises SIGPIPE unless MSG_NOSIGNAL; we never raise signals.)
    if (entry->shut_wr && !udp->pending_error) return fail(EPIPE);
    const auto before = stack_.poll_at();
    auto sent = stack_.udp().send(clock_.now(), udp, Bytes{static_cast<const std::uint8_t*>(buf), len}, to);
    wake_if_earlier(before);
    if (!sent) return fail(to_errno(sent.error()));
    return static_cast<ssize_t>(*sent);
}

ssize_t Runtime::recv(int fd, void* buf, std::size_t len, int flags) {
    return recvfrom(fd, buf, len, flags, nullptr, nullptr);
}

// udp_recvmsg + __skb_recv_udp: a pending error is reported before any queued datagram; an
// empty queue after SHUT_RD reads as end of file (0).
ssize_t Runtime::recvfrom(int fd, void* buf, std::size_t len, int flags, sockaddr* addr, socklen_t* addrlen) {
    Lock lock(mutex_);
    auto entry = find(fd);  // held: a close() meanwhile cannot free it under us
    if (!entry) return fail_unknown(fd);
    if (entry->tcp()) {
        // tcp_recvmsg names no source: Linux sets *addrlen to 0.
        const ssize_t n = tcp_recv(lock, *entry, buf, len, flags);
        trace_taken(stack_, clock_, fd, "recv", n);
        if (n >= 0 && addr != nullptr && addrlen != nullptr) *addrlen = 0;
        return n;
    }
    if (buf == nullptr && len > 0) return fail(EFAULT);
    if (addr != nullptr && addrlen != nullptr && static_cast<int>(*addrlen) < 0) return fail(EINVAL);

    std::optional<Instant> deadline;
    if (entry->nonblocking || (flags & MSG_DONTWAIT) || entry->rcvtimeo == Duration::zero()) {
        deadline = wall_now();
    } else if (entry->rcvtimeo != Duration::max()) {
        deadline = wall_now() + entry->rcvtimeo;
    }
    SocketEntry& s = *entry;
    // Whether it returns on readiness or at the deadline, the state below decides the answer.
    wait(lock, s, deadline, [&s] {
        UdpSocket* udp = s.udp();
        return s.closed || udp->pending_error || !udp->rx_queue.empty() || s.shut_rd;
    });
    if (s.closed) return fail(EBADF);
    UdpSocket* udp = s.udp();
    if (udp->pending_error) {
        const SocketError error = *std::exchange(udp->pending_error, std::nullopt);
        return fail(to_errno(error));
    }
    if (udp->rx_queue.empty()) return s.shut_rd ? 0 : fail(EAGAIN);  // EAGAIN: SO_RCVTIMEO expired too

    // The one copy on the way up: out of the pooled packet into the caller's buffer. A datagram
    // longer than the buffer is cut, and the rest of it discarded (unless MSG_PEEK).
    const UdpSocket::Datagram& front = udp->rx_queue.front();
    const std::size_t full = front.data.size();
    const std::size_t copied = std::min(len, full);
    if (copied > 0) std::memcpy(buf, front.data.data(), copied);
    if (addr != nullptr && addrlen != nullptr) {
        copy_address_out(make_sockaddr(front.src, front.src_port), addr, addrlen);
    }
    if (!(flags & MSG_PEEK)) {
        UdpSocket::Datagram done = udp->pop();  // its buffer returns to the pool here, under the lock
    }
    trace_taken(stack_, clock_, fd, "recvfrom", static_cast<std::int64_t>(copied));
    return static_cast<ssize_t>((flags & MSG_TRUNC) ? full : copied);
}

// inet_shutdown: `how` must be SHUT_RD, SHUT_WR or SHUT_RDWR. On a socket that is not connected
// Linux sets the flags all the same (so blocked readers wake) and returns ENOTCONN.
int Runtime::shutdown(int fd, int how) {
    Lock lock(mutex_);
    auto entry = find(fd);
    if (!entry) return fail_unknown(fd);
    if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) return fail(EINVAL);
    if (entry->tcp()) {
        TracedCall traced(stack_, clock_, fd, "shutdown");
        return tcp_shutdown(*entry, how);
    }
    if (how == SHUT_RD || how == SHUT_RDWR) entry->shut_rd = true;
    if (how == SHUT_WR || how == SHUT_RDWR) entry->shut_wr = true;
    entry->notify();
    return entry->udp()->connected() ? 0 : fail(ENOTCONN);
}

// ---------------------------------------------------------------------------------------------
// Options (sk_setsockopt / sk_getsockopt, SOL_SOCKET only)

int Runtime::setsockopt(int fd, int level, int name, const void* value, socklen_t len) {
    Lock lock(mutex_);
    auto entry = find(fd);
    if (!entry) return fail_unknown(fd);
    if (entry->tcp()) return tcp_setsockopt(*entry, level, name, value, len);
    // udp_setsockopt -> ip_setsockopt: any level but SOL_SOCKET is unknown to us.
    if (level != SOL_SOCKET) return fail(ENOPROTOOPT);
    if (len < sizeof(int)) return fail(EINVAL);
    if (value == nullptr) return fail(EFAULT);
    int v = 0;
    std::memcpy(&v, value, sizeof v);
    UdpSocket& udp = *entry->udp();
    switch (name) {
        case SO_REUSEADDR: udp.reuse_address = v != 0; return 0;
        case SO_BROADCAST: udp.broadcast = v != 0; return 0;
        case SO_RCVBUF: udp.rcvbuf = static_cast<std::size_t>(buffer_size(v, kRmemMax, kMinRcvbuf)); return 0;
        case SO_SNDBUF: entry->sndbuf = buffer_size(v, kWmemMax, kMinSndbuf); return 0;
        case SO_RCVTIMEO: return read_timeout(value, len, entry->rcvtimeo);
        case SO_SNDTIMEO: return read_timeout(value, len, entry->sndtimeo);
        case SO_LINGER: return read_linger(value, len, entry->linger);  // kept; a datagram has nothing to wait for
        default: return fail(ENOPROTOOPT);  // including the read-only SO_TYPE and SO_ERROR
    }
}

int Runtime::getsockopt(int fd, int level, int name, void* value, socklen_t* len) {
    Lock lock(mutex_);
    auto entry = find(fd);
    if (!entry) return fail_unknown(fd);
    if (entry->tcp()) return tcp_getsockopt(*entry, level, name, value, len);
    if (level != SOL_SOCKET) return fail(ENOPROTOOPT);
    if (len == nullptr) return fail(EFAULT);
    if (static_cast<int>(*len) < 0) return fail(EINVAL);
    UdpSocket& udp = *entry->udp();
    int v = 0;
    timeval tv{};
    linger lg{};
    const void* src = &v;
    socklen_t size = sizeof v;
    switch (name) {
        case SO_REUSEADDR: v = udp.reuse_address; break;
        case SO_BROADCAST: v = udp.broadcast; break;
        case SO_RCVBUF: v = static_cast<int>(udp.rcvbuf); break;
        case SO_SNDBUF: v = entry->sndbuf; break;
        case SO_TYPE: v = entry->type; break;
        case SO_ERROR:  // returns and clears the pending error (sock_error)
            v = udp.pending_error ? to_errno(*std::exchange(udp.pending_error, std::nullopt)) : 0;
            break;
        case SO_RCVTIMEO: tv = timeout_value(entry->rcvtimeo); src = &tv; size = sizeof tv; break;
        case SO_SNDTIMEO: tv = timeout_value(entry->sndtimeo); src = &tv; size = sizeof tv; break;
        case SO_LINGER: lg = linger_value(entry->linger); src = &lg; size = sizeof lg; break;
        case SO_ACCEPTCONN: v = 0; break;
        default: return fail(ENOPROTOOPT);
    }
    return copy_option_out(src, size, value, len);
}

int Runtime::fcntl(int fd, int cmd, long arg) {
    Lock lock(mutex_);
    auto entry = find(fd);
    if (!entry) return fail_unknown(fd);
    switch (cmd) {
        case F_GETFL: return O_RDWR | (entry->nonblocking ? O_NONBLOCK : 0);
        case F_SETFL: entry->nonblocking = (arg & O_NONBLOCK) != 0; return 0;  // other flags ignored, as Linux
        case F_GETFD: return ::fcntl(fd, F_GETFD);
        case F_SETFD: return ::fcntl(fd, F_SETFD, static_cast<int>(arg));
        default: return fail(EINVAL);
    }
}

// sock_ioctl -> inet_ioctl -> tcp_ioctl / udp_ioctl (SIOCINQ is FIONREAD), and FIONBIO from
// the generic file ioctls.
int Runtime::ioctl(int fd, unsigned long request, void* arg) {
    Lock lock(mutex_);
    auto entry = find(fd);
    if (!entry) return fail_unknown(fd);
    if (request != FIONREAD && request != FIONBIO) return fail(ENOTTY);
    if (arg == nullptr) return fail(EFAULT);
    if (request == FIONBIO) {
        int on = 0;
        std::memcpy(&on, arg, sizeof on);
        entry->nonblocking = on != 0;
        return 0;
    }
    int bytes = 0;
    if (TcpSocket* s = entry->tcp()) {
        if (s->state == TcpState::Listen) return fail(EINVAL);  // as tcp_ioctl
        bytes = static_cast<int>(std::min<std::size_t>(s->rcv.buffer.size(), INT_MAX));
    } else if (UdpSocket* udp = entry->udp(); udp != nullptr && !udp->rx_queue.empty()) {
        bytes = static_cast<int>(udp->rx_queue.front().data.size());
    }
    std::memcpy(arg, &bytes, sizeof bytes);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// poll

// datagram_poll / udp_poll. POLLERR and POLLHUP are reported whether asked for or not.
short Runtime::events_locked(SocketEntry& entry, short requested) {
    if (entry.closed) return POLLNVAL;
    if (entry.tcp()) return tcp_events(entry, requested);
    const UdpSocket& udp = *entry.udp();
    int mask = 0;
    if (udp.pending_error) mask |= POLLERR;
    if (entry.shut_rd) mask |= POLLRDHUP | POLLIN | POLLRDNORM;
    if (entry.shut_rd && entry.shut_wr) mask |= POLLHUP;
    if (!udp.rx_queue.empty()) mask |= POLLIN | POLLRDNORM;
    mask |= POLLOUT | POLLWRNORM | POLLWRBAND;  // no send buffer: always writable
    return static_cast<short>(mask & (requested | POLLERR | POLLHUP));
}

// Without spinning: this thread's waiter eventfd is registered with every socket of ours in the
// set (under each socket's runtime lock, while checking it, so no event is missed), and the call
// sleeps in the kernel's poll on the kernel descriptors plus the waiter. A socket event writes
// the waiter; the call wakes and checks our sockets again. Threadless runtimes in the set are
// run by the call itself: their devices' descriptors join the wait, which ends no later than the
// earliest of their next deadlines (runtime.h).
int Runtime::poll(pollfd* fds, nfds_t nfds, int timeout_ms, const sigset_t* sigmask) {
    if (nfds > 0 && fds == nullptr) return fail(EFAULT);
    PollWaiter& waiter = this_thread_waiter();
    if (waiter.fd < 0) return fail(ENOMEM);
    // (A count left from an earlier call only makes the first wait below return at once: the
    // sockets are checked again and it is drained then.)

    struct Ours {
        std::size_t index;
        Runtime* runtime;
        std::shared_ptr<SocketEntry> entry;
    };
    // Reused from call to call (a request/response server calls poll once per request).
    thread_local std::vector<Ours> ours;
    thread_local std::vector<pollfd> kernel;             // the kernel's descriptors, the waiter, devices
    thread_local std::vector<std::size_t> kernel_index;  // where each came from in `fds`
    ours.clear();
    kernel.clear();
    kernel_index.clear();
    for (nfds_t i = 0; i < nfds; ++i) {
        fds[i].revents = 0;
        Runtime* runtime = fds[i].fd >= 0 ? owner(fds[i].fd) : nullptr;
        std::shared_ptr<SocketEntry> entry;
        if (runtime) {
            Lock lock(runtime->mutex_);
            entry = runtime->find(fds[i].fd);
        }
        if (entry) {
            ours.push_back({i, runtime, std::move(entry)});
        } else {
            kernel.push_back(fds[i]);   // includes numbers that are no descriptor: POLLNVAL
            kernel_index.push_back(i);
        }
    }
    kernel.push_back(pollfd{waiter.fd, POLLIN, 0});
    const std::size_t waiter_at = kernel.size() - 1;

    // (A plain Instant and a flag: g++ 12 warns falsely about an optional<Instant> here.)
    const bool forever = timeout_ms < 0;
    const Instant deadline = forever ? Instant::zero() : wall_now() + Duration::millis(timeout_ms);
    int ready = 0;
    bool last_pass = false;  // the timeout has passed: check once more without waiting, then return
    bool waited = false;     // a ::poll of this call has returned (with no kernel descriptor ready)
    for (;;) {
        bool threadless = false;
        std::optional<Duration> nap;  // until the earliest deadline of the threadless runtimes
        int ours_ready = 0;
        kernel.resize(waiter_at + 1);
        // The threadless runtimes already run in this pass: each runs once per pass, before its
        // sockets are checked, not once per socket (with 10,000 sockets in the set, running the
        // stack for each, a device read every time, made every pass cost 10,000 system calls).
        thread_local std::vector<Runtime*> ran;
        ran.clear();
        for (auto& o : ours) {
            Lock lock(o.runtime->mutex_);
            if (!o.runtime->loop_ && std::find(ran.begin(), ran.end(), o.runtime) == ran.end()) {
                // A threadless runtime runs here, in the caller's thread; its device's descriptor
                // joins the wait, so a frame wakes this call at once (run to completion: the
                // frame, the stack and the application's answer all in one thread, no hand-off).
                threadless = true;
                ran.push_back(o.runtime);
                o.runtime->end_sleep(waiter.fd);  // awake: running the stack wakes others, not us
                if (waited || timeout_ms == 0) {
                    o.runtime->poll_stack();  // after a wait, or a call that will not wait at all
                } else {
                    o.runtime->poll_stack_before_wait();
                }
                const int device_fd = o.runtime->stack_.device().wait_fd();
                const bool listed = std::any_of(kernel.begin() + static_cast<std::ptrdiff_t>(waiter_at) + 1, kernel.end(),
                                                [&](const pollfd& p) { return p.fd == device_fd; });
                if (device_fd >= 0 && !listed) kernel.push_back(pollfd{device_fd, POLLIN, 0});
                if (auto n = o.runtime->begin_sleep(waiter.fd); n && (!nap || *n < *nap)) nap = n;
            }
            fds[o.index].revents = o.runtime->events_locked(*o.entry, fds[o.index].events);
            if (fds[o.index].revents != 0) ++ours_ready;
            auto& waiters = o.entry->poll_waiters;
            if (std::find(waiters.begin(), waiters.end(), waiter.fd) == waiters.end()) waiters.push_back(waiter.fd);
        }

        int wait_ms = -1;
        if (ours_ready > 0 || last_pass) {
            wait_ms = 0;
        } else if (!forever) {
            const Duration left = deadline - wall_now();
            last_pass = left <= Duration::zero();
            wait_ms = last_pass ? 0 : static_cast<int>(std::min<std::int64_t>((left.total_micros() + 999) / 1000, INT_MAX));
        }
        if (threadless && nap && (wait_ms < 0 || ms_rounded_up(*nap) < wait_ms)) wait_ms = ms_rounded_up(*nap);
        if (ours_ready > 0 && waited) {
            // The kernel's descriptors were not ready when this call's last ::poll returned, a
            // moment ago: no second ::poll just to look at them again (a system call per request).
            ready = ours_ready;
            break;
        }

        const int n = kernel_poll(kernel.data(), kernel.size(), wait_ms, sigmask);
        waited = true;
        if (n < 0) {
            ready = -1;  // EINTR and friends, as the kernel said
            break;
        }
        int kernel_ready = 0;
        for (std::size_t k = 0; k < waiter_at; ++k) {
            fds[kernel_index[k]].revents = kernel[k].revents;
            if (kernel[k].revents != 0) ++kernel_ready;
        }
        if (kernel[waiter_at].revents != 0) waiter.drain();
        ready = ours_ready + kernel_ready;
        if (ready > 0 || last_pass) break;
        if (!forever && wall_now() >= deadline) last_pass = true;
    }
    const int saved = errno;
    for (auto& o : ours) {
        Lock lock(o.runtime->mutex_);
        std::erase(o.entry->poll_waiters, waiter.fd);
        o.runtime->end_sleep(waiter.fd);
    }
    ours.clear();  // no reference kept to a socket that may be closed before the next call
    errno = saved;
    return ready;
}

}  // namespace tcpip
