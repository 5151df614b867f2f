#include "stack/core/address.h"

#include <gtest/gtest.h>

#include <sstream>

namespace tcpip {
namespace {

TEST(Ipv4Address, ParseAndPrint) {
    auto a = Ipv4Address::parse("10.0.0.2");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->to_u32(), 0x0a000002u);
    EXPECT_EQ(a->to_string(), "10.0.0.2");
    EXPECT_EQ(*Ipv4Address::parse("255.255.255.255"), Ipv4Address::broadcast());
    EXPECT_EQ(*Ipv4Address::parse("0.0.0.0"), Ipv4Address::any());
    std::ostringstream os;
    os << Ipv4Address(192, 168, 1, 254);
    EXPECT_EQ(os.str(), "192.168.1.254");
}

TEST(Ipv4Address, ParseErrors) {
    EXPECT_EQ(Ipv4Address::parse("").error(), AddressParseError::Empty);
    EXPECT_EQ(Ipv4Address::parse("10.0.0").error(), AddressParseError::WrongCount);
    EXPECT_EQ(Ipv4Address::parse("10.0.0.1.5").error(), AddressParseError::WrongCount);
    EXPECT_EQ(Ipv4Address::parse("10.0.0.256").error(), AddressParseError::OutOfRange);
    EXPECT_EQ(Ipv4Address::parse("10.0.0.1000").error(), AddressParseError::OutOfRange);
    EXPECT_EQ(Ipv4Address::parse("10.0.x.1").error(), AddressParseError::BadDigit);
    EXPECT_EQ(Ipv4Address::parse("10.0.0.1 ").error(), AddressParseError::TrailingGarbage);
    EXPECT_EQ(Ipv4Address::parse("10..0.1").error(), AddressParseError::BadDigit);
}

TEST(Ipv4Address, Classes) {
    EXPECT_TRUE(Ipv4Address(224, 0, 0, 1).is_multicast());
    EXPECT_TRUE(Ipv4Address(127, 0, 0, 1).is_loopback());
    EXPECT_TRUE(Ipv4Address::broadcast().is_broadcast());
    EXPECT_FALSE(Ipv4Address(10, 0, 0, 1).is_multicast());
}

TEST(Ipv4Cidr, ParseAndSubnet) {
    auto c = Ipv4Cidr::parse("10.0.0.2/24");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->prefix_len, 24);
    EXPECT_EQ(c->netmask(), 0xffffff00u);
    EXPECT_EQ(c->network(), Ipv4Address(10, 0, 0, 0));
    EXPECT_EQ(c->broadcast(), Ipv4Address(10, 0, 0, 255));
    EXPECT_TRUE(c->contains(Ipv4Address(10, 0, 0, 77)));
    EXPECT_FALSE(c->contains(Ipv4Address(10, 0, 1, 1)));
    EXPECT_EQ(c->to_string(), "10.0.0.2/24");
    EXPECT_EQ(Ipv4Cidr::parse("10.0.0.2")->prefix_len, 32);
    EXPECT_EQ(Ipv4Cidr::parse("0.0.0.0/0")->netmask(), 0u);
    EXPECT_EQ(Ipv4Cidr::parse("10.0.0.2/33").error(), AddressParseError::OutOfRange);
    EXPECT_EQ(Ipv4Cidr::parse("10.0.0.2/").error(), AddressParseError::Empty);
    EXPECT_EQ(Ipv4Cidr::parse("10.0.0.2/2x").error(), AddressParseError::BadDigit);
}

TEST(MacAddress, ParseAndPrint) {
    auto m = MacAddress::parse("02:00:5e:10:00:0A");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->to_string(), "02:00:5e:10:00:0a");
    EXPECT_TRUE(m->is_unicast());
    EXPECT_EQ(*MacAddress::parse("2-0-5e-10-0-a"), *m);
    EXPECT_TRUE(MacAddress::broadcast().is_broadcast());
    EXPECT_TRUE(MacAddress::broadcast().is_multicast());
    EXPECT_TRUE(MacAddress::parse("01:00:5e:00:00:01")->is_multicast());
}

TEST(MacAddress, ParseErrors) {
    EXPECT_EQ(MacAddress::parse("").error(), AddressParseError::Empty);
    EXPECT_EQ(MacAddress::parse("02:00:00:00:00").error(), AddressParseError::WrongCount);
    EXPECT_EQ(MacAddress::parse("02:00:00:00:00:0g").error(), AddressParseError::BadDigit);
    EXPECT_EQ(MacAddress::parse("02:00:00:00:00:01:03").error(), AddressParseError::TrailingGarbage);
    EXPECT_EQ(MacAddress::parse("020:00:00:00:00:01").error(), AddressParseError::BadDigit);
}

}  // namespace
}  // namespace tcpip
