// The iperf3 control protocol (TCP tests), as iperf 3.x speaks it: the constants, the messages
// and their JSON, with no sockets - tcpip_perf.cpp drives them over our socket API. Read it beside
// iperf3's src/iperf_api.h (states), iperf_api.c (send_parameters, get_parameters, send_results,
// get_results, JSON_write, JSON_read), iperf_server_api.c and iperf_client_api.c.
//
// One test, as seen on the control connection (client C, server S; "state" = one signed byte):
//
//   C -> S   cookie: 36 printable characters + NUL (37 bytes) naming the test
//   S -> C   PARAM_EXCHANGE (9)
//   C -> S   parameters: 4-byte big-endian length, then that much JSON ({"tcp":true,"time":10,...})
//   S -> C   CREATE_STREAMS (10)
//            C opens `parallel` data connections to the same port; each first sends the cookie
//   S -> C   TEST_START (1), then TEST_RUNNING (2)
//            data flows: C -> S, or S -> C with "reverse"
//   C -> S   TEST_END (4)            the client ends the test (by time, bytes or blocks)
//   S -> C   EXCHANGE_RESULTS (13)   S has closed its data connections
//   C -> S   the client's results (length + JSON), then S -> C the server's
//   S -> C   DISPLAY_RESULTS (14)
//   C -> S   IPERF_DONE (16)         then both close
//
// Other states: ACCESS_DENIED (-1) to a second client while a test runs; SERVER_ERROR (-2)
// followed by two 4-byte big-endian numbers (iperf3's i_errno, then errno); SERVER_TERMINATE (11)
// and CLIENT_TERMINATE (12) when one side is interrupted.
//
// Stream ids: iperf_add_stream numbers the first stream 1 and each later one by its position
// counted from 2, so they go 1, 3, 4, 5, ... Both sides number the same way, in the order the
// data connections were made, and the results JSON names streams by these ids.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "apps/perf/json.h"
#include "stack/core/result.h"

namespace tcpip::perf::iperf {

constexpr std::uint16_t kDefaultPort = 5201;
constexpr std::size_t kCookieSize = 37;                  // COOKIE_SIZE: 36 characters and a NUL
constexpr std::uint32_t kDefaultBlockSize = 128 * 1024;  // DEFAULT_TCP_BLKSIZE
constexpr std::uint32_t kMaxBlockSize = 1024 * 1024;     // MAX_BLOCKSIZE
constexpr int kMaxStreams = 128;                         // MAX_STREAMS
constexpr int kMaxDuration = 86400;                      // MAX_TIME, seconds
// Bounds on a length-prefixed JSON message: the parameters are a few hundred bytes (iperf 3.16
// caps them at 8 KiB), results grow with the number of streams (~200 bytes each).
constexpr std::uint32_t kMaxParamsJson = 8 * 1024;
constexpr std::uint32_t kMaxResultsJson = 1024 * 1024;

// The control states (iperf_api.h), sent as one signed byte.
enum class State : std::int8_t {
    TestStart = 1,
    TestRunning = 2,
    TestEnd = 4,
    ParamExchange = 9,
    CreateStreams = 10,
    ServerTerminate = 11,
    ClientTerminate = 12,
    ExchangeResults = 13,
    DisplayResults = 14,
    IperfStart = 15,
    IperfDone = 16,
    AccessDenied = -1,
    ServerError = -2,
};

// The state a byte names, or nullopt for a byte iperf3 never sends (3, 5..8 are "not used").
std::optional<State> state_from_byte(std::uint8_t byte);
std::uint8_t state_byte(State state);
// "TEST_START", "ACCESS_DENIED", ... as iperf_api.h spells them.
const char* state_name(State state);

// The i_errno values we send after SERVER_ERROR (iperf_api.h), so iperf3 prints its own text.
enum class IperfError : std::int32_t {
    Unimplemented = 13,   // IEUNIMP: "not implemented yet"
    RecvParams = 114,     // IERECVPARAMS: "unable to receive parameters from client"
};

// ---- The cookie ----

// A new cookie: 36 characters from iperf3's alphabet (a-z, 2-7) and the NUL.
// `random` returns uniformly distributed 32-bit values.
std::array<char, kCookieSize> make_cookie(const std::function<std::uint32_t()>& random);
// Checks 37 received bytes: 36 printable ASCII characters, then NUL. An error says what is wrong.
Result<std::string, std::string> check_cookie(std::string_view bytes);

// ---- Length-prefixed JSON (JSON_write / JSON_read) ----

std::array<std::uint8_t, 4> encode_length(std::uint32_t length);
std::uint32_t decode_length(const std::array<std::uint8_t, 4>& bytes);
// The length prefix and the compact JSON text, ready to send.
std::string frame_json(const Json& json);

// ---- Test parameters (send_parameters / get_parameters) ----

struct TestParams {
    int duration = 10;          // "time", seconds; 0 with "num" or "blockcount"
    std::uint64_t bytes = 0;    // "num": end after this many bytes (all streams together)
    std::uint64_t blocks = 0;   // "blockcount": end after this many blocks
    int parallel = 1;           // "parallel": number of data streams
    bool reverse = false;       // "reverse": the server sends
    std::uint32_t block_size = kDefaultBlockSize;  // "len"
    int mss = 0;                // "MSS": TCP_MAXSEG for the data streams, 0 = default
    bool nodelay = false;       // "nodelay": TCP_NODELAY
    int window = 0;             // "window": SO_SNDBUF/SO_RCVBUF, 0 = default
    int omit = 0;               // "omit": seconds not counted at the start
    std::string client_version; // "client_version"
    std::string title;          // "title" (-T)
    std::string congestion;     // "congestion" (-C): TCP_CONGESTION for the data streams, empty = default
};

struct ParamError {
    IperfError code = IperfError::RecvParams;  // what to answer with SERVER_ERROR
    std::string message;
};

// Reads the client's parameters. TCP tests only: "udp", "sctp", "bidirectional", a pacing rate
// ("bandwidth") and "omit" are answered as not implemented; values out of iperf3's own ranges
// are rejected.
Result<TestParams, ParamError> params_from_json(const Json& json);
// The parameters as an iperf 3.12 client sends them.
Json params_to_json(const TestParams& params, std::string_view client_version);

// ---- Results (send_results / get_results) ----

struct StreamResult {
    int id = 0;
    std::int64_t bytes = 0;        // sent by a sender, received by a receiver
    std::int64_t retransmits = -1; // -1: not a sender, or no count
    double jitter = 0;             // UDP only: always 0 here
    std::int64_t errors = 0;       // UDP only
    std::int64_t packets = 0;      // UDP only
    double start_time = 0;         // seconds from the test's start
    double end_time = 0;
};

struct TestResults {
    double cpu_total = 0, cpu_user = 0, cpu_system = 0;  // percent
    int sender_has_retransmits = -1;  // 1: our streams' retransmits count; -1: we received
    std::string congestion_used;      // empty: not sent
    std::vector<StreamResult> streams;
};

Json results_to_json(const TestResults& results);
// Reads the peer's results; fails on missing fields, as get_results does.
Result<TestResults, std::string> results_from_json(const Json& json);

// The id iperf3 gives the stream made `index`-th (0-based): 1, 3, 4, 5, ...
int stream_id(std::size_t index);

}  // namespace tcpip::perf::iperf
