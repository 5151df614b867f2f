// tcpip-httpd: an HTTP/1.1 file server on our stack.
//
//   tcpip-httpd [--port 80] [--root DIR] [shared options]
//
// GET and HEAD of the files under --root; without --root, a built-in page about the stack. In
// both modes /stats shows the stack's live counters and its TCP connections, like `ss -tan`, and
// /connections lists the connections with their event logs (stack/tcp/tcp_log.h), each one's
// timeline drawn live as SVG at /connections/<id> (apps/http/timeline.h). So files named "stats"
// or "connections" at the top of the root are not reachable. --tcp-log-entries N sets how many
// events each connection keeps (default 1000; 0 turns the logs off).
//
// The HTTP rules (parsing, path safety, content types, response heads) are pure functions in
// apps/http/http.h and apps/http/files.h; this file is the server loop, an ordinary socket
// program written only against the BSD-like API in the event-driven style of tcpip-echo:
// non-blocking sockets and one tcpip::poll over the listener, every connection and the signal
// pipe. A connection is in one of three phases:
//
//   reading     no response in progress: read, parse the next request head, answer it
//   sending     a response in progress: its head and body go out as the socket accepts them;
//               the connection is not read meanwhile, so pipelined requests wait in the TCP
//               receive buffer (back-pressure) and are answered strictly in order
//   lingering   after a response that ends the connection: our side is shut (FIN sent), and
//               what the client still sends is read and thrown away until it closes or 2 s pass.
//               Closing at once with unread bytes would send a RST (RFC 9293 3.10.4, as Linux
//               does), which can destroy the error response before the client has read it.
//
// Memory per client stays small whatever the file size: a file is streamed from a descriptor
// kept per connection, read (pread) in chunks of at most 64 KiB as the socket accepts data, so
// a 50 MB download holds one chunk at a time, not the file. Request heads are bounded by the
// limits in http.h (414, 431). Idle connections close after 30 s. Fairness: in one turn of the
// loop a connection gets at most 32 requests answered or 1 MiB sent, then the others go first,
// so neither a fast download nor a deep pipeline holds the loop.
//
// Prints one line when ready; on SIGINT or SIGTERM it stops and prints the stack's statistics
// and its own (section "httpd").
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <list>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "apps/app_common.h"
#include "apps/http/files.h"
#include "apps/http/http.h"
#include "apps/http/timeline.h"
#include "stack/socket/socket.h"

namespace {

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

void set_nonblocking(int fd) { tcpip::fcntl(fd, F_SETFL, tcpip::fcntl(fd, F_GETFL, 0) | O_NONBLOCK); }

std::string built_in_page(const tcpip::app::CommonOptions& options, long long port) {
    std::ostringstream page;
    page << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>tcpip</title></head>\n<body>\n"
         << "<h1>tcpip</h1>\n"
         << "<p>This page was served by <b>tcpip-httpd</b> over <b>tcpip</b>, a TCP/IP stack written in C++20 "
            "that runs in user space on a Linux TAP device: Ethernet, ARP, IPv4 (with ICMP, fragmentation and "
            "reassembly), UDP and TCP (RFC 9293, with congestion control), under a BSD-like socket API.</p>\n"
         << "<p>The kernel only moves Ethernet frames through the TAP <code>" << options.tap
         << "</code>; every header of this response was built by the stack at " << options.ip.address.to_string()
         << ", port " << port << ".</p>\n"
         << "<ul>\n<li><a href=\"/stats\">/stats</a>: the stack's live counters, layer by layer, and its TCP "
            "connections (like <code>netstat -s</code> and <code>ss -tan</code>)</li>\n"
            "<li><a href=\"/connections\">/connections</a>: each TCP connection's timeline, live: congestion "
            "window, bytes in flight, windows, segments and retransmissions</li>\n</ul>\n"
         << "<hr><address>" << tcpip::http::kServerName << "</address>\n</body></html>\n";
    return page.str();
}

// The TCP connection table, like `ss -tan`, read under the stack's lock.
void print_connections(tcpip::Runtime& runtime, std::ostream& os) {
    struct Row {
        std::string state;
        std::size_t recv_q, send_q;
        tcpip::Ipv4Address local, peer;
        std::uint16_t local_port, peer_port;
        bool listening;
        std::int64_t srtt_us;
        std::uint32_t cwnd, mss;
    };
    std::vector<Row> rows;
    runtime.with_stack([&](tcpip::Stack& stack) {
        tcpip::TcpLayer& tcp = stack.tcp();
        tcp.for_each_socket([&](const tcpip::TcpSocket& s) {
            const tcpip::TcpInfo info = tcp.info(&s);
            // As ss: for a listener, Recv-Q is the accept queue and Send-Q the backlog.
            const bool listening = s.is_listener();
            rows.push_back(Row{tcpip::to_string(s.state),
                               listening ? s.queues.accept_queue.size() : s.rcv.buffer.size(),
                               listening ? s.queues.backlog : s.snd.buffer.size(), s.local_address, s.remote_address,
                               s.local_port, s.remote_port, listening, info.srtt.total_micros(), info.cwnd, info.mss});
        });
        return 0;
    });
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
        if (a.listening != b.listening) return a.listening;
        if (a.local_port != b.local_port) return a.local_port < b.local_port;
        if (a.peer.to_u32() != b.peer.to_u32()) return a.peer.to_u32() < b.peer.to_u32();
        return a.peer_port < b.peer_port;
    });
    os << "tcp_connections: " << rows.size() << "\n";
    os << std::left << std::setw(14) << "State" << std::setw(9) << "Recv-Q" << std::setw(9) << "Send-Q" << std::setw(23)
       << "Local Address:Port" << std::setw(23) << "Peer Address:Port" << "rtt_ms/cwnd\n";
    for (const Row& r : rows) {
        const std::string local = r.local.to_string() + ":" + (r.local_port ? std::to_string(r.local_port) : "*");
        const std::string peer = r.peer.to_string() + ":" + (r.peer_port ? std::to_string(r.peer_port) : "*");
        os << std::left << std::setw(14) << r.state << std::setw(9) << r.recv_q << std::setw(9) << r.send_q
           << std::setw(23) << local << std::setw(23) << peer;
        if (!r.listening && r.mss > 0) {
            std::ostringstream rtt;
            rtt << std::fixed << std::setprecision(3) << static_cast<double>(r.srtt_us) / 1000.0;
            os << rtt.str() << "/" << r.cwnd / r.mss;
        }
        os << "\n";
    }
}

class Server {
public:
    Server(tcpip::app::RuntimeHost& host, const tcpip::app::CommonOptions& options, long long port,
           std::optional<tcpip::http::DocumentRoot> root)
        : host_(host), root_(std::move(root)), home_page_(built_in_page(options, port)) {}

    // Runs until SIGINT or SIGTERM; false if the poll itself failed.
    bool run(int listener);
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

    tcpip::app::RuntimeHost& host_;
    std::optional<tcpip::http::DocumentRoot> root_;
    std::string home_page_;
    HttpdStats stats_;
    std::list<Connection> connections_;
    std::vector<char> read_buffer_ = std::vector<char>(kReadSize);
};

bool Server::run(int listener) {
    std::vector<pollfd> fds;
    std::vector<Connection*> polled;
    while (!host_.stop_requested()) {
        fds.clear();
        polled.clear();
        fds.push_back({host_.stop_fd(), POLLIN, 0});
        fds.push_back({listener, static_cast<short>(connections_.size() < kMaxConnections ? POLLIN : 0), 0});
        bool again = false;
        for (Connection& c : connections_) {
            fds.push_back({c.fd, static_cast<short>(c.sending() && !c.lingering ? POLLOUT : POLLIN), 0});
            polled.push_back(&c);
            again = again || c.again;
        }
        // Wake at least once a second to enforce the idle and linger deadlines.
        const int n = tcpip::poll(fds.data(), fds.size(), again ? 0 : 1000);
        if (n < 0) {
            if (errno == EINTR) continue;  // a signal: the loop condition decides
            std::cerr << "tcpip-httpd: poll: " << std::strerror(errno) << "\n";
            return false;
        }
        if (fds[0].revents != 0) break;

        const auto now = SteadyClock::now();
        for (std::size_t i = 0; i < polled.size(); ++i) {
            Connection& c = *polled[i];
            if (fds[2 + i].revents != 0 || c.again) {
                c.again = false;
                if (!serve(c)) {
                    drop(c);
                    continue;
                }
            }
            if (c.fd >= 0 && now > c.deadline) {
                ++stats_.idle_timeouts;
                drop(c);
            }
        }
        connections_.remove_if([](const Connection& c) { return c.fd < 0; });

        if (fds[1].revents != 0) {
            while (connections_.size() < kMaxConnections) {
                const int fd = tcpip::accept(listener, nullptr, nullptr);
                if (fd < 0) break;
                set_nonblocking(fd);
                // Responses go out in large sends already; Nagle would only delay the last,
                // short segment of each one behind the client's delayed ACK.
                int one = 1;
                tcpip::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                Connection& c = connections_.emplace_back();
                c.fd = fd;
                c.deadline = SteadyClock::now() + kIdleTimeout;
                ++stats_.connections_accepted;
            }
        }
    }
    return true;
}

void Server::drop(Connection& c) {
    if (c.fd < 0) return;
    tcpip::close(c.fd);
    c.fd = -1;
    ++stats_.connections_closed;
}

void Server::close_all() {
    for (Connection& c : connections_) drop(c);
    connections_.clear();
}

// Serves one connection as far as it can go without waiting; false when it is over.
bool Server::serve(Connection& c) {
    using tcpip::http::ParseResult;
    for (int round = 0; round < kRoundsPerWakeup; ++round) {
        if (c.lingering) {
            // Discard until the client closes; the deadline (kLingerTimeout) bounds the wait.
            for (int reads = 0; reads < kRoundsPerWakeup; ++reads) {
                const ssize_t n = tcpip::recv(c.fd, read_buffer_.data(), read_buffer_.size(), MSG_DONTWAIT);
                if (n == 0) return false;
                if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
            }
            return true;
        }
        switch (flush(c)) {
            case Flush::Failed: ++stats_.connection_errors; return false;
            case Flush::Blocked: return true;
            case Flush::Yield: c.again = true; return true;
            case Flush::Done: break;
        }
        if (c.close_after) {
            // The response is all in the send buffer: send our FIN after it, then linger.
            tcpip::shutdown(c.fd, SHUT_WR);
            c.lingering = true;
            c.deadline = SteadyClock::now() + kLingerTimeout;
            continue;
        }
        if (c.discard > 0) {
            const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(c.discard, c.in.size()));
            c.in.erase(0, n);
            c.discard -= n;
            c.parse_due = !c.in.empty();
        }
        if (c.discard == 0 && c.parse_due) {
            c.parse_due = false;
            ParseResult parsed = tcpip::http::parse_request(c.in);
            if (parsed.kind == ParseResult::Kind::Complete) {
                c.in.erase(0, parsed.consumed);
                c.parse_due = !c.in.empty();  // the next pipelined request may be there already
                ++stats_.requests;
                answer(c, parsed.request);
                continue;
            }
            if (parsed.kind == ParseResult::Kind::Error) {
                ++stats_.requests;
                c.in.clear();
                answer_error(c, parsed.status, parsed.reason, true, false);
                continue;
            }
        }
        // More bytes needed: read them (unless the client has finished sending).
        if (c.peer_closed) return false;
        switch (read_more(c)) {
            case Read::Failed: return false;
            case Read::Blocked: return true;  // wait for POLLIN
            case Read::Got: break;
        }
    }
    c.again = true;  // work left (pipelined requests): come back after the others had a turn
    return true;
}

// One recv into `in` (Got includes the end of the stream, which sets peer_closed). Sets
// parse_due when a parse may now succeed or fail: a line ended, or the buffer passed the limits.
// Parsing only then keeps a client that sends its head a byte at a time from making us re-parse
// the whole head on every byte.
Server::Read Server::read_more(Connection& c) {
    const ssize_t n = tcpip::recv(c.fd, read_buffer_.data(), read_buffer_.size(), MSG_DONTWAIT);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return Read::Blocked;
        ++stats_.connection_errors;
        return Read::Failed;
    }
    if (n == 0) {
        c.peer_closed = true;
        return Read::Got;
    }
    const std::string_view got(read_buffer_.data(), static_cast<std::size_t>(n));
    c.in.append(got);
    c.deadline = SteadyClock::now() + kIdleTimeout;
    if (c.discard > 0 || got.find('\n') != std::string_view::npos ||
        c.in.size() > tcpip::http::kMaxRequestLine + tcpip::http::kMaxHeaderBytes + 8) {
        c.parse_due = true;
    }
    return Read::Got;
}

// Sends what the current response still has to send, reading file chunks as the socket takes
// them. Yields after kBytesPerWakeup, so a fast client fetching a big file cannot keep the loop
// from the others.
Server::Flush Server::flush(Connection& c) {
    std::size_t sent = 0;
    for (;;) {
        if (!refill(c)) return Flush::Failed;
        if (c.out_from >= c.out.size()) break;
        if (sent >= kBytesPerWakeup) return Flush::Yield;
        const ssize_t n = tcpip::send(c.fd, c.out.data() + c.out_from, c.out.size() - c.out_from, MSG_NOSIGNAL);
        if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? Flush::Blocked : Flush::Failed;
        c.out_from += static_cast<std::size_t>(n);
        sent += static_cast<std::size_t>(n);
        stats_.bytes_sent += static_cast<tcpip::Counter>(n);
        c.deadline = SteadyClock::now() + kIdleTimeout;
    }
    // The response is sent: free a large chunk buffer, close the file.
    c.out.clear();
    c.out_from = 0;
    if (c.out.capacity() > 4096) std::string().swap(c.out);
    c.file.reset();
    c.file_offset = c.file_end = 0;
    return Flush::Done;
}

// Tops `out` up from the file when less than half a chunk is left to send, so sends stay large
// and the response head and a small file's body leave in one send. False if the file shrank
// underneath us: the promised Content-Length cannot be kept, so the connection must end.
bool Server::refill(Connection& c) {
    if (c.file_offset >= c.file_end) return true;
    const std::size_t pending = c.out.size() - c.out_from;
    if (pending >= kChunk / 2) return true;
    c.out.erase(0, c.out_from);
    c.out_from = 0;
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk - pending, c.file_end - c.file_offset));
    const std::size_t old = c.out.size();
    c.out.resize(old + want);
    ssize_t n;
    do {
        n = ::pread(c.file.get(), c.out.data() + old, want, static_cast<off_t>(c.file_offset));
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return false;
    c.out.resize(old + static_cast<std::size_t>(n));
    c.file_offset += static_cast<std::uint64_t>(n);
    return true;
}

void Server::queue_response(Connection& c, tcpip::http::ResponseHead head, const std::string& body, bool head_only) {
    head.date = tcpip::http::http_date(std::time(nullptr));
    c.out = tcpip::http::format_head(head);
    if (!head_only) c.out += body;
    c.out_from = 0;
    c.close_after = c.close_after || head.close;
    switch (head.status / 100) {
        case 2: ++stats_.responses_2xx; break;
        case 4: ++stats_.responses_4xx; break;
        case 5: ++stats_.responses_5xx; break;
        default: break;
    }
}

void Server::answer_error(Connection& c, int status, const std::string& reason, bool close, bool head_only,
                          std::vector<std::pair<std::string, std::string>> extra) {
    tcpip::http::ResponseHead head;
    head.status = status;
    head.content_type = "text/html; charset=utf-8";
    const std::string body = tcpip::http::error_body(status, reason);
    head.content_length = body.size();
    head.close = close;
    head.extra = std::move(extra);
    queue_response(c, std::move(head), body, head_only);
}

void Server::answer(Connection& c, const tcpip::http::Request& request) {
    const bool head_only = request.method == "HEAD";
    // Whether the connection can go on after this response: the client must want it, and the
    // request body (rare for GET and HEAD) must be one we can skip to find the next request.
    const bool keep = request.keep_alive() && !request.has_transfer_encoding &&
                      request.content_length <= kMaxDiscardedBody;
    c.discard = keep ? request.content_length : 0;
    const bool close = !keep;
    const bool http10_keep_alive = keep && request.minor_version == 0;

    if (!tcpip::http::method_allowed(request.method)) {
        answer_error(c, 405, "This server only answers GET and HEAD.", close, false, {{"Allow", "GET, HEAD"}});
        return;
    }
    auto path = tcpip::http::resolve_target(request.target);
    if (!path) {
        answer_error(c, path.error().status, path.error().reason, close, head_only);
        return;
    }

    tcpip::http::ResponseHead head;
    head.close = close;
    head.http10_keep_alive = http10_keep_alive;
    std::string body;
    bool csv = false;
    const std::uint64_t connection = tcpip::http::connection_id_of(*path, csv);
    if (*path == "connections") {
        body = tcpip::http::connections_page(connection_logs());
        head.content_type = "text/html; charset=utf-8";
        head.extra.emplace_back("Cache-Control", "no-store");
    } else if (connection != 0) {
        const auto logs = connection_logs(connection);
        if (logs.empty()) {
            answer_error(c, 404, "No connection " + std::to_string(connection) + " (it may have ended).", close, head_only);
            return;
        }
        if (csv) {
            std::ostringstream out;
            tcpip::tcp_log::write_csv_header(out);
            if (!logs[0].entries.empty()) tcpip::tcp_log::write_csv(out, logs[0], logs[0].entries.front().at);
            body = out.str();
            head.content_type = "text/csv; charset=utf-8";
        } else {
            body = tcpip::http::connection_page(logs[0]);
            head.content_type = "text/html; charset=utf-8";
        }
        head.extra.emplace_back("Cache-Control", "no-store");
    } else if (*path == "stats" || (!root_ && (path->empty() || *path == "index.html"))) {
        body = *path == "stats" ? stats_page() : home_page_;
        head.content_type = *path == "stats" ? "text/plain; charset=utf-8" : "text/html; charset=utf-8";
        head.extra.emplace_back("Cache-Control", "no-store");
    } else if (!root_) {
        answer_error(c, 404, "There are no files here: tcpip-httpd was started without --root.", close, head_only);
        return;
    } else {
        auto file = root_->open_file(*path);
        if (!file) {
            answer_error(c, file.error().status, file.error().reason, close, head_only);
            return;
        }
        head.content_type = std::string(tcpip::http::content_type_for(file->path));
        head.content_length = file->size;
        head.extra.emplace_back("Last-Modified", tcpip::http::http_date(file->modified));
        queue_response(c, std::move(head), "", true);
        if (!head_only) {
            c.file = std::move(file->fd);
            c.file_offset = 0;
            c.file_end = file->size;
        }
        return;
    }
    head.content_length = body.size();
    queue_response(c, std::move(head), body, head_only);
}

// The event logs of the connections (not listeners), by id; only `only_id`'s when it is not 0.
std::vector<tcpip::TcpLogSnapshot> Server::connection_logs(std::uint64_t only_id) {
    std::vector<tcpip::TcpLogSnapshot> logs;
    host_.runtime().with_stack([&](tcpip::Stack& stack) {
        stack.tcp().for_each_socket([&](const tcpip::TcpSocket& s) {
            if (!s.log || s.is_listener() || (only_id != 0 && s.log->id() != only_id)) return;
            logs.push_back(stack.tcp().log_snapshot(&s));
        });
        return 0;
    });
    std::sort(logs.begin(), logs.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return logs;
}

std::string Server::stats_page() {
    std::ostringstream os;
    os << "tcpip-httpd: live statistics of the stack serving this page\n\n";
    host_.print_stats(os);
    tcpip::print_stats(os, "httpd", stats_);
    os << "\n";
    print_connections(host_.runtime(), os);
    return os.str();
}

}  // namespace

int main(int argc, char** argv) {
    using namespace tcpip;
    long long port = 80;
    std::optional<std::string> root_dir;
    app::Args args("tcpip-httpd",
                   "[--port N] [--root DIR] [shared options]\n\n"
                   "Serves HTTP/1.1 (GET, HEAD, keep-alive) on the TAP.\n"
                   "  --port N            TCP port (default 80)\n"
                   "  --root DIR          serve the files under DIR (default: a built-in page)\n"
                   "  --tcp-log-entries N events kept per TCP connection for /connections (default 1000; 0: off)\n"
                   "In both modes /stats shows the stack's counters and TCP connections, and /connections each\n"
                   "connection's timeline (live SVG at /connections/<id>, CSV at /connections/<id>.csv).\n");
    args.add_option({"--port", "-p"}, [&](std::string_view v) { return app::parse_int(v, 1, 65535, port); });
    args.add_option({"--root", "-r"}, [&](std::string_view v) {
        root_dir = std::string(v);
        return std::string();
    });
    long long log_entries = 1000;
    args.add_option({"--tcp-log-entries"}, [&](std::string_view v) { return app::parse_int(v, 0, 10'000'000, log_entries); });
    app::CommonOptions options = args.parse(argc, argv);
    options.stack.tcp_log_entries = static_cast<std::size_t>(log_entries);

    std::optional<http::DocumentRoot> root;
    if (root_dir) {
        auto opened = http::DocumentRoot::open(*root_dir);
        if (!opened) args.fail("--root: " + opened.error());
        root.emplace(std::move(*opened));
    }

    app::RuntimeHost host("tcpip-httpd", options);
    host.stop_on_signals();

    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_port = htons(static_cast<std::uint16_t>(port));
    at.sin_addr.s_addr = htonl(INADDR_ANY);
    const int listener = tcpip::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    if (listener < 0 || tcpip::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        tcpip::bind(listener, reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0 ||
        tcpip::listen(listener, 256) != 0) {
        std::cerr << "tcpip-httpd: TCP port " << port << ": " << std::strerror(errno) << "\n";
        return 1;
    }
    set_nonblocking(listener);

    std::cout << "tcpip-httpd: ready on " << options.tap << ", http://" << options.ip.address.to_string() << ":" << port
              << "/, serving " << (root ? root->path() : std::string("the built-in page")) << std::endl;

    Server server(host, options, port, std::move(root));
    const bool ok = server.run(listener);
    server.close_all();
    tcpip::close(listener);

    std::cout << "tcpip-httpd: stopping; statistics:\n";
    host.print_stats(std::cout);
    print_stats(std::cout, "httpd", server.stats());
    return ok ? 0 : 1;
}
