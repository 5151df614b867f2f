// TapDevice against the real Linux kernel, through a TAP inside a fresh network namespace
// (tests/interop/netns.h). Frames are parsed by hand here, minimally, so the test does not depend
// on the stack's own ARP code that it helps to check.
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <functional>

#include "drivers/tap_device.h"
#include "tests/interop/netns.h"

namespace tcpip::interop {
namespace {

constexpr std::uint16_t kEtherTypeArp = 0x0806;
constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;

// ARP over Ethernet for IPv4 (RFC 826), after the 14-byte Ethernet header.
struct ArpView {
    std::uint16_t opcode;
    MacAddress sender_mac, target_mac;
    Ipv4Address sender_ip, target_ip;
};

std::optional<ArpView> parse_arp(const Packet& frame) {
    const std::uint8_t* p = frame.data();
    if (frame.size() < 14 + 28 || load_be16(p + 12) != kEtherTypeArp) return std::nullopt;
    const std::uint8_t* a = p + 14;
    if (load_be16(a) != 1 || load_be16(a + 2) != kEtherTypeIpv4 || a[4] != 6 || a[5] != 4) return std::nullopt;
    return ArpView{load_be16(a + 6), MacAddress::from_bytes(a + 8), MacAddress::from_bytes(a + 18),
                   Ipv4Address::from_bytes(a + 14), Ipv4Address::from_bytes(a + 24)};
}

// An Ethernet + ARP frame (42 bytes; the kernel accepts frames below the 60-byte minimum on a TAP).
Packet build_arp(PacketPool& pool, MacAddress eth_dst, std::uint16_t opcode, MacAddress sender_mac,
                 Ipv4Address sender_ip, MacAddress target_mac, Ipv4Address target_ip) {
    Packet packet = pool.allocate(42);
    std::uint8_t* p = packet.append(42).data();
    eth_dst.copy_to(p);
    sender_mac.copy_to(p + 6);
    store_be16(p + 12, kEtherTypeArp);
    std::uint8_t* a = p + 14;
    store_be16(a, 1);               // hardware type: Ethernet
    store_be16(a + 2, kEtherTypeIpv4);
    a[4] = 6;
    a[5] = 4;
    store_be16(a + 6, opcode);
    sender_mac.copy_to(a + 8);
    sender_ip.copy_to(a + 14);
    target_mac.copy_to(a + 18);
    target_ip.copy_to(a + 24);
    return packet;
}

std::int64_t monotonic_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// Waits (poll(2) on the TAP fd, bounded by `timeout_ms`) for a received frame matching `want`.
bool wait_for_frame(TapDevice& tap, PacketPool& pool, int timeout_ms, const std::function<bool(const Packet&)>& want,
                    std::size_t* frames_seen = nullptr) {
    const std::int64_t deadline = monotonic_ms() + timeout_ms;
    std::vector<Packet> batch;
    for (int rounds = 0; rounds < 10000; ++rounds) {
        std::int64_t left = deadline - monotonic_ms();
        if (left <= 0) return false;
        pollfd p{tap.wait_fd(), POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left, 100))) <= 0) continue;
        batch.clear();
        tap.receive(Instant::zero(), pool, batch, 32);
        for (const Packet& frame : batch) {
            if (frames_seen != nullptr) ++*frames_seen;
            if (want(frame)) return true;
        }
    }
    return false;
}

class TapInterop : public ::testing::Test {
protected:
    void SetUp() override {
        TCPIP_REQUIRE_INTEROP();
        auto created = NetnsTap::create();
        ASSERT_TRUE(created.has_value()) << created.error();
        env_ = std::move(*created);
    }

    std::unique_ptr<NetnsTap> env_;
    PacketPool pool_;
};

TEST_F(TapInterop, KernelArpRequestArrivesOnOurFd) {
    auto kernel_mac = env_->kernel_mac();
    ASSERT_TRUE(kernel_mac.has_value()) << kernel_mac.error();
    EXPECT_NE(*kernel_mac, env_->tap().mac()) << "the kernel's end has its own MAC";

    // The kernel must resolve 10.x.y.2 before it can send the echo request: an ARP request
    // (who-has 10.x.y.2 tell 10.x.y.1) goes out of the TAP, to us. Nobody answers, so ping fails.
    const Ipv4Address target = env_->our_address();
    auto ping = env_->exec_background({"ping", "-c1", "-W1", target.to_string()});
    ASSERT_TRUE(ping.has_value()) << ping.error();

    std::optional<ArpView> request;
    std::size_t frames = 0;
    bool found = wait_for_frame(env_->tap(), pool_, 5000, [&](const Packet& frame) {
        auto arp = parse_arp(frame);
        if (!arp || arp->opcode != 1 || arp->target_ip != target) return false;
        EXPECT_EQ(MacAddress::from_bytes(frame.data()), MacAddress::broadcast());
        request = arp;
        return true;
    }, &frames);
    ASSERT_TRUE(found) << "no ARP request for " << target << " in 5 s (" << frames << " other frames)";
    EXPECT_EQ(request->sender_ip, env_->kernel_address().address);
    EXPECT_EQ(request->sender_mac, *kernel_mac);
    EXPECT_GE(env_->tap().stats().rx_frames, 1u);
    ping->wait(Duration::seconds(5));
}

TEST_F(TapInterop, KernelAcceptsOurArpReplyAndSendsTheEchoRequest) {
    // A full exchange: answer the kernel's ARP request as our stack would, then the ICMP echo
    // request itself must come to our MAC.
    const Ipv4Address us = env_->our_address();
    const MacAddress our_mac = env_->tap().mac();
    auto ping = env_->exec_background({"ping", "-c1", "-W2", us.to_string()});
    ASSERT_TRUE(ping.has_value()) << ping.error();

    std::optional<ArpView> request;
    ASSERT_TRUE(wait_for_frame(env_->tap(), pool_, 5000, [&](const Packet& frame) {
        auto arp = parse_arp(frame);
        if (arp && arp->opcode == 1 && arp->target_ip == us) request = arp;
        return request.has_value();
    }));
    auto sent = env_->tap().transmit(Instant::zero(), build_arp(pool_, request->sender_mac, 2, our_mac, us,
                                                                request->sender_mac, request->sender_ip));
    ASSERT_TRUE(sent.has_value()) << to_string(sent.error());

    bool echo = wait_for_frame(env_->tap(), pool_, 5000, [&](const Packet& frame) {
        const std::uint8_t* p = frame.data();
        if (frame.size() < 14 + 20 + 8 || load_be16(p + 12) != kEtherTypeIpv4) return false;
        const std::uint8_t* ip = p + 14;
        const std::size_t ihl = (ip[0] & 0x0f) * 4u;
        return MacAddress::from_bytes(p) == our_mac && ip[9] == 1 /* ICMP */ &&
               Ipv4Address::from_bytes(ip + 16) == us && frame.size() >= 14 + ihl + 8 &&
               ip[ihl] == 8 /* echo request */;
    });
    EXPECT_TRUE(echo) << "the kernel did not use our ARP reply to send the echo request to our MAC";
    ping->wait(Duration::seconds(5));
}

TEST_F(TapInterop, OurFrameReachesTheKernel) {
    auto before = env_->kernel_counter("rx_packets");
    ASSERT_TRUE(before.has_value()) << before.error();
    const MacAddress our_mac = env_->tap().mac();
    const Ipv4Address us = env_->our_address();
    const Ipv4Address kernel = env_->kernel_address().address;

    // A broadcast ARP request: who-has 10.x.y.1 (the kernel) tell 10.x.y.2 (us).
    auto sent = env_->tap().transmit(Instant::zero(), build_arp(pool_, MacAddress::broadcast(), 1, our_mac, us,
                                                                MacAddress::zero(), kernel));
    ASSERT_TRUE(sent.has_value()) << to_string(sent.error());
    EXPECT_EQ(env_->tap().stats().tx_frames, 1u);

    // The kernel counts it on its interface...
    std::uint64_t after = *before;
    for (int i = 0; i < 20 && after <= *before; ++i) {
        auto now = env_->kernel_counter("rx_packets");
        ASSERT_TRUE(now.has_value()) << now.error();
        after = *now;
        if (after <= *before) ::usleep(100000);
    }
    EXPECT_GT(after, *before) << "rx_packets of the kernel's TAP did not increase";

    // ...and answers it: an ARP reply to our MAC, from the kernel's MAC, saying 10.x.y.1 is there.
    auto kernel_mac = env_->kernel_mac();
    ASSERT_TRUE(kernel_mac.has_value()) << kernel_mac.error();
    bool replied = wait_for_frame(env_->tap(), pool_, 3000, [&](const Packet& frame) {
        auto arp = parse_arp(frame);
        return arp && arp->opcode == 2 && arp->sender_ip == kernel && arp->sender_mac == *kernel_mac &&
               arp->target_mac == our_mac && arp->target_ip == us && MacAddress::from_bytes(frame.data()) == our_mac;
    });
    EXPECT_TRUE(replied) << "no ARP reply from the kernel";
}

// drivers/read_budget.h: after a wake-up that found one frame, receive() reads one frame per
// call, without the read() that would find the queue empty; every 16th call reads on. Frames that
// then arrive in a burst must all be read all the same, and whole batches again soon.
TEST_F(TapInterop, FramesThatComeSinglyThenInABurstAreAllRead) {
    const MacAddress our_mac = env_->tap().mac();
    const Ipv4Address us = env_->our_address();
    const Ipv4Address kernel = env_->kernel_address().address;
    auto is_reply = [&](const Packet& frame) {
        auto arp = parse_arp(frame);
        return arp && arp->opcode == 2 && arp->sender_ip == kernel && arp->target_mac == our_mac;
    };
    auto ask = [&] {
        auto sent = env_->tap().transmit(Instant::zero(), build_arp(pool_, MacAddress::broadcast(), 1, our_mac, us,
                                                                    MacAddress::zero(), kernel));
        ASSERT_TRUE(sent.has_value()) << to_string(sent.error());
    };
    // One request, one reply: a wake-up finds one frame and then nothing.
    ask();
    ASSERT_TRUE(wait_for_frame(env_->tap(), pool_, 3000, is_reply)) << "no ARP reply from the kernel";
    std::vector<Packet> batch;
    env_->tap().receive(Instant::zero(), pool_, batch, 32);  // whatever else came (IPv6 noise)
    // Twenty requests at once; their replies queue in the TAP while we wait.
    constexpr int kBurst = 20;
    for (int i = 0; i < kBurst; ++i) ask();
    ::usleep(200000);
    int replies = 0, calls = 0;
    const std::int64_t deadline = monotonic_ms() + 3000;
    while (replies < kBurst && monotonic_ms() < deadline) {
        pollfd p{env_->tap().wait_fd(), POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        batch.clear();
        env_->tap().receive(Instant::zero(), pool_, batch, 32);
        ++calls;
        for (const Packet& frame : batch) replies += is_reply(frame) ? 1 : 0;
    }
    EXPECT_EQ(replies, kBurst);
    // One frame per call until a probe (at most 16 calls) finds the backlog; then one batch.
    EXPECT_LE(calls, static_cast<int>(ReadBudget::kProbeEvery) + 1);
    EXPECT_FALSE(env_->tap().read_budget().single());
}

TEST_F(TapInterop, FrameLargerThanTheMtuIsRefusedBeforeTheKernel) {
    Packet big = pool_.allocate(1515);
    std::memset(big.append(1515).data(), 0xff, 1515);
    auto sent = env_->tap().transmit(Instant::zero(), std::move(big));
    ASSERT_FALSE(sent.has_value());
    EXPECT_EQ(sent.error(), DeviceError::FrameTooBig);
}

TEST_F(TapInterop, AttachesToAnExistingPersistentTap) {
    auto made = env_->exec({"ip", "tuntap", "add", "dev", "ptap0", "mode", "tap"});
    ASSERT_TRUE(made.ok()) << made.output;
    auto opened = env_->inside([] { return TapDevice::open("ptap0", MacAddress({0x02, 0, 0, 0, 0, 9})); });
    ASSERT_TRUE(opened.has_value()) << opened.error();
    ASSERT_TRUE(opened->has_value()) << opened->error().message();
    EXPECT_EQ((*opened)->name(), "ptap0");
    EXPECT_GE((*opened)->wait_fd(), 0);
    EXPECT_FALSE((*opened)->created()) << "attached to ip tuntap's persistent TAP, did not create it";
    EXPECT_TRUE(env_->tap().created()) << "the fixture's TAP did not exist before TapDevice::open";
}

// Opens `name` inside the namespace and returns the error (the test fails if it opened).
TapError open_error(NetnsTap& env, const std::string& name) {
    auto opened = env.inside([&] { return TapDevice::open(name, MacAddress({0x02, 0, 0, 0, 0, 9})); });
    EXPECT_TRUE(opened.has_value()) << opened.error();
    if (!opened) return {};
    EXPECT_FALSE(opened->has_value()) << name << " opened as a TAP";
    if (opened->has_value()) return {};
    return opened->error();
}

TEST_F(TapInterop, OpenErrorsNameTheCause) {
    // lo exists in every namespace and is not a TAP.
    TapError lo = open_error(*env_, "lo");
    EXPECT_EQ(lo.kind, TapErrorKind::NotATap) << lo.message();
    EXPECT_NE(lo.message().find("interface 'lo' exists and is not a TAP"), std::string::npos) << lo.message();
    EXPECT_NE(lo.message().find("pick another name or delete it"), std::string::npos) << lo.message();

    // A TUN (layer 3) of that name is not a TAP either.
    auto tun = env_->exec({"ip", "tuntap", "add", "dev", "tun7", "mode", "tun"});
    ASSERT_TRUE(tun.ok()) << tun.output;
    TapError not_tap = open_error(*env_, "tun7");
    EXPECT_EQ(not_tap.kind, TapErrorKind::NotATap) << not_tap.message();

    // Another kind of link: a dummy if the module exists, else a veth pair.
    bool made = env_->exec({"ip", "link", "add", "other0", "type", "dummy"}).ok() ||
                env_->exec({"ip", "link", "add", "other0", "type", "veth", "peer", "name", "other1"}).ok();
    if (made) {
        TapError other = open_error(*env_, "other0");
        EXPECT_EQ(other.kind, TapErrorKind::NotATap) << other.message();
        EXPECT_NE(other.message().find("'other0'"), std::string::npos) << other.message();
    }

    // Our own TAP is held by our fd: a second open finds it busy.
    TapError busy = open_error(*env_, env_->tap_name());
    EXPECT_EQ(busy.kind, TapErrorKind::Busy) << busy.message();
    EXPECT_NE(busy.message().find("already attached"), std::string::npos) << busy.message();

    // A name longer than IFNAMSIZ - 1 is refused before the kernel sees it.
    TapError long_name = open_error(*env_, "tcpip-much-too-long-name");
    EXPECT_EQ(long_name.kind, TapErrorKind::NameTooLong);
    EXPECT_NE(long_name.message().find("at most 15"), std::string::npos) << long_name.message();
}

TEST_F(TapInterop, WithoutCapNetAdminTheErrorSaysSo) {
    // A child process enters the namespace, drops every capability, and tries to create a TAP.
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::close(fds[0]);
        int code = 2;
        if (::setns(env_->netns_fd(), CLONE_NEWNET) == 0) {
            __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
            __user_cap_data_struct data[2]{};
            if (::syscall(SYS_capset, &header, data) == 0) {
                auto tap = TapDevice::open("noperm0", MacAddress({0x02, 0, 0, 0, 0, 9}));
                std::string msg = tap ? std::string("opened") : tap.error().message();
                [[maybe_unused]] auto n = ::write(fds[1], msg.data(), msg.size());
                code = (!tap && tap.error().kind == TapErrorKind::PermissionDenied) ? 0 : 1;
            }
        }
        ::_exit(code);
    }
    ::close(fds[1]);
    std::string message;
    char buffer[512];
    for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;) message.append(buffer, static_cast<std::size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "child: " << message;
    EXPECT_NE(message.find("run as root or grant CAP_NET_ADMIN"), std::string::npos) << message;
}

TEST(NetnsFixture, NamespaceAndTapAreGoneAfterTeardown) {
    TCPIP_REQUIRE_INTEROP();
    std::string name;
    {
        auto env = NetnsTap::create();
        ASSERT_TRUE(env.has_value()) << env.error();
        name = (*env)->netns();
        EXPECT_EQ(name.rfind("tcpip-", 0), 0u);
        auto list = run_command({"ip", "netns", "list"});
        EXPECT_NE(list.output.find(name), std::string::npos) << list.output;
        auto link = (*env)->exec({"ip", "-o", "link", "show", "type", "tun"});
        EXPECT_NE(link.output.find("tap0"), std::string::npos) << link.output;
    }
    auto list = run_command({"ip", "netns", "list"});
    EXPECT_EQ(list.output.find(name), std::string::npos) << list.output;
}

}  // namespace
}  // namespace tcpip::interop
