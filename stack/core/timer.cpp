#include "stack/core/timer.h"

#include <algorithm>

namespace tcpip {

TimerId TimerQueue::schedule(Instant deadline, Callback callback) {
    TimerId id = next_id_++;
    heap_.push_back(Entry{deadline, id, std::move(callback)});
    std::push_heap(heap_.begin(), heap_.end(), Later{});
    live_.insert(id);
    return id;
}

void TimerQueue::cancel(TimerId id) { live_.erase(id); }

void TimerQueue::drop_dead_top() {
    while (!heap_.empty() && !live_.contains(heap_.front().id)) {
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
        live_.erase(entry.id);
        // The callback may schedule or cancel timers: the heap is consistent again by now.
        entry.callback(now);
        ++ran;
    }
    return ran;
}

}  // namespace tcpip
