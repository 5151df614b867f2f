// Path MTU discovery through a real router: the kernel in the TAP's namespace forwards between the
// TAP (MTU 1500) and a veth of MTU 1000 to a second namespace, where a kernel server listens. The
// server's SYN-ACK offers an MSS of 1460 (its own link is 1500), so our first segments are too big
// for the router's next hop: it drops them and answers ICMP fragmentation needed, mtu 1000, as
// routers do. Our stack must lower its MSS, resend, and the transfer complete byte-exact.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <unistd.h>

#include "tests/interop/apps.h"
#include "tests/interop/netns.h"

namespace tcpip::interop {
namespace {

constexpr int kPort = 5003;
const std::string kRouterVethIp = "192.168.77.1";
const std::string kServerIp = "192.168.77.2";

// A second namespace of our own (the server's), removed by the destructor, also when the test
// failed. Its name is unique to this process.
class ServerNetns {
public:
    ServerNetns() : name_("tcpip-pmtu-" + std::to_string(::getpid())) {
        created_ = run_command({"ip", "netns", "add", name_}).ok();
    }
    ~ServerNetns() {
        if (created_) (void)run_command({"ip", "netns", "del", name_});
    }
    ServerNetns(const ServerNetns&) = delete;
    ServerNetns& operator=(const ServerNetns&) = delete;
    bool created() const { return created_; }
    const std::string& name() const { return name_; }
    std::vector<std::string> in(std::vector<std::string> argv) const {
        argv.insert(argv.begin(), {"ip", "netns", "exec", name_});
        return argv;
    }

private:
    std::string name_;
    bool created_ = false;
};

// A counter of the "Icmp:" lines of /proc/net/snmp, read inside a namespace.
std::optional<long long> icmp_counter(const NetnsTap& env, const std::string& name) {
    CommandResult r = env.exec({"cat", "/proc/net/snmp"});
    std::istringstream lines(r.output);
    std::string header, values;
    while (std::getline(lines, header)) {
        if (header.rfind("Icmp: ", 0) != 0 || !std::getline(lines, values)) continue;
        std::istringstream names(header), counts(values);
        std::string n, c;
        while (names >> n && counts >> c) {
            if (n == name) return std::stoll(c);
        }
    }
    return std::nullopt;
}

class PmtuInterop : public AppInterop {};

TEST_F(PmtuInterop, TransferThroughARouterWithASmallerNextHopCompletes) {
    ServerNetns server_ns;
    ASSERT_TRUE(server_ns.created());
    const std::string& router = env_->netns();
    auto must = [](const std::vector<std::string>& argv) {
        CommandResult r = run_command(argv);
        EXPECT_TRUE(r.ok()) << r.output;
        return r.ok();
    };
    // The router's next hop: a veth of MTU 1000 (the server's end keeps 1500).
    ASSERT_TRUE(must({"ip", "-n", router, "link", "add", "vr", "type", "veth", "peer", "name", "vs", "netns", server_ns.name()}));
    ASSERT_TRUE(must({"ip", "-n", router, "link", "set", "vr", "mtu", "1000", "up"}));
    ASSERT_TRUE(must({"ip", "-n", router, "addr", "add", kRouterVethIp + "/24", "dev", "vr"}));
    ASSERT_TRUE(must({"ip", "-n", server_ns.name(), "link", "set", "lo", "up"}));
    ASSERT_TRUE(must({"ip", "-n", server_ns.name(), "link", "set", "vs", "up"}));
    ASSERT_TRUE(must({"ip", "-n", server_ns.name(), "addr", "add", kServerIp + "/24", "dev", "vs"}));
    ASSERT_TRUE(must({"ip", "-n", server_ns.name(), "route", "add", "default", "via", kRouterVethIp}));
    ASSERT_TRUE(env_->exec({"sysctl", "-qw", "net.ipv4.ip_forward=1"}).ok());
    const long long unreachables_before = icmp_counter(*env_, "OutDestUnreachs").value_or(-1);
    ASSERT_GE(unreachables_before, 0);

    auto server = BackgroundCommand::start(
        server_ns.in({"sh", "-c", "socat -u TCP-LISTEN:" + std::to_string(kPort) + ",reuseaddr - | sha256sum"}));
    ASSERT_TRUE(server) << server.error();
    bool listening = false;
    for (int i = 0; i < 500 && !listening; ++i) {
        listening = !run_command(server_ns.in({"ss", "-Hltn", "sport = :" + std::to_string(kPort)})).output.empty();
        if (!listening) ::usleep(20000);
    }
    ASSERT_TRUE(listening) << "socat never listened";

    const std::string bytes = "20000000";
    CommandResult sent = env_->exec(
        {"sh", "-c", "head -c " + bytes + " /dev/urandom > /tmp/tcpip-pmtu-" + std::to_string(::getpid()) +
                         " && " + app_path("tcpip-nc") + " --tap " + env_->tap_name() + " --ip " + our_ip_ +
                         "/24 --gateway " + kernel_ip_ + " " + kServerIp + " " + std::to_string(kPort) +
                         " < /tmp/tcpip-pmtu-" + std::to_string(::getpid())},
        Duration::seconds(120));
    EXPECT_EQ(sent.exit_code, 0) << sent.output;
    CommandResult got = server->wait(Duration::seconds(60));
    CommandResult want = run_command({"sh", "-c", "sha256sum < /tmp/tcpip-pmtu-" + std::to_string(::getpid()) +
                                                      "; rm -f /tmp/tcpip-pmtu-" + std::to_string(::getpid())});
    ASSERT_GE(want.output.size(), 64u);
    EXPECT_EQ(got.output.substr(0, 64), want.output.substr(0, 64)) << "server got: " << got.output;
    // The router did send fragmentation needed (our first full-sized segments were too big).
    EXPECT_GT(icmp_counter(*env_, "OutDestUnreachs").value_or(-1), unreachables_before);
}

}  // namespace
}  // namespace tcpip::interop
