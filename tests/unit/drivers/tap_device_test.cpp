// TapDevice without root: the errors that open() reports before (or instead of) creating anything.
// Creating real TAPs is the interop suite's job (tests/interop/tap_test.cpp), inside a namespace.
#include "drivers/tap_device.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <type_traits>

namespace tcpip {
namespace {

constexpr MacAddress kMac({0x02, 0, 0, 0, 0, 1});

static_assert(!std::is_copy_constructible_v<TapDevice>);
static_assert(std::is_move_constructible_v<TapDevice>);

TEST(TapDevice, NameLongerThanIfnamsizIsRefusedWithAClearMessage) {
    auto tap = TapDevice::open("a-name-much-too-long", kMac);
    ASSERT_FALSE(tap.has_value());
    EXPECT_EQ(tap.error().kind, TapErrorKind::NameTooLong);
    const std::string msg = tap.error().message();
    EXPECT_NE(msg.find("a-name-much-too-long"), std::string::npos) << msg;
    EXPECT_NE(msg.find("at most 15"), std::string::npos) << msg;
    EXPECT_NE(msg.find("shorter name"), std::string::npos) << msg;
}

TEST(TapDevice, FifteenCharactersIsNotTooLong) {
    // 15 characters fit (IFNAMSIZ 16 with the NUL): the error, if any, comes from elsewhere.
    auto tap = TapDevice::open("abcdefghijklmno", kMac, 1500, "/nonexistent/tcpip-test/tun");
    ASSERT_FALSE(tap.has_value());
    EXPECT_NE(tap.error().kind, TapErrorKind::NameTooLong);
}

TEST(TapDevice, InvalidNamesAreRefused) {
    for (const char* name : {"", "a/b", "a:b", "a b", ".", ".."}) {
        auto tap = TapDevice::open(name, kMac);
        ASSERT_FALSE(tap.has_value()) << name;
        EXPECT_EQ(tap.error().kind, TapErrorKind::InvalidName) << name;
        EXPECT_NE(tap.error().message().find("not valid"), std::string::npos);
    }
}

TEST(TapDevice, MissingCloneDeviceSaysToLoadTheModule) {
    auto tap = TapDevice::open("tap0", kMac, 1500, "/nonexistent/tcpip-test/tun");
    ASSERT_FALSE(tap.has_value());
    EXPECT_EQ(tap.error().kind, TapErrorKind::NoTunDevice);
    EXPECT_EQ(tap.error().error_number, ENOENT);
    const std::string msg = tap.error().message();
    EXPECT_NE(msg.find("/dev/net/tun"), std::string::npos) << msg;
    EXPECT_NE(msg.find("modprobe tun"), std::string::npos) << msg;
}

TEST(TapDevice, ErrnoClassification) {
    struct Case {
        int error_number;
        TapErrorKind kind;
        const char* must_say;
    };
    const Case cases[] = {
        {EPERM, TapErrorKind::PermissionDenied, "CAP_NET_ADMIN"},
        {EACCES, TapErrorKind::PermissionDenied, "run as root"},
        {EINVAL, TapErrorKind::NotATap, "exists and is not a TAP"},
        {EBUSY, TapErrorKind::Busy, "already attached"},
        {ENODEV, TapErrorKind::NoTunDevice, "modprobe tun"},
        {EMFILE, TapErrorKind::Other, "cannot open TAP 'tapx'"},
    };
    for (const auto& c : cases) {
        TapError e = classify_tap_error(c.error_number, "tapx", "ioctl(TUNSETIFF)");
        EXPECT_EQ(e.kind, c.kind) << c.error_number;
        const std::string msg = e.message();
        EXPECT_NE(msg.find(c.must_say), std::string::npos) << msg;
        EXPECT_NE(msg.find("ioctl(TUNSETIFF)"), std::string::npos) << msg;
        EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
    }
}

TEST(TapDevice, NotATapMessageNamesTheInterfaceAndTheFix) {
    const std::string msg = classify_tap_error(EINVAL, "eth0", "ioctl(TUNSETIFF)").message();
    EXPECT_NE(msg.find("'eth0'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("pick another name or delete it"), std::string::npos) << msg;
}

}  // namespace
}  // namespace tcpip
