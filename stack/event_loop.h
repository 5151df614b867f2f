// EventLoop: runs a Stack against a real device and a real clock.
//
// Each turn: wait (epoll) until the device's fd is readable, the wake-up eventfd is written, or the
// stack's next deadline comes; then stack.poll(clock.now()). This is the only place that turns
// wall time into the `now` the layers see.
#pragma once

#include <atomic>
#include <functional>

#include "stack/core/clock.h"
#include "stack/stack.h"

namespace tcpip {

class EventLoop {
public:
    EventLoop(Stack& stack, const Clock& clock);
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    // Runs until stop() is called (from any thread, or a signal handler through request_stop()).
    // `after_poll`, if given, runs after every poll, under the same thread.
    void run(const std::function<void(Instant now)>& after_poll = {});

    // Makes run() return soon. Safe from any thread and from a signal handler.
    void stop();
    // Makes a sleeping run() poll now (another thread has queued work). Async-signal-safe.
    void wake();

private:
    Stack& stack_;
    const Clock& clock_;
    int epoll_fd_ = -1;
    int wake_fd_ = -1;
    std::atomic<bool> stop_{false};
};

}  // namespace tcpip
