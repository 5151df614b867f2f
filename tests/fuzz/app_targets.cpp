// Targets for the apps' parsers: tcpip-httpd's request head (apps/http/http.h) and tcpip-perf's
// iperf3 control messages and JSON (apps/perf/). These read bytes from any client that connects,
// so they get the same treatment as the wire formats: each accepted input is written out again
// and must read back the same.
#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>

#include "apps/http/http.h"
#include "apps/perf/iperf_protocol.h"
#include "apps/perf/json.h"
#include "tests/fuzz/targets.h"

namespace tcpip::fuzz {
namespace {

std::string_view as_text(Input data) { return {reinterpret_cast<const char*>(data.data()), data.size()}; }

// A request head written back from what the parser kept: request line, fields, empty line.
std::string head_of(const http::Request& request) {
    std::string head = request.method + " " + request.target + " HTTP/1." + std::to_string(request.minor_version) + "\r\n";
    for (const auto& [name, value] : request.headers) head += name + ": " + value + "\r\n";
    return head + "\r\n";
}

bool same_params(const perf::iperf::TestParams& a, const perf::iperf::TestParams& b) {
    return a.duration == b.duration && a.bytes == b.bytes && a.blocks == b.blocks && a.parallel == b.parallel &&
           a.reverse == b.reverse && a.block_size == b.block_size && a.mss == b.mss && a.nodelay == b.nodelay &&
           a.window == b.window && a.omit == b.omit && a.title == b.title;
}

// Numbers go through text as nlohmann/json writes them (the shortest text that reads back): exact.
// An infinity cannot be spelt in JSON: it is written as null, which reads back as 0. (A literal
// beyond the double range, 1e400, is refused by the parser: regressions/perf_control/.)
bool same_number(double a, double b) {
    return a == b || (std::isnan(a) && std::isnan(b)) || (!std::isfinite(a) && b == 0);
}

bool same_results(const perf::iperf::TestResults& a, const perf::iperf::TestResults& b) {
    if (!same_number(a.cpu_total, b.cpu_total) || !same_number(a.cpu_user, b.cpu_user) ||
        !same_number(a.cpu_system, b.cpu_system) || a.sender_has_retransmits != b.sender_has_retransmits ||
        a.congestion_used != b.congestion_used || a.streams.size() != b.streams.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.streams.size(); ++i) {
        const auto& x = a.streams[i];
        const auto& y = b.streams[i];
        if (x.id != y.id || x.bytes != y.bytes || x.retransmits != y.retransmits || !same_number(x.jitter, y.jitter) ||
            x.errors != y.errors || x.packets != y.packets || !same_number(x.start_time, y.start_time) ||
            !same_number(x.end_time, y.end_time)) {
            return false;
        }
    }
    return true;
}

}  // namespace

void http_request(Input data) {
    const std::string_view text = as_text(data);
    const http::ParseResult result = http::parse_request(text);
    if (result.kind == http::ParseResult::Kind::Error) {
        FUZZ_CHECK("http_request", result.status == 400 || result.status == 414 || result.status == 431 ||
                                       result.status == 505);
        return;
    }
    if (result.kind == http::ParseResult::Kind::Incomplete) {
        // The limits are enforced before the head is complete: an incomplete head is never
        // longer than both limits together (plus the line ends the parser may be waiting for).
        FUZZ_CHECK("http_request", text.size() <= http::kMaxRequestLine + http::kMaxHeaderBytes + 4);
        return;
    }
    const http::Request& request = result.request;
    FUZZ_CHECK("http_request", result.consumed > 0 && result.consumed <= text.size());
    FUZZ_CHECK("http_request", request.minor_version == 0 || request.minor_version == 1);
    FUZZ_CHECK("http_request", request.headers.size() <= http::kMaxHeaderLines);

    // The head alone parses to the same request: nothing after `consumed` was used.
    const http::ParseResult head_only = http::parse_request(text.substr(0, result.consumed));
    FUZZ_CHECK("http_request", head_only.kind == http::ParseResult::Kind::Complete);
    FUZZ_CHECK("http_request", head_only.consumed == result.consumed);

    // Written back in canonical form, it parses to the same fields.
    const std::string head = head_of(request);
    const http::ParseResult again = http::parse_request(head);
    FUZZ_CHECK("http_request", again.kind == http::ParseResult::Kind::Complete);
    FUZZ_CHECK("http_request", again.consumed == head.size());
    FUZZ_CHECK("http_request", again.request.method == request.method);
    FUZZ_CHECK("http_request", again.request.target == request.target);
    FUZZ_CHECK("http_request", again.request.minor_version == request.minor_version);
    FUZZ_CHECK("http_request", again.request.headers == request.headers);
    FUZZ_CHECK("http_request", again.request.content_length == request.content_length);
    FUZZ_CHECK("http_request", again.request.has_transfer_encoding == request.has_transfer_encoding);
    FUZZ_CHECK("http_request", again.request.keep_alive() == request.keep_alive());

    // The safety rule of tcpip-httpd: a path it accepts never leaves the document root.
    auto path = http::resolve_target(request.target);
    if (path) {
        FUZZ_CHECK("http_request", path->empty() || path->front() != '/');
        std::string_view rest = *path;
        while (!rest.empty()) {
            const std::size_t slash = rest.find('/');
            const std::string_view segment = rest.substr(0, slash);
            FUZZ_CHECK("http_request", !segment.empty() && segment != "." && segment != "..");
            rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
        }
        FUZZ_CHECK("http_request", path->find('\\') == std::string::npos);
        FUZZ_CHECK("http_request", std::none_of(path->begin(), path->end(), [](char c) {
                       return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
                   }));
    } else {
        FUZZ_CHECK("http_request", path.error().status == 400 || path.error().status == 403);
    }
}

// The first byte says which control message the rest is, as the iperf3 control connection
// carries them: a state byte, the 37-byte cookie, a 4-byte length prefix, or the JSON of the
// parameters or results.
void perf_control(Input data) {
    namespace iperf = perf::iperf;
    if (data.empty()) return;
    const std::uint8_t kind = data[0];
    const Input rest = data.subspan(1);
    switch (kind % 5) {
        case 0: {  // state bytes: a known byte names a state that encodes back to it
            for (std::uint8_t byte : rest) {
                if (auto state = iperf::state_from_byte(byte)) {
                    FUZZ_CHECK("perf_control", iperf::state_byte(*state) == byte);
                    FUZZ_CHECK("perf_control", iperf::state_name(*state) != nullptr);
                }
            }
            break;
        }
        case 1: {  // the cookie: accepted means 36 printable characters and a NUL
            auto cookie = iperf::check_cookie(as_text(rest));
            if (cookie) {
                FUZZ_CHECK("perf_control", rest.size() == iperf::kCookieSize);
                FUZZ_CHECK("perf_control", rest.back() == 0);
            }
            break;
        }
        case 2: {  // the length prefix of a JSON message: big-endian, both ways
            if (rest.size() < 4) return;
            const std::array<std::uint8_t, 4> prefix{rest[0], rest[1], rest[2], rest[3]};
            const std::uint32_t length = iperf::decode_length(prefix);
            FUZZ_CHECK("perf_control", iperf::encode_length(length) == prefix);
            break;
        }
        case 3: {  // the client's parameters
            auto json = perf::parse_json(as_text(rest));
            if (!json) return;
            auto params = iperf::params_from_json(*json);
            if (!params) return;
            FUZZ_CHECK("perf_control", params->parallel >= 1 && params->parallel <= iperf::kMaxStreams);
            FUZZ_CHECK("perf_control", params->block_size <= iperf::kMaxBlockSize);
            auto framed = iperf::frame_json(iperf::params_to_json(*params, params->client_version));
            FUZZ_CHECK("perf_control", framed.size() >= 4);
            const std::array<std::uint8_t, 4> prefix{static_cast<std::uint8_t>(framed[0]), static_cast<std::uint8_t>(framed[1]),
                                                     static_cast<std::uint8_t>(framed[2]), static_cast<std::uint8_t>(framed[3])};
            FUZZ_CHECK("perf_control", iperf::decode_length(prefix) == framed.size() - 4);
            auto json_again = perf::parse_json(std::string_view(framed).substr(4));
            FUZZ_CHECK("perf_control", json_again.has_value());
            auto again = iperf::params_from_json(*json_again);
            FUZZ_CHECK("perf_control", again.has_value());
            FUZZ_CHECK("perf_control", same_params(*params, *again));
            break;
        }
        case 4: {  // the results exchanged at the end
            auto json = perf::parse_json(as_text(rest));
            if (!json) return;
            auto results = iperf::results_from_json(*json);
            if (!results) return;
            auto json_again = perf::parse_json(perf::dump_compact(iperf::results_to_json(*results)));
            FUZZ_CHECK("perf_control", json_again.has_value());
            auto again = iperf::results_from_json(*json_again);
            FUZZ_CHECK("perf_control", again.has_value());
            FUZZ_CHECK("perf_control", same_results(*results, *again));
            break;
        }
    }
}

void perf_json(Input data) {
    auto json = perf::parse_json(as_text(data));
    if (!json) {
        FUZZ_CHECK("perf_json", json.error().offset <= data.size());
        return;
    }
    // Writing is a fixed point after one round: text -> value -> text -> value -> the same text.
    const std::string compact = perf::dump_compact(*json);
    auto again = perf::parse_json(compact);
    FUZZ_CHECK("perf_json", again.has_value());
    FUZZ_CHECK("perf_json", perf::dump_compact(*again) == compact);
    auto pretty = perf::parse_json(perf::dump_pretty(*json));
    FUZZ_CHECK("perf_json", pretty.has_value());
    FUZZ_CHECK("perf_json", perf::dump_compact(*pretty) == compact);
}

}  // namespace tcpip::fuzz
