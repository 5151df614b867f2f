// TCP against the Linux kernel: tcpip-echo and tcpip-nc on our stack in a fresh namespace, the
// kernel's own TCP (python3, socat) on the other side of the TAP.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/interop/apps.h"
#include "tests/interop/netns.h"

namespace tcpip::interop {
namespace {

constexpr int kPort = 7;

class TcpInterop : public AppInterop {
protected:
    void start_echo() {
        auto app = interop::start_echo(*env_, our_ip_, {"--port", std::to_string(kPort)});
        ASSERT_TRUE(app) << app.error();
        echo_.emplace(std::move(*app));
    }

    std::string stop_echo() {
        CommandResult r = echo_->stop();
        echo_.reset();
        return r.output;
    }

    CommandResult python(const std::string& code, Duration timeout = Duration::seconds(60)) {
        return env_->exec({"python3", "-c", code}, timeout);
    }

    // 20 MB through the echo service, written and read concurrently, compared by hash: prints
    // "bytes 20000000 match True" when every byte came back.
    std::string bulk_echo_client() const {
        return "import socket, hashlib, threading, os\n"
               "data = os.urandom(20 * 1000 * 1000)\n"
               "s = socket.create_connection(('" + our_ip_ + "', " + std::to_string(kPort) + "), timeout=30)\n"
               "def writer():\n"
               "    s.sendall(data); s.shutdown(socket.SHUT_WR)\n"
               "t = threading.Thread(target=writer); t.start()\n"
               "h = hashlib.sha256(); n = 0\n"
               "while True:\n"
               "    b = s.recv(1 << 16)\n"
               "    if not b: break\n"
               "    h.update(b); n += len(b)\n"
               "t.join()\n"
               "print('bytes', n, 'match', h.digest() == hashlib.sha256(data).digest())\n";
    }

    std::optional<BackgroundCommand> echo_;
};

TEST_F(TcpInterop, EchoServesBulkDataByteExact) {
    start_echo();
    CommandResult r = python(bulk_echo_client(), Duration::seconds(90));
    EXPECT_NE(r.output.find("bytes 20000000 match True"), std::string::npos) << r.output;
}

// The TAP's offloads (drivers/tap_device.h), on by default: the kernel hands us its large
// segments whole and cuts ours, and the bytes are the same. With --no-offload every frame is at
// most 1514 bytes both ways.
TEST_F(TcpInterop, OffloadCarriesLargeSegmentsBothWaysAndCanBeTurnedOff) {
    for (bool offload : {true, false}) {
        SCOPED_TRACE(offload ? "with offload" : "--no-offload");
        auto app = interop::start_echo(*env_, our_ip_,
                                       offload ? std::vector<std::string>{"--port", std::to_string(kPort)}
                                               : std::vector<std::string>{"--port", std::to_string(kPort), "--no-offload"});
        ASSERT_TRUE(app) << app.error();
        CommandResult r = python(bulk_echo_client(), Duration::seconds(90));
        EXPECT_NE(r.output.find("bytes 20000000 match True"), std::string::npos) << r.output;
        const std::string out = app->stop().output;
        const auto rx_large = stat_from_output(out, "tap", "rx_large");
        const auto tx_large = stat_from_output(out, "tap", "tx_large");
        ASSERT_TRUE(rx_large && tx_large) << out;
        if (offload) {
            EXPECT_GT(*rx_large, 0u) << out;
            EXPECT_GT(*tx_large, 0u) << out;
        } else {
            EXPECT_EQ(*rx_large, 0u) << out;
            EXPECT_EQ(*tx_large, 0u) << out;
        }
        EXPECT_EQ(stat_from_output(out, "tcp", "rx_bad_checksum").value_or(1), 0u) << out;
    }
}

TEST_F(TcpInterop, KernelToClosedPortIsRefused) {
    start_echo();
    CommandResult r = python(
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('" + our_ip_ + "', 9999), timeout=5)\n"
        "    print('connected')\n"
        "except ConnectionRefusedError:\n"
        "    print('refused')\n");
    EXPECT_NE(r.output.find("refused"), std::string::npos) << r.output;
    std::string out = stop_echo();
    EXPECT_GE(stat_from_output(out, "tcp", "rx_no_socket").value_or(0), 1u) << out;
    EXPECT_GE(stat_from_output(out, "tcp", "tx_resets").value_or(0), 1u) << out;
}

TEST_F(TcpInterop, TcpipNcToClosedKernelPortIsRefused) {
    CommandResult r = env_->exec({app_path("tcpip-nc"), "--tap", env_->tap_name(), "--ip", our_ip_ + "/24", kernel_ip_, "9"},
                                 Duration::seconds(20));
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("refused"), std::string::npos) << r.output;
}

TEST_F(TcpInterop, KernelAbortIsReportedAsReset) {
    // A kernel server that accepts and aborts (SO_LINGER 0 makes close() send RST).
    auto server = env_->exec_background(
        {"python3", "-c",
         "import socket, struct, time\n"
         "l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
         "l.bind(('" + kernel_ip_ + "', 7001)); l.listen(1)\n"
         "c, _ = l.accept(); time.sleep(0.5)\n"
         "c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0)); c.close()\n"
         "time.sleep(1)\n"});
    ASSERT_TRUE(server) << server.error();
    ASSERT_TRUE(env_->wait_for_port(NetnsTap::Transport::Tcp, 7001)) << "the kernel server never listened";
    // tcpip-nc keeps reading (stdin is /dev/null: it half-closes, and waits for the server).
    CommandResult r = env_->exec({app_path("tcpip-nc"), "--tap", env_->tap_name(), "--ip", our_ip_ + "/24", kernel_ip_, "7001"},
                                 Duration::seconds(20));
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("reset"), std::string::npos) << r.output;
    server->wait(Duration::seconds(5));
}

// The times a process's threads gave up the CPU of their own accord (voluntary_ctxt_switches in
// /proc/PID/task/*/status): a thread that sleeps until something happens adds one per wake-up.
long long voluntary_switches(int pid) {
    long long total = 0;
    const std::string key = "voluntary_ctxt_switches:";
    for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
        std::ifstream status(task.path() / "status");
        for (std::string line; std::getline(status, line);) {
            if (line.rfind(key, 0) == 0) total += std::atoll(line.c_str() + key.size());
        }
    }
    return total;
}

// An idle tcpip-echo (the stack in the app's thread, threadless) sleeps until a frame or a timer:
// no wake-ups while nothing happens (it used to wake every millisecond, 2,000 times in 2 s), and
// after sleeping it still answers a ping and a TCP request at once.
TEST_F(TcpInterop, IdleEchoSleepsAndStillAnswers) {
    start_echo();
    // Let the start-up settle (the first ping, the kernel's neighbour entry), then watch.
    env_->exec({"sleep", "0.5"});
    const long long before = voluntary_switches(echo_->pid());
    env_->exec({"sleep", "2"});
    const long long woke = voluntary_switches(echo_->pid()) - before;
    EXPECT_LT(woke, 20) << "tcpip-echo woke " << woke << " times in 2 s with nothing to do";
    EXPECT_TRUE(env_->exec({"ping", "-c", "1", "-W", "2", our_ip_}).ok()) << "no answer to a ping after sleeping";
    CommandResult r = python(
        "import socket\n"
        "s = socket.create_connection(('" + our_ip_ + "', " + std::to_string(kPort) + "), timeout=5)\n"
        "s.sendall(b'after a nap'); print('got', s.recv(100).decode())\n");
    EXPECT_NE(r.output.find("got after a nap"), std::string::npos) << r.output;
}

// The retransmission timer fires while the runtime sleeps and no frame comes. Our frames larger
// than 1000 bytes are dropped on their way out (--faults max_frame_size), so the echo of a
// 1200-byte request never arrives; the kernel's copy of the request is acknowledged (a small
// frame, which passes), after which the kernel sends nothing. Only our own timer can wake the
// stack then: RTOs at about 0.2, 0.6, 1.4 and 3 s after the request.
TEST_F(TcpInterop, RetransmissionTimerFiresWhileTheRuntimeSleeps) {
    auto app = interop::start_echo(*env_, our_ip_,
                                   {"--port", std::to_string(kPort), "--faults", "max_frame_size=1000,direction=tx"});
    ASSERT_TRUE(app) << app.error();
    echo_.emplace(std::move(*app));
    CommandResult r = python(
        "import socket, time\n"
        "s = socket.create_connection(('" + our_ip_ + "', " + std::to_string(kPort) + "), timeout=5)\n"
        "s.sendall(b'x'); print('small', s.recv(10))\n"
        "s.sendall(b'y' * 1200); time.sleep(3.5)\n"
        "s.close(); print('done')\n",
        Duration::seconds(30));
    EXPECT_NE(r.output.find("small b'x'"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("done"), std::string::npos) << r.output;
    const std::string out = stop_echo();
    EXPECT_GE(stat_from_output(out, "tcp", "timeouts").value_or(0), 3u) << out;
    EXPECT_GE(stat_from_output(out, "faults_tx", "oversize").value_or(0), 3u) << out;
}

TEST_F(TcpInterop, ThousandSequentialConnectionsLeaveNothingBehind) {
    start_echo();
    CommandResult r = python(
        "import socket\n"
        "ok = 0\n"
        "for i in range(1000):\n"
        "    s = socket.create_connection(('" + our_ip_ + "', " + std::to_string(kPort) + "), timeout=5)\n"
        "    msg = b'hello %d' % i\n"
        "    s.sendall(msg); s.shutdown(socket.SHUT_WR)\n"
        "    got = b''\n"
        "    while True:\n"
        "        b = s.recv(100)\n"
        "        if not b: break\n"
        "        got += b\n"
        "    s.close()\n"
        "    ok += got == msg\n"
        "print('ok', ok)\n",
        Duration::seconds(120));
    EXPECT_NE(r.output.find("ok 1000"), std::string::npos) << r.output;
    env_->exec({"sleep", "0.5"});
    std::string out = stop_echo();
    // The kernel closed first each time, so TIME-WAIT is on its side; ours holds only the
    // listeners (TCP echo) when it stops.
    EXPECT_LE(stat_from_output(out, "state", "tcp_sockets").value_or(999), 1u) << out;
    EXPECT_EQ(stat_from_output(out, "tcp", "passive_opens").value_or(0), 1000u) << out;
}

TEST_F(TcpInterop, TwoHundredConcurrentConnectionsAllEcho) {
    start_echo();
    CommandResult r = python(
        "import socket, selectors\n"
        "sel = selectors.DefaultSelector(); conns = []\n"
        "for i in range(200):\n"
        "    s = socket.create_connection(('" + our_ip_ + "', " + std::to_string(kPort) + "), timeout=10)\n"
        "    conns.append(s)\n"
        "for i, s in enumerate(conns):\n"
        "    s.sendall(b'connection %03d ' % i * 50)\n"
        "good = 0\n"
        "for i, s in enumerate(conns):\n"
        "    want = b'connection %03d ' % i * 50\n"
        "    got = b''\n"
        "    while len(got) < len(want):\n"
        "        b = s.recv(4096)\n"
        "        if not b: break\n"
        "        got += b\n"
        "    good += got == want\n"
        "for s in conns: s.close()\n"
        "print('good', good)\n",
        Duration::seconds(120));
    EXPECT_NE(r.output.find("good 200"), std::string::npos) << r.output;
}

TEST_F(TcpInterop, HundredMegabytesEachWayWithTcpipNc) {
    // kernel -> stack: socat sends, tcpip-nc -l receives; compared by hash.
    const std::string mb = "100";
    auto listener = env_->exec_background(
        {"sh", "-c", app_path("tcpip-nc") + " --tap " + env_->tap_name() + " --ip " + our_ip_ + "/24 -l 5001 | sha256sum"});
    ASSERT_TRUE(listener) << listener.error();
    CommandResult send = env_->exec(
        {"sh", "-c", "head -c " + mb + "000000 /dev/zero | tr '\\0' 'x' | socat -u - TCP:" + our_ip_ +
                         ":5001,retry=50,interval=0.1"},
        Duration::seconds(120));
    EXPECT_TRUE(send.ok()) << send.output;
    CommandResult got = listener->wait(Duration::seconds(60));
    CommandResult want = run_command({"sh", "-c", "head -c " + mb + "000000 /dev/zero | tr '\\0' 'x' | sha256sum"});
    // The hash is sha256sum's line, the last one (tcpip-nc's own lines, on stderr, come first).
    const std::size_t last_line = got.output.rfind('\n', got.output.size() >= 2 ? got.output.size() - 2 : 0);
    const std::string hash = got.output.substr(last_line == std::string::npos ? 0 : last_line + 1, 64);
    EXPECT_EQ(hash, want.output.substr(0, 64)) << got.output;

    // stack -> kernel: tcpip-nc sends its stdin, socat receives.
    auto sink = env_->exec_background({"sh", "-c", "socat -u TCP-LISTEN:5002,reuseaddr - | sha256sum"});
    ASSERT_TRUE(sink) << sink.error();
    ASSERT_TRUE(env_->wait_for_port(NetnsTap::Transport::Tcp, 5002)) << "socat never listened on 5002";
    CommandResult out = env_->exec(
        {"sh", "-c", "head -c " + mb + "000000 /dev/zero | tr '\\0' 'x' | " + app_path("tcpip-nc") + " --tap " +
                         env_->tap_name() + " --ip " + our_ip_ + "/24 " + kernel_ip_ + " 5002"},
        Duration::seconds(120));
    EXPECT_EQ(out.exit_code, 0) << out.output;
    CommandResult received = sink->wait(Duration::seconds(60));
    EXPECT_EQ(received.output.substr(0, 64), want.output.substr(0, 64)) << received.output;
}

}  // namespace
}  // namespace tcpip::interop
