// tcpip-httpd: an HTTP/1.1 file server on our stack.
//
//   tcpip-httpd [--port 80] [--root DIR] [--queues N] [shared options]
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
#include <thread>
#include <vector>

#include "apps/app_common.h"
#include "apps/http/files.h"
#include "apps/http/http.h"
#include "apps/http/server.h"
#include "stack/socket/socket.h"


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
                   "  --queues N          a multiqueue TAP, one stack shard and one server per queue, each on its\n"
                   "                      own core (1..CPUs, default 1); /stats then shows the shard that serves it\n"
                   "In both modes /stats shows the stack's counters and TCP connections, and /connections each\n"
                   "connection's timeline (live SVG at /connections/<id>, CSV at /connections/<id>.csv).\n");
    args.add_option({"--port", "-p"}, [&](std::string_view v) { return app::parse_int(v, 1, 65535, port); });
    args.add_option({"--root", "-r"}, [&](std::string_view v) {
        root_dir = std::string(v);
        return std::string();
    });
    long long log_entries = 1000;
    args.add_option({"--tcp-log-entries"}, [&](std::string_view v) { return app::parse_int(v, 0, 10'000'000, log_entries); });
    std::size_t queues = 1;
    args.add_option({"--queues"}, [&](std::string_view v) { return app::parse_queues(v, queues); });
    app::CommonOptions options = args.parse(argc, argv);
    options.queues = queues;
    if (auto e = app::check_queues(options); !e.empty()) args.fail(e);
    options.stack.tcp_log_entries = static_cast<std::size_t>(log_entries);

    std::optional<http::DocumentRoot> root;
    if (root_dir) {
        auto opened = http::DocumentRoot::open(*root_dir);
        if (!opened) args.fail("--root: " + opened.error());
        root.emplace(std::move(*opened));
    }

    // Run to completion: each stack runs in its server's thread, inside tcpip::poll (as in
    // tcpip-echo), so a request, the stack's work and the answer take no thread hand-off.
    app::RuntimeHost host("tcpip-httpd", options, app::RuntimeHost::StackThread::Caller);
    host.stop_on_signals();

    // One server per shard (--queues N), each a whole event loop with its own listener, in a
    // thread pinned to its shard's core: the kernel gives each connection to one queue, and
    // everything about it (the stack's work and ours) then stays on that core. Shared nothing;
    // with one queue the server runs here, in the main thread.
    std::vector<httpd::HttpdStats> shard_stats(host.shard_count());
    std::vector<char> shard_ok(host.shard_count(), 1);
    std::vector<int> listeners(host.shard_count(), -1);
    for (std::size_t k = 0; k < host.shard_count(); ++k) {
        sockaddr_in at{};
        at.sin_family = AF_INET;
        at.sin_port = htons(static_cast<std::uint16_t>(port));
        at.sin_addr.s_addr = htonl(INADDR_ANY);
        const int listener = host.shard(k).socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        if (listener < 0 || tcpip::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
            tcpip::bind(listener, reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0 ||
            tcpip::listen(listener, 256) != 0) {
            std::cerr << "tcpip-httpd: TCP port " << port << ": " << std::strerror(errno) << "\n";
            return 1;
        }
        httpd::set_nonblocking(listener);
        listeners[k] = listener;
    }

    std::cout << "tcpip-httpd: ready on " << options.tap << ", http://" << options.ip.address.to_string() << ":" << port
              << "/, serving " << (root ? root->path() : std::string("the built-in page"));
    if (host.shard_count() > 1) std::cout << ", " << host.shard_count() << " shards";
    std::cout << std::endl;

    auto serve_shard = [&](std::size_t k) {
        std::optional<http::DocumentRoot> shard_root;
        if (root) {
            auto opened = http::DocumentRoot::open(root->path());  // a descriptor of its own per shard
            if (opened) shard_root.emplace(std::move(*opened));
        }
        httpd::Server server(httpd::ServerEnv{host.shard(k), [&](std::ostream& os) { host.print_stats(os); }},
                             httpd::built_in_page(options.tap, options.ip.address, port), std::move(shard_root));
        const int listener = listeners[k];
        // The loop: wait (at most a second, for the idle deadlines) and serve, until SIGINT or SIGTERM.
        std::vector<pollfd> fds;
        while (!host.stop_requested()) {
            fds.clear();
            fds.push_back({host.stop_fd(), POLLIN, 0});
            server.poll_set(listener, fds);
            const int n = tcpip::poll(fds.data(), fds.size(), server.wants_turn_now() ? 0 : 1000);
            if (n < 0) {
                if (errno == EINTR) continue;  // a signal: the loop condition decides
                std::cerr << "tcpip-httpd: poll: " << std::strerror(errno) << "\n";
                shard_ok[k] = 0;
                break;
            }
            if (fds[0].revents != 0) break;
            server.serve(listener, fds.data() + 1);
        }
        server.close_all();
        tcpip::close(listener);
        shard_stats[k] = server.stats();
    };
    if (host.shard_count() == 1) {
        serve_shard(0);
    } else {
        std::vector<std::thread> threads;
        for (std::size_t k = 0; k < host.shard_count(); ++k) {
            threads.emplace_back([&, k] {
                host.pin_to_shard(k);
                serve_shard(k);
            });
        }
        for (auto& t : threads) t.join();
    }

    std::cout << "tcpip-httpd: stopping; statistics:\n";
    host.print_stats(std::cout);
    for (std::size_t k = 0; k < host.shard_count(); ++k) {
        print_stats(std::cout, host.shard_count() > 1 ? "httpd shard " + std::to_string(k) : std::string("httpd"), shard_stats[k]);
    }
    const bool ok = std::all_of(shard_ok.begin(), shard_ok.end(), [](char c) { return c != 0; });
    return ok ? 0 : 1;
}
