// Link and network addresses as value types: MacAddress (IEEE 802 EUI-48) and Ipv4Address.
//
// Both parse from the text people type ("02:00:00:00:00:01", "10.0.0.2") with a typed error,
// print the same way, compare, and hash, so they can be map keys.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>

#include "stack/core/bytes.h"
#include "stack/core/result.h"

namespace tcpip {

enum class AddressParseError {
    Empty,           // ""
    BadDigit,        // a character that is not a digit (or hex digit) where one is needed
    OutOfRange,      // an IPv4 octet above 255, or a prefix length above 32
    WrongCount,      // not 4 octets, or not 6 MAC groups
    TrailingGarbage, // characters after a complete address
};
const char* to_string(AddressParseError error);

class MacAddress {
public:
    static constexpr std::size_t kSize = 6;

    constexpr MacAddress() = default;
    constexpr explicit MacAddress(const std::array<std::uint8_t, kSize>& octets) : octets_(octets) {}
    static MacAddress from_bytes(const std::uint8_t* p);
    static Result<MacAddress, AddressParseError> parse(std::string_view text);

    static constexpr MacAddress broadcast() { return MacAddress({0xff, 0xff, 0xff, 0xff, 0xff, 0xff}); }
    static constexpr MacAddress zero() { return MacAddress(); }

    constexpr const std::array<std::uint8_t, kSize>& octets() const { return octets_; }
    void copy_to(std::uint8_t* p) const;

    constexpr bool is_broadcast() const { return *this == broadcast(); }
    // The I/G bit (least significant bit of the first octet) marks group addresses; broadcast is one.
    constexpr bool is_multicast() const { return (octets_[0] & 0x01) != 0; }
    constexpr bool is_unicast() const { return !is_multicast(); }
    constexpr bool is_zero() const { return *this == zero(); }

    std::string to_string() const;
    constexpr auto operator<=>(const MacAddress&) const = default;

private:
    std::array<std::uint8_t, kSize> octets_{};
};

class Ipv4Address {
public:
    static constexpr std::size_t kSize = 4;

    constexpr Ipv4Address() = default;
    // From the host-order integer: Ipv4Address(0x0a000001) is 10.0.0.1.
    constexpr explicit Ipv4Address(std::uint32_t value) : value_(value) {}
    constexpr Ipv4Address(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d)
        : value_((std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | d) {}
    static Ipv4Address from_bytes(const std::uint8_t* p) { return Ipv4Address(load_be32(p)); }
    static Result<Ipv4Address, AddressParseError> parse(std::string_view text);

    static constexpr Ipv4Address any() { return Ipv4Address(0u); }
    static constexpr Ipv4Address broadcast() { return Ipv4Address(0xffffffffu); }

    constexpr std::uint32_t to_u32() const { return value_; }
    void copy_to(std::uint8_t* p) const { store_be32(p, value_); }

    constexpr bool is_unspecified() const { return value_ == 0; }
    constexpr bool is_broadcast() const { return value_ == 0xffffffffu; }
    constexpr bool is_multicast() const { return (value_ >> 28) == 0xe; }   // 224.0.0.0/4
    constexpr bool is_loopback() const { return (value_ >> 24) == 127; }     // 127.0.0.0/8

    std::string to_string() const;
    constexpr auto operator<=>(const Ipv4Address&) const = default;

private:
    std::uint32_t value_ = 0;
};

// An address with a prefix length, as in "10.0.0.2/24": the interface address and its subnet.
struct Ipv4Cidr {
    Ipv4Address address;
    std::uint8_t prefix_len = 32;

    static Result<Ipv4Cidr, AddressParseError> parse(std::string_view text);

    constexpr std::uint32_t netmask() const {
        return prefix_len == 0 ? 0u : ~std::uint32_t{0} << (32 - prefix_len);
    }
    constexpr Ipv4Address network() const { return Ipv4Address(address.to_u32() & netmask()); }
    constexpr Ipv4Address broadcast() const { return Ipv4Address(address.to_u32() | ~netmask()); }
    constexpr bool contains(Ipv4Address other) const {
        return (other.to_u32() & netmask()) == (address.to_u32() & netmask());
    }
    std::string to_string() const;
    constexpr bool operator==(const Ipv4Cidr&) const = default;
};

std::ostream& operator<<(std::ostream& os, const MacAddress& mac);
std::ostream& operator<<(std::ostream& os, const Ipv4Address& ip);
std::ostream& operator<<(std::ostream& os, const Ipv4Cidr& cidr);

}  // namespace tcpip

template <>
struct std::hash<tcpip::Ipv4Address> {
    std::size_t operator()(const tcpip::Ipv4Address& a) const noexcept { return std::hash<std::uint32_t>{}(a.to_u32()); }
};
template <>
struct std::hash<tcpip::MacAddress> {
    std::size_t operator()(const tcpip::MacAddress& m) const noexcept {
        std::uint64_t v = 0;
        for (auto o : m.octets()) v = (v << 8) | o;
        return std::hash<std::uint64_t>{}(v);
    }
};
