#include "stack/core/timer.h"

#include <algorithm>

namespace tcpip {

TimerId TimerQueue::schedule(Instant deadline, Callback callback) {
    std::uint32_t slot;
    if (free_slots_.empty()) {
        slot = static_cast<std::uint32_t>(generations_.size());
        generations_.push_back(1);  // generation 0 is never live: TimerId 0 names no timer
    } else {
        slot = free_slots_.back();
        free_slots_.pop_back();
    }
    const TimerId id = static_cast<TimerId>(generations_[slot]) << 32 | slot;
    heap_.push_back(Entry{deadline, next_order_++, id, std::move(callback)});
    std::push_heap(heap_.begin(), heap_.end(), Later{});
    ++pending_;
    return id;
}

void TimerQueue::retire(TimerId id) {
    const std::uint32_t slot = slot_of(id);
    // The next generation (0 skipped on wrap-around, after 2^32 timers in this one slot).
    if (++generations_[slot] == 0) generations_[slot] = 1;
    free_slots_.push_back(slot);
    --pending_;
}

void TimerQueue::cancel(TimerId id) {
    if (live(id)) retire(id);
}

void TimerQueue::drop_dead_top() {
    while (!heap_.empty() && !live(heap_.front().id)) {
        std::pop_heap(heap_.begin(), heap_.end(), Later{});
        heap_.pop_back();
    }
}

std::optional<Instant> TimerQueue::next_deadline() {
    drop_dead_top();
    if (heap_.empty()) return std::nullopt;
    return heap_.front().deadline;
}

std::size_t TimerQueue::run_due(Instant now) {
    std::size_t ran = 0;
    for (;;) {
        drop_dead_top();
        if (heap_.empty() || heap_.front().deadline > now) break;
        std::pop_heap(heap_.begin(), heap_.end(), Later{});
        Entry entry = std::move(heap_.back());
        heap_.pop_back();
        retire(entry.id);
        // The callback may schedule or cancel timers: the heap is consistent again by now.
        entry.callback(now);
        ++ran;
    }
    return ran;
}

}  // namespace tcpip
