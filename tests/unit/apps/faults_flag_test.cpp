// The apps' shared --faults flag (apps/app_common.h): parse_faults maps KEY=VALUE pairs onto the
// FaultInjector's LinkFaults, one key per field, and a bad spec is one line on stderr and exit 2.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "apps/app_common.h"

namespace tcpip::app {
namespace {

FaultSpec parsed(std::string_view text) {
    FaultSpec spec;
    const std::string error = parse_faults(text, spec);
    EXPECT_EQ(error, "") << text;
    return spec;
}

std::string error_of(std::string_view text) {
    FaultSpec spec;
    return parse_faults(text, spec);
}

TEST(FaultsFlag, ProbabilitiesAndSeedApplyBothWays) {
    const FaultSpec spec = parsed("drop=0.01,duplicate=0.005,reorder=0.01,corrupt=0.001,seed=7");
    EXPECT_EQ(spec.seed, 7u);
    for (const LinkFaults& f : {spec.config.tx, spec.config.rx}) {
        EXPECT_DOUBLE_EQ(f.drop, 0.01);
        EXPECT_DOUBLE_EQ(f.duplicate, 0.005);
        EXPECT_DOUBLE_EQ(f.reorder, 0.01);
        EXPECT_DOUBLE_EQ(f.corrupt, 0.001);
        EXPECT_EQ(f.delay, Duration::zero());
    }
}

TEST(FaultsFlag, TimesAreMillisecondsAndSizesAreBytes) {
    const FaultSpec spec = parsed("delay=2.5,jitter=1,reorder_timeout=20,rate=1250000,burst=3000,queue_limit=64,"
                                  "max_frame_size=1400");
    const LinkFaults& f = spec.config.tx;
    EXPECT_EQ(f.delay, Duration::micros(2500));
    EXPECT_EQ(f.jitter, Duration::millis(1));
    EXPECT_EQ(f.reorder_timeout, Duration::millis(20));
    EXPECT_EQ(f.rate_bytes_per_second, 1'250'000u);
    EXPECT_EQ(f.burst_bytes, 3000u);
    EXPECT_EQ(f.queue_limit, 64u);
    EXPECT_EQ(f.max_frame_size, 1400u);
    EXPECT_EQ(spec.seed, 1u);  // the default
}

TEST(FaultsFlag, DirectionChoosesTheLane) {
    FaultSpec tx = parsed("drop=0.5,direction=tx");
    EXPECT_DOUBLE_EQ(tx.config.tx.drop, 0.5);
    EXPECT_DOUBLE_EQ(tx.config.rx.drop, 0.0);
    FaultSpec rx = parsed("direction=rx,drop=0.5");
    EXPECT_DOUBLE_EQ(rx.config.tx.drop, 0.0);
    EXPECT_DOUBLE_EQ(rx.config.rx.drop, 0.5);
}

TEST(FaultsFlag, BadSpecsSayWhatIsWrong) {
    EXPECT_NE(error_of(""), "");
    EXPECT_NE(error_of("drop").find("not KEY=VALUE"), std::string::npos);
    EXPECT_NE(error_of("=0.1").find("not KEY=VALUE"), std::string::npos);
    EXPECT_NE(error_of("loss=0.1").find("unknown key 'loss'"), std::string::npos);
    EXPECT_NE(error_of("drop=1.5").find("drop=1.5"), std::string::npos);
    EXPECT_NE(error_of("drop=-0.1"), "");
    EXPECT_NE(error_of("drop=abc"), "");
    EXPECT_NE(error_of("drop=0.1,drop=0.2").find("twice"), std::string::npos);
    EXPECT_NE(error_of("drop=0.1,").find("trailing"), std::string::npos);
    EXPECT_NE(error_of("delay=-1"), "");
    EXPECT_NE(error_of("rate=1.5"), "");
    EXPECT_NE(error_of("seed=x"), "");
    EXPECT_NE(error_of("direction=up").find("both, tx or rx"), std::string::npos);
    // A failed parse leaves the output alone.
    FaultSpec spec;
    spec.seed = 99;
    EXPECT_NE(parse_faults("drop=0.1,bogus=1", spec), "");
    EXPECT_EQ(spec.seed, 99u);
    EXPECT_DOUBLE_EQ(spec.config.tx.drop, 0.0);
}

TEST(FaultsFlag, CommandLineTakesItIntoTheCommonOptions) {
    Args args("tcpip-test", "");
    std::vector<std::string> words = {"tcpip-test", "--faults", "drop=0.25,seed=3"};
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    const CommonOptions options = args.parse(static_cast<int>(argv.size()), argv.data());
    ASSERT_TRUE(options.faults.has_value());
    EXPECT_DOUBLE_EQ(options.faults->config.rx.drop, 0.25);
    EXPECT_EQ(options.faults->seed, 3u);
    EXPECT_FALSE(Args("tcpip-test", "").parse(1, argv.data()).faults.has_value());
}

TEST(FaultsFlagDeathTest, BadSpecIsOneLineAndExitStatus2) {
    Args args("tcpip-test", "");
    std::vector<std::string> words = {"tcpip-test", "--faults", "drop=2"};
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    EXPECT_EXIT(args.parse(static_cast<int>(argv.size()), argv.data()), testing::ExitedWithCode(2),
                "^tcpip-test: --faults: drop=2: a probability must be a number from 0 to 1 \\(try --help\\)\n$");
}

}  // namespace
}  // namespace tcpip::app
