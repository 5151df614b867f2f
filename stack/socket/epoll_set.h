// What tcpip::epoll keeps per epoll instance and per watched socket of ours (runtime_epoll.cpp has
// the algorithm). Internal to stack/socket/: applications include socket.h.
//
// An epoll instance is a kernel epoll descriptor (the number the application holds, where its
// kernel descriptors are registered with the kernel) plus, for our sockets, a ready list kept in
// user space, as Linux keeps its own (fs/eventpoll.c: the rdllist of struct eventpoll):
//
//   EpollSet   fd        the kernel epoll; kernel descriptors are registered there as they are
//              wake_fd   an eventfd, registered in `fd` under the data `token()`, written when the
//                        ready list goes from empty to not empty, so a thread asleep in the kernel's
//                        epoll_wait wakes for our sockets too
//              watches   our descriptors registered here (Linux's epitem), by number
//              ready     the watches that may be ready: a socket's event (SocketEntry::notify) puts
//                        its watches here; epoll_wait looks only at this list, so a wait costs
//                        O(ready), not O(watched)
//              sleepers  the threads asleep in epoll_wait on this instance that no event has woken
//                        yet (Linux: the waiters on ep->wq); EPOLLEXCLUSIVE needs to know them
//   EpollWatch one (set, socket) registration: the events asked for, the data to return, and
//              whether it is queued, disarmed (EPOLLONESHOT fired) or removed.
//
// Locks: a socket's event runs under its runtime's mutex and takes the set's mutex to queue the
// watch (runtime -> set). epoll_wait never holds the set's mutex while it takes a runtime's: it
// takes the list out, checks each socket under its runtime's lock, then puts back what stays.
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace tcpip {

class Runtime;
struct SocketEntry;
struct EpollSet;

struct EpollWatch {
    int fd = -1;
    Runtime* runtime = nullptr;
    std::weak_ptr<SocketEntry> entry;  // the socket; gone once closed
    std::weak_ptr<EpollSet> set;       // the instance; gone once its descriptor is closed
    bool exclusive = false;            // EPOLLEXCLUSIVE, fixed at EPOLL_CTL_ADD (MOD may not change it)
    // Guarded by the set's mutex:
    epoll_event event{};               // events asked for (with EPOLLET, EPOLLONESHOT, ...) and the data
    bool queued = false;               // on the set's ready list
    bool disarmed = false;             // EPOLLONESHOT reported once: silent until EPOLL_CTL_MOD
    bool removed = false;              // EPOLL_CTL_DEL, or the socket was closed
};

struct EpollSet {
    int fd = -1;
    int wake_fd = -1;
    std::mutex mutex;
    std::unordered_map<int, std::shared_ptr<EpollWatch>> watches;  // our descriptors, by number
    std::vector<std::shared_ptr<EpollWatch>> ready;                // in the order they became ready
    std::unordered_map<Runtime*, std::size_t> runtimes;             // how many watches per runtime
    // The threads in epoll_wait's sleep: `sleepers` not yet woken by an event, `woken` woken by
    // one (enqueue moved them over) but not yet back. A thread back from its sleep takes itself
    // off `woken` if it is not zero, else off `sleepers`: threads are alike, so the counts stay
    // right whichever of them the kernel actually woke.
    std::size_t sleepers = 0;
    std::size_t woken = 0;

    // The data the wake eventfd is registered under: the address of this object, which no data
    // an application registers for its own descriptors can equal unless it is this very pointer.
    std::uint64_t token() const { return reinterpret_cast<std::uintptr_t>(this); }

    // An event of the watched socket (Linux's ep_poll_callback): puts `watch` on the ready list
    // (once) and, if a thread sleeps in epoll_wait here, wakes one of them and returns true (what
    // ends an EPOLLEXCLUSIVE walk). The wake eventfd is written then, and whenever the list
    // becomes non-empty, so that a poll or epoll on the instance's own descriptor sees it
    // readable. Takes the set's mutex.
    bool enqueue(const std::shared_ptr<EpollWatch>& watch);
    // epoll_wait about to sleep (ep_poll): counts the caller among the sleepers, unless the ready
    // list is no longer empty (an event came since it looked: false, it must look again). Checked
    // and counted under one lock, so an event either finds the sleeper or is found by it.
    bool start_sleep();
    // Back from the sleep, before looking at the ready list again.
    void end_sleep();
};

}  // namespace tcpip
