#include "apps/http/server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "apps/http/timeline.h"
#include "stack/socket/socket.h"

namespace tcpip::httpd {

void set_nonblocking(int fd) { tcpip::fcntl(fd, F_SETFL, tcpip::fcntl(fd, F_GETFL, 0) | O_NONBLOCK); }

std::string built_in_page(const std::string& tap, tcpip::Ipv4Address address, long long port) {
    std::ostringstream page;
    page << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>tcpip</title></head>\n<body>\n"
         << "<h1>tcpip</h1>\n"
         << "<p>This page was served by <b>tcpip-httpd</b> over <b>tcpip</b>, a TCP/IP stack written in C++20 "
            "that runs in user space on a Linux TAP device: Ethernet, ARP, IPv4 (with ICMP, fragmentation and "
            "reassembly), UDP and TCP (RFC 9293, with congestion control), under a BSD-like socket API.</p>\n"
         << "<p>The kernel only moves Ethernet frames through the TAP <code>" << tap
         << "</code>; every header of this response was built by the stack at " << address.to_string()
         << ", port " << port << ".</p>\n"
         << "<ul>\n<li><a href=\"/stats\">/stats</a>: the stack's live counters, layer by layer, and its TCP "
            "connections (like <code>netstat -s</code> and <code>ss -tan</code>)</li>\n"
            "<li><a href=\"/connections\">/connections</a>: each TCP connection's timeline, live: congestion "
            "window, bytes in flight, windows, segments and retransmissions</li>\n</ul>\n"
         << "<hr><address>" << tcpip::http::kServerName << "</address>\n</body></html>\n";
    return page.str();
}

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

void Server::poll_set(int listener, std::vector<pollfd>& fds) {
    polled_.clear();
    fds.push_back({listener, static_cast<short>(connections_.size() < kMaxConnections ? POLLIN : 0), 0});
    for (Connection& c : connections_) {
        fds.push_back({c.fd, static_cast<short>(c.sending() && !c.lingering ? POLLOUT : POLLIN), 0});
        polled_.push_back(&c);
    }
}

bool Server::wants_turn_now() const {
    return std::any_of(connections_.begin(), connections_.end(), [](const Connection& c) { return c.again; });
}

void Server::serve(int listener, const pollfd* ready) {
    if (ready == nullptr) {  // everything: as if poll_set() had just listed every connection
        polled_.clear();
        for (Connection& c : connections_) polled_.push_back(&c);
    }
    const auto now = env_.now();
    for (std::size_t i = 0; i < polled_.size(); ++i) {
        Connection& c = *polled_[i];
        if (ready == nullptr || ready[1 + i].revents != 0 || c.again) {
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
    polled_.clear();
    connections_.remove_if([](const Connection& c) { return c.fd < 0; });

    if (ready == nullptr || ready[0].revents != 0) {
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
            c.deadline = env_.now() + kIdleTimeout;
            ++stats_.connections_accepted;
        }
    }
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
            c.deadline = env_.now() + kLingerTimeout;
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
    c.deadline = env_.now() + kIdleTimeout;
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
        c.deadline = env_.now() + kIdleTimeout;
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
    head.date = tcpip::http::http_date(env_.wall());
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
    env_.runtime.with_stack([&](tcpip::Stack& stack) {
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
    env_.print_stats(os);
    tcpip::print_stats(os, "httpd", stats_);
    os << "\n";
    print_connections(env_.runtime, os);
    return os.str();
}

}  // namespace tcpip::httpd
