// Running the demo apps inside an interop namespace: where the binaries are, and a running app
// that is stopped (SIGTERM, which the apps treat like Ctrl-C) to collect its statistics.
#pragma once

#include <cstdlib>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "tests/interop/netns.h"

namespace tcpip::interop {

// build/apps/NAME: meson passes the build directory in TCPIP_BUILD_ROOT.
inline std::string app_path(const std::string& name) {
    const char* root = std::getenv("TCPIP_BUILD_ROOT");
    return std::string(root ? root : "build") + "/apps/" + name;
}

// A counter from the statistics an app prints when it stops, e.g. ("ethernet", "rx_not_for_us").
inline std::optional<std::uint64_t> stat_from_output(const std::string& output, const std::string& section,
                                                     const std::string& name) {
    auto at = output.find("\n" + section + ":\n");
    if (at == std::string::npos) return std::nullopt;
    auto end = output.find("\n", at + 1);
    // The section lasts until the next line that does not start with spaces.
    std::size_t pos = end + 1;
    while (pos < output.size() && output[pos] == ' ') {
        auto line_end = output.find('\n', pos);
        std::string line = output.substr(pos, line_end - pos);
        std::smatch m;
        if (std::regex_match(line, m, std::regex(" +" + name + ": ([0-9]+)"))) return std::stoull(m[1]);
        if (line_end == std::string::npos) break;
        pos = line_end + 1;
    }
    return std::nullopt;
}

// The "N received" and the rtt average from iputils ping's (or tcpip-ping's) summary.
struct PingSummary {
    int transmitted = -1;
    int received = -1;
    double avg_ms = -1;
};
inline PingSummary parse_ping(const std::string& output) {
    PingSummary s;
    std::smatch m;
    if (std::regex_search(output, m, std::regex("([0-9]+) packets transmitted, ([0-9]+) (packets )?received"))) {
        s.transmitted = std::stoi(m[1]);
        s.received = std::stoi(m[2]);
    }
    if (std::regex_search(output, m, std::regex("= [0-9.]+/([0-9.]+)/"))) s.avg_ms = std::stod(m[1]);
    return s;
}

}  // namespace tcpip::interop
