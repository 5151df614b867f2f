// SoftwareOffload: a decorator that gives any NetDevice the offloads a TAP with IFF_VNET_HDR has
// (checksum completion and TCP segmentation), done in software just before the frame leaves, as
// Linux's GSO does for a NIC without TSO.
//
//     Stack --(64 KiB TCP segment, partial checksum)--> SoftwareOffload --(1514-byte frames)--> inner
//
// What it is for: the simulation and the tests run TCP with segmentation offload on over the
// in-memory link, through loss, reordering and corruption, with the receiving stack checking
// every checksum, so the TSO path of TCP is tested exactly like the plain one. (The real TAP's
// offloads are tested against the Linux kernel in tests/interop.)
//
// The cut follows what the kernel's tcp_gso_segment does: each piece gets a copy of the Ethernet,
// IPv4 and TCP headers; its own IPv4 total length, identification (the first one's plus its
// index) and header checksum; its own sequence number; FIN and PSH only on the last piece, CWR
// only on the first; and a complete TCP checksum.
#pragma once

#include <cstdint>
#include <optional>

#include "stack/net_device.h"
#include "stack/core/stats.h"

namespace tcpip {

// The arithmetic of the two offloads, on bytes: for SoftwareOffload below, and for PcapWriter,
// which records frames as a wire would carry them.
namespace offload {

// Where the headers of an IPv4 frame are. `end` is where the IP datagram ends (its total length),
// which may be short of the frame's end when Ethernet padding follows.
struct FrameLayout {
    std::size_t ip = 14;        // the IPv4 header
    std::size_t transport = 0;  // the transport header
    std::size_t headers = 0;    // Ethernet + IPv4 + TCP header bytes (TCP only)
    std::size_t end = 0;        // the end of the datagram
    std::uint8_t protocol = 0;  // IPv4's protocol field
};

// The layout of an IPv4 frame, or nullopt if it is not one or its lengths do not add up. With
// `need_tcp`, a TCP segment whose header is all there.
std::optional<FrameLayout> layout_of(Bytes frame, bool need_tcp);

// Stores the full transport checksum (pseudo-header, transport header, payload) at `field` from
// the transport header; for UDP a sum of 0 is sent as 0xffff (RFC 768).
void complete_checksum(MutableBytes frame, const FrameLayout& l, std::size_t field);

// TCP segmentation: the frames a TSO frame of `frame_size` bytes becomes with `mss` payload
// bytes each, the size of piece `index`, and piece `index` written to `out` (piece_size bytes):
// the headers copied, IPv4 total length, identification (the first one's plus the index) and
// header checksum redone, the sequence number advanced, FIN and PSH only on the last piece, CWR
// only on the first, and a complete TCP checksum (what Linux's tcp_gso_segment does).
std::size_t piece_count(const FrameLayout& l, std::size_t mss);
std::size_t piece_size(const FrameLayout& l, std::size_t mss, std::size_t index);
void write_piece(Bytes frame, const FrameLayout& l, std::size_t mss, std::size_t index, std::uint8_t* out);

}  // namespace offload

struct SoftwareOffloadStats {
    Counter segmented_frames = 0;  // large frames cut into pieces
    Counter pieces = 0;            // frames they became
    Counter checksums_completed = 0;
    Counter malformed = 0;         // an offload request on a frame that is not TCP/IPv4 (a bug upstream): dropped
};

class SoftwareOffload final : public NetDevice {
public:
    explicit SoftwareOffload(NetDevice& inner) : inner_(inner) {}

    const SoftwareOffloadStats& stats() const { return stats_; }

    std::size_t mtu() const override { return inner_.mtu(); }
    MacAddress mac() const override { return inner_.mac(); }
    DeviceCapabilities capabilities() const override;
    std::size_t receive(Instant now, PacketPool& pool, std::vector<Packet>& batch, std::size_t max) override {
        return inner_.receive(now, pool, batch, max);
    }
    Result<void, DeviceError> transmit(Instant now, Packet frame) override;
    int wait_fd() const override { return inner_.wait_fd(); }
    std::optional<Instant> poll_at() const override { return inner_.poll_at(); }

private:
    Result<void, DeviceError> segment(Instant now, const Packet& frame);

    NetDevice& inner_;
    SoftwareOffloadStats stats_;
};

}  // namespace tcpip
