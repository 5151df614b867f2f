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

// ---- The path flags: --loss PCT --delay MS[,JITTER] --rate MBIT --reorder PCT --duplicate PCT ----

CommonOptions parse_words(std::vector<std::string> words) {
    words.insert(words.begin(), "tcpip-test");
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    return Args("tcpip-test", "").parse(static_cast<int>(argv.size()), argv.data());
}

TEST(PathFlags, SetTheInjectorTheSameBothWays) {
    const CommonOptions options = parse_words(
        {"--loss", "5", "--delay", "10", "--rate", "100", "--reorder", "0.5", "--duplicate", "0.1"});
    ASSERT_TRUE(options.faults.has_value());
    for (const LinkFaults& f : {options.faults->config.tx, options.faults->config.rx}) {
        EXPECT_DOUBLE_EQ(f.drop, 0.05);
        EXPECT_EQ(f.delay, Duration::millis(10));  // one way: the round trip grows by 20 ms
        EXPECT_EQ(f.jitter, Duration::zero());
        EXPECT_EQ(f.rate_bytes_per_second, 12'500'000u);  // 100 Mbit/s
        EXPECT_DOUBLE_EQ(f.reorder, 0.005);
        EXPECT_DOUBLE_EQ(f.duplicate, 0.001);
        EXPECT_DOUBLE_EQ(f.corrupt, 0.0);
    }
    EXPECT_FALSE(parse_words({}).faults.has_value());  // no flag, no injector
}

TEST(PathFlags, DelayTakesAnOptionalJitter) {
    const CommonOptions options = parse_words({"--delay", "20,2.5"});
    ASSERT_TRUE(options.faults.has_value());
    EXPECT_EQ(options.faults->config.rx.delay, Duration::millis(20));
    EXPECT_EQ(options.faults->config.rx.jitter, Duration::micros(2500));
    EXPECT_DOUBLE_EQ(options.faults->config.rx.drop, 0.0);
}

TEST(PathFlags, GoOverFaultsAndKeepItsOtherKnobs) {
    // --faults first or last: the path flags win for their fields, in both directions.
    for (bool faults_first : {true, false}) {
        std::vector<std::string> words = {"--loss", "1"};
        std::vector<std::string> faults = {"--faults", "drop=0.5,corrupt=0.01,seed=9,direction=tx"};
        words.insert(faults_first ? words.begin() : words.end(), faults.begin(), faults.end());
        const CommonOptions options = parse_words(words);
        ASSERT_TRUE(options.faults.has_value());
        EXPECT_EQ(options.faults->seed, 9u);
        EXPECT_DOUBLE_EQ(options.faults->config.tx.drop, 0.01);
        EXPECT_DOUBLE_EQ(options.faults->config.rx.drop, 0.01);
        EXPECT_DOUBLE_EQ(options.faults->config.tx.corrupt, 0.01);
        EXPECT_DOUBLE_EQ(options.faults->config.rx.corrupt, 0.0);
    }
}

TEST(PathFlags, ValuesParseAndBadOnesSayWhy) {
    double p = -1;
    EXPECT_EQ(parse_percent("0.1", p), "");
    EXPECT_DOUBLE_EQ(p, 0.001);
    EXPECT_EQ(parse_percent("100", p), "");
    EXPECT_DOUBLE_EQ(p, 1.0);
    for (const char* bad : {"", "-1", "101", "5%", "abc", "nan", "inf", "1e999"}) {
        EXPECT_NE(parse_percent(bad, p).find("not a percentage from 0 to 100"), std::string::npos) << bad;
    }
    Duration delay;
    std::optional<Duration> jitter;
    EXPECT_EQ(parse_delay("0", delay, jitter), "");
    EXPECT_EQ(delay, Duration::zero());
    EXPECT_FALSE(jitter.has_value());
    for (const char* bad : {"", "-5", "10,", ",3", "10,x", "10,2,1", "3600001", "1ms"}) {
        EXPECT_NE(parse_delay(bad, delay, jitter), "") << bad;
    }
    std::uint64_t rate = 0;
    EXPECT_EQ(parse_rate_mbit("0.5", rate), "");
    EXPECT_EQ(rate, 62'500u);
    for (const char* bad : {"0", "-10", "", "fast", "1000001"}) {
        EXPECT_NE(parse_rate_mbit(bad, rate).find("Mbit/s"), std::string::npos) << bad;
    }
}

void expect_exit_2(std::vector<std::string> words, const std::string& message_regex) {
    words.insert(words.begin(), "tcpip-test");
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    Args args("tcpip-test", "");
    EXPECT_EXIT(args.parse(static_cast<int>(argv.size()), argv.data()), testing::ExitedWithCode(2), message_regex);
}

TEST(PathFlagsDeathTest, BadValueIsOneLineAndExitStatus2) {
    expect_exit_2({"--loss", "150"},
                  "^tcpip-test: --loss: '150' is not a percentage from 0 to 100 \\(try --help\\)\n$");
    expect_exit_2({"--delay", "10,x"}, "^tcpip-test: --delay: jitter 'x' is not a number of milliseconds[^\n]*\n$");
    expect_exit_2({"--rate", "0"}, "^tcpip-test: --rate: '0' is not a rate in Mbit/s[^\n]*\n$");
    expect_exit_2({"--reorder"}, "^tcpip-test: option --reorder needs a value \\(try --help\\)\n$");
    expect_exit_2({"--duplicate", "-1"}, "^tcpip-test: --duplicate: [^\n]*\n$");
}

}  // namespace
}  // namespace tcpip::app
