// NetDevice: what the stack needs from a network interface, and nothing more.
//
// A device moves whole Ethernet frames (destination MAC first, no preamble or FCS). Real devices
// (TapDevice) and test devices (MemoryLink) implement it; decorators (FaultInjector, PcapWriter)
// wrap another NetDevice and implement it again, so any combination stacks up:
//
//     PcapWriter pcap(fault_injector_around(tap), "capture.pcap");
//
// It lives in stack/ rather than drivers/ because the stack is written against it: libtcpip holds
// the interface, drivers/ holds implementations, and the arrows point one way (drivers/ includes
// stack/, never the reverse), so an application can link libtcpip with a device of its own.
//
// Time is passed in, never read: a device that delays or paces frames (MemoryLink latency,
// FaultInjector delay and rate limit) releases them according to `now`, and says through poll_at()
// when it next has something to do, so a simulation in virtual time stays exact.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "stack/core/address.h"
#include "stack/core/packet.h"
#include "stack/core/result.h"
#include "stack/core/time.h"

namespace tcpip {

// What a device can do beyond moving plain frames (see PacketOffload in stack/core/packet.h for
// how a frame carries the request). The layers look here before asking for an offload.
struct DeviceCapabilities {
    bool rx_checksum_verified = false;  // received frames may come with offload().checksum_verified
    bool tx_checksum_offload = false;   // transmit() completes partial TCP/UDP checksums
    bool tx_tcp_segmentation = false;   // transmit() cuts TCP/IPv4 segments larger than the MTU
    std::size_t max_frame_size = 1514;  // largest frame transmit() accepts (64 KiB with TSO)
};

enum class DeviceError {
    WouldBlock,    // the device cannot take the frame now (its queue is full); the frame is dropped
    FrameTooBig,   // larger than max_frame_size
    Down,          // the device is gone or was closed
    Io,            // any other I/O error
};
const char* to_string(DeviceError error);

class NetDevice {
public:
    virtual ~NetDevice() = default;

    // The IP MTU: the largest Ethernet payload, 1500 on an ordinary link.
    virtual std::size_t mtu() const = 0;
    // The MAC address frames from this device carry as their source.
    virtual MacAddress mac() const = 0;
    virtual DeviceCapabilities capabilities() const = 0;

    // Moves up to `max` received frames into `batch` (appending), without blocking; returns how
    // many it added. Buffers come from `pool`.
    virtual std::size_t receive(Instant now, PacketPool& pool, std::vector<Packet>& batch, std::size_t max) = 0;

    // Sends one frame. The device takes the packet; on error it is dropped and counted by the caller.
    virtual Result<void, DeviceError> transmit(Instant now, Packet frame) = 0;

    // A file descriptor that becomes readable when frames arrive, for epoll; -1 if there is none
    // (in-memory devices, which are polled).
    virtual int wait_fd() const { return -1; }

    // When the device next has work that depends on time (a delayed frame due), if ever.
    virtual std::optional<Instant> poll_at() const { return std::nullopt; }
};

}  // namespace tcpip
