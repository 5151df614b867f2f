// tcpip::epoll_create1 / epoll_ctl / epoll_wait and tcpip::select (runtime.h), over any mix of our
// sockets and kernel descriptors, as tcpip::poll. epoll_set.h has the data structures.
//
// epoll mirrors fs/eventpoll.c: the instance is a real kernel epoll descriptor, so a kernel
// descriptor is registered with the kernel and reported by it, exactly as without us. Our sockets
// are registered in user space, and their events reach the instance the way Linux's reach its
// own: the socket's wake-up (SocketEntry::notify, Linux's ep_poll_callback) puts the registration
// on the instance's ready list, and epoll_wait (ep_send_events) looks only at that list:
//   level-triggered   a watch that is still ready after being reported goes back on the list,
//                     so the next epoll_wait reports it again; one that is not ready leaves it
//                     (its socket's next event puts it back)
//   EPOLLET           reported once per event: the watch leaves the list when reported
//   EPOLLONESHOT      reported once, then disarmed until EPOLL_CTL_MOD
//   EPOLLRDHUP        asked for like the other bits (tcp_poll's POLLRDHUP)
//   EPOLLEXCLUSIVE    the instances watching exclusively are offered the event in the order they
//                     registered; each queues the watch, and the first with a thread asleep in
//                     epoll_wait wakes it and ends the walk (SocketEntry::notify): one sleeping
//                     thread is woken, and an instance nobody waits on still reports the socket
// A sleeping epoll_wait sleeps in the kernel's epoll_wait on the instance itself, in which the
// set's wake eventfd is registered: our sockets' events and the kernel's wake it alike.
//
// select is poll with bit sets, as Linux's do_select is (the same readiness, mapped as POLLIN_SET,
// POLLOUT_SET and POLLEX_SET); it costs O(nfds) per call as it does on Linux.
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <vector>

#include "stack/socket/posix.h"
#include "stack/socket/runtime.h"

namespace tcpip {

using namespace posix;

namespace {

// The epoll instances made by epoll_create1, by descriptor: the counterpart of the socket registry.
struct EpollRegistry {
    std::mutex mutex;
    std::unordered_map<int, std::shared_ptr<EpollSet>> sets;
};
EpollRegistry& epoll_registry() {
    static EpollRegistry instance;
    return instance;
}

std::shared_ptr<EpollSet> find_set(int fd) {
    EpollRegistry& r = epoll_registry();
    std::lock_guard<std::mutex> guard(r.mutex);
    auto it = r.sets.find(fd);
    return it == r.sets.end() ? nullptr : it->second;
}

// The event bits a watch may ask for and report; EPOLLERR and EPOLLHUP are always reported.
constexpr std::uint32_t kEventBits = EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND | EPOLLWRNORM |
                                     EPOLLWRBAND | EPOLLMSG | EPOLLRDHUP | EPOLLERR | EPOLLHUP;
// What EPOLLEXCLUSIVE may be combined with (Linux's EPOLLEXCLUSIVE_OK_BITS).
constexpr std::uint32_t kExclusiveOk =
    EPOLLIN | EPOLLOUT | EPOLLRDNORM | EPOLLRDBAND | EPOLLWRNORM | EPOLLWRBAND | EPOLLERR | EPOLLHUP |
    EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE;

}  // namespace

bool EpollSet::enqueue(const std::shared_ptr<EpollWatch>& watch) {
    std::lock_guard<std::mutex> guard(mutex);
    // A disarmed EPOLLONESHOT watch takes no event and wakes nobody (ep_poll_callback's "disabled").
    if (watch->disarmed || watch->removed) return false;
    bool write = false;
    if (!watch->queued) {
        watch->queued = true;
        ready.push_back(watch);
        write = ready.size() == 1;
    }
    const bool wakes = sleepers > 0;
    if (wakes) {
        --sleepers;
        ++woken;
        write = true;
    }
    if (write) {
        const std::uint64_t one = 1;
        [[maybe_unused]] auto r = ::write(wake_fd, &one, sizeof one);
    }
    return wakes;
}

bool EpollSet::start_sleep() {
    std::lock_guard<std::mutex> guard(mutex);
    if (!ready.empty()) return false;
    ++sleepers;
    return true;
}

void EpollSet::end_sleep() {
    std::lock_guard<std::mutex> guard(mutex);
    if (woken > 0) {
        --woken;
    } else {
        --sleepers;
    }
}

// ---------------------------------------------------------------------------------------------
// Creating and closing

// do_epoll_create: only EPOLL_CLOEXEC is a valid flag.
int Runtime::epoll_create1(int flags) {
    if (flags & ~EPOLL_CLOEXEC) return fail(EINVAL);
    auto set = std::make_shared<EpollSet>();
    set->fd = ::epoll_create1(flags);
    if (set->fd < 0) return -1;
    set->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_event wake{};
    wake.events = EPOLLIN;
    wake.data.u64 = set->token();
    if (set->wake_fd < 0 || ::epoll_ctl(set->fd, EPOLL_CTL_ADD, set->wake_fd, &wake) < 0) {
        const int error = errno;
        ::close(set->fd);
        if (set->wake_fd >= 0) ::close(set->wake_fd);
        return fail(error);
    }
    EpollRegistry& r = epoll_registry();
    std::lock_guard<std::mutex> guard(r.mutex);
    r.sets[set->fd] = set;
    return set->fd;
}

bool Runtime::is_epoll(int fd) { return find_set(fd) != nullptr; }

// The sockets still watched keep a weak reference to the set, which dies here: their next event
// finds no set and does nothing (SocketEntry::notify).
int Runtime::close_epoll(int fd) {
    std::shared_ptr<EpollSet> set;
    {
        EpollRegistry& r = epoll_registry();
        std::lock_guard<std::mutex> guard(r.mutex);
        auto it = r.sets.find(fd);
        if (it == r.sets.end()) return fail(EBADF);
        set = std::move(it->second);
        r.sets.erase(it);
    }
    {
        std::lock_guard<std::mutex> guard(set->mutex);
        for (auto& [number, watch] : set->watches) watch->removed = true;
        set->watches.clear();
        set->ready.clear();
    }
    ::close(set->wake_fd);
    return ::close(fd);
}

void Runtime::forget_watch(EpollSet& set, const std::shared_ptr<EpollWatch>& watch) {
    std::lock_guard<std::mutex> guard(set.mutex);
    if (watch->removed) return;
    watch->removed = true;
    auto it = set.watches.find(watch->fd);
    if (it != set.watches.end() && it->second == watch) set.watches.erase(it);
    auto counted = set.runtimes.find(watch->runtime);
    if (counted != set.runtimes.end() && --counted->second == 0) set.runtimes.erase(counted);
    // (A queued watch stays in `ready` until the next epoll_wait drops it: it is marked removed.)
}

// ---------------------------------------------------------------------------------------------
// Registering

// do_epoll_ctl, in Linux's order of checks: the event readable (EFAULT), both descriptors open
// (EBADF), the target able to be polled (a regular file: EPERM), the target not the instance
// itself and the instance an epoll (EINVAL), EPOLLEXCLUSIVE's rules (EINVAL), then ADD on a
// registered descriptor (EEXIST) and MOD or DEL on one that is not (ENOENT).
int Runtime::epoll_ctl(int epfd, int op, int fd, epoll_event* event) {
    const bool has_event = op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD;
    if (has_event && event == nullptr) return fail(EFAULT);
    auto set = find_set(epfd);
    Runtime* runtime = fd >= 0 ? owner(fd) : nullptr;
    if (!set || !runtime) {
        // An instance we did not make (only kernel descriptors can be in it), or a kernel
        // descriptor: the kernel decides, as it would without us.
        if (!set && runtime) {
            if (::fcntl(epfd, F_GETFD) < 0) return fail(EBADF);
            return fail(EINVAL);  // not an epoll instance of ours: it cannot watch our socket
        }
        return ::epoll_ctl(set ? set->fd : epfd, op, fd, event);
    }
    if (op != EPOLL_CTL_ADD && op != EPOLL_CTL_MOD && op != EPOLL_CTL_DEL) return fail(EINVAL);
    std::uint32_t events = has_event ? event->events : 0;
    if (has_event && (events & EPOLLEXCLUSIVE)) {
        if (op == EPOLL_CTL_MOD || (events & ~kExclusiveOk)) return fail(EINVAL);
    }

    std::shared_ptr<EpollWatch> watch;
    {
        std::lock_guard<std::mutex> guard(set->mutex);
        auto it = set->watches.find(fd);
        switch (op) {
            case EPOLL_CTL_ADD:
                if (it != set->watches.end()) return fail(EEXIST);
                watch = std::make_shared<EpollWatch>();
                watch->fd = fd;
                watch->runtime = runtime;
                watch->set = set;
                watch->exclusive = (events & EPOLLEXCLUSIVE) != 0;
                watch->event = *event;
                watch->event.events |= EPOLLERR | EPOLLHUP;  // always reported (ep_insert)
                set->watches.emplace(fd, watch);
                ++set->runtimes[runtime];
                break;
            case EPOLL_CTL_MOD:
                if (it == set->watches.end()) return fail(ENOENT);
                watch = it->second;
                if (watch->exclusive) return fail(EINVAL);
                watch->event = *event;
                watch->event.events |= EPOLLERR | EPOLLHUP;
                watch->disarmed = false;  // re-arms an EPOLLONESHOT watch
                break;
            default:  // EPOLL_CTL_DEL
                if (it == set->watches.end()) return fail(ENOENT);
                watch = it->second;
                break;
        }
    }
    if (op == EPOLL_CTL_DEL) forget_watch(*set, watch);

    Lock lock(runtime->mutex_);
    auto entry = runtime->find(fd);
    if (!entry) {  // closed meanwhile
        forget_watch(*set, watch);
        return fail(EBADF);
    }
    if (op == EPOLL_CTL_DEL) {
        std::erase(entry->epoll_watches, watch);
        return 0;
    }
    if (op == EPOLL_CTL_ADD) {
        watch->entry = entry;
        entry->epoll_watches.push_back(watch);
    }
    // ep_insert / ep_modify: a descriptor already ready is queued at once.
    if (runtime->events_locked(*entry, static_cast<short>(events & kEventBits)) != 0) set->enqueue(watch);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Waiting

bool Runtime::drive_threadless(EpollSet& set, std::vector<pollfd>& devices, std::optional<Duration>& nap,
                               std::vector<Runtime*>& asleep_in) {
    thread_local std::vector<Runtime*> runtimes;  // reused: no allocation per call
    runtimes.clear();
    {
        std::lock_guard<std::mutex> guard(set.mutex);
        for (auto& [runtime, count] : set.runtimes) runtimes.push_back(runtime);
    }
    bool any = false;
    for (Runtime* runtime : runtimes) {
        Lock lock(runtime->mutex_);
        if (runtime->loop_) continue;
        any = true;
        runtime->end_sleep(set.wake_fd);  // awake: running the stack wakes others, not us
        runtime->poll_stack();
        // Its device joins the wait, and the wait ends by its next deadline (runtime.h); the
        // set's wake eventfd is what another thread writes to bring that deadline forward.
        if (const int fd = runtime->stack_.device().wait_fd(); fd >= 0) devices.push_back(pollfd{fd, POLLIN, 0});
        if (auto n = runtime->begin_sleep(set.wake_fd); n && (!nap || *n < *nap)) nap = n;
        if (std::find(asleep_in.begin(), asleep_in.end(), runtime) == asleep_in.end()) asleep_in.push_back(runtime);
    }
    return any;
}

void Runtime::end_threadless_sleep(EpollSet& set, const std::vector<Runtime*>& asleep_in) {
    for (Runtime* runtime : asleep_in) {
        Lock lock(runtime->mutex_);
        runtime->end_sleep(set.wake_fd);
    }
}

// ep_send_events: takes the ready list out, checks each socket under its runtime's lock, then
// reports what is ready and puts back what must stay (level-triggered and still ready, or not
// reported for want of room in `events`).
int Runtime::collect_ready(EpollSet& set, epoll_event* events, int maxevents) {
    struct Candidate {
        std::shared_ptr<EpollWatch> watch;
        std::uint32_t asked = 0;
        std::uint32_t ready = 0;
    };
    thread_local std::vector<Candidate> candidates;
    candidates.clear();
    {
        std::lock_guard<std::mutex> guard(set.mutex);
        for (auto& watch : set.ready) {
            watch->queued = false;
            if (watch->removed || watch->disarmed) continue;
            const std::uint32_t asked = watch->event.events;
            candidates.push_back({std::move(watch), asked, 0});
        }
        set.ready.clear();
    }
    if (candidates.empty()) return 0;
    for (auto& c : candidates) {
        auto entry = c.watch->entry.lock();
        if (!entry) continue;
        Lock lock(c.watch->runtime->mutex_);
        if (entry->closed) continue;
        c.ready = static_cast<std::uint16_t>(c.watch->runtime->events_locked(*entry, static_cast<short>(c.asked & kEventBits)));
    }
    int n = 0;
    std::lock_guard<std::mutex> guard(set.mutex);
    for (auto& c : candidates) {
        EpollWatch& w = *c.watch;
        if (w.removed || w.disarmed || c.ready == 0) continue;  // not ready: its next event queues it again
        if (w.event.events != c.asked) {
            // Modified meanwhile: look again at the next call.
            if (!w.queued) {
                w.queued = true;
                set.ready.push_back(c.watch);
            }
            continue;
        }
        if (n < maxevents) {
            events[n].events = c.ready & (w.event.events | EPOLLERR | EPOLLHUP);
            events[n].data = w.event.data;
            ++n;
            if (w.event.events & EPOLLONESHOT) {
                w.disarmed = true;
                continue;
            }
            if (w.event.events & EPOLLET) continue;
        }
        if (!w.queued) {  // level-triggered and still ready, or no room for it this time
            w.queued = true;
            set.ready.push_back(c.watch);
        }
    }
    candidates.clear();  // no reference kept to a closed socket's watch
    return n;
}

// do_epoll_wait + ep_poll. Our ready sockets first; then the kernel's epoll_wait on the instance,
// without waiting if some of ours were ready, else sleeping until the timeout, a kernel
// descriptor's event, or the wake eventfd (one of ours became ready).
int Runtime::epoll_wait(int epfd, epoll_event* events, int maxevents, int timeout_ms, const sigset_t* sigmask) {
    auto set = find_set(epfd);
    if (!set) return ::epoll_pwait(epfd, events, maxevents, timeout_ms, sigmask);  // the kernel's, or EBADF/EINVAL
    if (maxevents <= 0) return fail(EINVAL);
    if (events == nullptr) return fail(EFAULT);
    const bool forever = timeout_ms < 0;
    const Instant deadline = forever ? Instant::zero() : wall_now() + Duration::millis(timeout_ms);
    thread_local std::vector<pollfd> devices;  // the threadless runtimes' devices, and the set's fd
    // However the call returns, the threadless runtimes it registered with (begin_sleep) forget
    // it: none of them may write the set's eventfd once the call is over.
    struct EndSleep {
        EpollSet& set;
        std::vector<Runtime*>& asleep_in;
        ~EndSleep() {
            if (!asleep_in.empty()) end_threadless_sleep(set, asleep_in);
            asleep_in.clear();
        }
    };
    thread_local std::vector<Runtime*> asleep_in;
    asleep_in.clear();
    EndSleep end_sleep{*set, asleep_in};
    for (;;) {
        devices.clear();
        devices.push_back(pollfd{set->fd, POLLIN, 0});
        std::optional<Duration> nap;
        const bool threadless = drive_threadless(*set, devices, nap, asleep_in);
        const int ours = collect_ready(*set, events, maxevents);
        if (ours == maxevents) return ours;
        int wait_ms = -1;
        bool last_pass = false;
        if (ours > 0) {
            wait_ms = 0;
        } else if (!forever) {
            const Duration left = deadline - wall_now();
            last_pass = left <= Duration::zero();
            wait_ms = last_pass ? 0 : static_cast<int>(std::min<std::int64_t>((left.total_micros() + 999) / 1000, INT_MAX));
        }
        // A threadless runtime is run by this call: the wait ends when one of their devices has a
        // frame (the kernel's poll on the devices beside the epoll instance's own descriptor), or
        // by the earliest of their deadlines (runtime.h).
        if (threadless && nap) {
            const int nap_ms = static_cast<int>(std::min<std::int64_t>((nap->total_micros() + 999) / 1000, INT_MAX));
            if (wait_ms < 0 || nap_ms < wait_ms) wait_ms = nap_ms;
        }
        // ep_poll: a thread that is about to sleep counts as a sleeper (an exclusive event may
        // then wake it, and not another instance), unless an event came since collect_ready
        // looked: then it looks again instead.
        const bool sleeps = wait_ms != 0;
        if (sleeps && !set->start_sleep()) continue;
        int k = 0;
        if (threadless && devices.size() > 1 && wait_ms != 0) {
            k = kernel_poll(devices.data(), devices.size(), wait_ms, sigmask);
            wait_ms = 0;  // what the instance has is collected below, without waiting again
        }
        if (k >= 0) k = ::epoll_pwait(set->fd, events + ours, maxevents - ours, wait_ms, sigmask);
        if (sleeps) set->end_sleep();
        if (k < 0) return ours > 0 ? ours : -1;  // EINTR and friends, as the kernel said
        int n = ours;
        bool woken = false;
        for (int i = ours; i < ours + k; ++i) {
            if (events[i].data.u64 == set->token()) {
                std::uint64_t count;
                [[maybe_unused]] auto r = ::read(set->wake_fd, &count, sizeof count);
                woken = true;
                continue;
            }
            events[n++] = events[i];
        }
        // Woken for our sockets beside the kernel's: report both now, since the event that woke
        // this thread may have passed the other instances by (EPOLLEXCLUSIVE).
        if (woken && sleeps && n > 0 && n < maxevents) n += collect_ready(*set, events + n, maxevents - n);
        if (n > 0 || last_pass) return n;
    }
}

// ---------------------------------------------------------------------------------------------
// select

// core_sys_select + do_select: the three sets become one poll over the descriptors below nfds;
// readable is POLLIN_SET (POLLIN, POLLHUP, POLLERR), writable POLLOUT_SET (POLLOUT, POLLERR),
// exceptional POLLEX_SET (POLLPRI). A descriptor that is not open fails the call with EBADF. The
// timeout is updated with the time left, as Linux does.
int Runtime::select(int nfds, fd_set* readfds, fd_set* writefds, fd_set* exceptfds, timeval* timeout,
                    const sigset_t* sigmask) {
    if (nfds < 0) return fail(EINVAL);
    nfds = std::min(nfds, FD_SETSIZE);
    int timeout_ms = -1;
    if (timeout != nullptr) {
        if (timeout->tv_sec < 0 || timeout->tv_usec < 0) return fail(EINVAL);
        const std::int64_t ms = static_cast<std::int64_t>(timeout->tv_sec) * 1000 + (timeout->tv_usec + 999) / 1000;
        timeout_ms = static_cast<int>(std::min<std::int64_t>(ms, INT_MAX));
    }
    thread_local std::vector<pollfd> fds;
    fds.clear();
    auto in = [](fd_set* set, int fd) { return set != nullptr && FD_ISSET(fd, set); };
    for (int fd = 0; fd < nfds; ++fd) {
        short asked = 0;
        if (in(readfds, fd)) asked |= POLLIN;
        if (in(writefds, fd)) asked |= POLLOUT;
        if (in(exceptfds, fd)) asked |= POLLPRI;
        if (asked != 0) fds.push_back(pollfd{fd, asked, 0});
    }
    const Instant start = wall_now();
    const int n = poll(fds.data(), fds.size(), timeout_ms, sigmask);
    if (n < 0) return -1;
    for (const pollfd& p : fds) {
        if (p.revents & POLLNVAL) return fail(EBADF);
    }
    if (readfds != nullptr) FD_ZERO(readfds);
    if (writefds != nullptr) FD_ZERO(writefds);
    if (exceptfds != nullptr) FD_ZERO(exceptfds);
    int count = 0;
    for (const pollfd& p : fds) {
        if ((p.events & POLLIN) && (p.revents & (POLLIN | POLLRDNORM | POLLHUP | POLLERR))) {
            FD_SET(p.fd, readfds);
            ++count;
        }
        if ((p.events & POLLOUT) && (p.revents & (POLLOUT | POLLWRNORM | POLLERR))) {
            FD_SET(p.fd, writefds);
            ++count;
        }
        if ((p.events & POLLPRI) && (p.revents & POLLPRI)) {
            FD_SET(p.fd, exceptfds);
            ++count;
        }
    }
    if (timeout != nullptr) {
        const std::int64_t total = static_cast<std::int64_t>(timeout->tv_sec) * 1000000 + timeout->tv_usec;
        const std::int64_t left = std::max<std::int64_t>(0, total - (wall_now() - start).total_micros());
        timeout->tv_sec = left / 1000000;
        timeout->tv_usec = left % 1000000;
    }
    return count;
}

}  // namespace tcpip
