// The apps' shared TCP switches (apps/app_common.h): --no-sack and --no-timestamps turn off what
// Linux's net.ipv4.tcp_sack and net.ipv4.tcp_timestamps turn off; both are on by default.
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
    Args args("tcpip-test", "");
    return args.parse(static_cast<int>(argv.size()), argv.data());
}

TEST(TcpFlags, SackAndTimestampsAreOnByDefault) {
    const CommonOptions o = parse({});
    EXPECT_TRUE(o.stack.tcp_sack);
    EXPECT_TRUE(o.stack.tcp_timestamps);
}

TEST(TcpFlags, NoSackAndNoTimestampsSwitchEachOff) {
    CommonOptions o = parse({"--no-sack"});
    EXPECT_FALSE(o.stack.tcp_sack);
    EXPECT_TRUE(o.stack.tcp_timestamps);
    o = parse({"--no-timestamps"});
    EXPECT_TRUE(o.stack.tcp_sack);
    EXPECT_FALSE(o.stack.tcp_timestamps);
    o = parse({"--no-timestamps", "--no-sack"});
    EXPECT_FALSE(o.stack.tcp_sack);
    EXPECT_FALSE(o.stack.tcp_timestamps);
}

}  // namespace
}  // namespace tcpip::app
