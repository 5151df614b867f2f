#include "drivers/frame_driver.h"

#include <algorithm>

namespace tcpip {

void FrameDriver::collect() {
    for (auto& frame : device_.take_sent()) sent_.push_back(SentFrame{clock_.now(), std::move(frame)});
}

void FrameDriver::run() {
    collect();  // what an application sent before this instant left before it
    poll_(clock_.now());
    collect();
}

void FrameDriver::advance_to(Instant t, const std::function<void()>& after_each, const When& when) {
    // A bound on the steps, against a stack that keeps asking to run at the same instant.
    for (int guard = 0; guard < 100000; ++guard) {
        const auto next = poll_at_();
        if (!next || *next > t) break;
        collect();  // what left before this instant (an application's call) is stamped with the time it left
        const Instant at = when ? std::max(when(*next), *next) : *next;
        if (at > t) {
            collect();
            clock_.set(std::max(clock_.now(), t));
            return;
        }
        if (at > clock_.now()) clock_.set(at);
        run();
        if (after_each) after_each();
    }
    collect();
    clock_.set(std::max(clock_.now(), t));
    run();
}

std::vector<FrameDriver::SentFrame> FrameDriver::take_sent() {
    collect();
    return std::exchange(sent_, {});
}

}  // namespace tcpip
