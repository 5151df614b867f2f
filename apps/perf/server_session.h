// The server's side of one iperf3 test, without sockets, threads or clocks: it is fed what
// arrives on the control connection and the cookies the data connections open with, and says
// what to send on the control connection and what the program must do next. tcpip-perf -s drives
// it with its blocking control reads and a thread per data stream; tcpip-replay --app perf-server
// drives it single-threaded on a virtual clock (apps/perf/replay_server.h). Both therefore put the
// same bytes on the wire in the same order (iperf_server_api.c's sequence, iperf_protocol.h):
//
//   phase          reads (control)                      writes (control)            then
//   Cookie         the 37-byte cookie                   PARAM_EXCHANGE              Params
//   Params         length + parameters JSON             CREATE_STREAMS              Streams
//                  (bad ones: SERVER_ERROR, code, 0)                                Failed
//   Streams        (each data connection's cookie,      TEST_START, TEST_RUNNING    Running
//                  on_stream_cookie, until `parallel`)   once all are in
//   Running        TEST_END                             -                           Ending
//   Ending         (the program stops and measures the  EXCHANGE_RESULTS            ClientResults
//                  streams, closes them: end_test())
//   ClientResults  length + the client's results JSON   -                           Results
//   Results        (the program checks them and gives   our results JSON,           AwaitDone
//                  its own: send_results())             DISPLAY_RESULTS
//   AwaitDone      IPERF_DONE (or a close)              -                           Done
//
// Anything else the client says ends the test (Failed, with the reason in error()).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "apps/perf/iperf_protocol.h"

namespace tcpip::perf::iperf {

class ServerSession {
public:
    enum class Phase { Cookie, Params, Streams, Running, Ending, ClientResults, Results, AwaitDone, Done, Failed };

    // Bytes that arrived on the control connection (any amount: what a message lacks waits for
    // more). Whatever they complete is answered in output().
    void on_control(std::string_view bytes);
    // The control connection was closed by the client: Done after its results, else Failed.
    void on_control_closed();
    // A data connection's first 37 bytes: true if it is one of this test's streams (in Streams,
    // with this test's cookie); false: the program answers ACCESS_DENIED and closes it.
    bool on_stream_cookie(std::string_view bytes);
    // Ending: the streams are stopped, measured and closed: EXCHANGE_RESULTS goes out.
    void end_test();
    // Results: our results (after the program matched the client's, client_results()).
    void send_results(const TestResults& ours);
    // Ends the test from outside (a timeout, a signal): Failed with that reason.
    void fail(std::string why);

    Phase phase() const { return phase_; }
    const TestParams& params() const { return params_; }      // from Streams on
    const std::string& cookie() const { return cookie_; }      // from Params on, checked
    const TestResults& client_results() const { return client_results_; }  // from Results on
    std::size_t streams() const { return streams_; }
    const std::string& error() const { return error_; }
    // A remark that did not end the test (IPERF_DONE expected, another byte came).
    const std::string& warning() const { return warning_; }

    // The bytes to send on the control connection, in order; taken once.
    std::string take_output() { return std::exchange(output_, {}); }

private:
    void advance();  // consumes the input as far as the phase allows
    bool take(std::size_t n, std::string& out);
    // A length-prefixed JSON message of at most `max` bytes: the Json, or nullopt while incomplete
    // (a bad one fails the test with `what`).
    std::optional<Json> take_json(std::uint32_t max, const char* what);
    void send_state(State state) { output_.push_back(static_cast<char>(state_byte(state))); }
    void server_error(IperfError code);
    void failed(std::string why);

    Phase phase_ = Phase::Cookie;
    std::string input_;
    std::string output_;
    std::string raw_cookie_;  // the 37 bytes, as the data connections must repeat them
    std::string cookie_;
    TestParams params_;
    std::size_t streams_ = 0;
    TestResults client_results_;
    std::string error_, warning_;
};

}  // namespace tcpip::perf::iperf
