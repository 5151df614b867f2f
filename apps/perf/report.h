// What tcpip-perf prints: iperf3's text lines (interval reports and the summary) and the pieces of
// its -J document. Pure functions of numbers, so the unit tests check them without a network.
//
// The text follows iperf3's layout (iperf_locale.c), e.g.
//   [ ID] Interval           Transfer     Bitrate         Retr  Cwnd
//   [  5]   0.00-1.00   sec  1.77 GBytes  15.2 Gbits/sec    3    506 KBytes
//   - - - - - - - - - - - - - - - - - - - - - - - - -
//   [  5]   0.00-2.00   sec  4.24 GBytes  18.2 Gbits/sec   11             sender
//   [  5]   0.00-2.00   sec  4.24 GBytes  18.2 Gbits/sec                  receiver
// with iperf3's adaptive units: bytes in powers of 1024 (KBytes, MBytes, ...), rates in powers of
// 1000 (Kbits/sec, ...), always four significant places.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "apps/perf/json.h"

namespace tcpip::perf {

// "1.77 GBytes", "64.4 KBytes", " 512 Bytes"
std::string format_bytes(double bytes);
// "15.2 Gbits/sec"
std::string format_rate(double bits_per_second);

double bits_per_second(std::uint64_t bytes, double seconds);

extern const char kSeparator[];         // "- - - - ..." between the intervals and the summary
std::string interval_header(bool sender);  // with "Retr  Cwnd" when we are the sender
std::string summary_header(bool with_retransmits);

// One line; `id` is the stream's number (or "SUM"). retransmits/cwnd are shown when given.
struct Line {
    std::string id;
    double start = 0, end = 0;  // seconds from the test's start
    std::uint64_t bytes = 0;
    std::optional<std::int64_t> retransmits;
    std::optional<std::uint64_t> cwnd_bytes;
    std::string role;  // "sender", "receiver" or "" (interval lines)
};
std::string format_line(const Line& line);

// ---- -J pieces, named as iperf3 names them ----

// {"socket","start","end","seconds","bytes","bits_per_second",["retransmits","snd_cwnd"],
//  "omitted":false,"sender"}: one stream's interval, or (socket < 0) an interval's "sum".
struct JsonInterval {
    int socket = -1;
    double start = 0, end = 0;
    std::uint64_t bytes = 0;
    std::optional<std::int64_t> retransmits;
    std::optional<std::uint64_t> snd_cwnd;
    std::optional<std::uint32_t> rtt_us, rttvar_us, pmtu;
    bool sender = false;
};
Json interval_json(const JsonInterval& interval);

// {"start","end","seconds","bytes","bits_per_second",["retransmits"],"sender"}: an "end"
// summary (sum_sent, sum_received, or one side of a stream).
Json summary_json(double start, double end, std::uint64_t bytes, std::optional<std::int64_t> retransmits,
                  bool sender, std::optional<int> socket = std::nullopt);

}  // namespace tcpip::perf
