// Time as values: Duration (a signed span) and Instant (a point), both in microseconds.
//
// The protocol layers never read a clock. Every entry point takes `now` as an argument, so a test
// can run a 60-second TCP TIME-WAIT in a microsecond of real time, and every run is repeatable.
// The only code that reads the system clock is SystemClock (clock.cpp), used by the event loop.
#pragma once

#include <compare>
#include <cstdint>
#include <iosfwd>

namespace tcpip {

class Duration {
public:
    constexpr Duration() = default;
    static constexpr Duration micros(std::int64_t us) { return Duration(us); }
    static constexpr Duration millis(std::int64_t ms) { return Duration(ms * 1000); }
    static constexpr Duration seconds(std::int64_t s) { return Duration(s * 1000000); }
    static constexpr Duration zero() { return Duration(0); }
    static constexpr Duration max() { return Duration(INT64_MAX / 4); }  // far future, still safe to add

    constexpr std::int64_t total_micros() const { return us_; }
    constexpr std::int64_t total_millis() const { return us_ / 1000; }
    constexpr double seconds_f() const { return static_cast<double>(us_) / 1e6; }

    constexpr Duration operator+(Duration o) const { return Duration(us_ + o.us_); }
    constexpr Duration operator-(Duration o) const { return Duration(us_ - o.us_); }
    constexpr Duration operator*(std::int64_t k) const { return Duration(us_ * k); }
    constexpr Duration operator/(std::int64_t k) const { return Duration(us_ / k); }
    constexpr Duration& operator+=(Duration o) { us_ += o.us_; return *this; }
    constexpr Duration& operator-=(Duration o) { us_ -= o.us_; return *this; }
    constexpr auto operator<=>(const Duration&) const = default;

private:
    constexpr explicit Duration(std::int64_t us) : us_(us) {}
    std::int64_t us_ = 0;
};

class Instant {
public:
    constexpr Instant() = default;
    static constexpr Instant from_micros(std::int64_t us) { return Instant(us); }
    static constexpr Instant from_millis(std::int64_t ms) { return Instant(ms * 1000); }
    static constexpr Instant zero() { return Instant(0); }

    constexpr std::int64_t total_micros() const { return us_; }
    constexpr std::int64_t total_millis() const { return us_ / 1000; }

    constexpr Instant operator+(Duration d) const { return Instant(us_ + d.total_micros()); }
    constexpr Instant operator-(Duration d) const { return Instant(us_ - d.total_micros()); }
    constexpr Duration operator-(Instant o) const { return Duration::micros(us_ - o.us_); }
    constexpr Instant& operator+=(Duration d) { us_ += d.total_micros(); return *this; }
    constexpr auto operator<=>(const Instant&) const = default;

private:
    constexpr explicit Instant(std::int64_t us) : us_(us) {}
    std::int64_t us_ = 0;
};

std::ostream& operator<<(std::ostream& os, Duration d);
std::ostream& operator<<(std::ostream& os, Instant t);

}  // namespace tcpip
