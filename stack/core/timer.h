// TimerQueue: callbacks due at given instants, kept in a binary min-heap by deadline.
//
// The event loop sleeps until next_deadline() (or until a frame arrives), then calls
// run_due(now), which runs every callback whose deadline has passed, earliest first; two timers
// with the same deadline run in the order they were scheduled. Cancelling is O(1): the entry is
// marked dead and skipped when it reaches the top of the heap.
//
// No allocation per timer once the queue has held as many timers as it ever will at once: a
// TimerId names a slot and the slot's generation when the timer was scheduled; running or
// cancelling the timer moves the slot to its next generation (so the id, and the heap entry that
// carries it, are dead) and frees the slot for the next timer. The heap, the slots and the free
// list are vectors that keep their capacity. (A set of live ids allocated a node per timer:
// TCP schedules one each time a connection's retransmission timer is re-armed.)
//
// Protocol code may keep its timers as plain data instead (a deadline in its own state, checked
// from poll) and only ask the queue to wake it; both styles meet in next_deadline().
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
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

    std::size_t pending() const { return pending_; }

private:
    struct Entry {
        Instant deadline;
        std::uint64_t order;  // increasing: breaks ties in scheduling order
        TimerId id;
        Callback callback;
    };
    struct Later {
        bool operator()(const Entry& a, const Entry& b) const {
            return a.deadline != b.deadline ? a.deadline > b.deadline : a.order > b.order;
        }
    };
    static std::uint32_t slot_of(TimerId id) { return static_cast<std::uint32_t>(id); }
    static std::uint32_t generation_of(TimerId id) { return static_cast<std::uint32_t>(id >> 32); }
    bool live(TimerId id) const {
        return slot_of(id) < generations_.size() && generations_[slot_of(id)] == generation_of(id);
    }
    // The timer ran or was cancelled: its id dies, its slot is free.
    void retire(TimerId id);
    void drop_dead_top();

    std::vector<Entry> heap_;
    std::vector<std::uint32_t> generations_;  // per slot: the generation a live id must carry
    std::vector<std::uint32_t> free_slots_;
    std::size_t pending_ = 0;
    std::uint64_t next_order_ = 0;
};

}  // namespace tcpip
