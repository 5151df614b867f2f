// TapDevice: see tap_device.h. Kernel behaviour cited below is from drivers/net/tun.c
// (tun_set_iff, tun_attach, tun_chr_read_iter) and Documentation/networking/tuntap.rst.
#include "drivers/tap_device.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace tcpip {

std::string TapError::message() const {
    const std::string quoted = "'" + name + "'";
    std::string cause = operation.empty() ? std::string() : operation + ": ";
    if (error_number != 0) cause += std::string(std::strerror(error_number)) + ": ";
    switch (kind) {
        case TapErrorKind::NoTunDevice:
            return cause + "the TUN/TAP clone device /dev/net/tun is missing; load the tun module: modprobe tun "
                           "(in a container, pass --device /dev/net/tun)";
        case TapErrorKind::PermissionDenied:
            return cause + "not allowed to create or attach TAP " + quoted +
                   "; run as root or grant CAP_NET_ADMIN (setcap cap_net_admin+ep on the binary), or attach to a "
                   "persistent TAP owned by your user (ip tuntap add dev NAME mode tap user $USER)";
        case TapErrorKind::NameTooLong:
            return "interface name " + quoted + " is " + std::to_string(name.size()) +
                   " characters; Linux allows at most " + std::to_string(IFNAMSIZ - 1) + " (IFNAMSIZ - 1): pick a shorter name";
        case TapErrorKind::InvalidName:
            return "interface name " + quoted +
                   " is not valid (empty, or contains '/', ':' or whitespace): pick another name";
        case TapErrorKind::NotATap:
            return cause + "interface " + quoted +
                   " exists and is not a TAP (it is a TUN or another kind of link, or was created with other "
                   "flags such as multi_queue); pick another name or delete it (ip link del " + name + ")";
        case TapErrorKind::Busy:
            return cause + "TAP " + quoted +
                   " is already attached to another file descriptor (another process holds it open); close that "
                   "process or pick another name";
        case TapErrorKind::Other:
            break;
    }
    return cause + "cannot open TAP " + quoted;
}

TapError classify_tap_error(int error_number, const std::string& name, const std::string& operation) {
    TapError e;
    e.error_number = error_number;
    e.name = name;
    e.operation = operation;
    switch (error_number) {
        case ENOENT:
        case ENODEV:
        case ENXIO:
            // open("/dev/net/tun") fails with ENOENT when the node is missing, ENODEV/ENXIO when the
            // node exists but no driver is behind it (module not loaded).
            e.kind = TapErrorKind::NoTunDevice;
            break;
        case EPERM:
        case EACCES:
            e.kind = TapErrorKind::PermissionDenied;
            break;
        case EINVAL:
            // tun_set_iff: the name exists but its netdev_ops are not tap_netdev_ops, or the flags
            // (IFF_MULTI_QUEUE...) do not match the existing device. A bad name also gives EINVAL,
            // but open() rejects those before the ioctl.
            e.kind = TapErrorKind::NotATap;
            break;
        case EBUSY:
            // tun_attach: a single-queue TAP already has its one queue attached.
            e.kind = TapErrorKind::Busy;
            break;
        default:
            e.kind = TapErrorKind::Other;
            break;
    }
    return e;
}

namespace {

// struct virtio_net_hdr from linux/virtio_net.h, which C++ cannot include (a field there is named
// `class`). Fields in the host's byte order (the legacy header a TAP uses unless told otherwise).
struct VirtioNetHeader {
    std::uint8_t flags;
    std::uint8_t gso_type;
    std::uint16_t hdr_len;      // bytes of headers (Ethernet + IP + TCP) copied in front of each segment
    std::uint16_t gso_size;     // payload bytes per segment
    std::uint16_t csum_start;   // where checksumming starts (the transport header)
    std::uint16_t csum_offset;  // where, from csum_start, the checksum is stored
};
static_assert(sizeof(VirtioNetHeader) == 10);
constexpr std::uint8_t kNeedsChecksum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
constexpr std::uint8_t kDataValid = 2;      // VIRTIO_NET_HDR_F_DATA_VALID
constexpr std::uint8_t kGsoTcpV4 = 1;       // VIRTIO_NET_HDR_GSO_TCPV4
constexpr std::uint8_t kGsoEcn = 0x80;      // VIRTIO_NET_HDR_GSO_ECN: the segment may carry CWR

// dev_valid_name() in net/core/dev.c: not empty, not "." or "..", no '/', ':' or whitespace.
bool valid_interface_name(const std::string& name) {
    if (name.empty() || name == "." || name == "..") return false;
    for (char c : name) {
        if (c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
            return false;
    }
    return true;
}

TapError own_error(TapErrorKind kind, const std::string& name) {
    TapError e;
    e.kind = kind;
    e.name = name;
    return e;
}

// Attaching turns the TAP's carrier on (tun_attach -> netif_carrier_on), but the kernel only
// starts sending into it once its link watcher has run (linkwatch_do_dev: the operational state
// goes up and dev_activate swaps noop_qdisc, which drops every frame, for the real qdisc). That
// runs from a workqueue, a moment later, or longer on a busy machine: a stack that speaks first
// (a gratuitous ARP, tcpip-ping's who-has) would lose the kernel's answer. So wait, briefly, until
// the interface says IFF_RUNNING (dev_get_flags: operationally up). An interface that is not
// administratively up sends nothing anyway, and is not waited for.
void wait_until_running(const std::string& name) {
    UniqueFd control(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!control) return;
    constexpr int kTries = 200;  // 200 x 5 ms: a second at most
    for (int i = 0; i < kTries; ++i) {
        ifreq ifr{};
        std::memcpy(ifr.ifr_name, name.data(), std::min(name.size(), std::size_t{IFNAMSIZ - 1}));
        if (::ioctl(control.get(), SIOCGIFFLAGS, &ifr) < 0) return;
        if ((ifr.ifr_flags & IFF_UP) == 0 || (ifr.ifr_flags & IFF_RUNNING) != 0) return;
        ::usleep(5000);
    }
}

}  // namespace

std::optional<TapError> check_interface_name(const std::string& name) {
    // ifr_name holds IFNAMSIZ bytes including the NUL, so a longer name would be cut, and could
    // create or attach to an interface nobody asked for.
    if (name.size() >= IFNAMSIZ) return own_error(TapErrorKind::NameTooLong, name);
    if (!valid_interface_name(name)) return own_error(TapErrorKind::InvalidName, name);
    return std::nullopt;
}

Result<TapDevice, TapError> TapDevice::open(const std::string& name, MacAddress mac, std::size_t mtu,
                                            const char* clone_device) {
    return open(name, mac, TapOptions{.mtu = mtu, .offload = false}, clone_device);
}

Result<TapDevice, TapError> TapDevice::open(const std::string& name, MacAddress mac, const TapOptions& options,
                                            const char* clone_device) {
    return open_one(name, mac, options, /*multi_queue=*/false, clone_device);
}

Result<std::vector<TapDevice>, TapError> TapDevice::open_queues(const std::string& name, MacAddress mac,
                                                                const TapOptions& options, std::size_t queues,
                                                                const char* clone_device) {
    if (queues == 0 || queues > kMaxQueues) {
        TapError e = classify_tap_error(EINVAL, name, "open " + std::to_string(queues) + " queues");
        e.kind = TapErrorKind::Other;
        return Unexpected(e);
    }
    // The first TUNSETIFF with IFF_MULTI_QUEUE creates the interface (or attaches to a persistent
    // multiqueue one); each further one, on a new fd with the same name and flags, adds a queue
    // (tun_attach). The name the kernel chose is used for the others, in case it was a pattern.
    std::vector<TapDevice> devices;
    devices.reserve(queues);
    for (std::size_t q = 0; q < queues; ++q) {
        auto device = open_one(q == 0 ? name : devices.front().name(), mac, options, /*multi_queue=*/true, clone_device);
        if (!device) return Unexpected(device.error());
        if (q > 0) device->created_ = devices.front().created();
        devices.push_back(std::move(*device));
    }
    return devices;
}

Result<TapDevice, TapError> TapDevice::open_one(const std::string& name, MacAddress mac, const TapOptions& options,
                                                bool multi_queue, const char* clone_device) {
    if (auto bad_name = check_interface_name(name)) return Unexpected(*bad_name);

    UniqueFd fd(::open(clone_device, O_RDWR | O_NONBLOCK | O_CLOEXEC));
    if (!fd) return Unexpected(classify_tap_error(errno, name, std::string("open ") + clone_device));

    ifreq ifr{};
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (options.offload) ifr.ifr_flags |= IFF_VNET_HDR;
    if (multi_queue) ifr.ifr_flags |= IFF_MULTI_QUEUE;
    std::memcpy(ifr.ifr_name, name.data(), name.size());  // NUL-terminated: ifr is zeroed, size < IFNAMSIZ
    if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0) {
        return Unexpected(classify_tap_error(errno, name, "ioctl(TUNSETIFF)"));
    }
    if (options.offload) {
        // The plain 10-byte header (the default, said explicitly: a previous user of a persistent
        // TAP may have changed it), then the offloads we can take.
        int header_size = sizeof(VirtioNetHeader);
        if (::ioctl(fd.get(), TUNSETVNETHDRSZ, &header_size) < 0) {
            return Unexpected(classify_tap_error(errno, name, "ioctl(TUNSETVNETHDRSZ)"));
        }
    }
    // The offloads are a property of the interface and outlive this fd: a persistent TAP last used
    // with offloads would go on handing its next user unfinished checksums. So say it every time.
    const unsigned long offloads = options.offload ? TUN_F_CSUM | TUN_F_TSO4 : 0;
    if (::ioctl(fd.get(), TUNSETOFFLOAD, offloads) < 0) {
        return Unexpected(classify_tap_error(errno, name, "ioctl(TUNSETOFFLOAD)"));
    }
    // Created or attached? TUNGETIFF gives the interface's flags: IFF_PERSIST only on a TAP made
    // with `ip tuntap add` (or TUNSETPERSIST), never on the one TUNSETIFF just made for us.
    ifreq current{};
    if (::ioctl(fd.get(), TUNGETIFF, &current) < 0) {
        return Unexpected(classify_tap_error(errno, name, "ioctl(TUNGETIFF)"));
    }
    const bool created = (current.ifr_flags & IFF_PERSIST) == 0;
    std::string actual(ifr.ifr_name, ::strnlen(ifr.ifr_name, IFNAMSIZ));
    wait_until_running(actual);
    return TapDevice(std::move(fd), std::move(actual), mac, options.mtu, options.offload, created);
}

DeviceCapabilities TapDevice::capabilities() const {
    DeviceCapabilities caps;
    caps.max_frame_size = mtu_ + kEthernetHeader;
    if (offload_) {
        caps.rx_checksum_verified = true;
        caps.tx_checksum_offload = true;
        caps.tx_tcp_segmentation = true;
        caps.max_frame_size = kMaxOffloadFrame;
    }
    return caps;
}

std::size_t TapDevice::receive(Instant /*now*/, PacketPool& pool, std::vector<Packet>& batch, std::size_t max) {
    max = budget_.limit(max);  // one frame while they come singly (drivers/read_budget.h)
    if (offload_) return receive_with_header(pool, batch, max);
    std::size_t count = 0;
    bool found_empty = false;
    while (count < max) {
        Packet packet = pool.allocate(mtu_ + kEthernetHeader, PacketPool::kDefaultHeadroom);
        // Read into all the tailroom the buffer has (at least mtu + 14): a frame a little larger
        // than our MTU (a VLAN tag, a kernel with a larger MTU) arrives whole, and the Ethernet
        // layer decides about it. One read() returns one frame (IFF_NO_PI).
        std::size_t room = packet.tailroom();
        ssize_t n = ::read(fd_.get(), packet.data(), room);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) stats_.rx_errors++;
            found_empty = true;
            break;
        }
        if (n == 0) break;
        if (static_cast<std::size_t>(n) == room) stats_.rx_truncated++;
        packet.append(static_cast<std::size_t>(n));
        stats_.rx_frames++;
        stats_.rx_bytes += static_cast<Counter>(n);
        batch.push_back(std::move(packet));
        count++;
    }
    budget_.done(count, found_empty);
    return count;
}

Result<void, DeviceError> TapDevice::transmit(Instant /*now*/, Packet frame) {
    if (offload_) return transmit_with_header(frame);
    if (frame.size() > mtu_ + kEthernetHeader) {
        stats_.tx_errors++;
        return Unexpected(DeviceError::FrameTooBig);
    }
    for (int attempt = 0; attempt < 3; ++attempt) {  // bounded retry on EINTR only
        ssize_t n = ::write(fd_.get(), frame.data(), frame.size());
        if (n >= 0 || errno != EINTR) return write_result(n, frame.size());
    }
    stats_.tx_errors++;
    return Unexpected(DeviceError::Io);
}

Result<void, DeviceError> TapDevice::write_result(ssize_t n, std::size_t expected) {
    if (n >= 0) {
        stats_.tx_frames++;
        stats_.tx_bytes += static_cast<Counter>(expected);
        return {};
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        stats_.tx_would_block++;
        return Unexpected(DeviceError::WouldBlock);
    }
    stats_.tx_errors++;
    // EBADFD: the fd is no longer attached; EIO/ENXIO: the interface went away.
    if (errno == EBADFD || errno == EIO || errno == ENXIO || errno == ENODEV) return Unexpected(DeviceError::Down);
    return Unexpected(DeviceError::Io);
}

// ---- With IFF_VNET_HDR: a virtio_net_hdr before every frame ----

std::size_t TapDevice::receive_with_header(PacketPool& pool, std::vector<Packet>& batch, std::size_t max) {
    std::size_t count = 0;
    bool found_empty = false;
    while (count < max) {
        // Every read goes into a 64 KiB buffer, since any frame may be a large one; a small frame
        // is then copied into a small buffer (a copy of at most 1.5 KB), so that queues of small
        // packets (UDP, out-of-order TCP) do not each hold 64 KiB.
        Packet large = pool.allocate(kMaxOffloadFrame, PacketPool::kDefaultHeadroom);
        VirtioNetHeader header{};
        iovec parts[2] = {{&header, sizeof(header)}, {large.data(), large.tailroom()}};
        ssize_t n = ::readv(fd_.get(), parts, 2);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) stats_.rx_errors++;
            found_empty = true;
            break;
        }
        if (n == 0) break;
        if (static_cast<std::size_t>(n) < sizeof(header)) {
            stats_.rx_bad_vnet_header++;
            continue;
        }
        const std::size_t length = static_cast<std::size_t>(n) - sizeof(header);
        if (length == parts[1].iov_len) stats_.rx_truncated++;
        stats_.rx_frames++;
        stats_.rx_bytes += static_cast<Counter>(length);

        Packet packet;
        if (length <= mtu_ + kEthernetHeader) {
            packet = pool.allocate(length, PacketPool::kDefaultHeadroom);
            std::memcpy(packet.append(length).data(), large.data(), length);
        } else {
            stats_.rx_large++;
            large.append(length);
            packet = std::move(large);
        }
        // NEEDS_CSUM: the kernel left the checksum for a device that will never compute it (the
        // frame went from its memory to ours); DATA_VALID: it checked it. Either way it is good.
        if (header.flags & (kNeedsChecksum | kDataValid)) {
            packet.offload().checksum_verified = true;
        }
        // A large TCP frame says how the kernel's TCP would have cut it for a real wire (its MSS):
        // the stack takes it whole, but a device that must cut it (SoftwareOffload before a fault
        // injector) needs the size. The ECN bit only says CWR may be set: cutting handles that.
        if ((header.gso_type & ~kGsoEcn) == kGsoTcpV4 && header.gso_size != 0 && length > mtu_ + kEthernetHeader) {
            packet.offload().segment_size = header.gso_size;
        }
        batch.push_back(std::move(packet));
        count++;
    }
    budget_.done(count, found_empty);
    return count;
}

Result<void, DeviceError> TapDevice::transmit_with_header(const Packet& frame) {
    const PacketOffload& offload = frame.offload();
    const bool segmented = offload.segment_size != 0 && frame.size() > mtu_ + kEthernetHeader;
    if (frame.size() > (segmented ? kMaxOffloadFrame : mtu_ + kEthernetHeader)) {
        stats_.tx_errors++;
        return Unexpected(DeviceError::FrameTooBig);
    }
    VirtioNetHeader header{};
    if ((offload.checksum_partial || segmented) && frame.size() >= kEthernetHeader + 20 + 20) {
        // The layers set these only on IPv4 frames, whose IHL says where the transport header
        // starts. (The header's fields are in the host's byte order: a legacy virtio header.)
        const Bytes bytes = frame.bytes();
        const std::size_t transport = kEthernetHeader + std::size_t{bytes[kEthernetHeader] & 0x0fu} * 4;
        if (offload.checksum_partial) {
            header.flags = kNeedsChecksum;
            header.csum_start = static_cast<std::uint16_t>(transport);
            header.csum_offset = offload.checksum_field;
        }
        if (segmented) {
            // hdr_len: every header the kernel copies in front of each segment (Ethernet, IPv4, TCP).
            const std::size_t tcp_header = std::size_t{static_cast<std::uint8_t>(bytes[transport + 12] >> 4)} * 4;
            header.gso_type = kGsoTcpV4;
            header.gso_size = offload.segment_size;
            header.hdr_len = static_cast<std::uint16_t>(transport + tcp_header);
            stats_.tx_large++;
        }
    }
    iovec parts[2] = {{&header, sizeof(header)}, {const_cast<std::uint8_t*>(frame.data()), frame.size()}};
    for (int attempt = 0; attempt < 3; ++attempt) {  // bounded retry on EINTR only
        ssize_t n = ::writev(fd_.get(), parts, 2);
        if (n >= 0 || errno != EINTR) return write_result(n, frame.size());
    }
    stats_.tx_errors++;
    return Unexpected(DeviceError::Io);
}

}  // namespace tcpip
