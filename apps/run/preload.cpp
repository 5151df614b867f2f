// libtcpip-preload.so: the shim that tcpip-run puts in LD_PRELOAD. It defines the socket calls of
// libc (socket, connect, recv, poll, epoll_wait, ...) so that a program's internet sockets live on
// our stack, while every other descriptor stays the kernel's. docs/run.md tells the whole story;
// in short:
//
// Start. The constructor below runs before the program's main(). In the process tcpip-run started
// (TCPIP_RUN_PID), it parses the shared app flags tcpip-run passed (TCPIP_RUN_ARGS, the same
// parser as every app), opens the TAP and makes a tcpip::Runtime; the program's first socket call
// starts the stack's thread. In any other process (a program the first one runs) it stays out of
// the way: every call goes to libc.
//
// Descriptors. Our sockets are tcpip's descriptors: numbers of eventfds the runtime holds open,
// so the program's other code never mistakes one for another file, and the kernel never hands the
// number out twice. A table indexed by descriptor (kinds_) says what each number is: the kernel's
// (the default: the call goes straight to libc, one array read), a socket of ours as the program
// sees it (AF_INET or AF_INET6), a duplicate (dup) of one, or an epoll instance of tcpip::epoll.
//
// Calls back into libc. The stack itself calls close, poll, epoll_wait, read and write on its own
// descriptors (the TAP, eventfds); inside a call into tcpip a thread-local flag sends every call
// straight to libc, so the shim never sees its own calls twice.
//
// AF_INET6. A dual-stack socket (bound to :: or an IPv4-mapped address) is an AF_INET socket of
// ours; addresses are translated on the way in and mapped (::ffff:a.b.c.d) on the way out. A pure
// IPv6 destination fails with ENETUNREACH (EADDRNOTAVAIL for bind); IPV6_V6ONLY sockets are handed
// to the kernel, and one line says so (once), with what to do to have them on our stack. 127.0.0.0/8 and ::1 are the kernel's loopback: a socket that binds or connects
// there is handed over to a kernel socket at the same number (the options set so far replayed).
//
// fork. Before fork the stack's thread stops; after it, the first of parent and child to make a
// socket call takes the stack over (an owner pid in a shared page, 0 until someone does, as at
// start) and restarts the thread; the
// other is told so in one line and gets EBADF. A daemon (parent exits, child serves) and a server
// that forks a child for a job without sockets both work.
//
// Exit. At exit, the process that owns the stack closes its sockets as the kernel would (FIN, or
// RST with unread data), gives the connections up to 5 s to deliver what they queued (the kernel
// would keep them past the process's end), and writes the counters to TCPIP_RUN_STATS.
// The shim defines libc's names themselves (fcntl, sendfile), not the 64-bit-offset aliases that
// _FILE_OFFSET_BITS=64 would turn them into; on x86-64 the two are the same functions.
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdarg>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <ios>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "apps/app_common.h"
#include "stack/socket/socket.h"

namespace tcpip::run {
namespace {

// ---------------------------------------------------------------------------------------------
// libc's own functions, and the guard that sends the stack's calls to them

// The next definition of `name` after ours: libc's.
#define TCPIP_REAL(name)                                                                              \
    ([]() {                                                                                           \
        static const auto fn = reinterpret_cast<decltype(&::name)>(dlsym(RTLD_NEXT, #name));          \
        return fn;                                                                                    \
    }())

thread_local bool t_inside = false;  // this thread is inside a call into tcpip: libc for everything

// Marks the calling thread as inside tcpip for the scope (errno is left as the call set it).
struct Inside {
    bool was = t_inside;
    Inside() { t_inside = true; }
    ~Inside() { t_inside = was; }
};

// ---------------------------------------------------------------------------------------------
// What each descriptor number is

enum class Kind : std::uint8_t {
    Kernel = 0,  // not ours: straight to libc
    Socket4,     // a socket of ours the program made as AF_INET
    Socket6,     // a socket of ours the program made as AF_INET6 (addresses mapped)
    Alias,       // a duplicate (dup, dup2, F_DUPFD) of one of ours: State::primary_of says which
    Epoll,       // an epoll instance of tcpip::epoll_create1
    Internal,    // the stack's own (the TAP): close() does not take it from the stack
};

constexpr int kMaxFds = 1 << 20;
std::atomic<std::uint8_t> kinds_[kMaxFds];  // zero-initialized: all Kernel

Kind kind_of(int fd) {
    if (fd < 0 || fd >= kMaxFds) return Kind::Kernel;
    return static_cast<Kind>(kinds_[fd].load(std::memory_order_acquire));
}
void set_kind(int fd, Kind kind) {
    if (fd >= 0 && fd < kMaxFds) kinds_[fd].store(static_cast<std::uint8_t>(kind), std::memory_order_release);
}
bool is_socket(Kind k) { return k == Kind::Socket4 || k == Kind::Socket6 || k == Kind::Alias; }

// What the shim knows about a socket of ours beyond the runtime: enough to recreate it as a kernel
// socket (the loopback hand-over) and to answer for its family.
struct Option {
    int level, name;
    std::vector<char> value;
};
struct SocketInfo {
    int type = SOCK_STREAM;
    bool v6only = false;
    std::vector<Option> options;  // the last value of each option set, in the order first set
};

struct State {
    app::DeviceChain* devices = nullptr;  // never freed: the program may still call in at exit
    app::Tracing* tracing = nullptr;      // --trace, --trace-json, a .pcapng's comments (never freed, as devices)
    Runtime* runtime = nullptr;
    std::string stats_path;
    std::atomic<pid_t>* owner = nullptr;  // in a MAP_SHARED page: which process runs the stack (0: undecided)
    pid_t self = 0;
    bool forked = false;                  // fork() has run in this process (or its parent)
    std::mutex mutex;                     // guards the maps below
    std::unordered_map<int, SocketInfo> info;                // by primary number
    std::unordered_map<int, int> primary_of;                 // alias -> primary
    std::unordered_map<int, std::vector<int>> aliases;       // primary -> its aliases
    std::set<std::string> told;                              // unsupported calls already reported
};
State g;

void say(const std::string& line) {
    const std::string text = "tcpip-run: " + line + "\n";
    [[maybe_unused]] auto n = TCPIP_REAL(write)(2, text.data(), text.size());
}

// One line per unsupported call, the first time; errno EOPNOTSUPP.
int unsupported(const std::string& call, const std::string& why = "is not supported on the user-space stack's sockets") {
    {
        std::lock_guard<std::mutex> lock(g.mutex);
        if (g.told.insert(call).second) say(call + " " + why);
    }
    errno = EOPNOTSUPP;
    return -1;
}

// A socket with IPV6_V6ONLY set is the kernel's: said once, with what to do instead.
void tell_v6only() {
    std::lock_guard<std::mutex> lock(g.mutex);
    if (g.told.insert("v6only").second) {
        say("an AF_INET6 socket with IPV6_V6ONLY set stays the kernel's (the user-space stack has no IPv6); "
            "leave IPV6_V6ONLY off to serve IPv4 on the stack (nginx: listen [::]:PORT ipv6only=off)");
    }
}

// The number the runtime knows a socket by (a duplicate's primary).
int primary(int fd) {
    if (kind_of(fd) != Kind::Alias) return fd;
    std::lock_guard<std::mutex> lock(g.mutex);
    auto it = g.primary_of.find(fd);
    return it == g.primary_of.end() ? fd : it->second;
}
bool is_v6(int fd) { return kind_of(primary(fd)) == Kind::Socket6; }

void start_stack_thread() {
    // The stack's thread takes no signals: they go to the program's threads, as without us.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &previous);
    g.runtime->start_thread();
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

// Takes the stack if no process has it yet (at start, and after a fork); true if this process
// has it now.
bool claim() {
    pid_t owner = g.owner->load();
    if (owner == g.self) return true;
    if (owner == 0 && g.owner->compare_exchange_strong(owner, g.self)) {
        Inside in;
        start_stack_thread();
        return true;
    }
    return g.owner->load() == g.self;
}

// Whether this process runs the stack; after a fork the first caller takes it (see the top).
bool stack_here(const char* call) {
    if (claim()) return true;
    const pid_t owner = g.owner->load();
    {
        std::lock_guard<std::mutex> lock(g.mutex);
        if (g.told.insert("fork").second) {
            say(std::string(call) + " in process " + std::to_string(g.self) + ": the stack's sockets moved to process " +
                std::to_string(owner) + " after fork(); one process uses them");
        }
    }
    errno = EBADF;
    return false;
}

// ---------------------------------------------------------------------------------------------
// Addresses: the program's (AF_INET or AF_INET6) and the stack's (AF_INET)

enum class Route { Stack, Loopback, Fail };
struct Translated {
    Route route = Route::Stack;
    sockaddr_in sin{};
    const sockaddr* given = nullptr;  // the program's address, when it goes to tcpip as it is
    socklen_t given_len = 0;
    bool mapped = false;              // an AF_INET6 address, translated into `sin`
    int error = 0;
    // What to hand to tcpip.
    const sockaddr* addr() const { return mapped ? reinterpret_cast<const sockaddr*>(&sin) : given; }
    socklen_t len() const { return mapped ? sizeof sin : given_len; }
};
Translated failed(int error) {
    Translated t;
    t.route = Route::Fail;
    t.error = error;
    return t;
}

// `pure_v6_error`: what a pure IPv6 address gets (ENETUNREACH to connect to, EADDRNOTAVAIL to bind).
Translated translate(bool v6, const sockaddr* addr, socklen_t len, int pure_v6_error) {
    Translated t;
    t.given = addr;
    t.given_len = len;
    if (addr == nullptr) return t;  // tcpip says EFAULT
    if (!v6) {
        if (addr->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
            std::memcpy(&t.sin, addr, sizeof t.sin);
            if ((ntohl(t.sin.sin_addr.s_addr) >> 24) == 127) t.route = Route::Loopback;
        }
        return t;  // anything else: tcpip checks it as Linux would
    }
    if (addr->sa_family == AF_UNSPEC) return t;
    if (len < sizeof(sockaddr_in6)) return failed(EINVAL);
    if (addr->sa_family != AF_INET6) return failed(EAFNOSUPPORT);
    sockaddr_in6 six;
    std::memcpy(&six, addr, sizeof six);
    t.sin.sin_family = AF_INET;
    t.sin.sin_port = six.sin6_port;
    if (IN6_IS_ADDR_LOOPBACK(&six.sin6_addr)) {
        t.route = Route::Loopback;
    } else if (IN6_IS_ADDR_V4MAPPED(&six.sin6_addr)) {
        std::memcpy(&t.sin.sin_addr, &six.sin6_addr.s6_addr[12], 4);
        if ((ntohl(t.sin.sin_addr.s_addr) >> 24) == 127) t.route = Route::Loopback;
    } else if (!IN6_IS_ADDR_UNSPECIFIED(&six.sin6_addr)) {
        return failed(pure_v6_error);
    }
    t.mapped = true;
    return t;
}

// Writes the stack's address into the program's buffer, mapped for an AF_INET6 socket (0.0.0.0
// becomes ::), truncated to the buffer as the kernel's move_addr_to_user does.
void give_address(bool v6, const sockaddr_in& sin, sockaddr* addr, socklen_t* len) {
    if (addr == nullptr || len == nullptr) return;
    if (!v6) {
        std::memcpy(addr, &sin, std::min<std::size_t>(*len, sizeof sin));
        *len = sizeof sin;
        return;
    }
    sockaddr_in6 six{};
    six.sin6_family = AF_INET6;
    six.sin6_port = sin.sin_port;
    if (sin.sin_addr.s_addr != 0) {
        six.sin6_addr.s6_addr[10] = 0xff;
        six.sin6_addr.s6_addr[11] = 0xff;
        std::memcpy(&six.sin6_addr.s6_addr[12], &sin.sin_addr, 4);
    }
    std::memcpy(addr, &six, std::min<std::size_t>(*len, sizeof six));
    *len = sizeof six;
}

// ---------------------------------------------------------------------------------------------
// Descriptor bookkeeping

void adopt(int fd, Kind kind, SocketInfo info) {
    std::lock_guard<std::mutex> lock(g.mutex);
    g.info[fd] = std::move(info);
    set_kind(fd, kind);
}

// Number `fd` stops being ours without being closed (close() closes it next, dup2() replaces it).
// A socket with duplicates lives on under one of them.
void release_number(int fd) {
    const Kind kind = kind_of(fd);
    std::unique_lock<std::mutex> lock(g.mutex);
    if (kind == Kind::Alias) {
        auto it = g.primary_of.find(fd);
        if (it != g.primary_of.end()) {
            std::erase(g.aliases[it->second], fd);
            g.primary_of.erase(it);
        }
        set_kind(fd, Kind::Kernel);
        return;
    }
    if (kind == Kind::Epoll) {
        set_kind(fd, Kind::Kernel);
        return;
    }
    auto group = g.aliases.find(fd);
    if (group != g.aliases.end() && !group->second.empty()) {
        std::vector<int> rest = std::move(group->second);
        g.aliases.erase(group);
        const int heir = rest.back();
        rest.pop_back();
        {
            Inside in;
            g.runtime->renumber(fd, heir);
        }
        g.info[heir] = std::move(g.info[fd]);
        g.info.erase(fd);
        g.primary_of.erase(heir);
        for (int alias : rest) g.primary_of[alias] = heir;
        if (!rest.empty()) g.aliases[heir] = std::move(rest);
        set_kind(heir, kind);
        set_kind(fd, Kind::Kernel);
        return;
    }
    g.aliases.erase(fd);
    g.info.erase(fd);
    set_kind(fd, Kind::Kernel);
    lock.unlock();
    Inside in;
    g.runtime->detach(fd);
}

// `copy` is a kernel duplicate of `fd`'s eventfd: make it name the same socket.
void make_alias(int fd, int copy) {
    if (copy < 0) return;
    const int p = primary(fd);
    std::lock_guard<std::mutex> lock(g.mutex);
    g.primary_of[copy] = p;
    g.aliases[p].push_back(copy);
    set_kind(copy, Kind::Alias);
}

// A socket of ours whose program binds or connects to loopback becomes a kernel socket at the
// same number: the options set so far are replayed on it, and dup3 puts it in place without a
// moment in which the number is free. Sockets with duplicates are not handed over.
int hand_over(int fd) {
    SocketInfo info;
    const bool v6 = is_v6(fd);
    {
        std::lock_guard<std::mutex> lock(g.mutex);
        if (kind_of(fd) != Kind::Socket4 && kind_of(fd) != Kind::Socket6) return unsupported("loopback on a dup()ed socket");
        if (auto it = g.aliases.find(fd); it != g.aliases.end() && !it->second.empty()) {
            return unsupported("loopback on a dup()ed socket");
        }
        info = g.info[fd];
    }
    int flags = 0;
    {
        Inside in;
        flags = tcpip::fcntl(fd, F_GETFL);
    }
    const int cloexec = TCPIP_REAL(fcntl)(fd, F_GETFD) & FD_CLOEXEC;
    const int kernel = TCPIP_REAL(socket)(v6 ? AF_INET6 : AF_INET, info.type | SOCK_CLOEXEC, 0);
    if (kernel < 0) return -1;
    for (const Option& o : info.options) {
        TCPIP_REAL(setsockopt)(kernel, o.level, o.name, o.value.data(), static_cast<socklen_t>(o.value.size()));
    }
    if (flags >= 0 && (flags & O_NONBLOCK)) TCPIP_REAL(fcntl)(kernel, F_SETFL, O_NONBLOCK);
    release_number(fd);
    const int r = TCPIP_REAL(dup3)(kernel, fd, cloexec ? O_CLOEXEC : 0);
    const int error = errno;
    TCPIP_REAL(close)(kernel);
    errno = error;
    return r < 0 ? -1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Start and exit

void write_stats() {
    if (g.stats_path.empty()) return;
    std::ofstream out(g.stats_path);
    g.runtime->with_stack([&](Stack& stack) {
        stack.print_stats(out);
        tcpip::print_stats(out, "tap", g.devices->tap().stats());
        return 0;
    });
    if (!out) say("cannot write the counters to " + g.stats_path);
}

void at_exit() {
    if (g.runtime == nullptr) return;
    Inside in;
    if (g.owner->load() == 0 && !g.forked) {  // the program never used a socket
        write_stats();
        return;
    }
    if (g.owner->load() != g.self) return;  // another process runs the stack
    std::vector<int> open;
    {
        std::lock_guard<std::mutex> lock(g.mutex);
        for (auto& [fd, info] : g.info) open.push_back(fd);
    }
    for (int fd : open) g.runtime->detach(fd);  // as the kernel closes a process's files
    // The kernel keeps delivering what an exited process queued (a closed connection's data and
    // FIN, a datagram waiting for ARP); so do we, for a while.
    const Instant until = Runtime::system_clock().now() + Duration::seconds(5);
    while (Runtime::system_clock().now() < until &&
           g.runtime->with_stack([](Stack& s) { return s.tcp().orphan_count() + s.arp().pending_packets(); }) > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    write_stats();
    g.runtime->stop_thread();
    g.tracing->flush();
}

void before_fork() {
    if (g.runtime == nullptr) return;
    g.mutex.lock();
    g.forked = true;
    if (g.owner->load() == g.self) {
        Inside in;
        g.runtime->before_fork();
        g.owner->store(0);  // undecided: the first of the two to call in takes the stack
    } else {
        Inside in;
        g.runtime->before_fork();
    }
}
void after_fork_parent() {
    if (g.runtime == nullptr) return;
    g.runtime->after_fork();
    g.mutex.unlock();
}
void after_fork_child() {
    if (g.runtime == nullptr) return;
    g.self = getpid();
    g.runtime->after_fork();
    g.mutex.unlock();
}

std::vector<std::string> split(const std::string& text, char separator) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t end = text.find(separator, start);
        parts.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return parts;
}

void start() {
    const char* pid = std::getenv("TCPIP_RUN_PID");
    if (pid == nullptr || std::atol(pid) != static_cast<long>(getpid())) return;  // not the process tcpip-run started
    Inside in;
    std::vector<std::string> words = {"tcpip-run"};
    if (const char* args = std::getenv("TCPIP_RUN_ARGS"); args != nullptr && *args != '\0') {
        for (auto& w : split(args, '\x1f')) words.push_back(w);
    }
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    app::Args parser("tcpip-run", "[shared options] [--stats FILE] -- PROGRAM [ARGS...]");
    app::CommonOptions options = parser.parse(static_cast<int>(words.size()), argv.data());
    // The program's standard output is its own: --trace writes to stderr, and the seed is said
    // there only when asked for (--seed, a trace or a capture), as tcpip-nc does.
    options.stdout_is_data = true;
    if (const char* stats = std::getenv("TCPIP_RUN_STATS")) g.stats_path = stats;

    g.tracing = new app::Tracing("tcpip-run", options);
    g.devices = new app::DeviceChain("tcpip-run", options);  // prints why and exits if the TAP fails
    g.tracing->comment(g.devices->pcap());
    StackConfig config = options.stack;
    config.tracer = g.tracing->tracer();
    g.runtime = new Runtime(g.devices->device(), InterfaceConfig{options.ip, options.gateway}, config,
                            app::stack_seed("tcpip-run", options));
    Runtime::set_default(g.runtime);
    set_kind(g.devices->device().wait_fd(), Kind::Internal);
    void* page = mmap(nullptr, sizeof(std::atomic<pid_t>), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) {
        say("cannot map the shared owner page");
        std::exit(1);
    }
    g.self = getpid();
    // No process runs the stack yet: the first socket call starts its thread (stack_here). A
    // program's own start-up (setlocale, its libraries' constructors) runs before any thread of
    // ours exists, and a program that never opens a socket never gets one.
    g.owner = new (page) std::atomic<pid_t>(0);
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
    std::atexit(at_exit);
}

// start() may write to std::cerr (the seed's line with --seed, --trace or --pcap; the trace), and
// with g++ 12's libstdc++ std::cerr exists once the first std::ios_base::Init has been made: in a
// program without C++ streams of its own (curl, true), possibly not yet when start() runs, and
// writing to it then crashes. This one is made first, being defined before the starter.
std::ios_base::Init iostreams;

// The shim starts when the library's globals are made, after `g` above (in the order of
// definition), before the program's main().
struct Starter {
    Starter() { start(); }
} starter;

// Timeouts of the p* calls, in poll's milliseconds (rounded up; null: forever).
int millis(const timespec* ts) {
    if (ts == nullptr) return -1;
    const long long ms = static_cast<long long>(ts->tv_sec) * 1000 + (ts->tv_nsec + 999999) / 1000000;
    return static_cast<int>(std::min<long long>(ms, INT_MAX));
}

// The waits on our sockets take signals as the kernel's do: a signal that comes at any moment of
// the call ends it with EINTR. Every signal is blocked while the call works in user space, and each
// of its waits in the kernel sleeps with `mask` (ppoll's, pselect's, epoll_pwait's), or the
// program's own mask, set and restored atomically by the kernel's ppoll and epoll_pwait
// (Runtime::poll, select, epoll_wait take it): a signal that came while the call was working is
// taken there, and ends the wait at once. A program that sets a flag in its handler and tests it
// before waiting (nginx, told to stop) otherwise slept through a signal that came between its test
// and the kernel's wait, a window the stack's work in the call widens. `call` is given the mask
// to sleep with.
template <class F>
int with_signals_at_the_wait(const sigset_t* mask, F&& call) {
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &previous);
    const int result = call(mask != nullptr ? mask : &previous);
    const int error = errno;
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);  // a signal still pending runs its handler here
    errno = error;
    return result;
}

bool any_ours(const pollfd* fds, nfds_t n) {
    for (nfds_t i = 0; i < n; ++i) {
        if (kind_of(fds[i].fd) != Kind::Kernel) return true;
    }
    return false;
}

// poll over our sockets (duplicates named by their primary) and the kernel's, asleep with `mask`
// (with_signals_at_the_wait).
int poll_ours(pollfd* fds, nfds_t n, int timeout_ms, const sigset_t* mask) {
    if (!stack_here("poll()")) return -1;
    thread_local std::vector<pollfd> copy;
    copy.assign(fds, fds + n);
    for (auto& p : copy) p.fd = primary(p.fd);
    Inside in;
    const int r = Runtime::poll(copy.data(), n, timeout_ms, mask);
    for (nfds_t i = 0; i < n; ++i) fds[i].revents = copy[i].revents;
    return r;
}

bool any_ours(int nfds, const fd_set* r, const fd_set* w, const fd_set* e) {
    nfds = std::min(nfds, FD_SETSIZE);
    for (int fd = 0; fd < nfds; ++fd) {
        if ((r && FD_ISSET(fd, r)) || (w && FD_ISSET(fd, w)) || (e && FD_ISSET(fd, e))) {
            if (kind_of(fd) != Kind::Kernel) return true;
        }
    }
    return false;
}

// select over our sockets and the kernel's. tcpip::select knows a socket by its primary number, as
// poll_ours does: a duplicate in a set is asked for under its primary and answered under its own.
int select_ours(int nfds, fd_set* r, fd_set* w, fd_set* e, timeval* timeout, const sigset_t* mask) {
    nfds = std::clamp(nfds, 0, FD_SETSIZE);
    fd_set* given[3] = {r, w, e};
    bool aliased = false;
    for (int fd = 0; fd < nfds && !aliased; ++fd) {
        if (kind_of(fd) != Kind::Alias) continue;
        for (fd_set* set : given) aliased = aliased || (set != nullptr && FD_ISSET(fd, set));
    }
    if (!aliased) {
        Inside in;
        return Runtime::select(nfds, r, w, e, timeout, mask);
    }
    fd_set asked[3];
    int width = nfds;
    for (int i = 0; i < 3; ++i) {
        FD_ZERO(&asked[i]);
        if (given[i] == nullptr) continue;
        for (int fd = 0; fd < nfds; ++fd) {
            if (!FD_ISSET(fd, given[i])) continue;
            const int p = primary(fd);
            if (p >= FD_SETSIZE) {
                errno = EINVAL;  // a duplicate of a socket numbered past what an fd_set holds
                return -1;
            }
            FD_SET(p, &asked[i]);
            width = std::max(width, p + 1);
        }
    }
    int n;
    {
        Inside in;
        n = Runtime::select(width, given[0] ? &asked[0] : nullptr, given[1] ? &asked[1] : nullptr,
                            given[2] ? &asked[2] : nullptr, timeout, mask);
    }
    if (n <= 0) return n;
    int ready = 0;
    for (int i = 0; i < 3; ++i) {
        if (given[i] == nullptr) continue;
        for (int fd = 0; fd < nfds; ++fd) {
            if (!FD_ISSET(fd, given[i])) continue;
            if (FD_ISSET(primary(fd), &asked[i])) ++ready;
            else FD_CLR(fd, given[i]);
        }
    }
    return ready;
}

// Scatter/gather for readv/writev/recvmsg/sendmsg: the stack's calls take one buffer.
std::size_t total_length(const iovec* iov, int count) {
    std::size_t total = 0;
    for (int i = 0; i < count; ++i) total += iov[i].iov_len;
    return total;
}
thread_local std::vector<char> t_buffer;

int type_of(int primary_fd) {
    std::lock_guard<std::mutex> lock(g.mutex);
    auto it = g.info.find(primary_fd);
    return it == g.info.end() ? SOCK_STREAM : it->second.type;
}

ssize_t send_vector(int fd, const iovec* iov, int count, int flags, const sockaddr* to, socklen_t to_len) {
    const int p = primary(fd);
    const std::size_t total = total_length(iov, count);
    const int type = type_of(p);
    Inside in;
    if (count == 1) return tcpip::sendto(p, iov[0].iov_base, iov[0].iov_len, flags, to, to_len);
    // A datagram is one send; so is a stream write of up to 64 KiB (one copy, fewer segments).
    if (type == SOCK_DGRAM || total <= 65536) {
        t_buffer.resize(total);
        std::size_t at = 0;
        for (int i = 0; i < count; ++i) {
            if (iov[i].iov_len > 0) std::memcpy(t_buffer.data() + at, iov[i].iov_base, iov[i].iov_len);
            at += iov[i].iov_len;
        }
        return tcpip::sendto(p, t_buffer.data(), total, flags, to, to_len);
    }
    ssize_t sent = 0;
    for (int i = 0; i < count; ++i) {
        if (iov[i].iov_len == 0) continue;
        const ssize_t n = tcpip::send(p, iov[i].iov_base, iov[i].iov_len, flags);
        if (n < 0) return sent > 0 ? sent : -1;
        sent += n;
        if (static_cast<std::size_t>(n) < iov[i].iov_len) break;
    }
    return sent;
}

ssize_t recv_vector(int fd, const iovec* iov, int count, int flags, sockaddr* from, socklen_t* from_len, int* msg_flags) {
    const int p = primary(fd);
    const bool v6 = is_v6(fd);
    const std::size_t total = total_length(iov, count);
    // A datagram's full length tells recvmsg whether it was cut (MSG_TRUNC in msg_flags).
    const int asked = type_of(p) == SOCK_DGRAM ? flags | MSG_TRUNC : flags;
    sockaddr_in sin{};
    socklen_t sin_len = sizeof sin;
    ssize_t n;
    {
        Inside in;
        if (count == 1) {
            n = tcpip::recvfrom(p, iov[0].iov_base, iov[0].iov_len, asked, reinterpret_cast<sockaddr*>(&sin), &sin_len);
        } else {
            t_buffer.resize(total);
            n = tcpip::recvfrom(p, t_buffer.data(), total, asked, reinterpret_cast<sockaddr*>(&sin), &sin_len);
            std::size_t left = n > 0 ? std::min<std::size_t>(static_cast<std::size_t>(n), total) : 0, at = 0;
            for (int i = 0; i < count && left > 0; ++i) {
                const std::size_t part = std::min(left, iov[i].iov_len);
                std::memcpy(iov[i].iov_base, t_buffer.data() + at, part);
                at += part;
                left -= part;
            }
        }
    }
    if (n < 0) return n;
    if (msg_flags != nullptr) *msg_flags = static_cast<std::size_t>(n) > total ? MSG_TRUNC : 0;
    if (from != nullptr && from_len != nullptr) {
        if (sin_len == 0) *from_len = 0;  // a stream socket names no source
        else give_address(v6, sin, from, from_len);
    }
    // MSG_TRUNC on a datagram socket: the full length was asked for by the shim, not the program.
    if (!(flags & MSG_TRUNC) && static_cast<std::size_t>(n) > total) n = static_cast<ssize_t>(total);
    return n;
}

}  // namespace
}  // namespace tcpip::run

using namespace tcpip::run;
namespace tr = tcpip::run;

// ---------------------------------------------------------------------------------------------
// The calls: each goes to libc unless its descriptor is ours

extern "C" {

int socket(int domain, int type, int protocol) {
    const int base = type & 0xf;
    const bool inet = domain == AF_INET || domain == AF_INET6;
    const bool ours_type = (base == SOCK_STREAM && (protocol == 0 || protocol == IPPROTO_TCP)) ||
                           (base == SOCK_DGRAM && (protocol == 0 || protocol == IPPROTO_UDP));
    if (t_inside || tr::g.runtime == nullptr || !inet || !ours_type) return TCPIP_REAL(socket)(domain, type, protocol);
    if (!stack_here("socket()")) return -1;
    int fd;
    {
        Inside in;
        fd = tcpip::socket(AF_INET, type, protocol);
    }
    if (fd < 0) return -1;
    if (fd >= kMaxFds) {
        Inside in;
        tcpip::close(fd);
        errno = EMFILE;
        return -1;
    }
    SocketInfo info;
    info.type = base;
    adopt(fd, domain == AF_INET6 ? Kind::Socket6 : Kind::Socket4, std::move(info));
    return fd;
}

int bind(int fd, const sockaddr* addr, socklen_t len) {
    if (t_inside || !is_socket(kind_of(fd))) return TCPIP_REAL(bind)(fd, addr, len);
    if (!stack_here("bind()")) return -1;
    bool v6only = false;
    {
        std::lock_guard<std::mutex> lock(tr::g.mutex);
        v6only = tr::g.info[primary(fd)].v6only;
    }
    Translated t = translate(is_v6(fd), addr, len, EADDRNOTAVAIL);
    if (v6only || t.route == Route::Loopback) {
        if (v6only && t.route != Route::Loopback) tell_v6only();
        if (hand_over(fd) < 0) return -1;
        return TCPIP_REAL(bind)(fd, addr, len);
    }
    if (t.route == Route::Fail) {
        errno = t.error;
        return -1;
    }
    Inside in;
    return tcpip::bind(primary(fd), t.addr(), t.len());
}

int connect(int fd, const sockaddr* addr, socklen_t len) {
    if (t_inside || !is_socket(kind_of(fd))) return TCPIP_REAL(connect)(fd, addr, len);
    if (!stack_here("connect()")) return -1;
    Translated t = translate(is_v6(fd), addr, len, ENETUNREACH);
    bool v6only = false;
    {
        std::lock_guard<std::mutex> lock(tr::g.mutex);
        v6only = tr::g.info[primary(fd)].v6only;
    }
    if (t.route == Route::Loopback || (v6only && t.route != Route::Fail)) {
        if (t.route != Route::Loopback) tell_v6only();
        if (hand_over(fd) < 0) return -1;
        return TCPIP_REAL(connect)(fd, addr, len);
    }
    if (t.route == Route::Fail) {
        errno = t.error;
        return -1;
    }
    Inside in;
    return tcpip::connect(primary(fd), t.addr(), t.len());
}

int listen(int fd, int backlog) {
    if (t_inside || !is_socket(kind_of(fd))) return TCPIP_REAL(listen)(fd, backlog);
    if (!stack_here("listen()")) return -1;
    Inside in;
    return tcpip::listen(primary(fd), backlog);
}

int accept4(int fd, sockaddr* addr, socklen_t* len, int flags) {
    if (t_inside || !is_socket(kind_of(fd))) return TCPIP_REAL(accept4)(fd, addr, len, flags);
    if (!stack_here("accept()")) return -1;
    if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) {
        errno = EINVAL;
        return -1;
    }
    const int p = primary(fd);
    const bool v6 = is_v6(fd);
    sockaddr_in sin{};
    socklen_t sin_len = sizeof sin;
    int child;
    {
        Inside in;
        child = tcpip::accept(p, reinterpret_cast<sockaddr*>(&sin), &sin_len);
        if (child < 0) return -1;
        if (flags & SOCK_NONBLOCK) tcpip::fcntl(child, F_SETFL, O_NONBLOCK);
        if (!(flags & SOCK_CLOEXEC)) TCPIP_REAL(fcntl)(child, F_SETFD, 0);
    }
    SocketInfo info;
    info.type = SOCK_STREAM;
    adopt(child, v6 ? Kind::Socket6 : Kind::Socket4, std::move(info));
    give_address(v6, sin, addr, len);
    return child;
}

int accept(int fd, sockaddr* addr, socklen_t* len) {
    if (t_inside || !is_socket(kind_of(fd))) return TCPIP_REAL(accept)(fd, addr, len);
    return accept4(fd, addr, len, 0);
}

int shutdown(int fd, int how) {
    if (t_inside || !is_socket(kind_of(fd))) return TCPIP_REAL(shutdown)(fd, how);
    if (!stack_here("shutdown()")) return -1;
    Inside in;
    return tcpip::shutdown(primary(fd), how);
}

int close(int fd) {
    const Kind kind = kind_of(fd);
    if (t_inside || kind == Kind::Kernel) return TCPIP_REAL(close)(fd);
    if (kind == Kind::Internal) return 0;  // the stack's TAP: it stays open while the stack runs
    if (kind == Kind::Epoll) {
        set_kind(fd, Kind::Kernel);
        Inside in;
        return tcpip::close(fd);
    }
    // In a process that does not run the stack (after fork), only the descriptor goes.
    if (claim()) {
        release_number(fd);
    } else {
        std::lock_guard<std::mutex> lock(tr::g.mutex);
        set_kind(fd, Kind::Kernel);
    }
    return TCPIP_REAL(close)(fd);
}

int dup(int fd) {
    if (t_inside || !is_socket(kind_of(fd))) return TCPIP_REAL(dup)(fd);
    const int copy = TCPIP_REAL(dup)(fd);
    make_alias(fd, copy);
    return copy;
}

int dup3(int fd, int target, int flags) {
    if (t_inside || (kind_of(fd) == Kind::Kernel && kind_of(target) == Kind::Kernel)) {
        return TCPIP_REAL(dup3)(fd, target, flags);
    }
    if (fd == target) {
        errno = EINVAL;
        return -1;
    }
    if (kind_of(fd) == Kind::Epoll) return unsupported("dup() of an epoll instance");
    if (TCPIP_REAL(fcntl)(fd, F_GETFD) < 0) return -1;  // EBADF, and `target` untouched
    const Kind old = kind_of(target);
    if (old == Kind::Internal) return unsupported("dup2() over the stack's TAP descriptor");
    if (old == Kind::Epoll) {
        set_kind(target, Kind::Kernel);
        Inside in;
        tcpip::close(target);
    } else if (is_socket(old)) {
        release_number(target);
    }
    const int r = TCPIP_REAL(dup3)(fd, target, flags);
    if (r >= 0 && is_socket(kind_of(fd))) make_alias(fd, r);
    return r;
}

int dup2(int fd, int target) {
    if (t_inside || (kind_of(fd) == Kind::Kernel && kind_of(target) == Kind::Kernel)) return TCPIP_REAL(dup2)(fd, target);
    if (fd == target) return TCPIP_REAL(fcntl)(fd, F_GETFD) < 0 ? -1 : fd;
    return dup3(fd, target, 0);
}

static int fcntl_common(int fd, int cmd, void* arg, decltype(&::fcntl) real) {
    if (t_inside || !is_socket(kind_of(fd))) return real(fd, cmd, arg);
    switch (cmd) {
        case F_GETFL:
        case F_SETFL: {
            if (!stack_here("fcntl()")) return -1;
            Inside in;
            return tcpip::fcntl(primary(fd), cmd, arg);
        }
        case F_DUPFD:
        case F_DUPFD_CLOEXEC: {
            const int copy = real(fd, cmd, arg);
            make_alias(fd, copy);
            return copy;
        }
        default: return real(fd, cmd, arg);  // F_GETFD, F_SETFD, F_SETOWN...: on the eventfd
    }
}

int fcntl(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    void* arg = va_arg(ap, void*);
    va_end(ap);
    return fcntl_common(fd, cmd, arg, TCPIP_REAL(fcntl));
}

int fcntl64(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    void* arg = va_arg(ap, void*);
    va_end(ap);
    static const auto real = reinterpret_cast<decltype(&::fcntl)>(dlsym(RTLD_NEXT, "fcntl64"));
    return fcntl_common(fd, cmd, arg, real ? real : TCPIP_REAL(fcntl));
}

int ioctl(int fd, unsigned long request, ...) {
    va_list ap;
    va_start(ap, request);
    void* arg = va_arg(ap, void*);
    va_end(ap);
    if (t_inside || !is_socket(kind_of(fd))) return TCPIP_REAL(ioctl)(fd, request, arg);
    if (request == FIOCLEX || request == FIONCLEX) return TCPIP_REAL(ioctl)(fd, request, arg);
    if (request != FIONREAD && request != FIONBIO) {
        char name[64];
        std::snprintf(name, sizeof name, "ioctl(0x%lx)", request);
        return unsupported(name);
    }
    if (!stack_here("ioctl()")) return -1;
    Inside in;
    return tr::g.runtime->ioctl(primary(fd), request, arg);
}

int setsockopt(int fd, int level, int name, const void* value, socklen_t len) {
    if (t_inside || !is_socket(kind_of(fd))) return TCPIP_REAL(setsockopt)(fd, level, name, value, len);
    if (!stack_here("setsockopt()")) return -1;
    const int p = primary(fd);
    int r;
    if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY && is_v6(fd)) {
        // Kept: a v6-only socket is handed to the kernel when it binds or connects (we have no IPv6).
        if (value == nullptr || len < sizeof(int)) {
            errno = len < sizeof(int) ? EINVAL : EFAULT;
            return -1;
        }
        int on = 0;
        std::memcpy(&on, value, sizeof on);
        std::lock_guard<std::mutex> lock(tr::g.mutex);
        tr::g.info[p].v6only = on != 0;
        r = 0;
    } else {
        Inside in;
        r = tcpip::setsockopt(p, level, name, value, len);
    }
    if (r == 0 && value != nullptr) {
        std::lock_guard<std::mutex> lock(tr::g.mutex);
        const char* bytes = static_cast<const char*>(value);
        auto& options = tr::g.info[p].options;
        auto same = std::find_if(options.begin(), options.end(), [&](const Option& o) { return o.level == level && o.name == name; });
        if (same != options.end()) same->value.assign(bytes, bytes + len);
        else options.push_back({level, name, std::vector<char>(bytes, bytes + len)});
    }
    return r;
}

int getsockopt(int fd, int level, int name, void* value, socklen_t* len) {
    if (t_inside || !is_socket(kind_of(fd))) return TCPIP_REAL(getsockopt)(fd, level, name, value, len);
    if (!stack_here("getsockopt()")) return -1;
    const int p = primary(fd);
    auto answer = [&](int v) {
        if (len == nullptr || value == nullptr) {
            errno = EFAULT;
            return -1;
        }
        const socklen_t n = std::min<socklen_t>(*len, sizeof v);
        std::memcpy(value, &v, n);
        *len = n;
        return 0;
    };
    if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY && is_v6(fd)) {
        std::lock_guard<std::mutex> lock(tr::g.mutex);
        return answer(tr::g.info[p].v6only ? 1 : 0);
    }
    if (level == SOL_SOCKET && name == SO_DOMAIN) return answer(is_v6(fd) ? AF_INET6 : AF_INET);
    if (level == SOL_SOCKET && name == SO_PROTOCOL) {
        std::lock_guard<std::mutex> lock(tr::g.mutex);
        return answer(tr::g.info[p].type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP);
    }
    Inside in;
    return tcpip::getsockopt(p, level, name, value, len);
}

int getsockname(int fd, sockaddr* addr, socklen_t* len) {
    if (t_inside || !is_socket(kind_of(fd))) return TCPIP_REAL(getsockname)(fd, addr, len);
    if (!stack_here("getsockname()")) return -1;
    sockaddr_in sin{};
    socklen_t sin_len = sizeof sin;
    {
        Inside in;
        if (tcpip::getsockname(primary(fd), reinterpret_cast<sockaddr*>(&sin), &sin_len) < 0) return -1;
    }
    if (addr == nullptr || len == nullptr) {
        errno = EFAULT;
        return -1;
    }
    give_address(is_v6(fd), sin, addr, len);
    return 0;
}

int getpeername(int fd, sockaddr* addr, socklen_t* len) {
    if (t_inside || !is_socket(kind_of(fd))) return TCPIP_REAL(getpeername)(fd, addr, len);
    if (!stack_here("getpeername()")) return -1;
    sockaddr_in sin{};
    socklen_t sin_len = sizeof sin;
    {
        Inside in;
        if (tcpip::getpeername(primary(fd), reinterpret_cast<sockaddr*>(&sin), &sin_len) < 0) return -1;
    }
    if (addr == nullptr || len == nullptr) {
        errno = EFAULT;
        return -1;
    }
    give_address(is_v6(fd), sin, addr, len);
    return 0;
}

// ---- Data ----

ssize_t sendto(int fd, const void* buf, size_t len, int flags, const sockaddr* addr, socklen_t addr_len) {
    if (t_inside || !is_socket(kind_of(fd))) return TCPIP_REAL(sendto)(fd, buf, len, flags, addr, addr_len);
    if (!stack_here("sendto()")) return -1;
    Translated t = translate(is_v6(fd), addr, addr_len, ENETUNREACH);
    if (addr != nullptr && t.route == Route::Loopback) {
        if (hand_over(fd) < 0) return -1;
        return TCPIP_REAL(sendto)(fd, buf, len, flags, addr, addr_len);
    }
    if (t.route == Route::Fail) {
        errno = t.error;
        return -1;
    }
    Inside in;
    return tcpip::sendto(primary(fd), buf, len, flags, t.addr(), t.len());
}

ssize_t send(int fd, const void* buf, size_t len, int flags) {
    if (t_inside || !is_socket(kind_of(fd))) return TCPIP_REAL(send)(fd, buf, len, flags);
    if (!stack_here("send()")) return -1;
    Inside in;
    return tcpip::send(primary(fd), buf, len, flags);
}

ssize_t write(int fd, const void* buf, size_t len) {
    if (t_inside || !is_socket(kind_of(fd))) return TCPIP_REAL(write)(fd, buf, len);
    if (!stack_here("write()")) return -1;
    Inside in;
    return tcpip::send(primary(fd), buf, len, 0);
}

ssize_t writev(int fd, const iovec* iov, int count) {
    if (t_inside || !is_socket(kind_of(fd))) return TCPIP_REAL(writev)(fd, iov, count);
    if (!stack_here("writev()")) return -1;
    if (count < 0 || count > IOV_MAX) {
        errno = EINVAL;
        return -1;
    }
    return send_vector(fd, iov, count, 0, nullptr, 0);
}

ssize_t sendmsg(int fd, const msghdr* msg, int flags) {
    if (t_inside || !is_socket(kind_of(fd))) return TCPIP_REAL(sendmsg)(fd, msg, flags);
    if (!stack_here("sendmsg()")) return -1;
    if (msg == nullptr) {
        errno = EFAULT;
        return -1;
    }
    if (msg->msg_controllen > 0) unsupported("sendmsg() with control messages", "ignores them (none is supported)");
    Translated t = translate(is_v6(fd), static_cast<const sockaddr*>(msg->msg_name), msg->msg_namelen, ENETUNREACH);
    if (t.route == Route::Fail) {
        errno = t.error;
        return -1;
    }
    if (msg->msg_name != nullptr && t.route == Route::Loopback) {
        if (hand_over(fd) < 0) return -1;
        return TCPIP_REAL(sendmsg)(fd, msg, flags);
    }
    return send_vector(fd, msg->msg_iov, static_cast<int>(msg->msg_iovlen), flags, t.addr(), t.len());
}

ssize_t recvfrom(int fd, void* buf, size_t len, int flags, sockaddr* addr, socklen_t* addr_len) {
    if (t_inside || !is_socket(kind_of(fd))) return TCPIP_REAL(recvfrom)(fd, buf, len, flags, addr, addr_len);
    if (!stack_here("recvfrom()")) return -1;
    if (addr == nullptr) {
        Inside in;
        return tcpip::recvfrom(primary(fd), buf, len, flags, nullptr, nullptr);
    }
    iovec one{buf, len};
    return recv_vector(fd, &one, 1, flags, addr, addr_len, nullptr);
}

ssize_t recv(int fd, void* buf, size_t len, int flags) {
    if (t_inside || !is_socket(kind_of(fd))) return TCPIP_REAL(recv)(fd, buf, len, flags);
    if (!stack_here("recv()")) return -1;
    Inside in;
    return tcpip::recv(primary(fd), buf, len, flags);
}

ssize_t read(int fd, void* buf, size_t len) {
    if (t_inside || !is_socket(kind_of(fd))) return TCPIP_REAL(read)(fd, buf, len);
    if (!stack_here("read()")) return -1;
    Inside in;
    return tcpip::recv(primary(fd), buf, len, 0);
}

ssize_t readv(int fd, const iovec* iov, int count) {
    if (t_inside || !is_socket(kind_of(fd))) return TCPIP_REAL(readv)(fd, iov, count);
    if (!stack_here("readv()")) return -1;
    if (count < 0 || count > IOV_MAX) {
        errno = EINVAL;
        return -1;
    }
    return recv_vector(fd, iov, count, 0, nullptr, nullptr, nullptr);
}

ssize_t recvmsg(int fd, msghdr* msg, int flags) {
    if (t_inside || !is_socket(kind_of(fd))) return TCPIP_REAL(recvmsg)(fd, msg, flags);
    if (!stack_here("recvmsg()")) return -1;
    if (msg == nullptr) {
        errno = EFAULT;
        return -1;
    }
    socklen_t name_len = msg->msg_namelen;
    const ssize_t n = recv_vector(fd, msg->msg_iov, static_cast<int>(msg->msg_iovlen), flags,
                                  static_cast<sockaddr*>(msg->msg_name), msg->msg_name ? &name_len : nullptr, &msg->msg_flags);
    if (n >= 0) {
        if (msg->msg_name != nullptr) msg->msg_namelen = name_len;
        msg->msg_controllen = 0;  // no ancillary data from our stack
    }
    return n;
}

// The fortified forms that Debian's programs call (_FORTIFY_SOURCE): the same, once the buffer
// size is checked as glibc's would be.
ssize_t __read_chk(int fd, void* buf, size_t len, size_t buflen) {
    if (len > buflen) std::abort();
    return read(fd, buf, len);
}
ssize_t __recv_chk(int fd, void* buf, size_t len, size_t buflen, int flags) {
    if (len > buflen) std::abort();
    return recv(fd, buf, len, flags);
}
ssize_t __recvfrom_chk(int fd, void* buf, size_t len, size_t buflen, int flags, sockaddr* addr, socklen_t* addr_len) {
    if (len > buflen) std::abort();
    return recvfrom(fd, buf, len, flags, addr, addr_len);
}

int recvmmsg(int fd, mmsghdr* msgs, unsigned int n, int flags, timespec* timeout) {
    if (t_inside || !is_socket(kind_of(fd))) return TCPIP_REAL(recvmmsg)(fd, msgs, n, flags, timeout);
    return unsupported("recvmmsg()");
}
int sendmmsg(int fd, mmsghdr* msgs, unsigned int n, int flags) {
    if (t_inside || !is_socket(kind_of(fd))) return TCPIP_REAL(sendmmsg)(fd, msgs, n, flags);
    return unsupported("sendmmsg()");
}
ssize_t splice(int in, loff_t* in_off, int out, loff_t* out_off, size_t len, unsigned int flags) {
    if (t_inside || (!is_socket(kind_of(in)) && !is_socket(kind_of(out)))) {
        return TCPIP_REAL(splice)(in, in_off, out, out_off, len, flags);
    }
    return unsupported("splice()");
}

// sendfile from a file to our socket: read in 64 KiB pieces (pread, at the file's offset or the
// caller's) and sent; the file offset advances by what was sent, as the kernel's does.
ssize_t sendfile(int out, int in, off_t* offset, size_t count) {
    if (t_inside || !is_socket(kind_of(out))) {
        if (!t_inside && is_socket(kind_of(in))) return unsupported("sendfile() from a socket");
        return TCPIP_REAL(sendfile)(out, in, offset, count);
    }
    if (!stack_here("sendfile()")) return -1;
    off_t position = offset != nullptr ? *offset : lseek(in, 0, SEEK_CUR);
    if (position < 0) return -1;
    thread_local std::vector<char> chunk(65536);
    std::size_t total = 0;
    const int p = primary(out);
    while (total < count) {
        const ssize_t got = pread(in, chunk.data(), std::min(chunk.size(), count - total), position);
        if (got < 0) {
            if (total > 0) break;
            return -1;
        }
        if (got == 0) break;
        ssize_t sent;
        {
            Inside in_stack;
            sent = tcpip::send(p, chunk.data(), static_cast<std::size_t>(got), 0);
        }
        if (sent < 0) {
            if (total > 0) break;
            return -1;
        }
        total += static_cast<std::size_t>(sent);
        position += sent;
        if (sent < got) break;
    }
    if (offset != nullptr) *offset = position;
    else lseek(in, position, SEEK_SET);
    return static_cast<ssize_t>(total);
}
ssize_t sendfile64(int out, int in, off64_t* offset, size_t count) {
    return sendfile(out, in, reinterpret_cast<off_t*>(offset), count);
}

// ---- Waiting ----

int poll(pollfd* fds, nfds_t n, int timeout_ms) {
    if (t_inside || !any_ours(fds, n)) return TCPIP_REAL(poll)(fds, n, timeout_ms);
    return with_signals_at_the_wait(nullptr, [&](const sigset_t* m) { return poll_ours(fds, n, timeout_ms, m); });
}
int __poll_chk(pollfd* fds, nfds_t n, int timeout_ms, size_t fds_len) {
    if (fds_len / sizeof(pollfd) < n) std::abort();
    return poll(fds, n, timeout_ms);
}

int ppoll(pollfd* fds, nfds_t n, const timespec* timeout, const sigset_t* mask) {
    if (t_inside || !any_ours(fds, n)) return TCPIP_REAL(ppoll)(fds, n, timeout, mask);
    return with_signals_at_the_wait(mask, [&](const sigset_t* m) { return poll_ours(fds, n, millis(timeout), m); });
}

int select(int nfds, fd_set* r, fd_set* w, fd_set* e, timeval* timeout) {
    if (t_inside || !any_ours(nfds, r, w, e)) return TCPIP_REAL(select)(nfds, r, w, e, timeout);
    if (!stack_here("select()")) return -1;
    return with_signals_at_the_wait(nullptr, [&](const sigset_t* m) { return select_ours(nfds, r, w, e, timeout, m); });
}

int pselect(int nfds, fd_set* r, fd_set* w, fd_set* e, const timespec* timeout, const sigset_t* mask) {
    if (t_inside || !any_ours(nfds, r, w, e)) return TCPIP_REAL(pselect)(nfds, r, w, e, timeout, mask);
    if (!stack_here("pselect()")) return -1;
    timeval tv{};
    if (timeout != nullptr) {
        tv.tv_sec = timeout->tv_sec;
        tv.tv_usec = (timeout->tv_nsec + 999) / 1000;
    }
    return with_signals_at_the_wait(
        mask, [&](const sigset_t* m) { return select_ours(nfds, r, w, e, timeout != nullptr ? &tv : nullptr, m); });
}

int epoll_create1(int flags) {
    if (t_inside || tr::g.runtime == nullptr) return TCPIP_REAL(epoll_create1)(flags);
    int fd;
    {
        Inside in;
        fd = tcpip::epoll_create1(flags);
    }
    if (fd >= 0) set_kind(fd, Kind::Epoll);
    return fd;
}
int epoll_create(int size) {
    if (t_inside || tr::g.runtime == nullptr) return TCPIP_REAL(epoll_create)(size);
    if (size <= 0) {
        errno = EINVAL;
        return -1;
    }
    return epoll_create1(0);
}

int epoll_ctl(int epfd, int op, int fd, epoll_event* event) {
    if (t_inside || (kind_of(epfd) != Kind::Epoll && kind_of(fd) == Kind::Kernel)) {
        return TCPIP_REAL(epoll_ctl)(epfd, op, fd, event);
    }
    if (is_socket(kind_of(fd)) && !stack_here("epoll_ctl()")) return -1;
    Inside in;
    return tcpip::epoll_ctl(epfd, op, primary(fd), event);
}

int epoll_wait(int epfd, epoll_event* events, int maxevents, int timeout_ms) {
    if (t_inside || kind_of(epfd) != Kind::Epoll) return TCPIP_REAL(epoll_wait)(epfd, events, maxevents, timeout_ms);
    // (An instance may hold only kernel descriptors: a process that does not run the stack may
    // wait on it all the same; our sockets in it are never ready there.)
    return epoll_pwait(epfd, events, maxevents, timeout_ms, nullptr);
}

int epoll_pwait(int epfd, epoll_event* events, int maxevents, int timeout_ms, const sigset_t* mask) {
    if (t_inside || kind_of(epfd) != Kind::Epoll) return TCPIP_REAL(epoll_pwait)(epfd, events, maxevents, timeout_ms, mask);
    claim();
    return with_signals_at_the_wait(mask, [&](const sigset_t* m) {
        Inside in;
        return tcpip::Runtime::epoll_wait(epfd, events, maxevents, timeout_ms, m);
    });
}

}  // extern "C"
