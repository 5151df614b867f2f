// iperf3-style text and JSON report pieces: see report.h.
#include "apps/perf/report.h"

#include <cstdio>

namespace tcpip::perf {

namespace {

// iperf3's unit_snprintf: scale into [1, base) by powers of `base`, then print in four places
// ("%4.2f" below 10, "%4.1f" below 100, "%4.0f" above), as its adaptive formats ('A', 'a') do.
std::string adaptive(double value, double base, const char* const prefixes[5], const char* unit) {
    int i = 0;
    while (value >= base && i < 4) {
        value /= base;
        ++i;
    }
    const char* format = value < 9.995 ? "%4.2f %s%s" : value < 99.95 ? "%4.1f %s%s" : "%4.0f %s%s";
    char buf[48];
    std::snprintf(buf, sizeof buf, format, value, prefixes[i], unit);
    return buf;
}

constexpr const char* kPrefixes[5] = {"", "K", "M", "G", "T"};

}  // namespace

std::string format_bytes(double bytes) { return adaptive(bytes, 1024.0, kPrefixes, "Bytes"); }

std::string format_rate(double bits_per_second) { return adaptive(bits_per_second, 1000.0, kPrefixes, "bits/sec"); }

double bits_per_second(std::uint64_t bytes, double seconds) {
    return seconds > 0 ? static_cast<double>(bytes) * 8.0 / seconds : 0.0;
}

const char kSeparator[] = "- - - - - - - - - - - - - - - - - - - - - - - - -\n";

std::string interval_header(bool sender) {
    return sender ? "[ ID] Interval           Transfer     Bitrate         Retr  Cwnd\n"
                  : "[ ID] Interval           Transfer     Bitrate\n";
}

std::string summary_header(bool with_retransmits) {
    return with_retransmits ? "[ ID] Interval           Transfer     Bitrate         Retr\n"
                            : "[ ID] Interval           Transfer     Bitrate\n";
}

std::string format_line(const Line& line) {
    char id[16];
    if (line.id == "SUM") {
        std::snprintf(id, sizeof id, "[SUM]");
    } else {
        std::snprintf(id, sizeof id, "[%3s]", line.id.c_str());
    }
    char head[160];
    std::snprintf(head, sizeof head, "%s %6.2f-%-6.2f sec  %s  %s", id, line.start, line.end,
                  format_bytes(static_cast<double>(line.bytes)).c_str(),
                  format_rate(bits_per_second(line.bytes, line.end - line.start)).c_str());
    std::string out = head;
    char tail[96];
    if (line.retransmits) {
        if (line.cwnd_bytes) {
            std::snprintf(tail, sizeof tail, "  %3lld   %s", static_cast<long long>(*line.retransmits),
                          format_bytes(static_cast<double>(*line.cwnd_bytes)).c_str());
        } else {
            std::snprintf(tail, sizeof tail, "  %3lld", static_cast<long long>(*line.retransmits));
        }
        out += tail;
    } else if (!line.role.empty()) {
        out += "     ";  // where "Retr" would be, so sender and receiver lines line up
    }
    if (!line.role.empty()) {
        out += "             ";
        out += line.role;
    }
    out += '\n';
    return out;
}

Json interval_json(const JsonInterval& in) {
    Json j = Json::object();
    if (in.socket >= 0) j["socket"] = in.socket;
    j["start"] = in.start;
    j["end"] = in.end;
    j["seconds"] = in.end - in.start;
    j["bytes"] = in.bytes;
    j["bits_per_second"] = bits_per_second(in.bytes, in.end - in.start);
    if (in.retransmits) j["retransmits"] = *in.retransmits;
    if (in.snd_cwnd) j["snd_cwnd"] = *in.snd_cwnd;
    if (in.rtt_us) j["rtt"] = *in.rtt_us;
    if (in.rttvar_us) j["rttvar"] = *in.rttvar_us;
    if (in.pmtu) j["pmtu"] = *in.pmtu;
    j["omitted"] = false;
    j["sender"] = in.sender;
    return j;
}

Json summary_json(double start, double end, std::uint64_t bytes, std::optional<std::int64_t> retransmits, bool sender,
                  std::optional<int> socket) {
    Json j = Json::object();
    if (socket) j["socket"] = *socket;
    j["start"] = start;
    j["end"] = end;
    j["seconds"] = end - start;
    j["bytes"] = bytes;
    j["bits_per_second"] = bits_per_second(bytes, end - start);
    if (retransmits) j["retransmits"] = *retransmits;
    j["sender"] = sender;
    return j;
}

}  // namespace tcpip::perf
