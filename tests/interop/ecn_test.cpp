// ECN negotiated with the Linux kernel (RFC 3168 6.1.1), read from the kernel's own TCP_INFO
// (tcpi_options & TCPI_OPT_ECN): the kernel asks (its tcp_ecn=1) and tcpip-echo accepts by default
// (our tcp_ecn=2, as Linux's) but not with --ecn 0; tcpip-nc --ecn 1 asks and the kernel (its
// default tcp_ecn=2) accepts, and without it nothing is negotiated. Data flows both ways each time.
#include <gtest/gtest.h>

#include "tests/interop/apps.h"
#include "tests/interop/netns.h"

namespace tcpip::interop {
namespace {

constexpr int kPort = 7;

// Python: "ecn 1" / "ecn 0" from a connected kernel socket `s`'s TCP_INFO (byte 5, tcpi_options;
// TCPI_OPT_ECN is 8).
const std::string kPrintEcn = "ti = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)\n"
                              "print('ecn', 1 if ti[5] & 8 else 0)\n";

class EcnInterop : public AppInterop {
protected:
    // The kernel connects to tcpip-echo (started with `extra`) with its tcp_ecn set to `kernel_ecn`.
    std::string kernel_client(const std::string& kernel_ecn, const std::vector<std::string>& extra) {
        EXPECT_TRUE(env_->exec({"sysctl", "-qw", "net.ipv4.tcp_ecn=" + kernel_ecn}).ok());
        auto echo = start_echo(*env_, our_ip_, extra);
        EXPECT_TRUE(echo) << echo.error();
        if (!echo) return "";
        CommandResult r = env_->exec(
            {"python3", "-c",
             "import socket\n"
             "s = socket.create_connection(('" + our_ip_ + "', " + std::to_string(kPort) + "), timeout=10)\n"
             "data = b'x' * 100000; s.sendall(data); got = b''\n"
             "while len(got) < len(data): got += s.recv(65536)\n"
             "print('echoed', got == data)\n" + kPrintEcn},
            Duration::seconds(30));
        echo->stop();
        EXPECT_NE(r.output.find("echoed True"), std::string::npos) << r.output;
        return r.output;
    }
    // tcpip-nc (with `extra`) connects to a kernel server, which reports what it negotiated.
    std::string kernel_server(const std::vector<std::string>& extra) {
        auto server = env_->exec_background(
            {"python3", "-c",
             "import socket\n"
             "l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
             "l.bind(('" + kernel_ip_ + "', 7002)); l.listen(1)\n"
             "s, _ = l.accept(); n = 0\n"
             "while True:\n"
             "    b = s.recv(65536)\n"
             "    if not b: break\n"
             "    n += len(b)\n"
             "print('received', n)\n" + kPrintEcn});
        EXPECT_TRUE(server) << server.error();
        if (!server) return "";
        EXPECT_TRUE(env_->wait_for_port(NetnsTap::Transport::Tcp, 7002));
        std::string cmd = "head -c 100000 /dev/zero | " + app_path("tcpip-nc") + " --tap " + env_->tap_name() +
                          " --ip " + our_ip_ + "/24";
        for (const auto& e : extra) cmd += " " + e;
        cmd += " " + kernel_ip_ + " 7002";
        CommandResult nc = env_->exec({"sh", "-c", cmd}, Duration::seconds(30));
        EXPECT_EQ(nc.exit_code, 0) << nc.output;
        CommandResult r = server->wait(Duration::seconds(10));
        EXPECT_NE(r.output.find("received 100000"), std::string::npos) << r.output;
        return r.output;
    }
};

TEST_F(EcnInterop, KernelAsksAndWeAcceptByDefault) {
    EXPECT_NE(kernel_client("1", {}).find("ecn 1"), std::string::npos);
}

TEST_F(EcnInterop, KernelAsksAndEcnZeroRefuses) {
    EXPECT_NE(kernel_client("1", {"--ecn", "0"}).find("ecn 0"), std::string::npos);
}

TEST_F(EcnInterop, WeAskWithEcnOneAndTheKernelAccepts) {
    EXPECT_NE(kernel_server({"--ecn", "1"}).find("ecn 1"), std::string::npos);
}

TEST_F(EcnInterop, ByDefaultWeDoNotAsk) {
    EXPECT_NE(kernel_server({}).find("ecn 0"), std::string::npos);
}

}  // namespace
}  // namespace tcpip::interop
