// The shared --ecn flag (apps/app_common): Linux's tcp_ecn values, exactly 0, 1 or 2.
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
    return Args("tcpip-test", "").parse(static_cast<int>(argv.size()), argv.data());
}

TEST(EcnFlag, TakesLinuxsValuesAndDefaultsToTwo) {
    EXPECT_EQ(parse({}).stack.tcp_ecn, 2);
    EXPECT_EQ(parse({"--ecn", "0"}).stack.tcp_ecn, 0);
    EXPECT_EQ(parse({"--ecn", "1"}).stack.tcp_ecn, 1);
    EXPECT_EQ(parse({"--ecn", "2"}).stack.tcp_ecn, 2);
}

TEST(EcnFlagDeathTest, AnythingElseIsOneLineAndExitStatus2) {
    for (const char* bad : {"3", "01", "on", "", "-1"}) {
        EXPECT_EXIT(parse({"--ecn", bad}), testing::ExitedWithCode(2),
                    "^tcpip-test: --ecn: '" + std::string(bad) + "': must be 0, 1 or 2 \\(try --help\\)\n$")
            << bad;
    }
    EXPECT_EXIT(parse({"--ecn"}), testing::ExitedWithCode(2), "^tcpip-test: .*\n$");
}

}  // namespace
}  // namespace tcpip::app
