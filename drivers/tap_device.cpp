// TapDevice: see tap_device.h. Kernel behaviour cited below is from drivers/net/tun.c
// (tun_set_iff, tun_attach, tun_chr_read_iter) and Documentation/networking/tuntap.rst.
#include "drivers/tap_device.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <unistd.h>

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

}  // namespace

Result<TapDevice, TapError> TapDevice::open(const std::string& name, MacAddress mac, std::size_t mtu,
                                            const char* clone_device) {
    // Check the name ourselves first: ifr_name holds IFNAMSIZ bytes including the NUL, so a
    // longer name would be cut, and could create or attach to an interface nobody asked for.
    if (name.size() >= IFNAMSIZ) return Unexpected(own_error(TapErrorKind::NameTooLong, name));
    if (!valid_interface_name(name)) return Unexpected(own_error(TapErrorKind::InvalidName, name));

    UniqueFd fd(::open(clone_device, O_RDWR | O_NONBLOCK | O_CLOEXEC));
    if (!fd) return Unexpected(classify_tap_error(errno, name, std::string("open ") + clone_device));

    ifreq ifr{};
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    std::memcpy(ifr.ifr_name, name.data(), name.size());  // NUL-terminated: ifr is zeroed, size < IFNAMSIZ
    if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0) {
        return Unexpected(classify_tap_error(errno, name, "ioctl(TUNSETIFF)"));
    }
    std::string actual(ifr.ifr_name, ::strnlen(ifr.ifr_name, IFNAMSIZ));
    return TapDevice(std::move(fd), std::move(actual), mac, mtu);
}

DeviceCapabilities TapDevice::capabilities() const {
    DeviceCapabilities caps;
    caps.max_frame_size = mtu_ + kEthernetHeader;
    return caps;
}

std::size_t TapDevice::receive(Instant /*now*/, PacketPool& pool, std::vector<Packet>& batch, std::size_t max) {
    std::size_t count = 0;
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
    return count;
}

Result<void, DeviceError> TapDevice::transmit(Instant /*now*/, Packet frame) {
    if (frame.size() > mtu_ + kEthernetHeader) {
        stats_.tx_errors++;
        return Unexpected(DeviceError::FrameTooBig);
    }
    for (int attempt = 0; attempt < 3; ++attempt) {  // bounded retry on EINTR only
        ssize_t n = ::write(fd_.get(), frame.data(), frame.size());
        if (n >= 0) {
            stats_.tx_frames++;
            stats_.tx_bytes += static_cast<Counter>(n);
            return {};
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            stats_.tx_would_block++;
            return Unexpected(DeviceError::WouldBlock);
        }
        stats_.tx_errors++;
        // EBADFD: the fd is no longer attached; EIO/ENXIO: the interface went away.
        if (errno == EBADFD || errno == EIO || errno == ENXIO || errno == ENODEV) return Unexpected(DeviceError::Down);
        return Unexpected(DeviceError::Io);
    }
    stats_.tx_errors++;
    return Unexpected(DeviceError::Io);
}

}  // namespace tcpip
