// StackConfig: every tunable of the stack in one plain struct (no macros), with the defaults a
// Linux host uses where there is one. A Stack takes a copy at construction.
#pragma once

#include <cstddef>
#include <cstdint>

#include "stack/core/time.h"

namespace tcpip {

struct StackConfig {
    // ---- Checksums (what drivers with offload, and fuzzers, may switch off) ----
    bool verify_rx_checksums = true;     // drop received packets whose checksum is wrong

    // ---- ARP (RFC 826, RFC 1122 2.3.2.1) ----
    std::uint32_t arp_request_tries = 3;                    // requests sent before giving up
    Duration arp_retry_interval = Duration::seconds(1);     // time between requests
    Duration arp_entry_lifetime = Duration::seconds(60);    // a learned entry ages out after this
    std::size_t arp_cache_capacity = 256;                   // least recently used entry goes first
    std::size_t arp_pending_per_neighbor = 16;              // packets queued while resolving one address
    std::size_t arp_pending_total = 256;                    // packets queued across all resolutions

    // ---- IPv4 (RFC 791, RFC 1122 3.2.1) ----
    std::uint8_t ip_default_ttl = 64;                       // as Linux (net.ipv4.ip_default_ttl)
    Duration ip_reassembly_timeout = Duration::seconds(30); // as Linux (net.ipv4.ipfrag_time)
    std::size_t ip_reassembly_memory = 4 * 1024 * 1024;     // bytes held by all partial datagrams (ipfrag_high_thresh)
    std::size_t ip_reassembly_max_datagrams = 64;           // datagrams in reassembly at once

    // ---- ICMP (RFC 1122 3.2.2, RFC 1812 4.3.2.8) ----
    Duration icmp_error_interval = Duration::millis(1);     // token bucket: one error per interval...
    std::uint32_t icmp_error_burst = 50;                    // ...with bursts up to this many (net.ipv4.icmp_msgs_burst)

    // ---- Packet buffers ----
    std::size_t rx_batch = 32;                              // frames read from the device per wake-up
};

}  // namespace tcpip
