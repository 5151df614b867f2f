// One application source on two socket implementations: udp-rtt built on the kernel's sockets
// talks to tcpip-echo on our stack, and the same source built on ours (tcpip-udp-rtt) talks to a
// kernel UDP echo (python3). Each prints its round-trip times; the figures are recorded, not asserted.
#include <gtest/gtest.h>

#include "tests/interop/apps.h"
#include "tests/interop/netns.h"

namespace tcpip::interop {
namespace {

using PortableApp = AppInterop;

TEST_F(PortableApp, SameSourceOnKernelSocketsAndOnOurs) {
    const std::string& ours = our_ip_;
    const std::string& kernel = kernel_ip_;

    // Kernel sockets -> our stack's UDP echo.
    {
        auto echo = start_echo(*env_, ours);
        ASSERT_TRUE(echo) << echo.error();
        CommandResult r = env_->exec({app_path("udp-rtt"), "-c", "500", ours, "7"}, Duration::seconds(30));
        EXPECT_TRUE(r.ok()) << r.output;
        EXPECT_NE(r.output.find("500 answered, 0 lost"), std::string::npos) << r.output;
        std::printf("udp-rtt (kernel sockets) -> tcpip-echo: %s", r.output.c_str());
        RecordProperty("kernel_client_to_tcpip_echo", r.output);
        echo->stop();
    }
    // Our sockets -> a kernel UDP echo (python3: one datagram back for each datagram in; socat's
    // PIPE would pass them through a byte pipe, where two queued datagrams merge into one). Its
    // socket must be bound before the sender starts (it sends at once; a datagram that finds no
    // socket gets an ICMP port unreachable, which ends udp-rtt with ECONNREFUSED).
    {
        auto echo = env_->exec_background({"timeout", "30", "python3", "-c",
                                           "import socket\n"
                                           "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                                           "s.bind(('" + kernel + "', 7007))\n"
                                           "while True:\n"
                                           "    data, peer = s.recvfrom(65536)\n"
                                           "    s.sendto(data, peer)\n"});
        ASSERT_TRUE(echo) << echo.error();
        ASSERT_TRUE(env_->wait_for_port(NetnsTap::Transport::Udp, 7007)) << "the kernel echo never bound port 7007";
        CommandResult r = env_->exec({app_path("tcpip-udp-rtt"), "--tap", env_->tap_name(), "--ip", ours + "/24", "-c",
                                        "500", kernel, "7007"},
                                       Duration::seconds(30));
        EXPECT_TRUE(r.ok()) << r.output;
        EXPECT_NE(r.output.find("500 answered, 0 lost"), std::string::npos) << r.output;
        std::printf("tcpip-udp-rtt (our sockets) -> kernel UDP echo: %s", r.output.c_str());
        RecordProperty("tcpip_client_to_kernel_echo", r.output);
    }
}

}  // namespace
}  // namespace tcpip::interop
