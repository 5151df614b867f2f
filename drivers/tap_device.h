// TapDevice: a NetDevice over a Linux TAP interface (/dev/net/tun), so the stack exchanges real
// Ethernet frames with the Linux kernel on the other side of a virtual cable.
//
// How TAP works (Linux Documentation/networking/tuntap.rst): opening /dev/net/tun gives a file
// descriptor that is attached to an interface with ioctl(TUNSETIFF). With IFF_TAP the interface is
// an Ethernet device; with IFF_NO_PI each read() returns exactly one Ethernet frame (destination
// MAC first, no preamble, no FCS) and each write() injects exactly one frame, with no 4-byte
// packet-information prefix. Frames the kernel sends out of the interface (ARP requests, IP
// packets routed to it) are what we read; frames we write are what the kernel receives.
//
//     our stack  --write()-->  fd  ==TAP==  tapX (kernel: 10.0.0.1/24)  --> kernel IP stack
//     our stack  <--read()---  fd  ==TAP==  tapX
//
// TUNSETIFF with a name that does not exist creates a new TAP in the network namespace of the
// calling *thread*; it lives until the last fd closes (we never set TUNSETPERSIST). With the name
// of an existing persistent TAP (`ip tuntap add dev tap0 mode tap`) it attaches to it instead.
// created() tells the two apart afterwards: a TAP that is not persistent was made by this open()
// (an existing non-persistent one is held by another fd, and TUNSETIFF would have said EBUSY). A
// new TAP is down and has no address on the kernel's side: nothing reaches it until someone runs
// `ip link set NAME up` and `ip addr add ... dev NAME`, which the apps say when they create one.
// The fd stays bound to that interface whatever namespace the thread enters afterwards, which is
// how tests/interop/netns.h opens a TAP inside a fresh namespace and uses it from outside.
//
// The MAC passed to open() is the address OUR stack puts in the source of its frames; the kernel
// interface has its own, different MAC (the two ends of the cable).
//
// The fd is non-blocking (O_NONBLOCK) and close-on-exec: receive() drains it in a batch until
// read() says EAGAIN, and the event loop waits on wait_fd() with epoll/poll.
//
// Offloads (TapOptions::offload). With IFF_VNET_HDR every frame read or written is preceded by a
// 10-byte struct virtio_net_hdr (linux/virtio_net.h), the same header a virtio NIC and its host
// exchange. It carries two kinds of promise:
//   - checksums: VIRTIO_NET_HDR_F_NEEDS_CSUM says "the transport checksum is not finished: it
//     holds the pseudo-header sum, complete it from csum_start, store it at csum_offset". The
//     kernel sends us such frames for its own TCP and UDP (nothing crossed a wire, so nothing can
//     be corrupted) and completes the ones we send the same way.
//   - segmentation: gso_type VIRTIO_NET_HDR_GSO_TCPV4 with gso_size says "this frame is one TCP
//     segment of up to 64 KiB; cut it into gso_size-byte segments where it must be" (TSO). The
//     kernel passes its own large segments to us whole (we take them as they are: TCP does not
//     care how its bytes were cut; receive() keeps gso_size in offload().segment_size for a
//     device that must cut them, see drivers/software_offload.h), and takes the large ones we send as a NIC's GRO would hand
//     them over: its own TCP receives them whole, and only a route out through a real NIC would
//     cut them.
// TUNSETOFFLOAD(TUN_F_CSUM | TUN_F_TSO4) tells the kernel we understand both, which turns on the
// matching features of the interface (see tun_set_offload in drivers/net/tun.c). One read() or
// write() then moves up to 64 KiB instead of 1,514 bytes: the per-frame cost of the system call is
// paid 40 times less often in a bulk transfer, and nobody computes checksums over data that never
// crosses a wire. The frames in a --pcap capture are then as the stack saw them: large, with
// partial checksums (Wireshark does not validate TCP checksums by default).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "stack/net_device.h"
#include "drivers/read_budget.h"
#include "drivers/unique_fd.h"
#include "stack/core/stats.h"

namespace tcpip {

enum class TapErrorKind {
    NoTunDevice,       // /dev/net/tun is missing: the tun module is not loaded (or no /dev in a container)
    PermissionDenied,  // EPERM/EACCES: creating or attaching a TAP needs CAP_NET_ADMIN
    NameTooLong,       // longer than IFNAMSIZ - 1 (15) characters
    InvalidName,       // empty, or contains '/', ':' or whitespace
    NotATap,           // EINVAL: an interface of that name exists and is not a TAP (a TUN, lo, a veth...)
    Busy,              // EBUSY: the TAP is already attached to another fd (and is not multiqueue)
    Other,             // any other errno, reported as is
};

// Why open() failed, as one line that names the cause and says what to do about it.
struct TapError {
    TapErrorKind kind = TapErrorKind::Other;
    int error_number = 0;   // errno from the failing call, 0 if the check was ours
    std::string name;       // the interface name asked for
    std::string operation;  // the failing step: "open /dev/net/tun", "ioctl(TUNSETIFF)", ...

    std::string message() const;
};

// The name checks open() makes before touching the kernel (length, characters), or nullopt if
// the name is acceptable: an app checks its --tap flag with it.
std::optional<TapError> check_interface_name(const std::string& name);

// Builds the TapError for an errno from the given step. Public so the messages are unit-tested
// without needing root.
TapError classify_tap_error(int error_number, const std::string& name, const std::string& operation);

struct TapStats {
    Counter rx_frames = 0, rx_bytes = 0, rx_errors = 0;      // rx_errors: read() failed (not EAGAIN)
    Counter rx_truncated = 0;                                // a frame filled the whole buffer: maybe cut
    Counter tx_frames = 0, tx_bytes = 0, tx_errors = 0;
    Counter tx_would_block = 0;                              // write() said EAGAIN: the kernel's queue is full
    Counter rx_large = 0, tx_large = 0;                      // offload: frames larger than the MTU (TSO/GRO)
    Counter rx_bad_vnet_header = 0;                          // offload: a virtio_net_hdr we cannot honour

    template <class F>
    void for_each(F&& f) const {
        f("rx_frames", rx_frames); f("rx_bytes", rx_bytes); f("rx_errors", rx_errors);
        f("rx_truncated", rx_truncated); f("tx_frames", tx_frames); f("tx_bytes", tx_bytes);
        f("tx_errors", tx_errors); f("tx_would_block", tx_would_block);
        f("rx_large", rx_large); f("tx_large", tx_large); f("rx_bad_vnet_header", rx_bad_vnet_header);
    }
};

struct TapOptions {
    std::size_t mtu = 1500;  // sizes the receive buffers (mtu + 14) and bounds transmit()
    bool offload = false;    // IFF_VNET_HDR with checksum and TCP segmentation offload (see above)
};

class TapDevice final : public NetDevice {
public:
    static constexpr const char* kCloneDevice = "/dev/net/tun";
    static constexpr std::size_t kEthernetHeader = 14;
    static constexpr std::size_t kMaxOffloadFrame = kEthernetHeader + 65535;  // one IPv4 datagram at most

    // Opens (or creates, in the calling thread's network namespace) the TAP interface `name`.
    // `mac` is our stack's address; `mtu` sizes the receive buffers (mtu + 14) and bounds
    // transmit(). It does not change the kernel interface's MTU: configure that with `ip link`.
    // `clone_device` exists for tests of the error path; leave it alone.
    static Result<TapDevice, TapError> open(const std::string& name, MacAddress mac, std::size_t mtu = 1500,
                                            const char* clone_device = kCloneDevice);
    // The same, with offloads if options.offload.
    static Result<TapDevice, TapError> open(const std::string& name, MacAddress mac, const TapOptions& options,
                                            const char* clone_device = kCloneDevice);
    // A multiqueue TAP (IFF_MULTI_QUEUE): `queues` file descriptors attached to the one interface
    // `name`, each a queue of its own, returned in queue order (1 <= queues <= kMaxQueues). The
    // kernel's tun driver hands each frame it sends out of the interface to one queue, chosen
    // per flow (see docs/layers/multiqueue.md: tun_select_queue), and takes what any queue
    // writes. Each TapDevice reads and writes its own queue only; they share the MAC `mac`. An
    // existing TAP must have been made with multi_queue (ip tuntap add ... multi_queue), or
    // TUNSETIFF says EINVAL (NotATap).
    static constexpr std::size_t kMaxQueues = 256;  // MAX_TAP_QUEUES in drivers/net/tun.c
    static Result<std::vector<TapDevice>, TapError> open_queues(const std::string& name, MacAddress mac,
                                                                const TapOptions& options, std::size_t queues,
                                                                const char* clone_device = kCloneDevice);

    TapDevice(TapDevice&&) noexcept = default;
    TapDevice& operator=(TapDevice&&) noexcept = default;

    // The interface name the kernel chose (the same as asked, unless it was a pattern like "tap%d").
    const std::string& name() const { return name_; }
    const ReadBudget& read_budget() const { return budget_; }
    const TapStats& stats() const { return stats_; }
    bool offload() const { return offload_; }
    // True if open() created the interface (it did not exist), false if it attached to an
    // existing persistent TAP. A created TAP goes away when the device is closed.
    bool created() const { return created_; }

    std::size_t mtu() const override { return mtu_; }
    MacAddress mac() const override { return mac_; }
    DeviceCapabilities capabilities() const override;
    std::size_t receive(Instant now, PacketPool& pool, std::vector<Packet>& batch, std::size_t max) override;
    Result<void, DeviceError> transmit(Instant now, Packet frame) override;
    int wait_fd() const override { return fd_.get(); }

private:
    TapDevice(UniqueFd fd, std::string name, MacAddress mac, std::size_t mtu, bool offload, bool created)
        : fd_(std::move(fd)), name_(std::move(name)), mac_(mac), mtu_(mtu), offload_(offload), created_(created) {}

    static Result<TapDevice, TapError> open_one(const std::string& name, MacAddress mac, const TapOptions& options,
                                                bool multi_queue, const char* clone_device);
    std::size_t receive_with_header(PacketPool& pool, std::vector<Packet>& batch, std::size_t max);
    Result<void, DeviceError> transmit_with_header(const Packet& frame);
    Result<void, DeviceError> write_result(ssize_t n, std::size_t expected);

    UniqueFd fd_;
    std::string name_;
    MacAddress mac_;
    std::size_t mtu_;
    bool offload_ = false;
    bool created_ = false;
    ReadBudget budget_;  // frames per wake-up: one while they come singly
    TapStats stats_;
};

}  // namespace tcpip
