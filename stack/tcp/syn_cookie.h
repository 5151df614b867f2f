// SYN cookies (RFC 4987 section 3.6): when a listener's SYN queue is full, it answers a SYN without
// remembering it. What it would have stored travels in the initial sequence number of its SYN-ACK,
// and comes back in the acknowledgment of the client's ACK (SEG.ACK - 1). A SYN flood then costs
// the listener no memory, while a real client's ACK still makes a connection.
//
// The encoding is Linux's (net/ipv4/syncookies.c, __cookie_v4_init_sequence):
//
//     cookie = H1(tuple) + client ISN + (t << 24) + ((H2(tuple, t) + mss_index) mod 2^24)
//
// where t counts minutes (6 bits are enough: only t and t-1, t-2 are accepted), H1 and H2 are
// keyed hashes (SipHash with a secret key, so nobody can forge a cookie without having seen one
// for the same 4-tuple), and mss_index picks one of four MSS values (the only option the cookie
// remembers: without TCP timestamps, where Linux keeps window scale and SACK, those are lost and
// the connection runs without them).
//
// Checking reverses it: subtract H1 and the client ISN, read t from the top 8 bits, check it is
// recent, subtract H2(tuple, t) from the low 24 bits, and what is left must be a valid index.
//
// With TCP timestamps (Linux's cookie_init_timestamp and cookie_timestamp_decode) the options the
// sequence number has no room for travel in our SYN-ACK's TSval, which the client echoes in the
// TSecr of its ACK: the low 6 bits of TSval hold the client's window scale (bits 0-3, 0xf for none)
// and whether it permitted SACK (bit 4). The TSval is the clock with those bits replaced, moved back
// 64 ms if that put it ahead of the clock. The connection then keeps window scaling, SACK and
// timestamps; its timestamp clock's offset is a keyed hash of the 4-tuple (the random offset of
// RFC 7323 5.4, but one the ACK can recompute). Without timestamps these options are lost, as on
// Linux; ECN is lost either way (Linux keeps it in bit 5; this stack does not).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "stack/core/address.h"
#include "stack/core/bytes.h"
#include "stack/core/siphash.h"
#include "stack/core/time.h"
#include "stack/tcp/seq.h"

namespace tcpip::syn_cookie {

// The MSS values a cookie can carry (Linux's msstab): the usual ones for IPv4 paths.
inline constexpr std::array<std::uint16_t, 4> kMssTable = {536, 1300, 1440, 1460};
// Cookies older than this many minutes are refused (Linux's MAX_SYNCOOKIE_AGE).
inline constexpr std::uint32_t kMaxAgeMinutes = 2;

struct Tuple {
    Ipv4Address local;
    std::uint16_t local_port = 0;
    Ipv4Address remote;
    std::uint16_t remote_port = 0;
};

// The minute counter t.
inline std::uint32_t minute(Instant now) { return static_cast<std::uint32_t>(now.total_micros() / 60'000'000); }

// The largest table MSS not above `mss` (the peer's MSS, already limited by ours).
inline std::size_t mss_index(std::uint16_t mss) {
    std::size_t i = kMssTable.size() - 1;
    while (i > 0 && kMssTable[i] > mss) --i;
    return i;
}

inline std::uint32_t hash(const SipKey& key, const Tuple& t, std::uint32_t count) {
    std::uint8_t bytes[16];
    t.local.copy_to(bytes);
    store_be16(bytes + 4, t.local_port);
    t.remote.copy_to(bytes + 6);
    store_be16(bytes + 10, t.remote_port);
    store_be32(bytes + 12, count);
    return static_cast<std::uint32_t>(siphash24(key, bytes, sizeof bytes));
}

// H1 uses a count no minute counter reaches, so H1 and H2 are independent hashes of one key.
inline constexpr std::uint32_t kH1Count = 0xffffffff;

inline SeqNum make(const SipKey& key, const Tuple& t, SeqNum client_isn, std::uint32_t now_minute, std::size_t index) {
    const std::uint32_t count = now_minute & 0xff;
    const std::uint32_t low = (hash(key, t, count) + static_cast<std::uint32_t>(index)) & 0x00ffffff;
    return SeqNum(hash(key, t, kH1Count) + client_isn.raw() + (count << 24) + low);
}

// The MSS index the cookie carries, or nullopt if it is forged, for another connection, or stale.
inline std::optional<std::size_t> check(const SipKey& key, const Tuple& t, SeqNum client_isn, SeqNum cookie,
                                        std::uint32_t now_minute) {
    const std::uint32_t rest = cookie.raw() - hash(key, t, kH1Count) - client_isn.raw();
    const std::uint32_t count = rest >> 24;
    const std::uint32_t age = (now_minute - count) & 0xff;
    if (age > kMaxAgeMinutes) return std::nullopt;
    const std::uint32_t index = ((rest & 0x00ffffff) - hash(key, t, count)) & 0x00ffffff;
    if (index >= kMssTable.size()) return std::nullopt;
    return index;
}

// The timestamp clock offset of a connection made from a cookie (another independent hash).
inline constexpr std::uint32_t kTsOffsetCount = 0xfffffffe;
inline std::uint32_t ts_offset(const SipKey& key, const Tuple& t) { return hash(key, t, kTsOffsetCount); }

// The options the low bits of the SYN-ACK's TSval carry.
inline constexpr std::uint32_t kTsOptionBits = 0x3f;
inline constexpr std::uint32_t kTsWscaleNone = 0x0f;
inline constexpr std::uint32_t kTsSack = 0x10;

struct CookieOptions {
    std::optional<std::uint8_t> wscale;  // the client's window scale, if its SYN offered one
    bool sack = false;                   // its SYN carried SACK-Permitted (and we allow SACK)
};

// The TSval of the SYN-ACK: `ts_now` (our timestamp clock for this connection) carrying `options`.
inline std::uint32_t encode_timestamp(std::uint32_t ts_now, const CookieOptions& options) {
    const std::uint32_t bits =
        (options.wscale ? std::min<std::uint32_t>(*options.wscale, 14) : kTsWscaleNone) | (options.sack ? kTsSack : 0);
    std::uint32_t ts = (ts_now & ~kTsOptionBits) | bits;
    if (static_cast<std::int32_t>(ts - ts_now) > 0) ts -= kTsOptionBits + 1;  // never ahead of the clock
    return ts;
}

// The options an ACK's TSecr returns (every 6-bit value is one we may have sent: scales 0-14, or
// 0xf for none).
inline CookieOptions decode_timestamp(std::uint32_t tsecr) {
    CookieOptions options;
    const std::uint32_t wscale = tsecr & kTsWscaleNone;
    if (wscale != kTsWscaleNone) options.wscale = static_cast<std::uint8_t>(wscale);
    options.sack = (tsecr & kTsSack) != 0;
    return options;
}

}  // namespace tcpip::syn_cookie
