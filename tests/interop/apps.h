// Running the demo apps inside an interop namespace: where the binaries are, and a running app
// that is stopped (SIGTERM, which the apps treat like Ctrl-C) to collect its statistics.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "tests/interop/netns.h"

namespace tcpip::interop {

// A test of the apps: a fresh namespace with a TAP that the apps attach to (the test does not),
// and the two addresses on it. Fixtures derive from it and call AppInterop::SetUp() first.
class AppInterop : public ::testing::Test {
protected:
    void SetUp() override {
        TCPIP_REQUIRE_INTEROP();
        NetnsTapOptions options;
        options.attach = false;
        auto env = NetnsTap::create(options);
        ASSERT_TRUE(env) << env.error();
        env_ = std::move(*env);
        our_ip_ = env_->our_address().to_string();
        kernel_ip_ = env_->kernel_address().address.to_string();
    }

    std::unique_ptr<NetnsTap> env_;
    std::string our_ip_, kernel_ip_;
};

// Whether the apps under test were built with AddressSanitizer (they are built with the tests, so
// the test's own build says). Their RSS is then no measure of what they hold: ASan keeps freed
// memory in quarantine (up to 256 MiB) and maps shadow memory beside every allocation. Memory
// bounds are asserted in the plain build and only reported under ASan.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAppsUnderAsan = true;
#else
inline constexpr bool kAppsUnderAsan = false;
#endif

// The value of "key=value" in a script's output (space or newline separated), or nullopt.
inline std::optional<long long> value_of(const std::string& output, const std::string& key) {
    std::size_t at = 0;
    while ((at = output.find(key + "=", at)) != std::string::npos) {
        if (at == 0 || output[at - 1] == ' ' || output[at - 1] == '\n') {
            return std::atoll(output.c_str() + at + key.size() + 1);
        }
        at += key.size();
    }
    return std::nullopt;
}

// build/apps/NAME: meson passes the build directory in TCPIP_BUILD_ROOT.
inline std::string app_path(const std::string& name) {
    const char* root = std::getenv("TCPIP_BUILD_ROOT");
    return std::string(root ? root : "build") + "/apps/" + name;
}

// Starts the app build/apps/NAME on the namespace's TAP at `ip` (plus `extra` arguments) and
// waits until its stack answers a ping: the first pings may race the app's start, so it tries up
// to 20 times. (The app's own sockets come up just after; a client that must find them there
// retries its first connection, as the kernel cannot list our stack's ports for `ss`.)
inline Result<BackgroundCommand, std::string> start_app(const NetnsTap& env, const std::string& name,
                                                        const std::string& ip,
                                                        const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {app_path(name), "--tap", env.tap_name(), "--ip", ip + "/24"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto app = env.exec_background(argv);
    if (!app) return Unexpected(app.error());
    for (int i = 0; i < 20; ++i) {
        if (env.exec({"ping", "-c", "1", "-W", "1", ip}).ok()) return std::move(*app);
    }
    return Unexpected(name + " never answered a ping");
}

// tcpip-echo, started as start_app does.
inline Result<BackgroundCommand, std::string> start_echo(const NetnsTap& env, const std::string& ip,
                                                         const std::vector<std::string>& extra = {}) {
    return start_app(env, "tcpip-echo", ip, extra);
}

// A counter from the statistics an app prints when it stops, e.g. ("ethernet", "rx_not_for_us").
// (Plain string searching: std::regex trips a false -Wmaybe-uninitialized in g++ 12 with the
// sanitizers, and warnings are errors in CI.)
inline std::optional<std::uint64_t> stat_from_output(const std::string& output, const std::string& section,
                                                     const std::string& name) {
    auto at = output.find("\n" + section + ":\n");
    if (at == std::string::npos) return std::nullopt;
    std::size_t pos = output.find('\n', at + 1) + 1;
    // The section lasts while lines start with spaces.
    while (pos < output.size() && output[pos] == ' ') {
        std::size_t line_end = output.find('\n', pos);
        std::string line = output.substr(pos, line_end == std::string::npos ? std::string::npos : line_end - pos);
        std::size_t first = line.find_first_not_of(' ');
        if (line.compare(first, name.size() + 2, name + ": ") == 0) {
            return std::stoull(line.substr(first + name.size() + 2));
        }
        if (line_end == std::string::npos) break;
        pos = line_end + 1;
    }
    return std::nullopt;
}

// The counts and the rtt average from iputils ping's (or tcpip-ping's) summary:
//   "5 packets transmitted, 5 received, 0% packet loss, time 804ms"
//   "rtt min/avg/max/mdev = 0.041/0.052/0.071/0.010 ms"
struct PingSummary {
    int transmitted = -1;
    int received = -1;
    double avg_ms = -1;
};
inline PingSummary parse_ping(const std::string& output) {
    PingSummary s;
    auto tx = output.find(" packets transmitted, ");
    if (tx != std::string::npos) {
        auto line_start = output.rfind('\n', tx);
        line_start = line_start == std::string::npos ? 0 : line_start + 1;
        s.transmitted = std::atoi(output.c_str() + line_start);
        s.received = std::atoi(output.c_str() + tx + std::strlen(" packets transmitted, "));
    }
    auto rtt = output.find("min/avg/max/mdev = ");
    if (rtt != std::string::npos) {
        auto slash = output.find('/', rtt + std::strlen("min/avg/max/mdev = "));
        if (slash != std::string::npos) s.avg_ms = std::atof(output.c_str() + slash + 1);
    }
    return s;
}

}  // namespace tcpip::interop
