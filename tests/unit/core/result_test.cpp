#include "stack/core/result.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace tcpip {
namespace {

enum class E { Bad, Worse };

Result<int, E> half(int x) {
    if (x % 2 != 0) return Unexpected(E::Bad);
    return x / 2;
}

TEST(Result, ValueAndError) {
    auto ok = half(8);
    ASSERT_TRUE(ok.has_value());
    EXPECT_TRUE(static_cast<bool>(ok));
    EXPECT_EQ(*ok, 4);
    EXPECT_EQ(ok.value(), 4);
    auto bad = half(3);
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error(), E::Bad);
    EXPECT_EQ(bad.value_or(-1), -1);
}

TEST(Result, ArrowAndMoveOnly) {
    Result<std::string, E> s = std::string("abc");
    EXPECT_EQ(s->size(), 3u);
    Result<std::unique_ptr<int>, E> p = std::make_unique<int>(7);
    std::unique_ptr<int> taken = *std::move(p);
    EXPECT_EQ(*taken, 7);
}

TEST(Result, Void) {
    Result<void, E> ok;
    EXPECT_TRUE(ok.has_value());
    Result<void, E> bad = Unexpected(E::Worse);
    EXPECT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error(), E::Worse);
}

}  // namespace
}  // namespace tcpip
