// One application source on two socket implementations: udp-rtt built on the kernel's sockets
// talks to tcpip-echo on our stack, and the same source built on ours (tcpip-udp-rtt) talks to a
// kernel echo (socat). Each prints its round-trip times; the figures are recorded, not asserted.
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
    // Our sockets -> the kernel's UDP echo (socat PIPE echoes each datagram back).
    {
        auto echo = env_->exec_background({"timeout", "30", "socat", "UDP-LISTEN:7007,bind=" + kernel, "PIPE"});
        ASSERT_TRUE(echo) << echo.error();
        env_->exec({"sleep", "0.3"});
        CommandResult r = env_->exec({app_path("tcpip-udp-rtt"), "--tap", env_->tap_name(), "--ip", ours + "/24", "-c",
                                        "500", kernel, "7007"},
                                       Duration::seconds(30));
        EXPECT_TRUE(r.ok()) << r.output;
        EXPECT_NE(r.output.find("500 answered, 0 lost"), std::string::npos) << r.output;
        std::printf("tcpip-udp-rtt (our sockets) -> kernel socat: %s", r.output.c_str());
        RecordProperty("tcpip_client_to_kernel_echo", r.output);
    }
}

}  // namespace
}  // namespace tcpip::interop
