// SoftwareOffload: a decorator that gives any NetDevice the offloads a TAP with IFF_VNET_HDR has
// (checksum completion and TCP segmentation), done in software just before the frame leaves, as
// Linux's GSO does for a NIC without TSO; and that cuts the large TCP frames the inner device
// hands up (a TAP passes the kernel's 64 KiB segments whole) into MTU-sized ones.
//
//     Stack --(64 KiB TCP segment, partial checksum)--> SoftwareOffload --(1514-byte frames)--> inner
//     Stack <--------------(1514-byte frames)---------- SoftwareOffload <--(64 KiB, from a TAP)-- inner
//
// What it is for:
//   - the simulation and the tests run TCP with segmentation offload on over the in-memory link,
//     through loss, reordering and corruption, with the receiving stack checking every checksum,
//     so the TSO path of TCP is tested exactly like the plain one;
//   - a FaultInjector on a TAP with offloads must see what a real link carries: frames no larger
//     than the MTU, each lost or delayed on its own, not 64 KiB bursts dropped whole. The apps
//     (apps/app_common.h) put one SoftwareOffload above the injector, which cuts what the stack
//     sends, and one below it, which cuts what the kernel sends:
//         Stack -> SoftwareOffload -> FaultInjector -> SoftwareOffload -> TapDevice
//
// The cut follows what the kernel's tcp_gso_segment does: each piece gets a copy of the Ethernet,
// IPv4 and TCP headers; its own IPv4 total length, identification (the first one's plus its
// index) and header checksum; its own sequence number; FIN and PSH only on the last piece, CWR
// only on the first; and a complete TCP checksum. A received frame is cut into pieces of the
// sender's MSS (PacketOffload::segment_size, which TapDevice fills in from the virtio header), or
// of the largest that fits the MTU when it does not say; the pieces keep the frame's
// checksum_verified (the kernel vouched for the bytes, and the new checksums are computed anyway,
// so a bit flipped further up is caught: FaultInjector clears the flag when it corrupts).
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

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
    Counter segmented_frames = 0;  // large frames sent that were cut into pieces
    Counter pieces = 0;            // frames they became
    Counter checksums_completed = 0;
    Counter malformed = 0;         // an offload request on a frame that is not TCP/IPv4 (a bug upstream): dropped
    Counter rx_segmented_frames = 0;  // large frames received that were cut into pieces
    Counter rx_pieces = 0;            // frames they became
    Counter rx_large_passed = 0;      // large frames received that are not TCP/IPv4: handed up whole

    template <class F>
    void for_each(F&& f) const {
        f("segmented_frames", segmented_frames); f("pieces", pieces);
        f("checksums_completed", checksums_completed); f("malformed", malformed);
        f("rx_segmented_frames", rx_segmented_frames); f("rx_pieces", rx_pieces);
        f("rx_large_passed", rx_large_passed);
    }
};

class SoftwareOffload final : public NetDevice {
public:
    explicit SoftwareOffload(NetDevice& inner) : inner_(inner) {}

    const SoftwareOffloadStats& stats() const { return stats_; }

    std::size_t mtu() const override { return inner_.mtu(); }
    MacAddress mac() const override { return inner_.mac(); }
    DeviceCapabilities capabilities() const override;
    // Hands up at most `max` frames; the pieces of a large frame that do not fit wait for the
    // next call, and poll_at() says "now" while any wait.
    std::size_t receive(Instant now, PacketPool& pool, std::vector<Packet>& batch, std::size_t max) override;
    Result<void, DeviceError> transmit(Instant now, Packet frame) override;
    int wait_fd() const override { return inner_.wait_fd(); }
    std::optional<Instant> poll_at() const override;

private:
    Result<void, DeviceError> segment(Instant now, const Packet& frame);

    NetDevice& inner_;
    SoftwareOffloadStats stats_;
    std::vector<Packet> pieces_;    // one frame's pieces, reused between calls
    std::vector<Packet> received_;  // from the inner device, reused between receive() calls
    std::deque<Packet> ready_;      // received frames and pieces, in order, not yet handed up
    Instant last_receive_;          // when receive() last ran: "now" for poll_at()
};

// Cuts a TCP/IPv4 frame into frames of at most `mss` payload bytes each, as tcp_gso_segment does
// (see the file comment), allocated from `pool` with `headroom` and appended to `out` in sequence
// order. Returns false (and appends nothing) if the frame is not a well-formed TCP/IPv4 frame.
// Public for the unit tests, which check every field with libtins.
// Cuts the TCP frame into pieces of `mss` payload bytes (offload::write_piece), allocated from
// `pool` with `headroom`, appended to `out`. False if it is not a TCP/IPv4 frame with payload.
bool segment_tcp_frame(const Packet& frame, std::size_t mss, PacketPool& pool, std::size_t headroom,
                       std::vector<Packet>& out);

}  // namespace tcpip
