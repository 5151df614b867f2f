// Hardening against the Linux kernel (issue 13): servers that close first, thousands of times in a
// row, so that TIME-WAIT on our side passes its bound (StackConfig::tcp_max_time_wait, 4,096)
// and the stack must drop the oldest entries while it processes input. Run under the plain build
// and under ASan+UBSan (scripts/test.sh --sanitize): there a use of a socket the stack has freed
// stops the app with a report, which these tests see as a crash and as "Sanitizer" in its output.
//
//   - tcpip-hello (accept, send one line, close) against a python3 client that connects, reads to
//     EOF and closes, 6,000 times in a row;
//   - stock `ab` (apache2-utils), 6,000 HTTP/1.0 requests without keep-alive (tcpip-httpd closes
//     each connection after its response) with 8 at a time, against tcpip-httpd's built-in page.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "tests/interop/apps.h"
#include "tests/interop/netns.h"

namespace tcpip::interop {
namespace {

constexpr int kConnections = 6000;

class HardeningInterop : public AppInterop {
protected:
    // Stops the app (SIGTERM) and checks that it exits cleanly, having printed its statistics
    // ("NAME: stopping; statistics:"), with no sanitizer report (UBSan reports without failing
    // the exit status). Returns what it printed, or nullopt (and the test has failed, with that
    // output shown once) if it did not stop cleanly.
    static std::optional<std::string> stop_cleanly(BackgroundCommand& app, const std::string& name) {
        CommandResult r = app.stop();
        const bool clean = r.exit_code == 0 && r.output.find(name + ": stopping; statistics:") != std::string::npos &&
                           r.output.find("runtime error:") == std::string::npos &&
                           r.output.find("Sanitizer") == std::string::npos;
        EXPECT_TRUE(clean) << name << " did not stop cleanly (exit status " << r.exit_code << "):\n" << r.output;
        if (!clean) return std::nullopt;
        return r.output;
    }

    // Seconds since `start`, for the timings the test prints.
    static double seconds_since(std::chrono::steady_clock::time_point start) {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
};

// A python3 client: `count` connections to HOST:PORT one after the other, each read to EOF and
// closed; a connection counts as ok when it got exactly one line "hello N\n". The first connection
// is retried for up to 5 s (the app's listener comes up just after its stack answers ping); after
// that the first failure ends the run, so a server that died costs one timeout, not thousands.
// Prints "ok=N failed=M" and the first failure.
const char* const kHelloClient = R"(
import socket, sys, time
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ok, failed, first_error = 0, 0, ''
deadline = time.monotonic() + 5
for i in range(count):
    try:
        while True:
            try:
                s = socket.create_connection((host, port), timeout=5)
                break
            except ConnectionRefusedError:
                if i > 0 or time.monotonic() > deadline: raise
                time.sleep(0.05)
        got = b''
        while True:
            b = s.recv(100)
            if not b: break
            got += b
        s.close()
        if got.startswith(b'hello ') and got.endswith(b'\n') and got.count(b'\n') == 1:
            ok += 1
        else:
            raise RuntimeError('connection %d got %r' % (i, got))
    except Exception as e:
        failed = count - ok
        first_error = 'connection %d: %r' % (i, e)
        break
print('ok=%d failed=%d' % (ok, failed))
if first_error: print('first failure:', first_error)
)";

// The regression test for the use after free of issue 13 part 1: each connection ends in
// TIME-WAIT on our side, and past the 4,096th the stack drops TIME-WAIT entries (counted as
// time_wait_dropped) while processing the peer's FIN. The app must serve all of them, still
// answer afterwards, and stop cleanly.
TEST_F(HardeningInterop, SixThousandServerFirstClosesPastTheTimeWaitBound) {
    const std::string port = "7000";
    auto app = start_app(*env_, "tcpip-hello", our_ip_, {"--port", port});
    ASSERT_TRUE(app) << app.error();

    const auto start = std::chrono::steady_clock::now();
    CommandResult r = env_->exec({"python3", "-c", kHelloClient, our_ip_, port, std::to_string(kConnections)},
                                 Duration::seconds(150));
    const double elapsed = seconds_since(start);
    std::printf("%d server-first closes in %.1f s: %s", kConnections, elapsed, r.output.c_str());
    RecordProperty("server_first_closes_seconds", std::to_string(elapsed));
    EXPECT_TRUE(r.ok()) << r.output;
    EXPECT_EQ(value_of(r.output, "ok"), kConnections) << r.output;

    // Still alive, and serving: one more connection gets its line.
    CommandResult again = env_->exec({"python3", "-c", kHelloClient, our_ip_, port, "1"}, Duration::seconds(15));
    EXPECT_EQ(value_of(again.output, "ok"), 1) << again.output;

    const auto stopped = stop_cleanly(*app, "tcpip-hello");
    if (!stopped) return;
    const std::string& out = *stopped;
    EXPECT_EQ(stat_from_output(out, "hello", "accepted").value_or(0), static_cast<std::uint64_t>(kConnections + 1))
        << out;
    EXPECT_EQ(stat_from_output(out, "hello", "greeted").value_or(0), static_cast<std::uint64_t>(kConnections + 1))
        << out;
    // The bound was passed, so TIME-WAIT entries were dropped: the path under test was taken.
    const auto dropped = stat_from_output(out, "tcp", "time_wait_dropped");
    std::printf("tcp time_wait_dropped: %llu\n", static_cast<unsigned long long>(dropped.value_or(0)));
    EXPECT_GT(dropped.value_or(0), 0u) << out;
}

// The value after "Label:" in ab's report (e.g. "Complete requests:      6000"), or nullopt.
std::optional<long long> ab_field(const std::string& output, const std::string& label) {
    const auto at = output.find("\n" + label + ":");
    if (at == std::string::npos) return std::nullopt;
    return std::atoll(output.c_str() + at + label.size() + 2);
}

// Stock ab against tcpip-httpd: 6,000 requests, 8 at a time, each on its own connection that
// the server closes after its response (HTTP/1.0 without keep-alive), so this too passes the
// TIME-WAIT bound, under real concurrency.
TEST_F(HardeningInterop, AbSixThousandRequestsAgainstHttpd) {
    auto app = start_app(*env_, "tcpip-httpd", our_ip_);
    ASSERT_TRUE(app) << app.error();
    const std::string url = "http://" + our_ip_ + "/";
    // The listener comes up just after the stack answers ping: wait for a 200 (bounded).
    bool answered = false;
    for (int i = 0; i < 50 && !answered; ++i) {
        CommandResult c = env_->exec({"curl", "-sS", "--max-time", "2", "-o", "/dev/null", "-w", "%{http_code}", url});
        answered = c.output == "200";
        if (!answered) env_->exec({"sleep", "0.1"});
    }
    ASSERT_TRUE(answered) << "tcpip-httpd never answered HTTP: " << app->stop().output;

    const auto start = std::chrono::steady_clock::now();
    // -s 10: a request not answered within 10 s fails (and is counted), instead of hanging.
    CommandResult r = env_->exec({"ab", "-q", "-n", std::to_string(kConnections), "-c", "8", "-s", "10", url},
                                 Duration::seconds(150));
    const double elapsed = seconds_since(start);
    const auto report = r.output.find("Complete requests");
    std::printf("ab -n %d -c 8 in %.1f s\n%s\n", kConnections, elapsed,
                report == std::string::npos ? r.output.c_str() : r.output.substr(report, 160).c_str());
    RecordProperty("ab_seconds", std::to_string(elapsed));
    EXPECT_TRUE(r.ok()) << r.output;
    EXPECT_EQ(ab_field(r.output, "Complete requests"), kConnections) << r.output;
    EXPECT_EQ(ab_field(r.output, "Failed requests"), 0) << r.output;
    // ab prints this line only when some response was not 2xx.
    EXPECT_EQ(ab_field(r.output, "Non-2xx responses").value_or(0), 0) << r.output;

    // Still serving.
    CommandResult c = env_->exec({"curl", "-sS", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}", url});
    EXPECT_EQ(c.output, "200") << c.output;

    const auto stopped = stop_cleanly(*app, "tcpip-httpd");
    if (!stopped) return;
    const std::string& out = *stopped;
    EXPECT_GE(stat_from_output(out, "tcp", "passive_opens").value_or(0), static_cast<std::uint64_t>(kConnections))
        << out;
    // tcpip-httpd sends its FIN first too (then reads until the client's): past the bound as well.
    const auto dropped = stat_from_output(out, "tcp", "time_wait_dropped");
    std::printf("tcp time_wait_dropped: %llu\n", static_cast<unsigned long long>(dropped.value_or(0)));
    EXPECT_GT(dropped.value_or(0), 0u) << out;
}

}  // namespace
}  // namespace tcpip::interop
