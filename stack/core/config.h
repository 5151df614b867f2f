// StackConfig: every tunable of the stack in one plain struct (no macros), with the defaults a
// Linux host uses where there is one. A Stack takes a copy at construction.
#pragma once

#include <cstddef>
#include <cstdint>

#include "stack/core/time.h"

namespace tcpip {

class Tracer;  // stack/core/trace.h

// TCP congestion control algorithms (stack/tcp/congestion/, one file each). A socket uses
// StackConfig::tcp_congestion unless the application chose another (TCP_CONGESTION).
enum class CongestionAlgorithm : std::uint8_t { NewReno, Cubic };

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
    std::size_t arp_pending_bytes_per_neighbor = 212992;    // buffer bytes queued for one address (Linux's unres_qlen_bytes)
    std::size_t arp_pending_bytes_total = 1024 * 1024;      // buffer bytes queued across all resolutions

    // ---- IPv4 (RFC 791, RFC 1122 3.2.1) ----
    std::uint8_t ip_default_ttl = 64;                       // as Linux (net.ipv4.ip_default_ttl)
    Duration ip_reassembly_timeout = Duration::seconds(30); // as Linux (net.ipv4.ipfrag_time)
    std::size_t ip_reassembly_memory = 4 * 1024 * 1024;     // bytes held by all partial datagrams (ipfrag_high_thresh)
    std::size_t ip_reassembly_max_datagrams = 64;           // datagrams in reassembly at once
    Duration ip_pmtu_expires = Duration::seconds(600);      // a learned path MTU is forgotten after this (ip_rt_mtu_expires)
    std::size_t ip_min_pmtu = 552;                          // no ICMP lowers a path MTU below this (min_pmtu)
    std::size_t ip_pmtu_cache_capacity = 256;               // destinations with a learned path MTU, at most

    // ---- ICMP (RFC 1122 3.2.2, RFC 1812 4.3.2.8) ----
    Duration icmp_error_interval = Duration::millis(1);     // token bucket: one error per interval...
    std::uint32_t icmp_error_burst = 50;                    // ...with bursts up to this many (net.ipv4.icmp_msgs_burst)

    // ---- UDP (RFC 768, RFC 1122 4.1) ----
    std::size_t udp_rcvbuf = 212992;                        // default SO_RCVBUF of a UDP socket, in buffer bytes (net.core.rmem_default)

    // ---- TCP (RFC 9293, RFC 6298, RFC 5681, RFC 1122 4.2) ----
    Duration tcp_min_rto = Duration::millis(200);           // as Linux (TCP_RTO_MIN)
    Duration tcp_max_rto = Duration::seconds(120);          // as Linux (TCP_RTO_MAX)
    std::uint32_t tcp_retries = 15;                         // data retransmissions before ETIMEDOUT (tcp_retries2)
    std::uint32_t tcp_syn_retries = 6;                      // SYN retransmissions before ETIMEDOUT (tcp_syn_retries)
    Duration tcp_time_wait = Duration::seconds(60);         // 2*MSL, as Linux (TCP_TIMEWAIT_LEN)
    std::size_t tcp_max_time_wait = 4096;                   // TIME-WAIT entries kept (tcp_max_tw_buckets, scaled down)
    Duration tcp_delayed_ack = Duration::millis(40);        // as Linux's minimum delayed-ACK timeout
    std::size_t tcp_rcvbuf = 256 * 1024;                    // default SO_RCVBUF for TCP sockets (where auto-tuning starts)
    bool tcp_moderate_rcvbuf = true;                        // receive-buffer auto-tuning, as Linux (tcp_moderate_rcvbuf)
    std::size_t tcp_rmem_max = 6 * 1024 * 1024;             // how far auto-tuning grows a receive buffer (tcp_rmem[2])
    std::size_t tcp_wmem_max = 4 * 1024 * 1024;             // how far auto-tuning grows a send buffer (tcp_wmem[2])
    std::size_t tcp_sndbuf = 256 * 1024;                    // default SO_SNDBUF for TCP sockets
    std::size_t tcp_buffer_cache = 8 * 1024 * 1024;         // drained buffers' storage kept for reuse (buffer_cache.h)
    std::size_t tcp_max_syn_backlog = 256;                  // half-open connections per listener, at most
    Duration tcp_keepalive_idle = Duration::seconds(7200);  // as Linux (tcp_keepalive_time)
    Duration tcp_keepalive_interval = Duration::seconds(75);
    std::uint32_t tcp_keepalive_probes = 9;
    CongestionAlgorithm tcp_congestion = CongestionAlgorithm::Cubic;  // default algorithm, as Linux (tcp_congestion_control)
    Duration tcp_fin_timeout = Duration::seconds(60);       // an orphaned FIN-WAIT-2 waits this long (tcp_fin_timeout)
    bool tcp_syncookies = true;                             // SYN cookies when a listener's SYN queue is full (tcp_syncookies=1)
    std::size_t tcp_max_connections = 65536;                // connections (any state but LISTEN) at once; beyond it a SYN is dropped
    std::size_t tcp_max_orphans = 4096;                     // connections closed by the application still finishing (tcp_max_orphans, scaled down)
    std::uint32_t tcp_orphan_retries = 8;                   // retransmissions of an orphan before it is reset (tcp_orphan_retries)
    std::uint8_t tcp_ecn = 2;                               // ECN (RFC 3168), as Linux's tcp_ecn: 0 off, 1 request it on
                                                            // outgoing connections and accept it, 2 accept it when asked
    Duration tcp_challenge_ack_interval = Duration::millis(500);  // per socket: at most one challenge ACK per interval... (RFC 5961 7)
    std::uint32_t tcp_challenge_ack_burst = 5;              // ...with bursts up to this many
    std::size_t tcp_log_entries = 0;                        // per-connection event log (tcp_log.h): ring size, 0 = off
    bool tcp_sack = true;                                   // offer and accept SACK, RFC 2018 (net.ipv4.tcp_sack=1)
    bool tcp_timestamps = true;                             // offer and accept timestamps, RFC 7323 (net.ipv4.tcp_timestamps=1)
    bool tcp_pacing = true;                                 // TCP internal pacing (Linux's tcp_internal_pacing, or fq):
                                                            // data leaves at 200 % (slow start) / 120 % of cwnd / SRTT.
                                                            // On: behind a TAP no TCP small queues (TSQ) holds a burst
                                                            // back, so a whole window would reach the first shallow queue
                                                            // at once (docs/layers/tcp.md, "Pacing")

    // ---- Ports (RFC 6335 section 6, RFC 6056) ----
    // The range TCP and UDP pick ephemeral (local) ports from for connect() and bind(port 0). The
    // IANA dynamic range by default; a shard of a multiqueue stack (drivers/shard_device.h) gets a
    // slice of its own, so two shards never pick the same port and a frame's destination port
    // says which shard owns its connection.
    std::uint16_t ephemeral_port_first = 49152;
    std::uint16_t ephemeral_port_last = 65535;

    // ---- Packet buffers ----
    std::size_t rx_batch = 32;                              // frames read from the device per wake-up

    // ---- Observation (not a tunable) ----
    Tracer* tracer = nullptr;  // told what every layer decides (--trace); null: off, and free (core/trace.h)
};

}  // namespace tcpip
