// EventLoop: runs a Stack against a real device and a real clock.
//
// Each turn: wait (epoll) until the device's fd is readable, the wake-up eventfd is written, or the
// stack's next deadline comes; then stack.poll(clock.now()). This is the only place that turns
// wall time into the `now` the layers see.
//
// When other threads use the same Stack (the socket facade's Runtime), they pass the mutex that
// guards it: the loop holds it around each poll() and poll_at(), and never while it sleeps in
// epoll_wait. A thread that changes what the stack must do next (a send that arms an ARP retry
// timer) calls wake() after releasing the lock, so the loop recomputes its deadline.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>

#include "stack/core/clock.h"
#include "stack/stack.h"

namespace tcpip {

class EventLoop {
public:
    // `lock`, if given, guards `stack` against other threads (see above); it must outlive the loop.
    EventLoop(Stack& stack, const Clock& clock, std::mutex* lock = nullptr);
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    // Runs until stop() is called (from any thread, or a signal handler through request_stop()).
    // `after_poll`, if given, runs after every poll, under the same thread (and the same lock).
    void run(const std::function<void(Instant now)>& after_poll = {});

    // Makes run() return soon. Safe from any thread and from a signal handler.
    void stop();
    // Makes a sleeping run() poll now (another thread has queued work). Async-signal-safe.
    void wake();

private:
    Stack& stack_;
    const Clock& clock_;
    std::mutex* lock_ = nullptr;
    int epoll_fd_ = -1;
    int wake_fd_ = -1;
    std::atomic<bool> stop_{false};
};

}  // namespace tcpip
