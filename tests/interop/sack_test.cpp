// SACK (RFC 2018) and timestamps (RFC 7323) against the Linux kernel, through a TAP in a fresh
// network namespace, with our stack in this process: both options negotiated whichever side
// opens (the kernel's TCP_INFO has TCPI_OPT_SACK and TCPI_OPT_TIMESTAMPS, and so does our
// TcpLayer::info, which is what our TCP_INFO reports), and a transfer each way through the fault
// injector at 5 % loss in both directions that arrives byte-exact, recovered by SACK and RACK-TLP.
// With --no-sack's switch (StackConfig::tcp_sack off) the kernel sees no SACK. The kernel's
// `ss -tin` for the connection is printed with the results (some iproute2 versions leave out its
// "ts sack" words, so the test reads the kernel's tcpi_options, where ss gets them, directly).
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "drivers/fault_injector.h"
#include "stack/core/clock.h"
#include "stack/event_loop.h"
#include "stack/stack.h"
#include "tests/interop/netns.h"

namespace tcpip::interop {
namespace {

constexpr std::uint16_t kPort = 7100;
constexpr std::size_t kBytes = 3 * 1000 * 1000;

// Byte i of the stream both sides know: i mod 251 (a prime, so no power-of-two period).
std::uint8_t stream_byte(std::size_t i) { return static_cast<std::uint8_t>(i % 251); }

// Python for the kernel's side: the same stream, TCP_INFO's tcpi_options (byte 5 of struct
// tcp_info), and `ss -tin` for the connection while it is up.
const char* kPythonCommon =
    "import socket, subprocess, sys\n"
    "N = int(sys.argv[1])\n"
    "block = bytes(range(251))\n"
    "data = (block * (N // 251 + 1))[:N]\n"
    "def report(s):\n"
    "    info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)\n"
    "    print('kernel_options=%d' % info[5])\n"
    "    print(subprocess.run(['ss', '-tin', 'sport = :%d or dport = :%d' % (PORT, PORT)],\n"
    "                         capture_output=True, text=True).stdout)\n"
    "    sys.stdout.flush()\n";

class SackInterop : public ::testing::Test {
protected:
    void SetUp() override {
        TCPIP_REQUIRE_INTEROP();
        auto env = NetnsTap::create();
        ASSERT_TRUE(env) << env.error();
        env_ = std::move(*env);
    }

    // Our stack on the TAP, behind a FaultInjector dropping `loss` of the frames each way.
    void make_stack(double loss, bool sack) {
        LinkFaults faults;
        faults.drop = loss;
        faults_.emplace(env_->tap(), FaultConfig::both(faults), 14);
        StackConfig config;
        config.tcp_sack = sack;
        stack_.emplace(*faults_, InterfaceConfig{Ipv4Cidr{env_->our_address(), 24}, std::nullopt}, config, 7);
        loop_.emplace(*stack_, clock_);
    }

    // Runs the loop, calling `step` after every poll until it returns true or `limit` passes.
    bool run_until(const std::function<bool(Instant)>& step, Duration limit) {
        const Instant deadline = clock_.now() + limit;
        bool done = false;
        loop_->run([&](Instant now) {
            if (step(now)) {
                done = true;
                loop_->stop();
            } else if (now > deadline) {
                loop_->stop();
            }
        });
        return done;
    }


    std::unique_ptr<NetnsTap> env_;
    SystemClock clock_;
    std::optional<FaultInjector> faults_;
    std::optional<Stack> stack_;
    std::optional<EventLoop> loop_;
};

// Our stack connects and sends; the kernel receives and checks every byte.
TEST_F(SackInterop, OurStackSendsThroughFivePercentLossWithSackAndTimestamps) {
    make_stack(0.05, true);
    const std::string script = std::string("PORT = ") + std::to_string(kPort) + "\n" + kPythonCommon +
                               "srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                               "srv.bind(('0.0.0.0', PORT)); srv.listen(1)\n"
                               "c, _ = srv.accept(); c.settimeout(60)\n"
                               "got = bytearray(); reported = False\n"
                               "while True:\n"
                               "    b = c.recv(1 << 16)\n"
                               "    if not b: break\n"
                               "    got += b\n"
                               "    if not reported: report(c); reported = True\n"
                               "print('bytes', len(got), 'match', bytes(got) == data)\n";
    auto server = env_->exec_background({"python3", "-c", script, std::to_string(kBytes)});
    ASSERT_TRUE(server) << server.error();
    ASSERT_TRUE(env_->wait_for_port(NetnsTap::Transport::Tcp, kPort));

    TcpLayer& tcp = stack_->tcp();
    TcpSocket* s = tcp.open();
    (void)tcp.connect(clock_.now(), s, env_->kernel_address().address, kPort);
    std::size_t sent = 0;
    bool shut = false;
    std::optional<TcpInfo> info;
    std::vector<std::uint8_t> chunk(65536);
    const bool done = run_until(
        [&](Instant now) {
            if (s->state == TcpState::Closed) return true;  // failed: the asserts below say why
            if (s->state == TcpState::SynSent) return false;
            if (!info) info = tcp.info(s);
            while (sent < kBytes) {
                const std::size_t n = std::min(chunk.size(), kBytes - sent);
                for (std::size_t i = 0; i < n; ++i) chunk[i] = stream_byte(sent + i);
                auto wrote = tcp.send(now, s, Bytes(chunk.data(), n));
                if (!wrote || *wrote == 0) break;
                sent += *wrote;
            }
            if (sent == kBytes && !shut) shut = tcp.shutdown(now, s, false, true).has_value();
            // Everything, FIN included, sent and acknowledged (a paced sender may have acknowledged
            // all it sent and still hold data back for its pacing timer).
            return shut && s->snd.fin_sent && s->snd.una == s->snd.max;
        },
        Duration::seconds(120));
    ASSERT_TRUE(done) << "sent " << sent << " of " << kBytes << ", state " << to_string(s->state);
    ASSERT_TRUE(info.has_value());
    EXPECT_TRUE(info->sack);
    EXPECT_TRUE(info->timestamps);
    const TcpStats& st = stack_->stats().tcp;
    CommandResult r = server->wait(Duration::seconds(30));
    EXPECT_NE(r.output.find("bytes " + std::to_string(kBytes) + " match True"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("kernel_options=7"), std::string::npos) << r.output;  // TIMESTAMPS|SACK|WSCALE
    EXPECT_GT(faults_->tx_stats().dropped + faults_->rx_stats().dropped, 0u);
    EXPECT_GT(st.sack_recoveries, 0u);
    std::printf("  stack -> kernel, 5 %% loss: %llu retransmitted, %llu SACK recoveries, %llu RTOs, %llu TLPs\n",
                static_cast<unsigned long long>(st.retransmitted_segments),
                static_cast<unsigned long long>(st.sack_recoveries), static_cast<unsigned long long>(st.timeouts),
                static_cast<unsigned long long>(st.tlp_probes));
    tcp.close(clock_.now(), s);
}

// The kernel connects and sends; our stack receives, its blocks guiding the kernel's recovery.
TEST_F(SackInterop, KernelSendsToUsThroughFivePercentLossWithSackAndTimestamps) {
    make_stack(0.05, true);
    TcpLayer& tcp = stack_->tcp();
    TcpSocket* listener = tcp.open();
    ASSERT_TRUE(tcp.bind(listener, Ipv4Address::any(), kPort).has_value());
    ASSERT_TRUE(tcp.listen(listener, 4).has_value());
    const std::string script = std::string("PORT = ") + std::to_string(kPort) + "\n" + kPythonCommon +
                               "c = socket.create_connection(('" + env_->our_address().to_string() + "', PORT), timeout=60)\n"
                               "c.sendall(data[:100000]); report(c); c.sendall(data[100000:])\n"
                               "c.shutdown(socket.SHUT_WR)\n"
                               "c.recv(1)\n"  // until our FIN
                               "print('sent', len(data))\n";
    auto client = env_->exec_background({"python3", "-c", script, std::to_string(kBytes)});
    ASSERT_TRUE(client) << client.error();

    TcpSocket* s = nullptr;
    std::size_t received = 0;
    bool exact = true, eof = false, closed = false;
    std::optional<TcpInfo> info;
    std::vector<std::uint8_t> buf(65536);
    const bool done = run_until(
        [&](Instant now) {
            // After our close, the stack runs on until our FIN is acknowledged (resent if the 5 %
            // took it) and the connection is gone: only the listener is left. The client waits for
            // that FIN before it reports.
            if (closed) return tcp.socket_count() == 1;
            if (s == nullptr) {
                auto accepted = tcp.accept(listener);
                if (!accepted) return false;
                s = *accepted;
                info = tcp.info(s);
            }
            for (;;) {
                auto got = tcp.recv(now, s, MutableBytes(buf.data(), buf.size()), false);
                if (!got) break;
                if (*got == 0) {
                    eof = true;
                    break;
                }
                for (std::size_t i = 0; i < *got; ++i) exact = exact && buf[i] == stream_byte(received + i);
                received += *got;
            }
            if (eof && s->state == TcpState::CloseWait) {
                tcp.close(now, s);  // `s` is the layer's from here on: it frees it once the FIN is acknowledged
                closed = true;
            }
            return false;
        },
        Duration::seconds(120));
    ASSERT_TRUE(done) << "received " << received << " of " << kBytes;
    EXPECT_EQ(received, kBytes);
    EXPECT_TRUE(exact);
    ASSERT_TRUE(info.has_value());
    EXPECT_TRUE(info->sack);
    EXPECT_TRUE(info->timestamps);
    CommandResult r = client->wait(Duration::seconds(30));
    EXPECT_NE(r.output.find("sent " + std::to_string(kBytes)), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("kernel_options=7"), std::string::npos) << r.output;
    EXPECT_GT(stack_->stats().tcp.rx_out_of_order, 0u);  // the loss was real, and repaired
    tcp.close(clock_.now(), listener);
}

// With SACK switched off on our side (--no-sack) the kernel's SYN-ACK offers it but nothing is
// negotiated: the kernel's TCP_INFO has timestamps only, and the transfer still completes.
TEST_F(SackInterop, WithoutSackTheKernelSeesNone) {
    make_stack(0.0, false);
    const std::string script = std::string("PORT = ") + std::to_string(kPort) + "\n" + kPythonCommon +
                               "srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                               "srv.bind(('0.0.0.0', PORT)); srv.listen(1)\n"
                               "c, _ = srv.accept(); c.settimeout(30)\n"
                               "report(c)\n"
                               "n = 0\n"
                               "while True:\n"
                               "    b = c.recv(1 << 16)\n"
                               "    if not b: break\n"
                               "    n += len(b)\n"
                               "print('bytes', n)\n";
    auto server = env_->exec_background({"python3", "-c", script, "0"});
    ASSERT_TRUE(server) << server.error();
    ASSERT_TRUE(env_->wait_for_port(NetnsTap::Transport::Tcp, kPort));
    TcpLayer& tcp = stack_->tcp();
    TcpSocket* s = tcp.open();
    (void)tcp.connect(clock_.now(), s, env_->kernel_address().address, kPort);
    std::optional<TcpInfo> info;
    bool shut = false;
    const bool done = run_until(
        [&](Instant now) {
            if (s->state == TcpState::Closed) return true;
            if (s->state == TcpState::SynSent) return false;
            if (!info) info = tcp.info(s);
            const std::uint8_t hello[] = {'h', 'i'};
            if (!shut) shut = tcp.send(now, s, Bytes(hello, 2)).has_value() && tcp.shutdown(now, s, false, true).has_value();
            return shut && s->snd.una == s->snd.max;
        },
        Duration::seconds(30));
    ASSERT_TRUE(done);
    ASSERT_TRUE(info.has_value());
    EXPECT_FALSE(info->sack);
    EXPECT_TRUE(info->timestamps);
    CommandResult r = server->wait(Duration::seconds(30));
    EXPECT_NE(r.output.find("kernel_options=5"), std::string::npos) << r.output;  // TIMESTAMPS|WSCALE
    EXPECT_NE(r.output.find("bytes 2"), std::string::npos) << r.output;
    tcp.close(clock_.now(), s);
}

}  // namespace
}  // namespace tcpip::interop
