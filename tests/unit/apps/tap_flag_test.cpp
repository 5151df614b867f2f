// The apps' --tap flag (apps/app_common.h): a bad name is refused in one line that names it, and
// the line an app prints when it had to create the TAP gives the two `ip` commands that make the
// TAP reachable. (Creating a TAP needs root: tests/interop/first_run_test.cpp runs that part.)
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "apps/app_common.h"

namespace tcpip::app {
namespace {

CommonOptions parse(std::vector<std::string> words) {
    words.insert(words.begin(), "tcpip-test");
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    Args args("tcpip-test", "[options]");
    return args.parse(static_cast<int>(argv.size()), argv.data());
}

TEST(TapFlag, ABadNameIsNamedInTheError) {
    EXPECT_EXIT(parse({"--tap", "averyveryverylongname0"}), ::testing::ExitedWithCode(2),
                "^tcpip-test: --tap: interface name 'averyveryverylongname0' is 22 characters; Linux allows at most 15");
    EXPECT_EXIT(parse({"--tap", "tap/0"}), ::testing::ExitedWithCode(2), "--tap: interface name 'tap/0' is not valid");
    EXPECT_EXIT(parse({"--tap", ""}), ::testing::ExitedWithCode(2), "--tap: interface name '' is not valid");
    EXPECT_EXIT(parse({"--tap"}), ::testing::ExitedWithCode(2), "option --tap needs a value");
    EXPECT_EQ(parse({"--tap", "tap15charactrs0"}).tap, "tap15charactrs0");  // 15: the longest allowed
}

TEST(TapFlag, CreatedTapNoticeGivesTheTwoIpCommands) {
    const Ipv4Cidr ours{Ipv4Address(10, 0, 0, 2), 24};
    EXPECT_EQ(created_tap_notice("tcpip-echo", "tap0", ours, std::nullopt),
              "tcpip-echo: created TAP tap0 (down, no address; it goes away when tcpip-echo exits); to reach "
              "10.0.0.2 from the kernel run: ip link set dev tap0 up; ip addr add 10.0.0.1/24 dev tap0");
    // Our address is the subnet's first host: the kernel gets the next one.
    const std::string first = created_tap_notice("a", "t", Ipv4Cidr{Ipv4Address(192, 168, 7, 1), 24}, std::nullopt);
    EXPECT_NE(first.find("ip addr add 192.168.7.2/24 dev t"), std::string::npos) << first;
    // With --gateway, the kernel is the gateway.
    const std::string gw = created_tap_notice("a", "t", ours, Ipv4Address(10, 0, 0, 254));
    EXPECT_NE(gw.find("ip addr add 10.0.0.254/24 dev t"), std::string::npos) << gw;
    EXPECT_EQ(gw.find('\n'), std::string::npos);  // one line
}

}  // namespace
}  // namespace tcpip::app
