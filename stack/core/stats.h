// Per-layer statistics, in the spirit of `netstat -s`: every packet that is dropped is counted
// under the reason it was dropped, so a learner (or a test) can see exactly why a frame went
// nowhere. Counters are plain integers: the stack is single-threaded under its lock.
//
// Each struct lists its counters once, in for_each(), which printing and tests use.
#pragma once

#include <cstdint>
#include <ostream>
#include <string_view>

namespace tcpip {

using Counter = std::uint64_t;

struct EthernetStats {
    Counter rx_frames = 0, tx_frames = 0;
    Counter rx_runt = 0;            // shorter than an Ethernet header
    Counter rx_not_for_us = 0;      // unicast to another MAC
    Counter rx_unknown_type = 0;    // EtherType we do not speak
    Counter tx_device_errors = 0;   // frames the device refused (queue full, too big, down)

    template <class F>
    void for_each(F&& f) const {
        f("rx_frames", rx_frames); f("tx_frames", tx_frames); f("rx_runt", rx_runt);
        f("rx_not_for_us", rx_not_for_us); f("rx_unknown_type", rx_unknown_type);
        f("tx_device_errors", tx_device_errors);
    }
};

struct ArpStats {
    Counter rx_requests = 0, rx_replies = 0, tx_requests = 0, tx_replies = 0;
    Counter rx_malformed = 0;       // truncated, or not Ethernet/IPv4
    Counter rx_not_for_us = 0;      // a request for another address
    Counter resolve_failed = 0;     // gave up after the last retry
    Counter pending_dropped = 0;    // a packet waiting for resolution was dropped (queue full or failure)
    Counter pending_queue_full = 0; // of those, dropped on arrival: a bound in packets or bytes was reached

    template <class F>
    void for_each(F&& f) const {
        f("rx_requests", rx_requests); f("rx_replies", rx_replies); f("tx_requests", tx_requests);
        f("tx_replies", tx_replies); f("rx_malformed", rx_malformed); f("rx_not_for_us", rx_not_for_us);
        f("resolve_failed", resolve_failed); f("pending_dropped", pending_dropped);
        f("pending_queue_full", pending_queue_full);
    }
};

struct Ipv4Stats {
    Counter rx_packets = 0, rx_delivered = 0, tx_packets = 0;
    Counter rx_truncated = 0, rx_bad_version = 0, rx_bad_header_length = 0, rx_bad_total_length = 0;
    Counter rx_bad_checksum = 0;
    Counter rx_not_for_us = 0;       // no forwarding: a datagram for another address is dropped
    Counter rx_bad_source = 0;       // source is broadcast or multicast (RFC 1122 3.2.1.3)
    Counter rx_fragments = 0;        // fragments received (each counted once, before reassembly)
    Counter rx_unknown_protocol = 0;
    Counter reasm_ok = 0, reasm_fails = 0, reasm_timeout = 0, reasm_overlap = 0;
    Counter frag_created = 0, frag_fails = 0;
    Counter tx_no_route = 0;

    template <class F>
    void for_each(F&& f) const {
        f("rx_packets", rx_packets); f("rx_delivered", rx_delivered); f("tx_packets", tx_packets);
        f("rx_truncated", rx_truncated); f("rx_bad_version", rx_bad_version);
        f("rx_bad_header_length", rx_bad_header_length); f("rx_bad_total_length", rx_bad_total_length);
        f("rx_bad_checksum", rx_bad_checksum); f("rx_not_for_us", rx_not_for_us);
        f("rx_bad_source", rx_bad_source); f("rx_fragments", rx_fragments);
        f("rx_unknown_protocol", rx_unknown_protocol); f("reasm_ok", reasm_ok); f("reasm_fails", reasm_fails);
        f("reasm_timeout", reasm_timeout); f("reasm_overlap", reasm_overlap); f("frag_created", frag_created);
        f("frag_fails", frag_fails); f("tx_no_route", tx_no_route);
    }
};

struct IcmpStats {
    Counter rx_messages = 0, rx_echo_requests = 0, rx_echo_replies = 0, rx_errors = 0;
    Counter rx_malformed = 0, rx_bad_checksum = 0;
    Counter tx_messages = 0, tx_echo_replies = 0, tx_dest_unreachable = 0;
    Counter tx_rate_limited = 0;    // an error we would have sent, held back by the rate limit

    template <class F>
    void for_each(F&& f) const {
        f("rx_messages", rx_messages); f("rx_echo_requests", rx_echo_requests);
        f("rx_echo_replies", rx_echo_replies); f("rx_errors", rx_errors); f("rx_malformed", rx_malformed);
        f("rx_bad_checksum", rx_bad_checksum); f("tx_messages", tx_messages);
        f("tx_echo_replies", tx_echo_replies); f("tx_dest_unreachable", tx_dest_unreachable);
        f("tx_rate_limited", tx_rate_limited);
    }
};

struct UdpStats {
    Counter rx_datagrams = 0;       // delivered to a socket
    Counter tx_datagrams = 0;
    Counter rx_no_port = 0;         // no socket for it: ICMP port unreachable (netstat's NoPorts)
    Counter rx_malformed = 0;       // truncated or a bad length field
    Counter rx_bad_checksum = 0;    // InCsumErrors
    Counter rx_queue_full = 0;      // the socket's receive buffer (SO_RCVBUF) was full: RcvbufErrors

    template <class F>
    void for_each(F&& f) const {
        f("rx_datagrams", rx_datagrams); f("tx_datagrams", tx_datagrams); f("rx_no_port", rx_no_port);
        f("rx_malformed", rx_malformed); f("rx_bad_checksum", rx_bad_checksum); f("rx_queue_full", rx_queue_full);
    }
};

struct TcpStats {
    Counter active_opens = 0, passive_opens = 0;   // connect()s, and connections accepted from SYNs
    Counter attempt_fails = 0;       // connections that failed before ESTABLISHED
    Counter established_resets = 0;  // resets in ESTABLISHED or CLOSE-WAIT
    Counter rx_segments = 0, tx_segments = 0, retransmitted_segments = 0;
    Counter rx_malformed = 0, rx_bad_checksum = 0;
    Counter rx_no_socket = 0;        // answered with RST
    Counter rx_out_of_window = 0;    // unacceptable segments (answered with an ACK)
    Counter rx_out_of_order = 0;     // segments kept for later
    Counter rx_duplicate = 0;        // data we already had
    Counter tx_resets = 0, rx_resets = 0, challenge_acks = 0;
    Counter syn_dropped = 0;         // SYNs dropped: listen queue full
    Counter fast_retransmits = 0, timeouts = 0, window_probes = 0;
    Counter time_wait_dropped = 0;   // TIME-WAIT entries cut short by the bound
    Counter syn_cookies_sent = 0;    // SYN-ACKs carrying a cookie: the SYN queue was full (RFC 4987 3.6)
    Counter syn_cookies_ok = 0;      // ACKs with a valid cookie: a connection made without a SYN queue entry
    Counter syn_cookies_failed = 0;  // ACKs to a listener whose cookie did not check out (answered with RST)
    Counter challenge_acks_limited = 0;  // challenge ACKs held back by the per-socket rate limit (RFC 5961 7)
    Counter connection_limit_dropped = 0;  // SYNs dropped: tcp_max_connections reached
    Counter orphans_dropped = 0;     // orphaned connections reset: over tcp_max_orphans or tcp_orphan_retries
    Counter paws_rejected = 0;       // segments with an old timestamp, dropped and answered (RFC 7323 5; Linux PAWSEstabRejected)
    Counter sack_recoveries = 0;     // fast recoveries started by SACK/RACK loss detection (RFC 6675, RFC 8985)
    Counter rack_lost = 0;           // segments RACK marked lost (RFC 8985 6.2)
    Counter tlp_probes = 0;          // tail loss probes sent (RFC 8985 7)
    Counter dsacks_received = 0;     // D-SACK blocks the peer reported (RFC 2883)
    Counter dsacks_sent = 0;         // D-SACK blocks we reported for duplicate data (RFC 2883)
    Counter spurious_undos = 0;      // congestion responses undone: the retransmissions were spurious (D-SACK, Eifel)
    Counter ecn_ce_received = 0;     // segments that arrived marked CE on an ECN connection (echoed with ECE)
    Counter ecn_reductions = 0;      // windows reduced for an ECN echo, without a loss (RFC 3168 6.1.2)
    Counter icmp_ignored = 0;        // ICMP errors about no connection of ours, or quoting a sequence number not in flight (RFC 5927)
    Counter sndbuf_grown = 0;        // send buffers auto-tuning made larger (Linux's tcp_sndbuf_expand): room for 2 x cwnd
    Counter rcvbuf_grown = 0;        // receive buffers auto-tuning made larger (Linux's TCPRcvQDrop's cousin: tcp_rcv_space_adjust)
    Counter pmtu_mss_lowered = 0;    // connections whose MSS a fragmentation-needed ICMP lowered (RFC 1191), in-flight data resent
    Counter pacing_waits = 0;        // times data was ready but held for the pacing timer (its departure time had not come)

    template <class F>
    void for_each(F&& f) const {
        f("active_opens", active_opens); f("passive_opens", passive_opens); f("attempt_fails", attempt_fails);
        f("established_resets", established_resets); f("rx_segments", rx_segments); f("tx_segments", tx_segments);
        f("retransmitted_segments", retransmitted_segments); f("rx_malformed", rx_malformed);
        f("rx_bad_checksum", rx_bad_checksum); f("rx_no_socket", rx_no_socket); f("rx_out_of_window", rx_out_of_window);
        f("rx_out_of_order", rx_out_of_order); f("rx_duplicate", rx_duplicate); f("tx_resets", tx_resets);
        f("rx_resets", rx_resets); f("challenge_acks", challenge_acks); f("syn_dropped", syn_dropped);
        f("fast_retransmits", fast_retransmits); f("timeouts", timeouts); f("window_probes", window_probes);
        f("time_wait_dropped", time_wait_dropped); f("syn_cookies_sent", syn_cookies_sent);
        f("syn_cookies_ok", syn_cookies_ok); f("syn_cookies_failed", syn_cookies_failed);
        f("challenge_acks_limited", challenge_acks_limited); f("connection_limit_dropped", connection_limit_dropped);
        f("orphans_dropped", orphans_dropped); f("paws_rejected", paws_rejected);
        f("sack_recoveries", sack_recoveries); f("rack_lost", rack_lost); f("tlp_probes", tlp_probes);
        f("dsacks_received", dsacks_received); f("dsacks_sent", dsacks_sent); f("spurious_undos", spurious_undos);
        f("ecn_ce_received", ecn_ce_received);
        f("ecn_reductions", ecn_reductions); f("icmp_ignored", icmp_ignored); f("pmtu_mss_lowered", pmtu_mss_lowered);
        f("rcvbuf_grown", rcvbuf_grown); f("sndbuf_grown", sndbuf_grown);
        f("pacing_waits", pacing_waits);
    }
};

// Prints "  name: value" for every counter of a stats struct, under a heading.
template <class Stats>
void print_stats(std::ostream& os, std::string_view heading, const Stats& stats) {
    os << heading << ":\n";
    stats.for_each([&](std::string_view name, Counter value) { os << "    " << name << ": " << value << "\n"; });
}

}  // namespace tcpip
