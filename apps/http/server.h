// tcpip-httpd's server: the event loop's work, as a socket program that never blocks, so that two
// callers can drive it: tcpip-httpd (apps/tcpip_httpd.cpp, whose header comment describes the
// phases of a connection, the limits and the fairness rules) waits in tcpip::poll over
// poll_set() and then calls serve(); tcpip-replay calls serve() after each frame it plays.
// What it needs from outside comes in a ServerEnv: the runtime (for /stats and /connections),
// the stack's statistics printer, and two clocks (a steady one for idle deadlines, the wall clock
// for the Date field), which the replay takes from the capture.
#pragma once

#include <poll.h>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <functional>
#include <iosfwd>
#include <list>
#include <optional>
#include <string>
#include <vector>

#include "apps/http/files.h"
#include "apps/http/http.h"
#include "stack/core/stats.h"
#include "stack/socket/runtime.h"
#include "stack/tcp/tcp_log.h"

namespace tcpip::httpd {

using SteadyClock = std::chrono::steady_clock;

constexpr std::size_t kChunk = 64 * 1024;              // file bytes read per pread
constexpr std::size_t kReadSize = 16 * 1024;           // bytes per recv
constexpr std::size_t kMaxConnections = 1000;          // beyond this, new ones wait in the backlog
constexpr std::uint64_t kMaxDiscardedBody = 1 << 20;   // a larger request body: close instead of skipping it
constexpr int kRoundsPerWakeup = 32;                   // requests answered per connection before others get a turn
constexpr std::size_t kBytesPerWakeup = 1 << 20;       // bytes sent per connection before others get a turn
constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr auto kLingerTimeout = std::chrono::seconds(2);

struct HttpdStats {
    tcpip::Counter requests = 0;              // request heads answered (well-formed or not)
    tcpip::Counter responses_2xx = 0;
    tcpip::Counter responses_4xx = 0;
    tcpip::Counter responses_5xx = 0;
    tcpip::Counter bytes_sent = 0;            // heads and bodies
    tcpip::Counter connections_accepted = 0;
    tcpip::Counter connections_closed = 0;
    tcpip::Counter connection_errors = 0;     // reset by the peer, or a send or file read failed
    tcpip::Counter idle_timeouts = 0;

    template <class F>
    void for_each(F&& f) const {
        f("requests", requests); f("responses_2xx", responses_2xx); f("responses_4xx", responses_4xx);
        f("responses_5xx", responses_5xx); f("bytes_sent", bytes_sent);
        f("connections_accepted", connections_accepted); f("connections_closed", connections_closed);
        f("connection_errors", connection_errors); f("idle_timeouts", idle_timeouts);
    }
};

struct Connection {
    int fd = -1;
    // Reading.
    std::string in;                  // received bytes not yet parsed
    bool parse_due = false;          // `in` changed in a way that may complete a head (see read_more)
    bool peer_closed = false;        // recv returned 0
    std::uint64_t discard = 0;       // request body bytes to skip before the next request
    // Sending: `out` holds the response head and/or the current file chunk.
    std::string out;
    std::size_t out_from = 0;
    tcpip::UniqueFd file;
    std::uint64_t file_offset = 0, file_end = 0;
    bool close_after = false;        // the connection ends once this response is sent
    // Lingering.
    bool lingering = false;
    // Deadline for the next sign of life (idle keep-alive, or the end of lingering).
    SteadyClock::time_point deadline;
    bool again = false;              // stopped after kRoundsPerWakeup with work left: serve without waiting

    bool sending() const { return out_from < out.size() || file_offset < file_end; }
};

struct ServerEnv {
    tcpip::Runtime& runtime;
    std::function<void(std::ostream&)> print_stats;  // the stack's (and devices') counters, for /stats
    std::function<SteadyClock::time_point()> now = [] { return SteadyClock::now(); };
    std::function<std::time_t()> wall = [] { return std::time(nullptr); };
};

void set_nonblocking(int fd);
// The page served at / without --root: what the stack is, on which TAP and address.
std::string built_in_page(const std::string& tap, tcpip::Ipv4Address address, long long port);
// The TCP connection table, like `ss -tan`, read under the stack's lock.
void print_connections(tcpip::Runtime& runtime, std::ostream& os);

class Server {
public:
    Server(ServerEnv env, std::string home_page, std::optional<tcpip::http::DocumentRoot> root)
        : env_(std::move(env)), root_(std::move(root)), home_page_(std::move(home_page)) {}

    // One turn of the event loop, in two halves around the caller's tcpip::poll: poll_set()
    // appends what to wait for (the listener, then each connection), serve() takes the same
    // entries back with revents filled and serves what is ready. serve(listener, nullptr)
    // serves everything (tcpip-replay: every call is non-blocking, so what is not ready is left
    // alone). The caller must wait at most a second, so that idle deadlines are enforced.
    void poll_set(int listener, std::vector<pollfd>& fds);
    bool wants_turn_now() const;  // a connection stopped after its share of a turn: poll with timeout 0
    void serve(int listener, const pollfd* ready);
    void close_all();
    const HttpdStats& stats() const { return stats_; }

private:
    bool serve(Connection& c);
    enum class Read { Got, Blocked, Failed };
    Read read_more(Connection& c);
    enum class Flush { Done, Blocked, Yield, Failed };
    Flush flush(Connection& c);
    bool refill(Connection& c);
    void answer(Connection& c, const tcpip::http::Request& request);
    void answer_error(Connection& c, int status, const std::string& reason, bool close, bool head_only,
                      std::vector<std::pair<std::string, std::string>> extra = {});
    void queue_response(Connection& c, tcpip::http::ResponseHead head, const std::string& body, bool head_only);
    std::string stats_page();
    std::vector<tcpip::TcpLogSnapshot> connection_logs(std::uint64_t only_id = 0);
    void drop(Connection& c);

    ServerEnv env_;
    std::vector<Connection*> polled_;  // the connections poll_set() listed, in order
    std::optional<tcpip::http::DocumentRoot> root_;
    std::string home_page_;
    HttpdStats stats_;
    std::list<Connection> connections_;
    std::vector<char> read_buffer_ = std::vector<char>(kReadSize);
};

}  // namespace tcpip::httpd
