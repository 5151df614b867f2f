// PcapWriter: a NetDevice decorator that records every frame, both directions, to a pcap or
// pcapng file that Wireshark, tshark and tcpdump read (`tshark -r capture.pcap`).
//
//     auto tap = TapDevice::open("tap0", mac);
//     auto pcap = PcapWriter::open(*tap, "capture.pcap", {.timestamps = PcapTimestamps::WallClock});
//     Stack stack(*pcap, ...);
//
// Format: the classic libpcap file (https://wiki.wireshark.org/Development/LibpcapFileFormat,
// draft-ietf-opsawg-pcap): a 24-byte global header (magic 0xa1b2c3d4 = microsecond timestamps,
// version 2.4, snaplen 262144, link type 1 = LINKTYPE_ETHERNET), then per frame a 16-byte record
// header (ts_sec, ts_usec, incl_len, orig_len) and the frame's bytes. All fields are written
// little-endian; readers recognise the byte order from the magic.
//
// pcapng (PcapFormat::PcapNg, what an app picks for a name ending in ".pcapng"; the format of
// draft-ietf-opsawg-pcapng): a Section Header Block and one Interface Description Block (Ethernet,
// microsecond timestamps), then one Enhanced Packet Block per frame, which may carry options: the
// direction (epb_flags: inbound or outbound) and comments (opt_comment, one per line of the text
// given). The comment is how a
// capture explains itself: the apps write there what the stack decided about the frame, in the
// words of --trace, and Wireshark shows it in the packet details (`frame.comment`).
//
// Comments for received frames are known only after the stack has processed them, so with
// hold_for_comments() the writer keeps each record until its comment arrives (comment_received(),
// oldest received frame first; comment_next_sent() before transmit() for a frame we send), and
// writes the records in the order the frames crossed the device. The hold is bounded: beyond
// kMaxHeldRecords the oldest are written without a comment.
//
// Timestamps (a decision): the default, PcapTimestamps::FromNow, stamps each frame with the `now`
// the stack passed in. In a simulation that is virtual time, so the capture is byte-for-byte the
// same on every run and its times match the test's. With a real TAP the stack's `now` is
// CLOCK_MONOTONIC (seconds since boot), which Wireshark would show as January 1970: apps over a
// TAP should ask for PcapTimestamps::WallClock, which stamps frames with CLOCK_REALTIME as tcpdump
// does (the only place in the drivers that reads a clock, and only when asked to).
//
// What a wire would carry (a decision): with offloads on (a TAP with IFF_VNET_HDR), the frames
// between the stack and the device are not what a wire carries. A transmitted TCP segment holds
// only the pseudo-header sum in its checksum field (PacketOffload::checksum_partial), for the
// device to finish; a received frame the device vouches for (checksum_verified) may hold the
// kernel's partial sum the same way (VIRTIO_NET_HDR_F_NEEDS_CSUM); and a TSO frame carries up to
// 64 KiB in one TCP segment. Recorded as they are, Wireshark with checksum validation on marks
// every such frame bad. So by default (PcapOptions::complete_checksums) the copy in the file gets
// the checksum a NIC would have written, while the frame itself goes on unchanged; and with
// PcapOptions::segment (the apps' --pcap-segment) a TSO frame is written as the MTU-sized frames a
// NIC would cut it into (drivers/software_offload.h has that arithmetic): the sent ones at the
// stack's segment size, the received ones (the kernel's GSO frames) at the largest that fits.
//
// Transmitted frames are recorded before they are handed to the inner device (what the stack sent,
// even if the device then refuses it); received frames as the inner device delivers them. The
// records of one receive() batch, or of one transmit(), go out in a single write(2) with no user
// space buffering, so the file is complete and readable (`tshark -r` while the app runs) after
// every call. If writing fails (disk full), frames still flow and the failures are counted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "stack/net_device.h"
#include "drivers/software_offload.h"
#include "drivers/unique_fd.h"
#include "stack/core/stats.h"

namespace tcpip {

enum class PcapTimestamps {
    FromNow,    // the `now` argument: deterministic, virtual time in simulations
    WallClock,  // CLOCK_REALTIME at the moment of the call: for real captures over a TAP
};

enum class PcapFormat {
    Pcap,    // the classic libpcap format
    PcapNg,  // pcapng, with per-frame comments and directions
};

struct PcapOptions {
    PcapTimestamps timestamps = PcapTimestamps::FromNow;
    std::uint32_t snaplen = 262144;  // frames longer than this are cut in the file (orig_len keeps the size)
    PcapFormat format = PcapFormat::Pcap;
    bool complete_checksums = true;  // partial TCP/UDP checksums written complete, as on a wire
    bool segment = false;            // TSO frames written as MTU-sized frames, as on a wire
};

// PcapNg for a path ending in ".pcapng", the classic format for anything else.
PcapFormat pcap_format_for(const std::string& path);

struct PcapError {
    int error_number = 0;
    std::string path;
    std::string message() const;  // e.g. "cannot create pcap file 'x.pcap': Permission denied; ..."
};

struct PcapStats {
    Counter frames_written = 0;  // rx and tx
    Counter rx_frames = 0, tx_frames = 0;
    Counter write_errors = 0;    // write(2) calls that failed or wrote short
    Counter checksums_completed = 0;  // records whose transport checksum was finished in the file
    Counter frames_segmented = 0;     // TSO frames written as several records

    template <class F>
    void for_each(F&& f) const {
        f("frames_written", frames_written); f("rx_frames", rx_frames); f("tx_frames", tx_frames);
        f("write_errors", write_errors); f("checksums_completed", checksums_completed);
        f("frames_segmented", frames_segmented);
    }
};

class PcapWriter final : public NetDevice {
public:
    static constexpr std::uint32_t kMagicMicroseconds = 0xa1b2c3d4;
    static constexpr std::uint32_t kLinkTypeEthernet = 1;
    static constexpr std::size_t kGlobalHeaderSize = 24;
    static constexpr std::size_t kRecordHeaderSize = 16;
    // pcapng block types and option codes.
    static constexpr std::uint32_t kSectionHeaderBlock = 0x0A0D0D0A;
    static constexpr std::uint32_t kByteOrderMagic = 0x1A2B3C4D;
    static constexpr std::uint32_t kInterfaceDescriptionBlock = 0x00000001;
    static constexpr std::uint32_t kEnhancedPacketBlock = 0x00000006;
    static constexpr std::uint16_t kOptEndOfOpt = 0;
    static constexpr std::uint16_t kOptComment = 1;
    static constexpr std::uint16_t kOptEpbFlags = 2;
    static constexpr std::size_t kMaxHeldRecords = 4096;

    // Creates (or truncates) `path` and writes the global header. The inner device must outlive
    // the writer.
    static Result<PcapWriter, PcapError> open(NetDevice& inner, const std::string& path, PcapOptions options = {});

    PcapWriter(PcapWriter&&) noexcept = default;
    PcapWriter& operator=(PcapWriter&&) noexcept = default;
    // Writes the records still held for a comment (without one).
    ~PcapWriter() override;

    const PcapStats& stats() const { return stats_; }
    const std::string& path() const { return path_; }
    PcapFormat format() const { return options_.format; }

    // pcapng only: hold each record until its comment is given (see above).
    void hold_for_comments(bool hold);
    // The comment of the oldest received frame still without one.
    void comment_received(std::string comment);
    // The comment of the frame the next transmit() records.
    void comment_next_sent(std::string comment);

    std::size_t mtu() const override { return inner_->mtu(); }
    MacAddress mac() const override { return inner_->mac(); }
    DeviceCapabilities capabilities() const override { return inner_->capabilities(); }
    int wait_fd() const override { return inner_->wait_fd(); }
    std::optional<Instant> poll_at() const override { return inner_->poll_at(); }
    std::size_t receive(Instant now, PacketPool& pool, std::vector<Packet>& batch, std::size_t max) override;
    Result<void, DeviceError> transmit(Instant now, Packet frame) override;

private:
    PcapWriter(NetDevice& inner, UniqueFd fd, std::string path, PcapOptions options)
        : inner_(&inner), fd_(std::move(fd)), path_(std::move(path)), options_(options) {}

    struct Held {
        bool received;
        bool commented;
        std::int64_t micros;
        std::vector<std::uint8_t> frame;
        std::string comment;
    };

    // The timestamp for frames of this call, in microseconds since the epoch (or since zero).
    std::int64_t timestamp_micros(Instant now) const;
    // Records `frame` as a wire would carry it (see above): one record, or one per TSO piece.
    void capture(std::int64_t micros, const Packet& frame, bool transmitted, std::string comment);
    // One record: written now, or held until its comment arrives (see hold_for_comments).
    void record(bool received, std::int64_t micros, Bytes frame, std::string comment, bool awaits_comment);
    void append_record(bool received, std::int64_t micros, Bytes frame, const std::string& comment);
    void release_held();
    void flush();

    NetDevice* inner_;
    UniqueFd fd_;
    std::string path_;
    PcapOptions options_;
    std::vector<std::uint8_t> buffer_;  // records waiting for the next flush(); capacity reused
    std::vector<std::uint8_t> wire_;    // the frame as a wire carries it (checksums completed, or one TSO piece)
    PcapStats stats_;
    bool hold_ = false;
    std::deque<Held> held_;             // with hold_: records not yet written, in order
    std::string next_sent_comment_;
};

}  // namespace tcpip
