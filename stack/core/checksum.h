// The Internet checksum (RFC 1071): the 16-bit one's complement of the one's complement sum of
// the data taken as 16-bit big-endian words. Every layer uses this one accumulator:
//
//     std::uint16_t c = InternetChecksum{}.add_pseudo_header(src, dst, 17, len).add(udp).finish();
//
// How it is fast (RFC 1071 section 2): the one's complement sum does not care about byte order
// (swapping the bytes of every word swaps the bytes of the sum), nor about word width (a sum of
// 32- or 64-bit words folded down to 16 bits equals the sum of 16-bit words). So add() sums the
// bytes as wide words in the host's own order, and the result is brought to network order once,
// in sum() / finish().
#pragma once

#include <cstddef>
#include <cstdint>

#include "stack/core/address.h"
#include "stack/core/bytes.h"

namespace tcpip {

class InternetChecksum {
public:
    // Adds bytes that continue the checksummed stream. Chunks may have any length and alignment:
    // a chunk that starts at an odd stream offset is accounted for by swapping its partial sum.
    InternetChecksum& add(Bytes bytes);

    // Adds one big-endian 16- or 32-bit value as if its bytes came next in the stream.
    InternetChecksum& add_u16(std::uint16_t value);
    InternetChecksum& add_u32(std::uint32_t value);

    // The IPv4 pseudo-header of TCP and UDP (RFC 793 section 3.1, RFC 768): source, destination,
    // zero, protocol, and the transport length (header plus data).
    InternetChecksum& add_pseudo_header(Ipv4Address src, Ipv4Address dst, std::uint8_t protocol,
                                        std::uint16_t length);

    // The folded one's complement sum, not complemented, as a host-order number.
    std::uint16_t sum() const;

    // The value for the checksum field (host order; store it with store_be16). Verifying a
    // received header is add() over it, checksum field included, and finish() == 0.
    std::uint16_t finish() const { return static_cast<std::uint16_t>(~sum()); }

private:
    std::uint64_t acc_ = 0;  // sum of 64-bit host-order words, carries folded back in
    bool odd_ = false;       // the stream so far has an odd number of bytes
};

// RFC 1624 equation 3: the new checksum field after one 16-bit word of the covered data changed
// from old_word to new_word, without summing the data again: HC' = ~(~HC + ~m + m').
std::uint16_t checksum_adjust(std::uint16_t old_checksum, std::uint16_t old_word, std::uint16_t new_word);

}  // namespace tcpip
