// IPv4 reassembly (RFC 791 section 3.2, "reassembly"; RFC 815 for the idea of tracking holes).
//
// Fragments of one datagram share (source, destination, protocol, identification). Each is kept
// as it came (its payload only, in its own pooled buffer) in a list ordered by offset; when the
// last fragment (MF = 0) has told us the total length and the fragments cover it without a gap,
// the payloads are copied once into one large buffer and the datagram goes up the stack.
//
// Safety, as Linux does it:
//   - A duplicate (same offset and length as one we hold) is ignored.
//   - Any other overlap drops the whole datagram: overlapping fragments are an attack (teardrop,
//     RFC 1858), never needed by an honest sender.
//   - A fragment that would end past 65,535 bytes (the "ping of death") drops the datagram.
//   - Memory is bounded across all datagrams in progress (bytes of buffers held, and a count of
//     datagrams); when a new fragment would exceed a bound, the oldest datagrams are dropped.
//   - A datagram not complete within the timeout (30 s) is dropped; if we had its first fragment,
//     the sender gets ICMP time exceeded, code 1 (RFC 1122 section 3.3.2).
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <optional>
#include <vector>

#include "stack/core/config.h"
#include "stack/core/packet.h"
#include "stack/core/stats.h"
#include "stack/core/timer.h"
#include "stack/ipv4/header.h"

namespace tcpip {

class Reassembler {
public:
    // A complete datagram: its header (from the first fragment, fragment fields cleared) and a
    // packet whose data is the whole payload, with the first fragment's header bytes in the
    // headroom right before it (so ICMP can quote it).
    struct Datagram {
        Ipv4Repr header;
        std::size_t header_len = 20;
        Packet payload;
    };
    // Told when a datagram times out after its first fragment arrived: the first fragment's packet
    // (IP header in headroom, data = its payload), for ICMP time exceeded.
    using TimeoutHandler = std::function<void(Instant now, const Ipv4Repr& header, std::size_t header_len, Packet first)>;

    Reassembler(TimerQueue& timers, PacketPool& pool, const StackConfig& config, Ipv4Stats& stats);
    ~Reassembler();

    void set_timeout_handler(TimeoutHandler handler) { on_timeout_ = std::move(handler); }

    // One fragment: `fragment` holds its payload (IP header pulled, in the headroom), `header` its
    // parsed header, `header_len` the length of that header with options. Returns the datagram
    // when this fragment completes it.
    std::optional<Datagram> add(Instant now, const Ipv4Repr& header, std::size_t header_len, Packet fragment);

    std::size_t datagrams() const { return datagrams_.size(); }
    std::size_t bytes_held() const { return bytes_held_; }

private:
    struct Fragment {
        std::uint16_t offset;  // in bytes, from the start of the datagram's payload
        std::uint16_t length;
        Packet packet;
    };
    struct InProgress {
        Ipv4Address src, dst;
        std::uint8_t protocol;
        std::uint16_t ident;
        std::list<Fragment> fragments;  // ordered by offset, no overlaps
        std::optional<std::uint32_t> total_length;  // known once the last fragment (MF = 0) came
        std::size_t received = 0;       // payload bytes held
        std::size_t memory = 0;          // buffer bytes held (what the memory bound counts)
        std::optional<Ipv4Repr> first_header;  // set when the fragment at offset 0 arrived
        std::size_t first_header_len = 20;
        TimerId timer = 0;
        std::uint64_t serial = 0;        // age order, for eviction
    };
    using Iterator = std::list<InProgress>::iterator;

    Iterator find_or_create(Instant now, const Ipv4Repr& header);
    void drop(Iterator it);
    void make_room(std::size_t bytes);
    Datagram assemble(Iterator it);
    void on_timeout(Instant now, std::uint64_t serial);

    TimerQueue& timers_;
    PacketPool& pool_;
    const StackConfig& config_;
    Ipv4Stats& stats_;
    TimeoutHandler on_timeout_;
    std::list<InProgress> datagrams_;  // oldest first
    std::size_t bytes_held_ = 0;
    std::uint64_t next_serial_ = 1;
};

}  // namespace tcpip
