// --queues (tcpip-perf -s, tcpip-httpd; apps/app_common): 1 up to the CPUs the process may run
// on, and refused beside the flags that need one device or one stack.
#include <gtest/gtest.h>

#include <sched.h>

#include <string>
#include <vector>

#include "apps/app_common.h"

namespace tcpip::app {
namespace {

TEST(QueuesFlag, OneUpToTheUsableCpus) {
    cpu_set_t set;
    ASSERT_EQ(::sched_getaffinity(0, sizeof set, &set), 0);
    const std::size_t cpus = static_cast<std::size_t>(CPU_COUNT(&set));
    EXPECT_EQ(usable_cpus().size(), cpus);
    std::size_t queues = 0;
    EXPECT_EQ(parse_queues("1", queues), "");
    EXPECT_EQ(queues, 1u);
    EXPECT_EQ(parse_queues(std::to_string(cpus), queues), "");
    EXPECT_EQ(queues, cpus);
    for (const std::string& bad : std::vector<std::string>{"0", std::to_string(cpus + 1), "-1", "two", ""}) {
        queues = 7;
        const std::string error = parse_queues(bad, queues);
        EXPECT_NE(error, "") << bad;
        EXPECT_EQ(error.find('\n'), std::string::npos) << error;  // one line
        EXPECT_EQ(queues, 7u) << bad;                             // untouched
    }
}

TEST(QueuesFlag, RefusedWithTheSingleDeviceFlags) {
    CommonOptions options;
    EXPECT_EQ(check_queues(options), "");
    options.queues = 2;
    EXPECT_EQ(check_queues(options), "");
    options.pcap = "x.pcap";
    EXPECT_NE(check_queues(options).find("--pcap"), std::string::npos);
    options.pcap.reset();
    options.faults = FaultSpec{};
    EXPECT_NE(check_queues(options).find("--faults"), std::string::npos);
    options.faults.reset();
    options.trace = true;
    EXPECT_NE(check_queues(options).find("--trace"), std::string::npos);
    options.queues = 1;
    EXPECT_EQ(check_queues(options), "");  // one queue: one device, anything goes
}

}  // namespace
}  // namespace tcpip::app
