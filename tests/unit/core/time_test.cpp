#include "stack/core/clock.h"
#include "stack/core/time.h"
#include "stack/core/timer.h"

#include <gtest/gtest.h>

#include <vector>

namespace tcpip {
namespace {

TEST(Time, Arithmetic) {
    Instant t = Instant::zero() + Duration::seconds(2);
    EXPECT_EQ(t.total_micros(), 2000000);
    EXPECT_EQ((t - Instant::from_millis(500)).total_millis(), 1500);
    EXPECT_LT(Duration::millis(1), Duration::seconds(1));
    EXPECT_EQ(Duration::millis(3) * 2, Duration::micros(6000));
}

TEST(Clock, ManualMovesOnlyWhenTold) {
    ManualClock clock;
    EXPECT_EQ(clock.now(), Instant::zero());
    clock.advance(Duration::millis(5));
    EXPECT_EQ(clock.now(), Instant::from_millis(5));
}

TEST(Clock, SystemIsMonotonic) {
    SystemClock clock;
    Instant a = clock.now();
    Instant b = clock.now();
    EXPECT_LE(a, b);
}

TEST(TimerQueue, RunsInDeadlineThenSchedulingOrder) {
    TimerQueue timers;
    std::vector<int> order;
    timers.schedule(Instant::from_millis(30), [&](Instant) { order.push_back(3); });
    timers.schedule(Instant::from_millis(10), [&](Instant) { order.push_back(1); });
    timers.schedule(Instant::from_millis(20), [&](Instant) { order.push_back(2); });
    timers.schedule(Instant::from_millis(20), [&](Instant) { order.push_back(22); });
    EXPECT_EQ(timers.next_deadline(), Instant::from_millis(10));
    EXPECT_EQ(timers.run_due(Instant::from_millis(9)), 0u);
    EXPECT_EQ(timers.run_due(Instant::from_millis(20)), 3u);
    EXPECT_EQ(order, (std::vector<int>{1, 2, 22}));
    EXPECT_EQ(timers.next_deadline(), Instant::from_millis(30));
    timers.run_due(Instant::from_millis(100));
    EXPECT_EQ(order.back(), 3);
    EXPECT_FALSE(timers.next_deadline().has_value());
}

TEST(TimerQueue, CancelAndReschedulFromCallback) {
    TimerQueue timers;
    int fired = 0;
    TimerId a = timers.schedule(Instant::from_millis(10), [&](Instant) { ++fired; });
    timers.schedule(Instant::from_millis(5), [&](Instant now) {
        timers.schedule(now + Duration::millis(1), [&](Instant) { fired += 10; });
    });
    timers.cancel(a);
    timers.cancel(a);  // twice is harmless
    EXPECT_EQ(timers.next_deadline(), Instant::from_millis(5));
    timers.run_due(Instant::from_millis(5));
    EXPECT_EQ(timers.next_deadline(), Instant::from_millis(6));
    timers.run_due(Instant::from_millis(50));
    EXPECT_EQ(fired, 10);
    EXPECT_EQ(timers.pending(), 0u);
}

// Slots are reused (no allocation per timer in a steady state), and an old id stays dead when its
// slot carries a new timer: cancelling it must not cancel the new one.
TEST(TimerQueue, AReusedSlotIsNotCancelledThroughAnOldId) {
    TimerQueue q;
    std::vector<int> ran;
    const TimerId first = q.schedule(Instant::from_millis(10), [&](Instant) { ran.push_back(1); });
    q.cancel(first);
    EXPECT_EQ(q.pending(), 0u);
    const TimerId second = q.schedule(Instant::from_millis(20), [&](Instant) { ran.push_back(2); });
    EXPECT_NE(second, first);
    EXPECT_EQ(second & 0xffffffffu, first & 0xffffffffu) << "the freed slot is taken again";
    q.cancel(first);  // dead already: does nothing to the timer now in its slot
    q.cancel(0);      // names no timer
    EXPECT_EQ(q.pending(), 1u);
    EXPECT_EQ(q.next_deadline(), Instant::from_millis(20)) << "the cancelled entry is skipped";
    EXPECT_EQ(q.run_due(Instant::from_millis(20)), 1u);
    EXPECT_EQ(ran, std::vector<int>{2});
    q.cancel(second);  // ran already: nothing
    EXPECT_EQ(q.pending(), 0u);
    EXPECT_EQ(q.next_deadline(), std::nullopt);
}

}  // namespace
}  // namespace tcpip
