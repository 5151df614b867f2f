#include "stack/core/address.h"

#include <cctype>
#include <cstdio>
#include <cstring>
#include <ostream>

namespace tcpip {

const char* to_string(AddressParseError error) {
    switch (error) {
        case AddressParseError::Empty: return "empty address";
        case AddressParseError::BadDigit: return "unexpected character";
        case AddressParseError::OutOfRange: return "number out of range";
        case AddressParseError::WrongCount: return "wrong number of parts";
        case AddressParseError::TrailingGarbage: return "unexpected characters after the address";
    }
    return "unknown error";
}

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

MacAddress MacAddress::from_bytes(const std::uint8_t* p) {
    std::array<std::uint8_t, kSize> octets;
    std::memcpy(octets.data(), p, kSize);
    return MacAddress(octets);
}

void MacAddress::copy_to(std::uint8_t* p) const { std::memcpy(p, octets_.data(), kSize); }

// Accepts six groups of one or two hex digits separated by ':' or '-' ("2:0:0:0:0:1" too).
Result<MacAddress, AddressParseError> MacAddress::parse(std::string_view text) {
    if (text.empty()) return Unexpected(AddressParseError::Empty);
    std::array<std::uint8_t, kSize> octets{};
    std::size_t pos = 0;
    for (std::size_t group = 0; group < kSize; ++group) {
        if (group > 0) {
            if (pos >= text.size()) return Unexpected(AddressParseError::WrongCount);
            if (text[pos] != ':' && text[pos] != '-') return Unexpected(AddressParseError::BadDigit);
            ++pos;
        }
        int value = 0;
        std::size_t digits = 0;
        while (pos < text.size() && digits < 2 && hex_value(text[pos]) >= 0) {
            value = value * 16 + hex_value(text[pos]);
            ++pos;
            ++digits;
        }
        if (digits == 0) {
            return Unexpected(pos >= text.size() ? AddressParseError::WrongCount : AddressParseError::BadDigit);
        }
        octets[group] = static_cast<std::uint8_t>(value);
    }
    if (pos != text.size()) {
        // "...:0g" is a bad digit in the last group; "...:01:03" is a seventh group.
        bool in_group = std::isalnum(static_cast<unsigned char>(text[pos])) != 0;
        return Unexpected(in_group ? AddressParseError::BadDigit : AddressParseError::TrailingGarbage);
    }
    return MacAddress(octets);
}

std::string MacAddress::to_string() const {
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", octets_[0], octets_[1], octets_[2],
                  octets_[3], octets_[4], octets_[5]);
    return buf;
}

// Dotted decimal only ("10.0.0.2"): no shorthand forms like "10.2", which inet_aton accepts but
// which surprise people more often than they help.
Result<Ipv4Address, AddressParseError> Ipv4Address::parse(std::string_view text) {
    if (text.empty()) return Unexpected(AddressParseError::Empty);
    std::uint32_t value = 0;
    std::size_t pos = 0;
    for (int octet = 0; octet < 4; ++octet) {
        if (octet > 0) {
            if (pos >= text.size()) return Unexpected(AddressParseError::WrongCount);
            if (text[pos] != '.') return Unexpected(AddressParseError::BadDigit);
            ++pos;
        }
        unsigned part = 0;
        std::size_t digits = 0;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
            if (++digits > 3) return Unexpected(AddressParseError::OutOfRange);
            part = part * 10 + static_cast<unsigned>(text[pos] - '0');
            ++pos;
        }
        if (digits == 0) {
            return Unexpected(pos >= text.size() ? AddressParseError::WrongCount : AddressParseError::BadDigit);
        }
        if (part > 255) return Unexpected(AddressParseError::OutOfRange);
        value = (value << 8) | part;
    }
    if (pos != text.size()) {
        return Unexpected(text[pos] == '.' ? AddressParseError::WrongCount : AddressParseError::TrailingGarbage);
    }
    return Ipv4Address(value);
}

std::string Ipv4Address::to_string() const {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", value_ >> 24, (value_ >> 16) & 0xff, (value_ >> 8) & 0xff,
                  value_ & 0xff);
    return buf;
}

// "10.0.0.2/24"; a bare address means a /32 host address.
Result<Ipv4Cidr, AddressParseError> Ipv4Cidr::parse(std::string_view text) {
    auto slash = text.find('/');
    auto address = Ipv4Address::parse(text.substr(0, slash));
    if (!address) return Unexpected(address.error());
    if (slash == std::string_view::npos) return Ipv4Cidr{*address, 32};
    auto prefix = text.substr(slash + 1);
    if (prefix.empty()) return Unexpected(AddressParseError::Empty);
    unsigned len = 0;
    for (char c : prefix) {
        if (c < '0' || c > '9') return Unexpected(AddressParseError::BadDigit);
        len = len * 10 + static_cast<unsigned>(c - '0');
        if (len > 32) return Unexpected(AddressParseError::OutOfRange);
    }
    return Ipv4Cidr{*address, static_cast<std::uint8_t>(len)};
}

std::string Ipv4Cidr::to_string() const { return address.to_string() + "/" + std::to_string(prefix_len); }

std::ostream& operator<<(std::ostream& os, const MacAddress& mac) { return os << mac.to_string(); }
std::ostream& operator<<(std::ostream& os, const Ipv4Address& ip) { return os << ip.to_string(); }
std::ostream& operator<<(std::ostream& os, const Ipv4Cidr& cidr) { return os << cidr.to_string(); }

}  // namespace tcpip
