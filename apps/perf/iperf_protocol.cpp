// The iperf3 control protocol's messages: see iperf_protocol.h.
#include "apps/perf/iperf_protocol.h"

namespace tcpip::perf::iperf {

// ---- States ----

std::optional<State> state_from_byte(std::uint8_t byte) {
    const auto value = static_cast<std::int8_t>(byte);
    switch (value) {
        case 1: case 2: case 4: case 9: case 10: case 11: case 12: case 13: case 14: case 15: case 16:
        case -1: case -2:
            return static_cast<State>(value);
        default:
            return std::nullopt;
    }
}

std::uint8_t state_byte(State state) { return static_cast<std::uint8_t>(static_cast<std::int8_t>(state)); }

const char* state_name(State state) {
    switch (state) {
        case State::TestStart: return "TEST_START";
        case State::TestRunning: return "TEST_RUNNING";
        case State::TestEnd: return "TEST_END";
        case State::ParamExchange: return "PARAM_EXCHANGE";
        case State::CreateStreams: return "CREATE_STREAMS";
        case State::ServerTerminate: return "SERVER_TERMINATE";
        case State::ClientTerminate: return "CLIENT_TERMINATE";
        case State::ExchangeResults: return "EXCHANGE_RESULTS";
        case State::DisplayResults: return "DISPLAY_RESULTS";
        case State::IperfStart: return "IPERF_START";
        case State::IperfDone: return "IPERF_DONE";
        case State::AccessDenied: return "ACCESS_DENIED";
        case State::ServerError: return "SERVER_ERROR";
    }
    return "?";
}

// ---- The cookie ----

std::array<char, kCookieSize> make_cookie(const std::function<std::uint32_t()>& random) {
    // iperf3's make_cookie draws from these 32 characters (base32's alphabet, lower case).
    static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    std::array<char, kCookieSize> cookie{};
    for (std::size_t i = 0; i + 1 < kCookieSize; ++i) cookie[i] = kAlphabet[random() % 32];
    cookie[kCookieSize - 1] = '\0';
    return cookie;
}

Result<std::string, std::string> check_cookie(std::string_view bytes) {
    if (bytes.size() != kCookieSize) return Unexpected(std::string("cookie is not 37 bytes long"));
    if (bytes.back() != '\0') return Unexpected(std::string("cookie is not NUL-terminated"));
    for (std::size_t i = 0; i + 1 < kCookieSize; ++i) {
        const auto c = static_cast<unsigned char>(bytes[i]);
        if (c < 0x21 || c > 0x7e) return Unexpected(std::string("cookie has a non-printable character"));
    }
    return std::string(bytes.substr(0, kCookieSize - 1));
}

// ---- Length-prefixed JSON ----

std::array<std::uint8_t, 4> encode_length(std::uint32_t length) {
    return {static_cast<std::uint8_t>(length >> 24), static_cast<std::uint8_t>(length >> 16),
            static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length)};
}

std::uint32_t decode_length(const std::array<std::uint8_t, 4>& b) {
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3];
}

std::string frame_json(const Json& json) {
    const std::string text = dump_compact(json);
    const auto prefix = encode_length(static_cast<std::uint32_t>(text.size()));
    std::string out(prefix.begin(), prefix.end());
    out += text;
    return out;
}

// ---- Parameters ----

namespace {

// A member that must be a number in [min, max] when present (cJSON's valueint would silently
// truncate anything; we say what is wrong instead).
Result<std::optional<std::int64_t>, std::string> bounded(const Json& json, std::string_view key, std::int64_t min,
                                                          std::int64_t max) {
    const Json* v = member(json, key);
    if (v == nullptr) return std::optional<std::int64_t>();
    if (!v->is_number()) return Unexpected("\"" + std::string(key) + "\" is not a number");
    const std::int64_t n = as_int64(*v);
    if (n < min || n > max) {
        return Unexpected("\"" + std::string(key) + "\" = " + std::to_string(n) + " is out of range [" +
                          std::to_string(min) + ", " + std::to_string(max) + "]");
    }
    return std::optional<std::int64_t>(n);
}

ParamError unimplemented(std::string message) { return ParamError{IperfError::Unimplemented, std::move(message)}; }
ParamError bad(std::string message) { return ParamError{IperfError::RecvParams, std::move(message)}; }

}  // namespace

Result<TestParams, ParamError> params_from_json(const Json& json) {
    if (!json.is_object()) return Unexpected(bad("parameters are not a JSON object"));
    // get_parameters reads a flag by its presence, whatever its value.
    if (json.contains("udp")) return Unexpected(unimplemented("UDP tests are not supported (TCP only)"));
    if (json.contains("sctp")) return Unexpected(unimplemented("SCTP tests are not supported (TCP only)"));
    if (json.contains("bidirectional")) return Unexpected(unimplemented("--bidir is not supported"));

    TestParams p;
    std::string error;
    auto take = [&](std::string_view key, std::int64_t min, std::int64_t max) -> std::optional<std::int64_t> {
        auto r = bounded(json, key, min, max);
        if (!r) {
            if (error.empty()) error = r.error();
            return std::nullopt;
        }
        return *r;
    };
    constexpr std::int64_t kHuge = std::int64_t{1} << 62;
    if (auto v = take("time", 0, kMaxDuration)) p.duration = static_cast<int>(*v);
    if (auto v = take("num", 0, kHuge)) p.bytes = static_cast<std::uint64_t>(*v);
    if (auto v = take("blockcount", 0, kHuge)) p.blocks = static_cast<std::uint64_t>(*v);
    if (auto v = take("parallel", 1, kMaxStreams)) p.parallel = static_cast<int>(*v);
    if (auto v = take("len", 1, kMaxBlockSize)) p.block_size = static_cast<std::uint32_t>(*v);
    if (auto v = take("MSS", 0, 9000)) p.mss = static_cast<int>(*v);
    if (auto v = take("window", 0, 1 << 30)) p.window = static_cast<int>(*v);
    if (auto v = take("omit", 0, 600)) p.omit = static_cast<int>(*v);
    if (auto v = take("bandwidth", 0, kHuge); v && *v != 0) {
        return Unexpected(unimplemented("a target bitrate (-b) is not supported for TCP tests"));
    }
    if (!error.empty()) return Unexpected(bad(error));
    if (p.omit != 0) return Unexpected(unimplemented("--omit is not supported"));
    p.reverse = json.contains("reverse");
    p.nodelay = json.contains("nodelay");
    if (const Json* v = member(json, "client_version"); v && v->is_string()) p.client_version = v->get<std::string>();
    if (const Json* v = member(json, "title"); v && v->is_string()) p.title = v->get<std::string>();
    if (const Json* v = member(json, "congestion"); v && v->is_string()) p.congestion = v->get<std::string>();
    return p;
}

Json params_to_json(const TestParams& p, std::string_view client_version) {
    // The members and their order as send_parameters writes them for a TCP test.
    Json j = {{"tcp", true}, {"omit", p.omit}, {"time", p.duration}};
    if (p.bytes != 0) j["num"] = p.bytes;
    if (p.blocks != 0) j["blockcount"] = p.blocks;
    if (p.mss != 0) j["MSS"] = p.mss;
    if (p.nodelay) j["nodelay"] = true;
    j["parallel"] = p.parallel;
    if (p.reverse) j["reverse"] = true;
    if (p.window != 0) j["window"] = p.window;
    j["len"] = p.block_size;
    j["pacing_timer"] = 1000;
    if (!p.title.empty()) j["title"] = p.title;
    if (!p.congestion.empty()) j["congestion"] = p.congestion;
    j["client_version"] = client_version;
    return j;
}

// ---- Results ----

Json results_to_json(const TestResults& r) {
    Json j = {{"cpu_util_total", r.cpu_total},
              {"cpu_util_user", r.cpu_user},
              {"cpu_util_system", r.cpu_system},
              {"sender_has_retransmits", r.sender_has_retransmits}};
    if (!r.congestion_used.empty()) j["congestion_used"] = r.congestion_used;
    Json streams = Json::array();
    for (const auto& s : r.streams) {
        streams.push_back({{"id", s.id},
                           {"bytes", s.bytes},
                           {"retransmits", s.retransmits},
                           {"jitter", s.jitter},
                           {"errors", s.errors},
                           {"packets", s.packets},
                           {"start_time", s.start_time},
                           {"end_time", s.end_time}});
    }
    j["streams"] = std::move(streams);
    return j;
}

Result<TestResults, std::string> results_from_json(const Json& json) {
    if (!json.is_object()) return Unexpected(std::string("results are not a JSON object"));
    const Json* total = member(json, "cpu_util_total");
    const Json* user = member(json, "cpu_util_user");
    const Json* system = member(json, "cpu_util_system");
    const Json* retrans = member(json, "sender_has_retransmits");
    const Json* streams = member(json, "streams");
    if (!total || !user || !system || !retrans) return Unexpected(std::string("results lack the cpu or retransmit fields"));
    if (!streams || !streams->is_array()) return Unexpected(std::string("results have no \"streams\" array"));
    TestResults r;
    r.cpu_total = as_double(*total);
    r.cpu_user = as_double(*user);
    r.cpu_system = as_double(*system);
    r.sender_has_retransmits = static_cast<int>(as_int64(*retrans));  // cJSON's 2^64-1 reads as -1
    if (const Json* c = member(json, "congestion_used"); c && c->is_string()) r.congestion_used = c->get<std::string>();
    for (const Json& js : *streams) {
        const Json* id = member(js, "id");
        const Json* bytes = member(js, "bytes");
        const Json* retransmits = member(js, "retransmits");
        const Json* jitter = member(js, "jitter");
        const Json* errors = member(js, "errors");
        const Json* packets = member(js, "packets");
        if (!id || !bytes || !retransmits || !jitter || !errors || !packets) {
            return Unexpected(std::string("a stream result lacks id, bytes, retransmits, jitter, errors or packets"));
        }
        StreamResult s;
        s.id = static_cast<int>(as_int64(*id));
        s.bytes = as_int64(*bytes);
        s.retransmits = as_int64(*retransmits);
        s.jitter = as_double(*jitter);
        s.errors = as_int64(*errors);
        s.packets = as_int64(*packets);
        if (const Json* t = member(js, "start_time")) s.start_time = as_double(*t);
        if (const Json* t = member(js, "end_time")) s.end_time = as_double(*t);
        r.streams.push_back(s);
    }
    return r;
}

int stream_id(std::size_t index) { return index == 0 ? 1 : static_cast<int>(index) + 2; }

}  // namespace tcpip::perf::iperf
