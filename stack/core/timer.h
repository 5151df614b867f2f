// TimerQueue: callbacks due at given instants, kept in a binary min-heap by deadline.
//
// The event loop sleeps until next_deadline() (or until a frame arrives), then calls
// run_due(now), which runs every callback whose deadline has passed, earliest first; two timers
// with the same deadline run in the order they were scheduled. Cancelling is O(1): the entry is
// marked dead and skipped when it reaches the top of the heap.
//
// Protocol code may keep its timers as plain data instead (a deadline in its own state, checked
// from poll) and only ask the queue to wake it; both styles meet in next_deadline().
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_set>
#include <vector>

#include "stack/core/time.h"

namespace tcpip {

using TimerId = std::uint64_t;

class TimerQueue {
public:
    using Callback = std::function<void(Instant now)>;

    // Schedules `callback` to run at `deadline` (or at the next run_due if that has passed).
    TimerId schedule(Instant deadline, Callback callback);
    // Cancels a pending timer; cancelling one that already ran or was cancelled does nothing.
    void cancel(TimerId id);

    // The earliest deadline of a pending timer, if there is one.
    std::optional<Instant> next_deadline();
    // Runs every timer due at or before `now`, in deadline order. Returns how many ran.
    std::size_t run_due(Instant now);

    std::size_t pending() const { return live_.size(); }

private:
    struct Entry {
        Instant deadline;
        TimerId id;  // increasing: breaks ties in scheduling order
        Callback callback;
    };
    struct Later {
        bool operator()(const Entry& a, const Entry& b) const {
            return a.deadline != b.deadline ? a.deadline > b.deadline : a.id > b.id;
        }
    };
    void drop_dead_top();

    std::vector<Entry> heap_;
    std::unordered_set<TimerId> live_;
    TimerId next_id_ = 1;
};

}  // namespace tcpip
