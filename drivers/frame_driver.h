// FrameDriver: plays frames into a stack in virtual time and collects what it sends. The one
// loop that the whole-stack fuzz target (tests/fuzz/stack_target.cpp) and the deterministic
// replay (tcpip-replay, apps/replay/) share: a QueueDevice under the stack, a ManualClock
// beside it, and two calls into whatever runs the stack (a bare Stack, or a Runtime in threadless
// mode): poll(now) and poll_at().
//
//     FrameDriver driver(device, clock, [&](Instant t) { stack.poll(t); }, [&] { return stack.poll_at(); });
//     driver.advance_to(at(100));          // every timer due before 100 ms runs at its own deadline
//     driver.inject(frame);                // a frame from the peer...
//     driver.run();                        // ...received and answered at 100 ms
//     for (auto& sent : driver.take_sent()) ...   // what the stack sent, with when
//
// Time moves only forward and only here, so a run is exactly repeatable: the same frames at the
// same instants give the same answers.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "drivers/memory_link.h"
#include "stack/core/clock.h"

namespace tcpip {

class FrameDriver {
public:
    using Poll = std::function<void(Instant now)>;
    using PollAt = std::function<std::optional<Instant>()>;

    struct SentFrame {
        Instant at;
        std::vector<std::uint8_t> bytes;
    };

    FrameDriver(QueueDevice& device, ManualClock& clock, Poll poll, PollAt poll_at)
        : device_(device), clock_(clock), poll_(std::move(poll)), poll_at_(std::move(poll_at)) {}

    Instant now() const { return clock_.now(); }

    // A frame for the stack, received at its next run.
    void inject(std::vector<std::uint8_t> frame) { device_.inject(std::move(frame)); }

    // The stack runs once at now(): it receives what was injected and runs the timers due.
    void run();

    // Time moves to `t` (never back): each deadline the stack has before `t` is run at its own
    // instant, after_each() called after each such run; then one run at `t`. With `when`, a
    // deadline runs at when(deadline) instead (no earlier than the deadline): the replay runs a
    // timer as late as the recorded stack ran it. A deadline `when` puts after `t` stops the
    // advance at `t` without that last run: the caller's next run() at `t` receives the frames it
    // injected first and runs the timer after them (Stack::poll's order), as the recorded stack,
    // late, did.
    using When = std::function<Instant(Instant deadline)>;
    void advance_to(Instant t, const std::function<void()>& after_each = nullptr, const When& when = nullptr);

    // Everything the stack transmitted since the last call, oldest first, with the instant each
    // left (frames sent outside run(), by an application's call, count from now()).
    std::vector<SentFrame> take_sent();
    // The same, thrown away (the fuzz target plays no peer that reads them).
    void discard_sent() { collect(); sent_.clear(); }

private:
    void collect();

    QueueDevice& device_;
    ManualClock& clock_;
    Poll poll_;
    PollAt poll_at_;
    std::vector<SentFrame> sent_;
};

}  // namespace tcpip
