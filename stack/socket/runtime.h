// Runtime: a Stack made usable from application threads through the BSD-like socket API.
//
// A Runtime owns a Stack, the mutex that guards it, the Clock the stack reads, and optionally the
// thread that runs its EventLoop:
//
//     SystemClock clock;
//     TapDevice tap("tap0");
//     Runtime runtime(tap, {Ipv4Cidr::parse("10.0.0.2/24").value(), std::nullopt});
//     runtime.start_thread();                 // the stack now runs on its own
//     Runtime::set_default(&runtime);         // tcpip::socket() creates sockets here
//     int fd = tcpip::socket(AF_INET, SOCK_DGRAM, 0);
//
// Threads. Every API call takes the mutex, works on the stack in place and releases it; a call
// that must wait (recv on an empty queue, accept, a blocking connect, send on a full buffer)
// sleeps on the socket's condition variable, which the stack's thread signals from the UDP or
// TCP socket's on_event hook. The EventLoop takes the same mutex around each poll, and a call
// that makes the stack's next deadline earlier (a send that starts an ARP resolution or arms a
// retransmission timer, a connect, a close) wakes it.
//
// Threadless mode (tests, single-threaded programs): without start_thread() nothing runs the
// stack but runtime.poll(). A call that must wait then drives the stack itself: it polls the
// stack, then sleeps in the kernel on the device's descriptor until a frame arrives, the stack's
// next timer is due (Stack::poll_at) or the call's timeout passes, and polls again - what the
// EventLoop does. With no timer due it sleeps until a frame or another thread's call arrives: an
// idle stack costs no CPU. A device without a descriptor (a memory link) is polled every 1 ms
// instead. So a blocking call never hangs for want of someone to run the stack; it blocks exactly
// as long as a blocking call on Linux would (forever without a timeout if nothing ever arrives).
// While a thread sleeps so, a call from another thread that makes the stack's next deadline
// earlier (a send that arms a retransmission timer) writes the sleeper's eventfd, as the threaded
// mode's calls wake the EventLoop; a single-threaded program never pays for that write.
//
// Descriptors. Each socket's descriptor is the number of an eventfd the runtime holds open, so
// it never collides with a kernel descriptor of the process (stdin, a pipe, a TAP) nor with a
// live socket of another Runtime. A process-wide registry (descriptor -> Runtime) lets the free
// functions of socket.h find a descriptor's runtime: it is the facade's one piece of
// process-wide state, the counterpart of the kernel's descriptor table, and the default runtime
// (for tcpip::socket) is the other.
//
// Timeouts (SO_RCVTIMEO, poll's timeout) are measured in real time (SystemClock) whatever clock
// drives the stack: they bound how long the application waits.
//
// The stream (TCP) halves of the calls live in runtime_tcp.cpp; the helpers both files share
// (errno, addresses, option values) in posix.h.
//
// Lifetime: the destructor stops the thread and closes every socket. Threads blocked in a call
// on a socket that is closed return EBADF; the Runtime itself must outlive every call into it.
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "stack/net_device.h"
#include "stack/core/clock.h"
#include "stack/core/config.h"
#include "stack/event_loop.h"
#include "stack/socket/epoll_set.h"
#include "stack/socket/socket_entry.h"
#include "stack/stack.h"

namespace tcpip {

class Runtime {
public:
    // The clock the stack reads; SystemClock unless a test passes its own.
    static const Clock& system_clock();

    Runtime(NetDevice& device, InterfaceConfig iface, StackConfig config = {}, std::uint64_t seed = 0,
            const Clock& clock = system_clock());
    ~Runtime();
    Runtime(const Runtime&) = delete;
    Runtime& operator=(const Runtime&) = delete;

    // Runs the stack's EventLoop on a thread of its own / stops and joins it.
    void start_thread();
    void stop_thread();
    bool thread_running();

    // Threadless mode: receives what the device has and runs due timers, under the lock, at
    // clock.now(). Returns the number of frames processed.
    std::size_t poll();

    // The runtime tcpip::socket() creates sockets in (null: socket() fails with EAFNOSUPPORT, as
    // Linux does for a family it has no support for).
    static void set_default(Runtime* runtime);
    static Runtime* get_default();
    // The runtime that owns descriptor `fd`, or null if it is not one of ours.
    static Runtime* owner(int fd);

    // Runs f(stack) under the lock: for tests and tools that look inside (stats, pool).
    template <class F>
    auto with_stack(F&& f) {
        std::lock_guard<std::mutex> guard(mutex_);
        return f(stack_);
    }
    StackStats stats();
    std::size_t socket_count();
    // A copy of TCP socket `fd`'s event log (stack/tcp/tcp_log.h), or nullopt if `fd` is not one
    // of our TCP sockets. Empty entries when the log is off (StackConfig::tcp_log_entries).
    std::optional<TcpLogSnapshot> tcp_log(int fd);

    // ---- The socket API, with the contracts of socket.h (which forwards here) ----
    int socket(int domain, int type, int protocol);
    int bind(int fd, const sockaddr* addr, socklen_t len);
    int connect(int fd, const sockaddr* addr, socklen_t len);
    int listen(int fd, int backlog);
    int accept(int fd, sockaddr* addr, socklen_t* len);
    ssize_t send(int fd, const void* buf, std::size_t len, int flags);
    ssize_t sendto(int fd, const void* buf, std::size_t len, int flags, const sockaddr* addr, socklen_t addrlen);
    ssize_t recv(int fd, void* buf, std::size_t len, int flags);
    ssize_t recvfrom(int fd, void* buf, std::size_t len, int flags, sockaddr* addr, socklen_t* addrlen);
    int shutdown(int fd, int how);
    int close(int fd);
    int getsockname(int fd, sockaddr* addr, socklen_t* len);
    int getpeername(int fd, sockaddr* addr, socklen_t* len);
    int setsockopt(int fd, int level, int name, const void* value, socklen_t len);
    int getsockopt(int fd, int level, int name, void* value, socklen_t* len);
    // F_GETFL / F_SETFL (O_NONBLOCK), F_GETFD / F_SETFD (FD_CLOEXEC, on the eventfd); others EINVAL.
    int fcntl(int fd, int cmd, long arg);
    // FIONREAD (bytes to read: a stream's queue, a datagram socket's first datagram) and FIONBIO
    // (O_NONBLOCK from an int); other requests ENOTTY, as for a socket that does not know them.
    int ioctl(int fd, unsigned long request, void* arg);

    // tcpip::poll: any mix of our descriptors (of any runtimes) and kernel descriptors.
    // `sigmask` (poll, select, epoll_wait): if given, the thread's signal mask while the call
    // sleeps in the kernel, set and restored atomically with each wait (ppoll, epoll_pwait), as
    // ppoll, pselect and epoll_pwait take theirs. A caller that blocks every signal around the
    // call and passes the mask it had gets EINTR for a signal that came at any moment of it,
    // also while the call was working in user space (apps/run/preload.cpp does, for programs
    // that wait for a signal's flag in epoll_wait).
    static int poll(pollfd* fds, nfds_t nfds, int timeout_ms, const sigset_t* sigmask = nullptr);
    // tcpip::select, over poll: the same mix.
    static int select(int nfds, fd_set* readfds, fd_set* writefds, fd_set* exceptfds, timeval* timeout,
                      const sigset_t* sigmask = nullptr);

    // tcpip::epoll_* (runtime_epoll.cpp): an epoll instance is a kernel epoll descriptor, so it
    // watches kernel descriptors as the kernel does, plus a ready list for our sockets.
    static int epoll_create1(int flags);
    static int epoll_ctl(int epfd, int op, int fd, epoll_event* event);
    static int epoll_wait(int epfd, epoll_event* events, int maxevents, int timeout_ms, const sigset_t* sigmask = nullptr);
    // Whether `fd` is an epoll instance made by epoll_create1 above.
    static bool is_epoll(int fd);
    // Forgets the epoll instance `fd` and closes its descriptor (tcpip::close does this).
    static int close_epoll(int fd);

    // For the LD_PRELOAD shim (apps/run/). detach: forgets socket `fd` (the connection is
    // aborted or closed as close() would) but leaves the descriptor open, so the caller can put
    // another file at that number with dup2() without a window in which the number is free.
    int detach(int fd);
    // Gives socket `from` the descriptor number `to` (a dup of its eventfd the caller made):
    // the shim's dup(), when the original number is closed while a duplicate lives on.
    int renumber(int from, int to);
    // Around fork(): before it, stop the stack's thread and hold the lock (no other thread is
    // half-way through the stack when the address space is copied); after it, in the parent and
    // in the child, release the lock. start_thread() then starts the thread again, in whichever
    // process keeps using the stack.
    void before_fork();
    void after_fork();

private:
    using Lock = std::unique_lock<std::mutex>;

    std::shared_ptr<SocketEntry> find(int fd);   // under the lock
    int fail_unknown(int fd);                    // errno for a descriptor that is not ours
    // Waits on `entry` until ready() or the deadline passes (false). Under the lock.
    bool wait(Lock& lock, SocketEntry& entry, std::optional<Instant> deadline, const std::function<bool()>& ready);
    void close_locked(SocketEntry& entry);
    // Removes a watch from its epoll set (a socket closed, or EPOLL_CTL_DEL). Takes the set's lock.
    static void forget_watch(EpollSet& set, const std::shared_ptr<EpollWatch>& watch);
    // epoll_wait's look at the ready list: fills `events`, returns how many.
    static int collect_ready(EpollSet& set, epoll_event* events, int maxevents);
    // Runs the threadless runtimes a set watches (as poll() does); true if there were any. Adds
    // their devices' descriptors to `devices` and lowers `nap` to the earliest of their next
    // deadlines (begin_sleep, with the set's wake eventfd; each runtime that registered so is
    // added to `asleep_in`); end_threadless_sleep undoes that.
    static bool drive_threadless(EpollSet& set, std::vector<pollfd>& devices, std::optional<Duration>& nap,
                                 std::vector<Runtime*>& asleep_in);
    static void end_threadless_sleep(EpollSet& set, const std::vector<Runtime*>& asleep_in);
    void wake_if_earlier(std::optional<Instant> before);
    // Threadless mode: a thread about to sleep while it drives the stack registers its waiter
    // eventfd `fd` here, and learns how long it may sleep: until the stack's next deadline,
    // forever (nullopt) when none is due, at most kThreadlessTick for a device without a
    // descriptor. end_sleep forgets it. Both under the lock.
    std::optional<Duration> begin_sleep(int fd);
    void end_sleep(int fd);
    // Wakes each sleeping driver that would sleep past the stack's next deadline. Under the lock.
    void wake_sleepers();
    short events_locked(SocketEntry& entry, short requested);
    // Registers a new descriptor for `transport` (socket(), accept()). Under the lock.
    void add_entry_locked(const std::shared_ptr<SocketEntry>& entry);
    // Runs a call into a layer that may transmit or arm timers, then wakes the loop if its next
    // deadline moved earlier. Under the lock.
    template <class F>
    auto call_layer(F&& f) {
        const auto before = stack_.poll_at();
        auto result = f(clock_.now());
        deliver_events();
        wake_if_earlier(before);
        return result;
    }

    // Events from the layers (data arrived, a connection was accepted, an error) are gathered
    // while the stack works through a batch of frames and delivered once at the end of it: one
    // wake-up of a waiting thread per batch instead of one per segment, and the woken thread
    // does not find the lock still held by the rest of the batch. Both under the lock.
    void on_stack_event(SocketEntry& entry);
    void deliver_events();
    // The stack's poll (threadless mode, or a blocked caller driving it), then the events.
    std::size_t poll_stack();
    // Threadless, at the start of a wait: poll_stack without reading the device when that read
    // would find nothing new to report - the last poll_stack drained the device (a short batch)
    // and no frame the device itself delays is due - since the wait that follows is on the
    // device's descriptor, which reports any frame that came since. Saves a read per request.
    void poll_stack_before_wait();

    // ---- The stream (TCP) halves of the calls above: runtime_tcp.cpp, under the lock ----
    TcpSocket* tcp_open(SocketEntry& entry);
    void tcp_disconnect(SocketEntry& entry);
    int tcp_bind(SocketEntry& entry, const sockaddr* addr, socklen_t len);
    int tcp_connect(Lock& lock, SocketEntry& entry, const sockaddr* addr, socklen_t len);
    int tcp_listen(SocketEntry& entry, int backlog);
    int tcp_accept(Lock& lock, SocketEntry& entry, sockaddr* addr, socklen_t* len);
    ssize_t tcp_send(Lock& lock, SocketEntry& entry, const void* buf, std::size_t len, int flags);
    ssize_t tcp_recv(Lock& lock, SocketEntry& entry, void* buf, std::size_t len, int flags);
    int tcp_shutdown(SocketEntry& entry, int how);
    void tcp_linger(Lock& lock, SocketEntry& entry);
    int tcp_getsockname(SocketEntry& entry, sockaddr* addr, socklen_t* len);
    int tcp_getpeername(SocketEntry& entry, sockaddr* addr, socklen_t* len);
    int tcp_setsockopt(SocketEntry& entry, int level, int name, const void* value, socklen_t len);
    int tcp_getsockopt(SocketEntry& entry, int level, int name, void* value, socklen_t* len);
    short tcp_events(SocketEntry& entry, short requested);

    const Clock& clock_;
    std::mutex mutex_;
    Stack stack_;
    std::unordered_map<int, std::shared_ptr<SocketEntry>> sockets_;
    std::vector<SocketEntry*> pending_events_;  // entries with event_pending set, in sockets_
    std::unique_ptr<EventLoop> loop_;  // while the thread runs
    // Threadless mode: the threads asleep in a call that drives this stack (their waiter
    // eventfds), and the stack deadline each will wake at by itself (nullopt: none). Empty in a
    // single-threaded program while it runs the stack, so wake_sleepers costs it nothing.
    struct Sleeper {
        int fd;
        std::optional<Instant> until;
    };
    std::vector<Sleeper> sleepers_;
    bool device_drained_ = false;  // the last poll_stack read the device until it had no more
    std::thread thread_;
};

}  // namespace tcpip
