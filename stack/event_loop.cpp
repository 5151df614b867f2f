#include "stack/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <optional>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <cstring>

namespace tcpip {

EventLoop::EventLoop(Stack& stack, const Clock& clock, std::mutex* lock) : stack_(stack), clock_(clock), lock_(lock) {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_fd_ < 0 || wake_fd_ < 0) {
        throw std::runtime_error(std::string("event loop: cannot create epoll/eventfd: ") + std::strerror(errno));
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_fd_;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
    if (int fd = stack_.device().wait_fd(); fd >= 0) {
        ev.data.fd = fd;
        epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    }
}

EventLoop::~EventLoop() {
    if (epoll_fd_ >= 0) close(epoll_fd_);
    if (wake_fd_ >= 0) close(wake_fd_);
}

void EventLoop::run(const std::function<void(Instant now)>& after_poll) {
    const bool has_fd = stack_.device().wait_fd() >= 0;
    while (!stop_.load(std::memory_order_relaxed)) {
        std::optional<Instant> deadline;
        {
            // Held for the poll and the deadline, released before sleeping.
            std::unique_lock<std::mutex> guard = lock_ ? std::unique_lock<std::mutex>(*lock_) : std::unique_lock<std::mutex>();
            Instant now = clock_.now();
            stack_.poll(now);
            if (after_poll) after_poll(now);
            deadline = stack_.poll_at();
        }

        // Sleep until the next deadline, to the microsecond (epoll_pwait2 takes a timespec: TCP's
        // pacing timer is often well under a millisecond away, and epoll_wait's whole milliseconds
        // would stretch each paced gap to one), or indefinitely when nothing is scheduled. A
        // device without an fd is polled every 1 ms.
        std::optional<std::int64_t> timeout_us;
        if (deadline) timeout_us = std::clamp<std::int64_t>((*deadline - clock_.now()).total_micros(), 0, 60'000'000);
        if (!has_fd && (!timeout_us || *timeout_us > 1000)) timeout_us = 1000;
        if (stop_.load(std::memory_order_relaxed)) break;

        epoll_event events[4];
        timespec timeout{};
        if (timeout_us) {
            timeout.tv_sec = static_cast<time_t>(*timeout_us / 1'000'000);
            timeout.tv_nsec = static_cast<long>(*timeout_us % 1'000'000 * 1000);
        }
        int n = epoll_pwait2(epoll_fd_, events, 4, timeout_us ? &timeout : nullptr, nullptr);
        if (n < 0 && errno == ENOSYS) {  // a kernel before 5.11: whole milliseconds, rounded up
            n = epoll_wait(epoll_fd_, events, 4, timeout_us ? static_cast<int>((*timeout_us + 999) / 1000) : -1);
        }
        for (int i = 0; i < n; ++i) {
            if (events[i].data.fd == wake_fd_) {
                std::uint64_t count;
                [[maybe_unused]] auto r = read(wake_fd_, &count, sizeof count);
            }
        }
    }
}

void EventLoop::stop() {
    stop_.store(true, std::memory_order_relaxed);
    wake();
}

void EventLoop::wake() {
    std::uint64_t one = 1;
    [[maybe_unused]] auto r = write(wake_fd_, &one, sizeof one);
}

}  // namespace tcpip
