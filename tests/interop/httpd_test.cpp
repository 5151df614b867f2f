// tcpip-httpd against the Linux kernel's TCP and stock clients: curl (and socat for raw bytes)
// in a fresh network namespace, tcpip-httpd on our stack at the other end of the TAP, serving a
// temporary directory the test fills.
//
//   base/                    made with mkdtemp, removed afterwards
//     secret.txt             outside the root: its text must never come back
//     root/                  --root
//       index.html, f/0.txt .. f/9.txt, mid.bin (300 kB), big.bin (50 MB, one test only)
//       escape.txt -> ../secret.txt, escape-dir -> base, inside-link.txt -> f/1.txt
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "tests/interop/apps.h"
#include "tests/interop/netns.h"

namespace tcpip::interop {
namespace {

constexpr const char* kSecret = "TOP-SECRET-OUTSIDE-THE-ROOT";
constexpr int kSmallFiles = 10;

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

// A /proc/PID/status field in kB (VmRSS, VmHWM), or -1.
long proc_status_kb(int pid, const std::string& field) {
    const std::string status = read_file("/proc/" + std::to_string(pid) + "/status");
    const std::size_t at = status.find("\n" + field + ":");
    if (at == std::string::npos) return -1;
    return std::atol(status.c_str() + at + field.size() + 2);
}

class HttpdInterop : public AppInterop {
protected:
    void SetUp() override {
        AppInterop::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;

        char pattern[] = "/tmp/tcpip-httpd-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        base_ = pattern;
        root_ = base_ + "/root";
        ASSERT_EQ(::mkdir(root_.c_str(), 0755), 0);
        ASSERT_EQ(::mkdir((root_ + "/f").c_str(), 0755), 0);
        write_file(base_ + "/secret.txt", std::string(kSecret) + "\n");
        write_file(root_ + "/index.html", "<p>the test's index</p>\n");
        for (int i = 0; i < kSmallFiles; ++i) write_file(root_ + "/f/" + std::to_string(i) + ".txt", small_file(i));
        std::string mid;
        for (int i = 0; mid.size() < 300000; ++i) mid += "line " + std::to_string(i) + " of the mid-sized file\n";
        write_file(root_ + "/mid.bin", mid);
        ASSERT_EQ(::symlink("../secret.txt", (root_ + "/escape.txt").c_str()), 0);
        ASSERT_EQ(::symlink(base_.c_str(), (root_ + "/escape-dir").c_str()), 0);
        ASSERT_EQ(::symlink("f/1.txt", (root_ + "/inside-link.txt").c_str()), 0);
    }

    void TearDown() override {
        if (httpd_) stop_httpd();
        if (!base_.empty()) run_command({"rm", "-rf", base_});
    }

    // Small file i: distinct content and size, so a body from the wrong file cannot pass.
    static std::string small_file(int i) {
        std::string text;
        for (int line = 0; line <= i * 7; ++line) text += "file " + std::to_string(i) + " line " + std::to_string(line) + "\n";
        return text;
    }

    // Starts tcpip-httpd and waits until it answers HTTP (a ping first, as start_echo does: the
    // first ones may race the app's start; then the listener, which comes up just after).
    void start_httpd(bool with_root = true) {
        std::vector<std::string> argv = {app_path("tcpip-httpd"), "--tap", env_->tap_name(), "--ip", our_ip_ + "/24"};
        if (with_root) argv.insert(argv.end(), {"--root", root_});
        auto app = env_->exec_background(argv);
        ASSERT_TRUE(app) << app.error();
        httpd_.emplace(std::move(*app));
        bool pinged = false;
        for (int i = 0; i < 20 && !pinged; ++i) pinged = env_->exec({"ping", "-c", "1", "-W", "1", our_ip_}).ok();
        ASSERT_TRUE(pinged) << "tcpip-httpd never answered a ping: " << httpd_->stop().output;
        for (int i = 0; i < 20; ++i) {
            if (curl({"-o", "/dev/null", "-w", "%{http_code}", url("/")}).output.size() == 3) return;
            env_->exec({"sleep", "0.1"});
        }
        FAIL() << "tcpip-httpd never answered HTTP: " << httpd_->stop().output;
    }

    // Stops it (SIGTERM) and returns what it printed; it must exit cleanly, its statistics
    // printed, with no sanitizer report (UBSan reports without failing the exit status).
    std::string stop_httpd() {
        CommandResult r = httpd_->stop();
        httpd_.reset();
        EXPECT_EQ(r.exit_code, 0) << r.output;
        EXPECT_NE(r.output.find("tcpip-httpd: stopping; statistics:"), std::string::npos) << r.output;
        EXPECT_EQ(r.output.find("runtime error:"), std::string::npos) << r.output;
        EXPECT_EQ(r.output.find("Sanitizer"), std::string::npos) << r.output;
        return r.output;
    }

    std::string url(const std::string& path) const { return "http://" + our_ip_ + path; }

    CommandResult curl(std::vector<std::string> args, Duration timeout = Duration::seconds(20)) const {
        args.insert(args.begin(), {"curl", "-sS", "--max-time", std::to_string(timeout.total_millis() / 1000)});
        return env_->exec(args, timeout + Duration::seconds(5));
    }

    CommandResult sh(const std::string& script, Duration timeout = Duration::seconds(60)) const {
        return env_->exec({"sh", "-c", script}, timeout);
    }

    // Sends `request` as raw bytes (socat, from a file) and returns what came back.
    std::string raw(const std::string& request) {
        const std::string file = base_ + "/raw-request";
        write_file(file, request);
        return sh("socat -t 3 -T 10 - TCP:" + our_ip_ + ":80 < " + file, Duration::seconds(20)).output;
    }

    std::optional<BackgroundCommand> httpd_;
    std::string base_, root_;
};

TEST_F(HttpdInterop, FiftyMegabyteFileByteExactAndHead) {
    CommandResult made = run_command({"sh", "-c", "head -c 50000000 /dev/urandom > " + root_ + "/big.bin"});
    ASSERT_TRUE(made.ok()) << made.output;
    const std::string want = run_command({"sha256sum", root_ + "/big.bin"}).output.substr(0, 64);
    start_httpd();
    const long rss_before_kb = proc_status_kb(httpd_->pid(), "VmRSS");

    const auto start = std::chrono::steady_clock::now();
    CommandResult got = sh("curl -sS --fail " + url("/big.bin") + " | sha256sum", Duration::seconds(120));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(got.output.substr(0, 64), want) << got.output;
    std::cout << "50 MB in " << seconds << " s: " << 50.0 / seconds << " MB/s\n";

    // Streamed in chunks, not loaded whole: the peak memory grew by far less than the file.
    const long peak_kb = proc_status_kb(httpd_->pid(), "VmHWM");
    ASSERT_GT(rss_before_kb, 0);
    // (Under ASan freed buffers stay in quarantine, so the bound there is only "less than the file".)
    const long bound_kb = kAppsUnderAsan ? 48 * 1024 : 16 * 1024;
    EXPECT_LT(peak_kb - rss_before_kb, bound_kb) << "before " << rss_before_kb << " kB, peak " << peak_kb << " kB";

    CommandResult head = curl({"-I", url("/big.bin")});
    EXPECT_NE(head.output.find("HTTP/1.1 200 OK\r\n"), std::string::npos) << head.output;
    EXPECT_NE(head.output.find("Content-Length: 50000000\r\n"), std::string::npos) << head.output;
    EXPECT_NE(head.output.find("Content-Type: application/octet-stream\r\n"), std::string::npos) << head.output;
    EXPECT_NE(head.output.find("Server: tcpip-httpd"), std::string::npos) << head.output;
    EXPECT_NE(head.output.find("Date: "), std::string::npos) << head.output;
    EXPECT_NE(head.output.find("Last-Modified: "), std::string::npos) << head.output;

    const std::string out = stop_httpd();
    EXPECT_GE(stat_from_output(out, "httpd", "bytes_sent").value_or(0), 50000000u) << out;
    EXPECT_EQ(stat_from_output(out, "httpd", "connection_errors").value_or(99), 0u) << out;
}

TEST_F(HttpdInterop, FiveHundredSequentialRequestsKeepAliveAndNot) {
    start_httpd();
    std::string config, expected;
    for (int i = 0; i < 500; ++i) {
        config += "url = \"" + url("/f/" + std::to_string(i % kSmallFiles) + ".txt") + "\"\n";
        expected += small_file(i % kSmallFiles);
    }
    write_file(base_ + "/seq.cfg", config);
    // %{stderr} sends the per-transfer line to stderr, apart from the bodies on stdout.
    const std::string write_out = " -w '%{stderr}%{http_code} %{num_connects}\\n' ";

    // One connection for all 500 (keep-alive, the HTTP/1.1 default).
    auto start = std::chrono::steady_clock::now();
    CommandResult one = sh("curl -sS -K " + base_ + "/seq.cfg" + write_out + "> " + base_ + "/seq.out");
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "500 keep-alive requests in " << seconds << " s: " << 500 / seconds << " requests/s\n";
    EXPECT_EQ(count(one.output, "200 "), 500u) << one.output.substr(0, 2000);
    EXPECT_EQ(count(one.output, "200 1\n"), 1u) << "the connection was not reused";
    EXPECT_TRUE(read_file(base_ + "/seq.out") == expected) << "bodies differ";

    // A new connection for each of 500 ("Connection: close": we close after each response).
    start = std::chrono::steady_clock::now();
    CommandResult many = sh("curl -sS -H 'Connection: close' -K " + base_ + "/seq.cfg" + write_out + "> " + base_ +
                            "/seq-close.out");
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "500 requests on separate connections in " << seconds << " s: " << 500 / seconds << " requests/s\n";
    EXPECT_EQ(count(many.output, "200 1\n"), 500u) << many.output.substr(0, 2000);
    EXPECT_TRUE(read_file(base_ + "/seq-close.out") == expected) << "bodies differ";

    const std::string out = stop_httpd();
    EXPECT_GE(stat_from_output(out, "httpd", "requests").value_or(0), 1000u) << out;
    EXPECT_GE(stat_from_output(out, "httpd", "responses_2xx").value_or(0), 1000u) << out;
    EXPECT_GE(stat_from_output(out, "httpd", "connections_accepted").value_or(0), 501u) << out;
    EXPECT_EQ(stat_from_output(out, "httpd", "connection_errors").value_or(99), 0u) << out;
}

TEST_F(HttpdInterop, FiftyConcurrentKeepAliveClientsBesideSlowOnes) {
    start_httpd();
    // Two clients that would stall a server that waits on one client at a time: one sends half
    // a request head and nothing more, one reads a response at 10 kB/s.
    auto half_head = env_->exec_background(
        {"python3", "-c",
         "import socket, time\n"
         "s = socket.create_connection(('" + our_ip_ + "', 80))\n"
         "s.sendall(b'GET /f/1.txt HTTP/1.1\\r\\nHost: x\\r\\n')\n"
         "time.sleep(60)\n"});
    ASSERT_TRUE(half_head) << half_head.error();
    // The slow reader's file is larger than any socket buffers between us (our send buffer grows
    // to 4 MiB, the kernel's receive buffer to 6 MiB): a smaller one (mid.bin, 300 kB) can arrive
    // whole in the first millisecond, before curl's rate limit takes hold, and curl is gone.
    write_file(root_ + "/slow.bin", std::string(16 << 20, 's'));
    auto slow_reader = env_->exec_background({"curl", "-sS", "--limit-rate", "10k", "-o", "/dev/null", url("/slow.bin")});
    ASSERT_TRUE(slow_reader) << slow_reader.error();
    // Both connected before the crowd comes (python and curl take a moment to start): /stats
    // lists them, beside the /stats request itself.
    std::string before;
    for (int i = 0; i < 150 && count(before, "ESTABLISHED") < 3; ++i) {  // up to 15 s: python starts slowly on a loaded machine
        if (i > 0) env_->exec({"sleep", "0.1"});
        before = curl({url("/stats")}).output;
    }
    ASSERT_GE(count(before, "ESTABLISHED"), 3u) << before;

    constexpr int kClients = 50, kUrls = 8;
    std::vector<std::string> expected(kClients);
    for (int c = 0; c < kClients; ++c) {
        std::string config;
        for (int u = 0; u < kUrls; ++u) {
            const int file = (c + u) % kSmallFiles;
            if (u == 3) {
                config += "url = \"" + url("/mid.bin") + "\"\n";
                expected[c] += read_file(root_ + "/mid.bin");
            } else {
                config += "url = \"" + url("/f/" + std::to_string(file) + ".txt") + "\"\n";
                expected[c] += small_file(file);
            }
        }
        write_file(base_ + "/c" + std::to_string(c) + ".cfg", config);
    }
    const std::string b = base_ + "/c$i";
    CommandResult r = sh("for i in $(seq 0 " + std::to_string(kClients - 1) + "); do (curl -sS -K " + b +
                             ".cfg -w '%{stderr}%{num_connects}\\n' > " + b + ".out 2> " + b +
                             ".err; echo rc $i $?) & done; wait",
                         Duration::seconds(90));
    EXPECT_EQ(count(r.output, " 0\n"), static_cast<std::size_t>(kClients)) << r.output;
    int good = 0;
    for (int c = 0; c < kClients; ++c) {
        const std::string name = base_ + "/c" + std::to_string(c);
        const std::string connects = read_file(name + ".err");
        const bool body_ok = read_file(name + ".out") == expected[c];
        const bool reused = count(connects, "1\n") == 1 && count(connects, "0\n") == kUrls - 1;
        EXPECT_TRUE(body_ok) << "client " << c << ": wrong bodies";
        EXPECT_TRUE(reused) << "client " << c << ": connects per transfer:\n" << connects;
        good += body_ok && reused;
    }
    EXPECT_EQ(good, kClients);
    // The slow ones are still being served (or waited for), not dropped.
    const std::string stats = curl({url("/stats")}).output;
    EXPECT_GE(count(stats, "ESTABLISHED"), 3u) << stats;  // half head, slow reader, this request
}

TEST_F(HttpdInterop, PathTraversalNeverReachesOutsideTheRoot) {
    start_httpd();
    struct Case {
        std::string path;
        int status;
    };
    const std::vector<Case> cases = {
        {"/../secret.txt", 403},
        {"/%2e%2e/secret.txt", 403},
        {"/%2E%2E/secret.txt", 403},
        {"/f/%2e%2e/%2e%2e/secret.txt", 403},
        {"/f/../../secret.txt", 403},
        {"/..%2fsecret.txt", 403},
        {"/%2e%2e%2fsecret.txt", 403},
        {"/f%2f..%2f..%2fsecret.txt", 403},
        {"/escape.txt", 403},              // a symlink inside the root to a file outside
        {"/escape-dir/secret.txt", 403},   // a symlink inside the root to a directory outside
        {"//etc/passwd", 404},             // etc/passwd under the root: there is none
        {"/secret.txt", 404},
        {"/secret.txt%00.txt", 400},
        {"/%zz", 400},
    };
    for (const Case& c : cases) {
        CommandResult r = curl({"--path-as-is", "-w", "\nstatus=%{http_code}", url(c.path)});
        EXPECT_NE(r.output.find("status=" + std::to_string(c.status)), std::string::npos) << c.path << ":\n" << r.output;
        EXPECT_EQ(r.output.find(kSecret), std::string::npos) << c.path << " leaked the secret";
        EXPECT_EQ(r.output.find("root:"), std::string::npos) << c.path << " served /etc/passwd";
    }
    // Backslashes, which curl would not send as they are.
    const std::string backslash = raw("GET /..\\secret.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(backslash.rfind("HTTP/1.1 403 Forbidden\r\n", 0), 0u) << backslash;
    EXPECT_EQ(backslash.find(kSecret), std::string::npos);
    // The checks refuse only what they should: a symlink that stays inside, ".." that stays
    // inside, and a path through a symlink out of the root whose real path leads back in (the
    // rule is where the file really is, not how the path is spelt).
    EXPECT_EQ(curl({url("/escape-dir/root/f/1.txt")}).output, small_file(1));
    EXPECT_EQ(curl({url("/inside-link.txt")}).output, small_file(1));
    EXPECT_EQ(curl({"--path-as-is", url("/f/../f/2.txt")}).output, small_file(2));
}

TEST_F(HttpdInterop, MalformedRequestsGetTheRightStatusAndTheServerCarriesOn) {
    start_httpd();
    std::string big_headers = "GET / HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 20; ++i) big_headers += "X-Big-" + std::to_string(i) + ": " + std::string(1000, 'b') + "\r\n";
    std::string many_headers = "GET / HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 150; ++i) many_headers += "X-" + std::to_string(i) + ": y\r\n";
    struct Case {
        std::string name, request, status_line;  // each answer ends its connection
    };
    const std::vector<Case> cases = {
        {"garbage request line", "HELLO WORLD\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},
        {"binary garbage", std::string("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", 15),
         "HTTP/1.1 400 Bad Request\r\n"},
        {"malformed version", "GET / HTTX/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},
        {"unsupported version", "GET / HTTP/9.9\r\nHost: x\r\n\r\n", "HTTP/1.1 505 HTTP Version Not Supported\r\n"},
        {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", "HTTP/1.1 505 HTTP Version Not Supported\r\n"},
        {"huge request line", "GET /" + std::string(10000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n",
         "HTTP/1.1 414 URI Too Long\r\n"},
        {"huge headers", big_headers + "\r\n", "HTTP/1.1 431 Request Header Fields Too Large\r\n"},
        {"too many header lines", many_headers + "\r\n", "HTTP/1.1 431 Request Header Fields Too Large\r\n"},
        {"bad header line", "GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},
        {"missing Host", "GET /f/1.txt HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},
        {"unknown method", "BREW /pot HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
         "HTTP/1.1 405 Method Not Allowed\r\n"},
        {"POST with a body", "POST /f/1.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
         "HTTP/1.1 405 Method Not Allowed\r\n"},
    };
    for (const Case& c : cases) {
        const std::string response = raw(c.request);
        EXPECT_EQ(response.rfind(c.status_line, 0), 0u) << c.name << ":\n" << response.substr(0, 500);
        EXPECT_NE(response.find("\r\nConnection: close\r\n"), std::string::npos) << c.name;
        EXPECT_NE(response.find("<title>" + c.status_line.substr(9, c.status_line.size() - 11) + "</title>"),
                  std::string::npos)
            << c.name << ": no error body\n" << response.substr(0, 500);
        if (c.status_line.find("405") != std::string::npos) {
            EXPECT_NE(response.find("\r\nAllow: GET, HEAD\r\n"), std::string::npos) << response;
        }
        // Exactly one response, and the server still serves a normal request afterwards.
        EXPECT_EQ(count(response, "\r\nDate: "), 1u) << c.name << ":\n" << response.substr(0, 1000);
        EXPECT_EQ(curl({url("/f/3.txt")}).output, small_file(3)) << "after " << c.name;
    }
    const std::string out = stop_httpd();
    EXPECT_GE(stat_from_output(out, "httpd", "responses_4xx").value_or(0), 10u) << out;
    EXPECT_GE(stat_from_output(out, "httpd", "responses_5xx").value_or(0), 2u) << out;
}

TEST_F(HttpdInterop, PipelinedRequestsAreAnsweredInOrder) {
    start_httpd();
    const std::string response = raw("GET /f/1.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                                     "HEAD /f/2.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                                     "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                                     "GET /f/3.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                                     "GET /f/4.txt HTTP/1.1\r\nHost: x\r\n\r\n");  // after close: unanswered
    const std::size_t first = response.find("HTTP/1.1 200 OK\r\n");
    const std::size_t second = response.find("HTTP/1.1 200 OK\r\n", first + 1);
    const std::size_t third = response.find("HTTP/1.1 404 Not Found\r\n");
    const std::size_t fourth = response.find("HTTP/1.1 200 OK\r\n", second + 1);
    ASSERT_NE(fourth, std::string::npos) << response;
    EXPECT_TRUE(first == 0 && first < second && second < third && third < fourth) << response;
    EXPECT_EQ(count(response, "HTTP/1.1 "), 4u) << response;
    EXPECT_NE(response.find(small_file(1)), std::string::npos);
    EXPECT_EQ(response.find("file 2 line 0"), std::string::npos) << "HEAD sent a body";
    EXPECT_NE(response.find("Content-Length: " + std::to_string(small_file(2).size()) + "\r\n"), std::string::npos)
        << "HEAD gave the wrong length";
    EXPECT_EQ(response.substr(response.size() - small_file(3).size()), small_file(3));

    // HTTP/1.0: closes unless asked to keep alive, and then says so.
    const std::string http10 = raw("GET /f/1.txt HTTP/1.0\r\n\r\n");
    EXPECT_EQ(http10.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << http10;
    EXPECT_NE(http10.find("\r\nConnection: close\r\n"), std::string::npos) << http10;
    const std::string http10_keep = raw("GET /f/1.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    EXPECT_NE(http10_keep.find("\r\nConnection: keep-alive\r\n"), std::string::npos) << http10_keep;
}

TEST_F(HttpdInterop, BuiltInPageAndStatsWithoutRoot) {
    start_httpd(false);
    CommandResult page = curl({"-i", url("/")});
    EXPECT_EQ(page.output.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << page.output;
    EXPECT_NE(page.output.find("Content-Type: text/html"), std::string::npos) << page.output;
    EXPECT_NE(page.output.find("tcpip"), std::string::npos) << page.output;
    EXPECT_NE(page.output.find("href=\"/stats\""), std::string::npos) << page.output;
    EXPECT_NE(curl({"-w", "%{http_code}", url("/no-such-page")}).output.find("404"), std::string::npos);

    // Two requests on one connection: the second shows that connection, ESTABLISHED, from the
    // kernel's address; and the counters of every layer.
    CommandResult stats = curl({"-i", url("/stats"), url("/stats")});
    const std::string& s = stats.output;
    const std::size_t second = s.find("HTTP/1.1 200 OK", 1);
    ASSERT_NE(second, std::string::npos) << s;
    const std::string last = s.substr(second);
    EXPECT_NE(last.find("Content-Type: text/plain"), std::string::npos) << last;
    for (const char* section : {"\nethernet:\n", "\narp:\n", "\nipv4:\n", "\ntcp:\n", "\nhttpd:\n", "\ntcp_connections: "}) {
        EXPECT_NE(last.find(section), std::string::npos) << section << " missing:\n" << last;
    }
    EXPECT_NE(last.find("LISTEN"), std::string::npos) << last;
    std::size_t line = last.find(kernel_ip_ + ":");
    ASSERT_NE(line, std::string::npos) << "the test's own connection is not listed:\n" << last;
    const std::size_t line_start = last.rfind('\n', line) + 1;
    EXPECT_EQ(last.compare(line_start, 11, "ESTABLISHED"), 0) << last.substr(line_start, 100);
    EXPECT_NE(last.find(our_ip_ + ":80 "), std::string::npos) << last;

    const std::string out = stop_httpd();
    EXPECT_GE(stat_from_output(out, "httpd", "requests").value_or(0), 4u) << out;
    EXPECT_GE(stat_from_output(out, "httpd", "responses_4xx").value_or(0), 1u) << out;
    EXPECT_GE(stat_from_output(out, "tcp", "passive_opens").value_or(0), 3u) << out;
}

// /connections lists the connections with their event logs; /connections/<id> draws one as SVG
// in a page that reloads itself, and /connections/<id>.csv gives its log. The connection looked
// at is the test's own, after it carried mid.bin (300 kB): its log holds the transfer.
TEST_F(HttpdInterop, ConnectionsListAndLiveTimeline) {
    start_httpd(true);
    CommandResult list = curl({"-i", url("/connections")});
    EXPECT_EQ(list.output.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << list.output;
    EXPECT_NE(list.output.find("Content-Type: text/html"), std::string::npos) << list.output;
    // Its own connection is listed, ESTABLISHED, from the kernel's address; ids are given in
    // order, so the next connection's id is one more than the largest listed.
    EXPECT_NE(list.output.find("</td><td>ESTABLISHED</td><td>" + our_ip_ + ":80</td><td>" + kernel_ip_ + ":"),
              std::string::npos) << list.output;
    std::uint64_t largest = 0;
    for (std::size_t at = list.output.find("<a href=\"/connections/"); at != std::string::npos;
         at = list.output.find("<a href=\"/connections/", at + 1)) {
        largest = std::max<std::uint64_t>(largest, std::strtoull(list.output.c_str() + at + 22, nullptr, 10));
    }
    ASSERT_GT(largest, 0u) << list.output;
    const std::string id = std::to_string(largest + 1);

    // One keep-alive connection: the file, then that connection's own timeline and CSV.
    CommandResult r = curl({"-o", "/dev/null", url("/mid.bin"), url("/connections/" + id), url("/connections/" + id + ".csv")});
    const std::string& page = r.output;
    EXPECT_NE(page.find("<meta http-equiv=\"refresh\" content=\"1\">"), std::string::npos) << page.substr(0, 2000);
    EXPECT_NE(page.find("<h1>connection " + id + ": " + our_ip_ + ":80 &harr; " + kernel_ip_ + ":"), std::string::npos)
        << page.substr(0, 2000);
    EXPECT_NE(page.find("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"window\""), std::string::npos);
    EXPECT_NE(page.find("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"sequence\""), std::string::npos);
    // 300 kB: with the TAP's segmentation offload a segment may carry up to 64 kB.
    EXPECT_GE(count(page, "<line class=\"segment\""), 5u);
    const std::size_t csv = page.find("\nconn,time_s,event,state,seq,len,ack,win,flags,cause,sack,cwnd,");
    ASSERT_NE(csv, std::string::npos) << page.substr(page.size() > 3000 ? page.size() - 3000 : 0);
    EXPECT_NE(page.find("\n" + id + ",0.000000,state,LISTEN->SYN-RECEIVED,", csv), std::string::npos);
    // The CSV's send rows add up to the file and the response head (column 6 is the length).
    std::istringstream rows(page.substr(csv + 1));
    std::string row;
    std::uint64_t sent = 0;
    while (std::getline(rows, row)) {
        if (row.find("," + std::string("send,")) == std::string::npos) continue;
        std::istringstream fields(row);
        std::string field;
        for (int i = 0; i < 6 && std::getline(fields, field, ','); ++i) {}
        sent += std::strtoull(field.c_str(), nullptr, 10);
    }
    EXPECT_GT(sent, 300000u) << page.substr(csv);
    EXPECT_NE(curl({"-w", "%{http_code}", url("/connections/999999")}).output.find("404"), std::string::npos);
    stop_httpd();
}

}  // namespace
}  // namespace tcpip::interop
