// Helpers shared by the UDP and TCP wire tests: hex fixtures, and libtins as the independent
// oracle (libtins builds and reads the IPv4 wrapper, so these tests depend on no other layer of
// ours).
#pragma once

#include <tins/tins.h>

#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "stack/core/address.h"
#include "stack/core/bytes.h"

namespace tcpip::wire_testing {

// "45 00 00 3c ..." (any whitespace) to bytes.
inline std::vector<std::uint8_t> from_hex(std::string_view hex) {
    auto nibble = [](char c) -> std::uint8_t {
        if (c >= '0' && c <= '9') return static_cast<std::uint8_t>(c - '0');
        return static_cast<std::uint8_t>(std::tolower(static_cast<unsigned char>(c)) - 'a' + 10);
    };
    std::vector<std::uint8_t> bytes;
    int pending = -1;
    for (char c : hex) {
        if (std::isspace(static_cast<unsigned char>(c))) continue;
        if (pending < 0) {
            pending = nibble(c);
        } else {
            bytes.push_back(static_cast<std::uint8_t>((pending << 4) | nibble(c)));
            pending = -1;
        }
    }
    return bytes;
}

inline std::vector<std::uint8_t> to_vector(Bytes bytes) { return {bytes.begin(), bytes.end()}; }

inline Tins::IPv4Address to_tins(Ipv4Address address) { return Tins::IPv4Address(address.to_string()); }

// The transport part of a serialized IPv4 datagram: everything after IHL * 4 bytes, cut at the
// total length.
inline std::vector<std::uint8_t> transport_part(const std::vector<std::uint8_t>& datagram) {
    const std::size_t ihl = std::size_t{datagram.at(0) & 0x0fu} * 4;
    const std::size_t total = load_be16(datagram.data() + 2);
    return {datagram.begin() + static_cast<std::ptrdiff_t>(ihl), datagram.begin() + static_cast<std::ptrdiff_t>(total)};
}

// Our transport bytes inside an IPv4 header that libtins builds: the datagram libtins would send.
// libtins does not know what a RawPDU holds, so the protocol number is set by hand.
inline std::vector<std::uint8_t> wrap_in_ipv4(Bytes transport, Ipv4Address src, Ipv4Address dst,
                                              std::uint8_t protocol) {
    Tins::IP ip(to_tins(dst), to_tins(src));
    ip.protocol(protocol);
    ip /= Tins::RawPDU(transport.data(), static_cast<std::uint32_t>(transport.size()));
    return ip.serialize();
}

}  // namespace tcpip::wire_testing
