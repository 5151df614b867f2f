// Clocks: where `now` comes from. The event loop asks a Clock and passes the answer down; the
// protocol layers only ever see the Instant.
#pragma once

#include "stack/core/time.h"

namespace tcpip {

class Clock {
public:
    virtual ~Clock() = default;
    virtual Instant now() const = 0;
};

// The monotonic system clock (CLOCK_MONOTONIC): never jumps when the wall clock is set.
class SystemClock final : public Clock {
public:
    Instant now() const override;
};

// A clock that moves only when told to: tests and simulations set the time explicitly.
class ManualClock final : public Clock {
public:
    explicit ManualClock(Instant start = Instant::zero()) : now_(start) {}
    Instant now() const override { return now_; }
    void advance(Duration d) { now_ += d; }
    void set(Instant t) { now_ = t; }

private:
    Instant now_;
};

}  // namespace tcpip
