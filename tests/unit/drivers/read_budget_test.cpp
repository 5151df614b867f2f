// ReadBudget (drivers/read_budget.h): one frame per wake-up while frames come singly, a probe every
// kProbeEvery-th wake-up, whole batches again as soon as a wake-up finds two or more.
#include "drivers/read_budget.h"

#include <gtest/gtest.h>

namespace tcpip {
namespace {

// A budget whose last wake-up found one frame and then an empty queue.
ReadBudget single_frame_budget() {
    ReadBudget budget;
    budget.limit(32);
    budget.done(1, true);
    return budget;
}

TEST(ReadBudget, BatchesUntilAWakeUpFindsOneFrameThenNothing) {
    ReadBudget budget;
    EXPECT_EQ(budget.limit(32), 32u);
    budget.done(5, true);  // five frames, then EAGAIN
    EXPECT_EQ(budget.limit(32), 32u);
    budget.done(32, false);  // the whole batch: more may wait
    EXPECT_EQ(budget.limit(32), 32u);
    budget.done(1, true);  // one frame, then EAGAIN: frames come singly
    EXPECT_TRUE(budget.single());
    EXPECT_EQ(budget.limit(32), 1u);
}

TEST(ReadBudget, SinglyReadsOneFrameAndProbesEverySixteenthWakeUp) {
    ReadBudget budget = single_frame_budget();
    int probes = 0;
    for (unsigned wake = 1; wake <= 4 * ReadBudget::kProbeEvery; ++wake) {
        const std::size_t limit = budget.limit(32);
        if (limit == 32) {
            ++probes;
            EXPECT_EQ(wake % ReadBudget::kProbeEvery, 0u) << "wake-up " << wake;
            budget.done(1, true);  // the probe found nothing more: still single
        } else {
            EXPECT_EQ(limit, 1u);
            budget.done(1, false);  // one frame read, no empty read made
        }
        EXPECT_TRUE(budget.single());
    }
    EXPECT_EQ(probes, 4);
}

TEST(ReadBudget, AProbeThatFindsABacklogReturnsToBatches) {
    ReadBudget budget = single_frame_budget();
    for (unsigned wake = 1; wake < ReadBudget::kProbeEvery; ++wake) {
        ASSERT_EQ(budget.limit(32), 1u);
        budget.done(1, false);
    }
    ASSERT_EQ(budget.limit(32), 32u);  // the probe
    budget.done(7, true);              // frames were queueing
    EXPECT_FALSE(budget.single());
    EXPECT_EQ(budget.limit(32), 32u);
}

TEST(ReadBudget, AnEmptyWakeUpChangesNothing) {
    ReadBudget budget = single_frame_budget();
    budget.limit(32);
    budget.done(0, true);  // woken for nothing (another reader took it)
    EXPECT_TRUE(budget.single());
    EXPECT_EQ(ReadBudget().limit(1), 1u);  // a caller that asks for one gets one
}

}  // namespace
}  // namespace tcpip
