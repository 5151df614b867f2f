// The network-namespace fixture: see netns.h for how the TAP gets into the namespace and how
// namespaces are removed on every exit path.
#include "tests/interop/netns.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <mutex>
#include <sstream>

namespace tcpip::interop {

namespace {

// ---- Registry of live namespaces, cleaned up by signal handlers and at exit ----------------------
//
// Fixed-size storage written before a slot is marked used: the signal handler only reads it and
// calls async-signal-safe functions (umount2, unlink, signal, raise).

constexpr int kSlots = 64;
constexpr std::size_t kPathSize = 128;
char g_paths[kSlots][kPathSize];
volatile sig_atomic_t g_used[kSlots];

void remove_registered_namespaces() noexcept {
    for (int i = 0; i < kSlots; ++i) {
        if (g_used[i] != 0) {
            // What `ip netns del` does: detach the bind mount that keeps the namespace alive, then
            // remove the file. The namespace (and its TAP) goes away with its last reference.
            ::umount2(g_paths[i], MNT_DETACH);
            ::unlink(g_paths[i]);
            g_used[i] = 0;
        }
    }
}

extern "C" void on_fatal_signal(int sig) {
    remove_registered_namespaces();
    ::signal(sig, SIG_DFL);
    ::raise(sig);
}

void install_cleanup_handlers_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT}) {
            struct sigaction action {};
            action.sa_handler = on_fatal_signal;
            sigemptyset(&action.sa_mask);
            ::sigaction(sig, &action, nullptr);
        }
        std::atexit([] { remove_registered_namespaces(); });
    });
}

int register_namespace(const std::string& name) {
    install_cleanup_handlers_once();
    const std::string path = "/run/netns/" + name;
    for (int i = 0; i < kSlots; ++i) {
        if (g_used[i] == 0 && path.size() < kPathSize) {
            std::memcpy(g_paths[i], path.c_str(), path.size() + 1);
            g_used[i] = 1;
            return i;
        }
    }
    return -1;  // full: the destructor still removes it, only the signal path would miss it
}

void unregister_namespace(int slot) {
    if (slot >= 0) g_used[slot] = 0;
}

// ---- Processes ---------------------------------------------------------------------------------

std::int64_t monotonic_micros() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// Forks and execs argv with stdout+stderr into a pipe; returns the pid and the pipe's read end.
Result<std::pair<int, UniqueFd>, std::string> spawn(const std::vector<std::string>& argv) {
    if (argv.empty()) return Unexpected(std::string("empty command"));
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return Unexpected(std::string("pipe2: ") + std::strerror(errno));
    UniqueFd read_end(fds[0]), write_end(fds[1]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) return Unexpected(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
        ::dup2(write_end.get(), STDOUT_FILENO);
        ::dup2(write_end.get(), STDERR_FILENO);
        ::execvp(args[0], args.data());
        const char msg[] = "exec failed\n";
        [[maybe_unused]] auto n = ::write(STDERR_FILENO, msg, sizeof msg - 1);
        ::_exit(127);
    }
    return std::make_pair(static_cast<int>(pid), std::move(read_end));
}

int decode_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

// Reads `fd` until EOF or the deadline; then reaps `pid`, killing it first if it is still running.
CommandResult collect(int pid, int fd, std::int64_t deadline_us) {
    CommandResult result;
    char buffer[4096];
    for (;;) {
        std::int64_t left_ms = (deadline_us - monotonic_micros()) / 1000;
        if (left_ms <= 0) {
            result.timed_out = true;
            break;
        }
        pollfd p{fd, POLLIN, 0};
        int r = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left_ms, 1000)));
        if (r < 0 && errno != EINTR) break;
        if (r <= 0) continue;
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // EOF: the command (and any child holding the pipe) is done
        result.output.append(buffer, static_cast<std::size_t>(n));
    }
    int status = 0;
    if (result.timed_out) ::kill(pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.exit_code = decode_status(status);
    return result;
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
    return s;
}

std::string describe(const std::vector<std::string>& argv, const CommandResult& r) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    return "`" + cmd + "` " + (r.timed_out ? "timed out" : "exited with " + std::to_string(r.exit_code)) +
           ": " + trim(r.output);
}

// CapEff from /proc/self/status has the capability bit set.
bool has_capability(int cap) {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("CapEff:", 0) == 0) {
            std::uint64_t mask = std::strtoull(line.c_str() + 7, nullptr, 16);
            return (mask >> cap) & 1u;
        }
    }
    return false;
}

}  // namespace

// ---- Public helpers ----------------------------------------------------------------------------

bool running_in_ci() {
    const char* ci = std::getenv("CI");
    return ci != nullptr && std::string(ci) == "true";
}

std::optional<std::string> unavailable_reason() {
    constexpr int kCapNetAdmin = 12, kCapSysAdmin = 21;  // linux/capability.h
    if (!has_capability(kCapNetAdmin) || !has_capability(kCapSysAdmin)) {
        return "interop tests need CAP_NET_ADMIN and CAP_SYS_ADMIN to create network namespaces and TAPs: "
               "run them as root (sudo meson test -C build --suite interop)";
    }
    if (::access("/dev/net/tun", R_OK | W_OK) != 0) {
        return std::string("/dev/net/tun is not usable (") + std::strerror(errno) +
               "): load the tun module with `modprobe tun` (in a container, pass --device /dev/net/tun)";
    }
    if (!run_command({"ip", "-V"}, Duration::seconds(5)).ok()) {
        return std::string("the `ip` command (iproute2) is missing: apt-get install iproute2");
    }
    return std::nullopt;
}

CommandResult run_command(const std::vector<std::string>& argv, Duration timeout) {
    auto child = spawn(argv);
    if (!child) {
        CommandResult r;
        r.output = child.error();
        return r;
    }
    return collect(child->first, child->second.get(), monotonic_micros() + timeout.total_micros());
}

Result<BackgroundCommand, std::string> BackgroundCommand::start(const std::vector<std::string>& argv) {
    auto child = spawn(argv);
    if (!child) return Unexpected(child.error());
    return BackgroundCommand(child->first, std::move(child->second));
}

BackgroundCommand::BackgroundCommand(BackgroundCommand&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), output_(std::move(other.output_)) {}

CommandResult BackgroundCommand::wait(Duration timeout) {
    if (pid_ <= 0) return {};
    CommandResult r = collect(pid_, output_.get(), monotonic_micros() + timeout.total_micros());
    pid_ = -1;
    output_.reset();
    return r;
}

CommandResult BackgroundCommand::stop(Duration grace) {
    if (pid_ <= 0) return {};
    ::kill(pid_, SIGTERM);
    return wait(grace);
}

BackgroundCommand::~BackgroundCommand() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 100; ++i) {  // up to 1 s for a clean exit
        if (::waitpid(pid_, &status, WNOHANG) == pid_) return;
        ::usleep(10000);
    }
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
}

ScopedNetns::ScopedNetns(int ns_fd) : original_(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) {
    if (!original_) {
        error_ = std::string("open /proc/thread-self/ns/net: ") + std::strerror(errno);
        return;
    }
    if (::setns(ns_fd, CLONE_NEWNET) != 0) {
        error_ = std::string("setns(CLONE_NEWNET): ") + std::strerror(errno);
        return;
    }
    entered_ = true;
}

ScopedNetns::~ScopedNetns() {
    if (entered_ && ::setns(original_.get(), CLONE_NEWNET) != 0) {
        std::fprintf(stderr, "FATAL: cannot return to the original network namespace: %s\n", std::strerror(errno));
        std::abort();
    }
}

// ---- NetnsTap ----------------------------------------------------------------------------------

namespace {
std::atomic<int> g_counter{0};
}

std::vector<std::string> NetnsTap::ns_prefix(const std::vector<std::string>& argv) const {
    std::vector<std::string> full = {"ip", "netns", "exec", netns_};
    full.insert(full.end(), argv.begin(), argv.end());
    return full;
}

CommandResult NetnsTap::exec(const std::vector<std::string>& argv, Duration timeout) const {
    return run_command(ns_prefix(argv), timeout);
}

Result<BackgroundCommand, std::string> NetnsTap::exec_background(const std::vector<std::string>& argv) const {
    return BackgroundCommand::start(ns_prefix(argv));
}

bool NetnsTap::wait_for_port(Transport transport, std::uint16_t port, Duration timeout) const {
    // ss -H: no header line, so any output is a matching socket.
    const std::vector<std::string> argv = {"ss", "-Hln", transport == Transport::Tcp ? "-t" : "-u", "sport",
                                           "=", ":" + std::to_string(port)};
    const std::int64_t deadline_us = monotonic_micros() + timeout.total_micros();
    for (;;) {
        CommandResult r = exec(argv, Duration::seconds(5));
        if (r.ok() && !r.output.empty()) return true;
        if (monotonic_micros() >= deadline_us) return false;
        ::usleep(20000);
    }
}

Result<std::unique_ptr<NetnsTap>, std::string> NetnsTap::create(NetnsTapOptions options) {
    const int pid = static_cast<int>(::getpid());
    const int n = g_counter.fetch_add(1);
    std::unique_ptr<NetnsTap> env(new NetnsTap());
    env->options_ = options;
    const std::string name = "tcpip-" + std::to_string(pid) + "-" + std::to_string(n);

    auto step = [](const std::vector<std::string>& argv) -> std::optional<std::string> {
        CommandResult r = run_command(argv);
        if (r.ok()) return std::nullopt;
        return describe(argv, r);
    };
    if (auto err = step({"ip", "netns", "add", name})) return Unexpected(*err);
    // From here on the destructor removes the namespace, whatever fails next.
    env->netns_ = name;
    env->registry_slot_ = register_namespace(name);

    env->ns_fd_.reset(::open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC));
    if (!env->ns_fd_) return Unexpected("open /run/netns/" + name + ": " + std::strerror(errno));

    // 10.x.y.0/24, x and y from the pid and the counter: unique per process and namespace (the
    // namespaces are isolated anyway, but unique addresses keep captures and logs unambiguous).
    const auto x = static_cast<std::uint8_t>(1 + ((pid >> 8) % 254));
    const auto y = static_cast<std::uint8_t>((pid + n) & 0xff);
    env->subnet_base_ = Ipv4Address(10, x, y, 0);

    if (options.disable_ipv6) {
        // Before the TAP exists, so it inherits "default". Best effort: IPv6 may be compiled out.
        (void)env->exec({"sh", "-c",
                         "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; "
                         "echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6"});
    }

    if (options.attach) {
        auto opened = env->inside([&] { return TapDevice::open(options.tap_name, options.mac, options.mtu); });
        if (!opened) return Unexpected("entering namespace " + name + ": " + opened.error());
        if (!*opened) return Unexpected("creating TAP inside " + name + ": " + opened->error().message());
        env->tap_.emplace(std::move(**opened));
    } else {
        std::vector<std::string> add = {"ip", "-n", name, "tuntap", "add", "dev", options.tap_name, "mode", "tap"};
        if (options.multi_queue) add.push_back("multi_queue");
        if (auto err = step(add)) return Unexpected(*err);
    }

    const std::string cidr = env->kernel_address().to_string();
    for (const auto& argv : std::vector<std::vector<std::string>>{
             {"ip", "-n", name, "addr", "add", cidr, "dev", options.tap_name},
             {"ip", "-n", name, "link", "set", options.tap_name, "up"},
             {"ip", "-n", name, "link", "set", "lo", "up"}}) {
        if (auto err = step(argv)) return Unexpected(*err);
    }
    return env;
}

NetnsTap::~NetnsTap() {
    tap_.reset();    // close our end first: nothing holds the TAP any more
    ns_fd_.reset();  // nor the namespace
    if (netns_.empty()) return;
    CommandResult r = run_command({"ip", "netns", "del", netns_});
    if (!r.ok()) {
        std::fprintf(stderr, "warning: `ip netns del %s` failed (%s); removing its mount by hand\n", netns_.c_str(),
                     trim(r.output).c_str());
        const std::string path = "/run/netns/" + netns_;
        ::umount2(path.c_str(), MNT_DETACH);
        ::unlink(path.c_str());
    }
    unregister_namespace(registry_slot_);
}

Result<std::uint64_t, std::string> NetnsTap::kernel_counter(const std::string& name) const {
    std::vector<std::string> argv = {"cat", "/sys/class/net/" + options_.tap_name + "/statistics/" + name};
    CommandResult r = exec(argv);
    if (!r.ok()) return Unexpected(describe(argv, r));
    return static_cast<std::uint64_t>(std::strtoull(r.output.c_str(), nullptr, 10));
}

Result<MacAddress, std::string> NetnsTap::kernel_mac() const {
    std::vector<std::string> argv = {"cat", "/sys/class/net/" + options_.tap_name + "/address"};
    CommandResult r = exec(argv);
    if (!r.ok()) return Unexpected(describe(argv, r));
    auto mac = MacAddress::parse(trim(r.output));
    if (!mac) return Unexpected("cannot parse MAC '" + trim(r.output) + "': " + to_string(mac.error()));
    return *mac;
}

}  // namespace tcpip::interop
