// /connections pages (timeline.h): HTML and hand-written SVG, no script and no library.
#include "apps/http/timeline.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace tcpip::http {
namespace {

constexpr int kWidth = 900, kHeight = 300;                     // the SVG canvas
constexpr int kLeft = 70, kRight = 20, kTop = 30, kBottom = 40;  // margins around the plot area

std::string escape(const std::string& text) {
    std::string out;
    for (char c : text) {
        switch (c) {
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '&': out += "&amp;"; break;
            case '"': out += "&quot;"; break;
            default: out += c;
        }
    }
    return out;
}

std::string number(double v, int decimals = 1) {
    char text[32];
    std::snprintf(text, sizeof text, "%.*f", decimals, v);
    return text;
}

std::string endpoint(Ipv4Address address, std::uint16_t port) {
    return address.to_string() + ":" + std::to_string(port);
}

const char* cause_colour(RetransmitCause cause) {
    switch (cause) {
        case RetransmitCause::Timeout: return "#d62728";
        case RetransmitCause::FastRetransmit: return "#ff7f0e";
        case RetransmitCause::PartialAck: return "#9467bd";
        case RetransmitCause::RackLoss: return "#e377c2";
        case RetransmitCause::TailLossProbe: return "#bcbd22";
        default: return "#7f7f7f";
    }
}

// Maps times and values to the plot area; y grows upwards.
class Plot {
public:
    Plot(double t0, double t1, double y0, double y1)
        : t0_(t0), t1_(t1 > t0 ? t1 : t0 + 1e-3), y0_(y0), y1_(y1 > y0 ? y1 : y0 + 1) {}
    double x(double t) const { return kLeft + (t - t0_) / (t1_ - t0_) * (kWidth - kLeft - kRight); }
    double y(double v) const { return kHeight - kBottom - (v - y0_) / (y1_ - y0_) * (kHeight - kTop - kBottom); }

    // The frame, the axes' end values and their names.
    void axes(std::ostringstream& svg, const std::string& title, const std::string& y_unit, double y_scale) const {
        svg << "<rect x=\"" << kLeft << "\" y=\"" << kTop << "\" width=\"" << kWidth - kLeft - kRight << "\" height=\""
            << kHeight - kTop - kBottom << "\" fill=\"white\" stroke=\"#999\"/>\n";
        svg << "<text x=\"" << kLeft << "\" y=\"18\" font-size=\"14\">" << escape(title) << "</text>\n";
        for (int i = 0; i <= 4; ++i) {
            const double v = y0_ + (y1_ - y0_) * i / 4;
            svg << "<text x=\"" << kLeft - 6 << "\" y=\"" << number(y(v) + 4) << "\" font-size=\"11\" text-anchor=\"end\">"
                << number(v / y_scale, v / y_scale < 10 ? 1 : 0) << "</text>\n";
            const double t = t0_ + (t1_ - t0_) * i / 4;
            svg << "<text x=\"" << number(x(t)) << "\" y=\"" << kHeight - kBottom + 16
                << "\" font-size=\"11\" text-anchor=\"middle\">" << number(t, 3) << "</text>\n";
        }
        svg << "<text x=\"" << kWidth / 2 << "\" y=\"" << kHeight - 6 << "\" font-size=\"12\" text-anchor=\"middle\">time (s)</text>\n";
        svg << "<text x=\"14\" y=\"" << kHeight / 2 << "\" font-size=\"12\" transform=\"rotate(-90 14 " << kHeight / 2
            << ")\" text-anchor=\"middle\">" << escape(y_unit) << "</text>\n";
    }

private:
    double t0_, t1_, y0_, y1_;
};

double seconds(const TcpLogSnapshot& log, const TcpLogEntry& e) {
    return static_cast<double>((e.at - log.entries.front().at).total_micros()) / 1e6;
}

// A step line through (time, value) points: the value holds until the next event.
template <class Value>
void step_line(std::ostringstream& svg, const TcpLogSnapshot& log, const Plot& p, Value value, const char* colour,
               const char* dash) {
    svg << "<polyline fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"1.5\"" << dash << " points=\"";
    bool first = true;
    double last_y = 0;
    for (const TcpLogEntry& e : log.entries) {
        const double x = p.x(seconds(log, e));
        const double y = p.y(static_cast<double>(value(e)));
        if (!first) svg << number(x) << ',' << number(last_y) << ' ';
        svg << number(x) << ',' << number(y) << ' ';
        first = false;
        last_y = y;
    }
    svg << "\"/>\n";
}

void legend(std::ostringstream& svg, int index, const char* colour, const std::string& text) {
    const int x = kLeft + 10 + (index % 3) * 260;
    const int y = kTop + 14 + (index / 3) * 14;
    svg << "<rect x=\"" << x << "\" y=\"" << y - 8 << "\" width=\"14\" height=\"4\" fill=\"" << colour << "\"/>"
        << "<text x=\"" << x + 18 << "\" y=\"" << y - 3 << "\" font-size=\"11\">" << escape(text) << "</text>\n";
}

}  // namespace

std::string window_svg(const TcpLogSnapshot& log) {
    std::ostringstream svg;
    svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"window\" width=\"" << kWidth << "\" height=\"" << kHeight
        << "\" font-family=\"sans-serif\">\n";
    if (log.entries.empty()) {
        svg << "<text x=\"20\" y=\"40\">no events yet</text>\n</svg>\n";
        return svg.str();
    }
    std::uint32_t top = 1;
    for (const TcpLogEntry& e : log.entries) top = std::max({top, e.cwnd, e.in_flight, e.snd_wnd});
    const Plot p(0, seconds(log, log.entries.back()), 0, top * 1.05);
    p.axes(svg, "congestion window, bytes in flight, peer's window", "KiB", 1024);
    for (const TcpLogEntry& e : log.entries) {
        if (e.event != TcpLogEvent::Retransmit) continue;
        const double x = p.x(seconds(log, e));
        svg << "<line class=\"retransmit\" x1=\"" << number(x) << "\" x2=\"" << number(x) << "\" y1=\"" << kTop << "\" y2=\""
            << kHeight - kBottom << "\" stroke=\"" << cause_colour(e.cause) << "\" stroke-opacity=\"0.5\"><title>"
            << "retransmission (" << to_string(e.cause) << ") at " << number(seconds(log, e), 6) << " s</title></line>\n";
    }
    step_line(svg, log, p, [](const TcpLogEntry& e) { return e.snd_wnd; }, "#17becf", " stroke-dasharray=\"6 3\"");
    step_line(svg, log, p, [](const TcpLogEntry& e) { return e.in_flight; }, "#2ca02c", "");
    step_line(svg, log, p, [](const TcpLogEntry& e) { return e.cwnd; }, "#1f77b4", "");
    legend(svg, 0, "#1f77b4", "cwnd");
    legend(svg, 1, "#2ca02c", "bytes in flight");
    legend(svg, 2, "#17becf", "peer's window (snd_wnd)");
    legend(svg, 3, cause_colour(RetransmitCause::Timeout), "retransmission: RTO");
    legend(svg, 4, cause_colour(RetransmitCause::FastRetransmit), "fast retransmit");
    legend(svg, 5, cause_colour(RetransmitCause::PartialAck), "partial ACK (NewReno)");
    legend(svg, 6, cause_colour(RetransmitCause::RackLoss), "SACK recovery (RACK)");
    legend(svg, 7, cause_colour(RetransmitCause::TailLossProbe), "tail loss probe");
    svg << "</svg>\n";
    return svg.str();
}

std::string sequence_svg(const TcpLogSnapshot& log) {
    std::ostringstream svg;
    svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"sequence\" width=\"" << kWidth << "\" height=\"" << kHeight
        << "\" font-family=\"sans-serif\">\n";
    if (log.entries.empty()) {
        svg << "<text x=\"20\" y=\"40\">no events yet</text>\n</svg>\n";
        return svg.str();
    }
    // Relative sequence numbers of ours, from ISS (as Wireshark shows them). The ring may have
    // lost the start: the range is taken from what it holds.
    auto rel = [&](SeqNum n) { return static_cast<double>(static_cast<std::uint32_t>(n - log.iss)); };
    double low = 0, high = 1;
    bool any = false;
    for (const TcpLogEntry& e : log.entries) {
        if ((e.event == TcpLogEvent::Send || e.event == TcpLogEvent::Retransmit) && e.length > 0) {
            const double a = rel(e.seq), b = a + e.length;
            low = any ? std::min(low, a) : a;
            high = any ? std::max(high, b) : b;
            any = true;
        }
    }
    if (!any) {
        svg << "<text x=\"20\" y=\"40\">no data sent on this connection yet</text>\n</svg>\n";
        return svg.str();
    }
    const Plot p(0, seconds(log, log.entries.back()), low, high + (high - low) * 0.05);
    p.axes(svg, "time-sequence graph (segments sent, ACKs received)", "relative sequence number (KiB)", 1024);
    std::ostringstream acks, edge;
    for (const TcpLogEntry& e : log.entries) {
        const double x = p.x(seconds(log, e));
        if ((e.event == TcpLogEvent::Send || e.event == TcpLogEvent::Retransmit) && e.length > 0) {
            const bool again = e.event == TcpLogEvent::Retransmit;
            svg << "<line class=\"" << (again ? "retransmit" : "segment") << "\" x1=\"" << number(x) << "\" x2=\""
                << number(x) << "\" y1=\"" << number(p.y(rel(e.seq))) << "\" y2=\"" << number(p.y(rel(e.seq) + e.length))
                << "\" stroke=\"" << (again ? cause_colour(e.cause) : "black") << "\" stroke-width=\"" << (again ? 3 : 1.5)
                << "\"/>\n";
        } else if (e.event == TcpLogEvent::Receive && e.flags.ack()) {
            const double a = rel(e.ack);
            if (a < low || a > high + 1) continue;  // before the ring's data (the handshake)
            acks << number(x) << ',' << number(p.y(a)) << ' ';
            edge << number(x) << ',' << number(p.y(std::min(a + e.window, high + (high - low) * 0.05))) << ' ';
            for (std::size_t i = 0; i < std::min<std::size_t>(e.sack_count, TcpLogEntry::kMaxSack); ++i) {
                svg << "<line class=\"sack\" x1=\"" << number(x) << "\" x2=\"" << number(x) << "\" y1=\""
                    << number(p.y(rel(e.sack[i].left))) << "\" y2=\"" << number(p.y(rel(e.sack[i].right)))
                    << "\" stroke=\"#2ca02c\" stroke-width=\"4\" stroke-opacity=\"0.7\"/>\n";
            }
        }
    }
    svg << "<polyline class=\"acks\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.2\" points=\"" << acks.str() << "\"/>\n";
    svg << "<polyline class=\"edge\" fill=\"none\" stroke=\"#bcbd22\" stroke-width=\"1\" stroke-dasharray=\"5 3\" points=\""
        << edge.str() << "\"/>\n";
    legend(svg, 0, "black", "segment sent");
    legend(svg, 1, "#1f77b4", "ACK received");
    legend(svg, 2, "#bcbd22", "ACK + window");
    legend(svg, 3, cause_colour(RetransmitCause::Timeout), "retransmitted (colour: cause)");
    legend(svg, 4, "#2ca02c", "SACK block");
    svg << "</svg>\n";
    return svg.str();
}

std::string connections_page(const std::vector<TcpLogSnapshot>& logs) {
    std::ostringstream page;
    page << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"2\">"
         << "<title>tcpip: connections</title></head>\n<body>\n<h1>TCP connections</h1>\n"
         << "<p>Every connection the stack holds, with its event log. Click one to watch its timeline. "
         << "<a href=\"/stats\">/stats</a> has the counters.</p>\n"
         << "<table border=\"1\" cellpadding=\"4\">\n<tr><th>id</th><th>state</th><th>local</th><th>peer</th>"
         << "<th>cwnd (B)</th><th>in flight (B)</th><th>SRTT (ms)</th><th>retransmissions</th><th>events</th></tr>\n";
    for (const TcpLogSnapshot& log : logs) {
        std::uint32_t cwnd = 0, flight = 0;
        double srtt = 0;
        std::size_t retransmits = 0;
        if (!log.entries.empty()) {
            cwnd = log.entries.back().cwnd;
            flight = log.entries.back().in_flight;
            srtt = static_cast<double>(log.entries.back().srtt.total_micros()) / 1000.0;
        }
        for (const TcpLogEntry& e : log.entries) retransmits += e.event == TcpLogEvent::Retransmit ? 1 : 0;
        page << "<tr><td><a href=\"/connections/" << log.id << "\">" << log.id << "</a></td><td>" << to_string(log.state)
             << "</td><td>" << endpoint(log.local_address, log.local_port) << "</td><td>"
             << endpoint(log.remote_address, log.remote_port) << "</td><td>" << cwnd << "</td><td>" << flight
             << "</td><td>" << number(srtt, 3) << "</td><td>" << retransmits << "</td><td>" << log.recorded
             << "</td></tr>\n";
    }
    page << "</table>\n<p>" << logs.size() << " connection" << (logs.size() == 1 ? "" : "s") << ".</p>\n</body></html>\n";
    return page.str();
}

std::string connection_page(const TcpLogSnapshot& log, std::size_t table_rows) {
    std::ostringstream page;
    const std::string name = endpoint(log.local_address, log.local_port) + " &harr; " +
                             endpoint(log.remote_address, log.remote_port);
    page << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"1\">"
         << "<title>tcpip: connection " << log.id << "</title></head>\n<body>\n"
         << "<h1>connection " << log.id << ": " << name << ", " << to_string(log.state) << "</h1>\n"
         << "<p>" << log.entries.size() << " events shown of " << log.recorded << " recorded (the log keeps the latest). "
         << "This page reloads every second. <a href=\"/connections\">all connections</a> &middot; "
         << "<a href=\"/connections/" << log.id << ".csv\">CSV</a> (for scripts/plot_tcp.py) &middot; "
         << "<a href=\"/stats\">/stats</a></p>\n"
         << window_svg(log) << "<br>\n" << sequence_svg(log)
         << "<h2>latest events</h2>\n<table border=\"1\" cellpadding=\"3\">\n"
         << "<tr><th>time (s)</th><th>event</th><th>state</th><th>seq</th><th>len</th><th>ack</th><th>flags</th>"
         << "<th>cause</th><th>cwnd</th><th>ssthresh</th><th>in flight</th><th>SRTT (ms)</th><th>RTO (ms)</th></tr>\n";
    const std::size_t from = log.entries.size() > table_rows ? log.entries.size() - table_rows : 0;
    for (std::size_t i = log.entries.size(); i-- > from;) {
        const TcpLogEntry& e = log.entries[i];
        const bool segment = e.event == TcpLogEvent::Send || e.event == TcpLogEvent::Retransmit ||
                             e.event == TcpLogEvent::Receive;
        const bool incoming = e.event == TcpLogEvent::Receive;
        page << "<tr><td>" << number(seconds(log, e), 6) << "</td><td>" << to_string(e.event) << "</td><td>";
        if (e.event == TcpLogEvent::State) page << to_string(e.previous) << " &rarr; ";
        page << to_string(e.state) << "</td><td>";
        if (segment) page << static_cast<std::uint32_t>(e.seq - (incoming ? log.irs : log.iss));
        page << "</td><td>" << (segment ? std::to_string(e.length) : "") << "</td><td>";
        if (incoming && e.flags.ack()) page << static_cast<std::uint32_t>(e.ack - log.iss);
        page << "</td><td>" << (segment ? escape(e.flags.to_string()) : "") << "</td><td>" << to_string(e.cause)
             << "</td><td>" << e.cwnd << "</td><td>" << e.ssthresh << "</td><td>" << e.in_flight << "</td><td>"
             << number(static_cast<double>(e.srtt.total_micros()) / 1000.0, 3) << "</td><td>"
             << number(static_cast<double>(e.rto.total_micros()) / 1000.0, 0) << "</td></tr>\n";
    }
    page << "</table>\n</body></html>\n";
    return page.str();
}

std::uint64_t connection_id_of(const std::string& path, bool& csv) {
    const std::string prefix = "connections/";
    csv = false;
    if (path.rfind(prefix, 0) != 0) return 0;
    std::string rest = path.substr(prefix.size());
    if (rest.size() > 4 && rest.compare(rest.size() - 4, 4, ".csv") == 0) {
        csv = true;
        rest.resize(rest.size() - 4);
    }
    if (rest.empty() || rest.size() > 18) return 0;
    std::uint64_t id = 0;
    for (char c : rest) {
        if (c < '0' || c > '9') return 0;
        id = id * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return id;
}

}  // namespace tcpip::http
