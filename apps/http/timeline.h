// The pages behind tcpip-httpd's /connections: the TCP connections the stack holds, and each
// one's event log (stack/tcp/tcp_log.h) drawn as SVG, so a browser shows TCP deciding while it
// happens. Pure functions from snapshots to text, unit-tested on made-up logs
// (tests/unit/http_timeline_test.cpp); the server takes the snapshots under the stack's lock.
//
//   /connections            an HTML table: id, state, addresses, cwnd, SRTT, retransmissions,
//                           each id a link to its timeline
//   /connections/<id>       the timeline: two SVG graphs, (1) the congestion window, bytes in
//                           flight and the peer's window against time, retransmissions marked by
//                           cause, and (2) the time-sequence graph (tcptrace style: segments sent,
//                           retransmissions, ACKs received, the peer's right edge, SACK blocks),
//                           then the latest events as a table. The page reloads itself every
//                           second (<meta http-equiv="refresh">), so it follows the connection live.
//   /connections/<id>.csv   the same log as CSV, for scripts/plot_tcp.py
#pragma once

#include <string>
#include <vector>

#include "stack/tcp/tcp_log.h"

namespace tcpip::http {

// The list page. `logs` holds every connection with a log (their entries may be empty).
std::string connections_page(const std::vector<TcpLogSnapshot>& logs);

// The two graphs of one connection, as one <svg> element each (no page around them).
std::string window_svg(const TcpLogSnapshot& log);
std::string sequence_svg(const TcpLogSnapshot& log);

// The page of one connection: both graphs and the last `table_rows` events.
std::string connection_page(const TcpLogSnapshot& log, std::size_t table_rows = 30);

// The connection id in a path "connections/<id>" or "connections/<id>.csv" (csv set), or 0.
std::uint64_t connection_id_of(const std::string& path, bool& csv);

}  // namespace tcpip::http
