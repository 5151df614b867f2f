// The one place under stack/ that reads the system clock (tests grep for others).
#include "stack/core/clock.h"

#include <ctime>
#include <ostream>

namespace tcpip {

Instant SystemClock::now() const {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return Instant::from_micros(static_cast<std::int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000);
}

std::ostream& operator<<(std::ostream& os, Duration d) { return os << d.total_micros() << "us"; }
std::ostream& operator<<(std::ostream& os, Instant t) { return os << "t=" << t.total_micros() << "us"; }

}  // namespace tcpip
