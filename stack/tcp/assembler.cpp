#include "stack/tcp/assembler.h"

#include <algorithm>

namespace tcpip {

bool Assembler::add(std::size_t offset, std::size_t length) {
    if (length == 0) return true;
    Range incoming{offset, offset + length};
    // Merge with every range it overlaps or touches.
    auto first = std::find_if(ranges_.begin(), ranges_.end(), [&](const Range& r) { return r.end >= incoming.start; });
    auto last = first;
    while (last != ranges_.end() && last->start <= incoming.end) {
        incoming.start = std::min(incoming.start, last->start);
        incoming.end = std::max(incoming.end, last->end);
        ++last;
    }
    if (first == last && ranges_.size() >= kMaxRanges) return false;
    first = ranges_.erase(first, last);
    ranges_.insert(first, incoming);
    return true;
}

std::size_t Assembler::take_front(std::size_t advanced) {
    std::size_t extra = 0;
    // Ranges now covered by the in-order data, or starting right where it ends, join the front.
    while (!ranges_.empty() && ranges_.front().start <= advanced + extra) {
        extra = std::max(extra, ranges_.front().end > advanced ? ranges_.front().end - advanced : 0);
        ranges_.erase(ranges_.begin());
    }
    const std::size_t shift = advanced + extra;
    for (auto& r : ranges_) {
        r.start -= shift;
        r.end -= shift;
    }
    return extra;
}

}  // namespace tcpip
