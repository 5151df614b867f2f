#include "apps/perf/server_session.h"

#include <utility>

namespace tcpip::perf::iperf {

void ServerSession::on_control(std::string_view bytes) {
    if (phase_ == Phase::Done || phase_ == Phase::Failed) return;
    input_.append(bytes);
    advance();
}

void ServerSession::on_control_closed() {
    switch (phase_) {
        case Phase::AwaitDone: phase_ = Phase::Done; break;  // a client that just closes: the test is over
        case Phase::Done:
        case Phase::Failed: break;
        default: failed("the client has unexpectedly closed the connection");
    }
}

bool ServerSession::on_stream_cookie(std::string_view bytes) {
    if (phase_ != Phase::Streams || bytes != raw_cookie_) return false;
    if (++streams_ == static_cast<std::size_t>(params_.parallel)) {
        send_state(State::TestStart);
        send_state(State::TestRunning);
        phase_ = Phase::Running;
        advance();  // a TEST_END that came early waits in the input
    }
    return true;
}

void ServerSession::end_test() {
    if (phase_ != Phase::Ending) return;
    send_state(State::ExchangeResults);
    phase_ = Phase::ClientResults;
    advance();
}

void ServerSession::send_results(const TestResults& ours) {
    if (phase_ != Phase::Results) return;
    output_ += frame_json(results_to_json(ours));
    send_state(State::DisplayResults);
    phase_ = Phase::AwaitDone;
    advance();
}

void ServerSession::fail(std::string why) { failed(std::move(why)); }

void ServerSession::failed(std::string why) {
    if (phase_ == Phase::Failed || phase_ == Phase::Done) return;
    error_ = std::move(why);
    phase_ = Phase::Failed;
}

bool ServerSession::take(std::size_t n, std::string& out) {
    if (input_.size() < n) return false;
    out.assign(input_, 0, n);
    input_.erase(0, n);
    return true;
}

std::optional<Json> ServerSession::take_json(std::uint32_t max, const char* what) {
    if (input_.size() < 4) return std::nullopt;
    std::array<std::uint8_t, 4> prefix{};
    for (std::size_t i = 0; i < 4; ++i) prefix[i] = static_cast<std::uint8_t>(input_[i]);
    const std::uint32_t length = decode_length(prefix);
    if (length == 0 || length > max) {
        failed(std::string(what) + ": JSON length " + std::to_string(length) + " is out of range (1.." +
               std::to_string(max) + ")");
        return std::nullopt;
    }
    if (input_.size() < 4 + std::size_t{length}) return std::nullopt;
    auto parsed = parse_json(std::string_view(input_).substr(4, length));
    input_.erase(0, 4 + std::size_t{length});
    if (!parsed) {
        failed(std::string(what) + ": bad JSON: " + parsed.error().message);
        return std::nullopt;
    }
    return std::move(*parsed);
}

void ServerSession::server_error(IperfError code) {
    // SERVER_ERROR, then iperf3's error number and an errno (0), so its client prints the reason.
    send_state(State::ServerError);
    for (const std::uint32_t word : {static_cast<std::uint32_t>(code), 0u}) {
        const auto bytes = encode_length(word);
        output_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    }
}

void ServerSession::advance() {
    for (;;) {
        const Phase before = phase_;
        switch (phase_) {
            case Phase::Cookie: {
                std::string raw;
                if (!take(kCookieSize, raw)) return;
                auto cookie = check_cookie(raw);
                if (!cookie) {
                    failed("bad cookie: " + cookie.error());
                    return;
                }
                raw_cookie_ = std::move(raw);
                cookie_ = std::move(*cookie);
                send_state(State::ParamExchange);
                phase_ = Phase::Params;
                break;
            }
            case Phase::Params: {
                auto json = take_json(kMaxParamsJson, "reading the parameters");
                if (!json) {
                    if (phase_ == Phase::Failed) server_error(IperfError::RecvParams);
                    return;
                }
                auto params = params_from_json(*json);
                if (!params) {
                    failed("parameters: " + params.error().message);
                    server_error(params.error().code);
                    return;
                }
                params_ = std::move(*params);
                send_state(State::CreateStreams);
                phase_ = Phase::Streams;
                break;
            }
            case Phase::Streams:
                if (!input_.empty()) failed("the client spoke (or closed) before making its streams");
                return;
            case Phase::Running: {
                std::string raw;
                if (!take(1, raw)) return;
                const auto state = state_from_byte(static_cast<std::uint8_t>(raw[0]));
                if (state == State::TestEnd) {
                    phase_ = Phase::Ending;
                } else if (state == State::ClientTerminate) {
                    failed("the client has terminated");
                } else {
                    failed("unexpected control message " + std::to_string(static_cast<int>(static_cast<std::int8_t>(raw[0]))) +
                           (state ? std::string(" (") + state_name(*state) + ")" : std::string()));
                }
                return;
            }
            case Phase::ClientResults: {
                auto json = take_json(kMaxResultsJson, "reading the client's results");
                if (!json) return;
                auto results = results_from_json(*json);
                if (!results) {
                    failed("the client's results: " + results.error());
                    return;
                }
                client_results_ = std::move(*results);
                phase_ = Phase::Results;
                return;
            }
            case Phase::AwaitDone: {
                std::string raw;
                if (!take(1, raw)) return;
                if (state_from_byte(static_cast<std::uint8_t>(raw[0])) != State::IperfDone) {
                    warning_ = "expected IPERF_DONE, got " + std::to_string(static_cast<int>(static_cast<std::int8_t>(raw[0])));
                }
                phase_ = Phase::Done;
                return;
            }
            case Phase::Ending:
            case Phase::Results:
            case Phase::Done:
            case Phase::Failed:
                return;
        }
        if (phase_ == before) return;
    }
}

}  // namespace tcpip::perf::iperf
