// The server's side of an iperf3 test without sockets (apps/perf/server_session.h): the bytes it
// answers with at each step, and the ways a client can end it early.
#include <gtest/gtest.h>

#include <string>

#include "apps/perf/server_session.h"

namespace tcpip::perf::iperf {
namespace {

using Phase = ServerSession::Phase;

const std::string kCookie = std::string("abcdefghijklmnopqrstuvwxyz2345672345") + '\0';

std::string framed(const std::string& json) {
    const auto prefix = encode_length(static_cast<std::uint32_t>(json.size()));
    return std::string(prefix.begin(), prefix.end()) + json;
}

std::string bytes(std::initializer_list<int> states) {
    std::string out;
    for (int b : states) out.push_back(static_cast<char>(b));
    return out;
}

// The whole exchange, the client's bytes fed a few at a time.
TEST(ServerSession, AWholeTestInIperf3sOrder) {
    ServerSession s;
    const std::string hello = kCookie + framed(R"({"tcp":true,"omit":0,"time":0,"num":1000,"parallel":2,"len":1000})");
    for (std::size_t i = 0; i < kCookie.size(); i += 5) s.on_control(std::string_view(hello).substr(i, std::min<std::size_t>(5, kCookie.size() - i)));
    EXPECT_EQ(s.phase(), Phase::Params);
    EXPECT_EQ(s.take_output(), bytes({9}));  // PARAM_EXCHANGE
    s.on_control(std::string_view(hello).substr(kCookie.size()));
    EXPECT_EQ(s.phase(), Phase::Streams);
    EXPECT_EQ(s.take_output(), bytes({10}));  // CREATE_STREAMS
    EXPECT_EQ(s.params().parallel, 2);
    EXPECT_EQ(s.params().bytes, 1000u);

    EXPECT_FALSE(s.on_stream_cookie(std::string(36, 'z') + '\0'));  // another test's: refused
    EXPECT_TRUE(s.on_stream_cookie(kCookie));
    EXPECT_EQ(s.take_output(), "");
    EXPECT_TRUE(s.on_stream_cookie(kCookie));
    EXPECT_EQ(s.phase(), Phase::Running);
    EXPECT_EQ(s.take_output(), bytes({1, 2}));  // TEST_START, TEST_RUNNING
    EXPECT_FALSE(s.on_stream_cookie(kCookie));  // a third: the test has its streams

    s.on_control(bytes({4}));  // TEST_END
    EXPECT_EQ(s.phase(), Phase::Ending);
    s.end_test();
    EXPECT_EQ(s.take_output(), bytes({13}));  // EXCHANGE_RESULTS
    s.on_control(framed(R"({"cpu_util_total":1,"cpu_util_user":0.5,"cpu_util_system":0.5,"sender_has_retransmits":1,)"
                        R"("streams":[{"id":1,"bytes":500,"retransmits":0,"jitter":0,"errors":0,"packets":0}]})"));
    ASSERT_EQ(s.phase(), Phase::Results);
    EXPECT_EQ(s.client_results().streams.at(0).bytes, 500);
    TestResults ours;
    ours.streams.push_back(StreamResult{1, 500, -1, 0, 0, 0, 0, 0.25});
    s.send_results(ours);
    EXPECT_EQ(s.take_output(), frame_json(results_to_json(ours)) + bytes({14}));  // and DISPLAY_RESULTS
    s.on_control(bytes({16}));  // IPERF_DONE
    EXPECT_EQ(s.phase(), Phase::Done);
    EXPECT_EQ(s.warning(), "");
}

TEST(ServerSession, BadCookieFailsWithoutAnAnswer) {
    ServerSession s;
    s.on_control(std::string(37, '\xff'));
    EXPECT_EQ(s.phase(), Phase::Failed);
    EXPECT_NE(s.error().find("bad cookie"), std::string::npos) << s.error();
    EXPECT_EQ(s.take_output(), "");
}

// A length out of range, bad JSON or parameters we do not support: SERVER_ERROR, iperf3's error
// number and errno 0.
TEST(ServerSession, BadParametersAnswerServerError) {
    for (const std::string& params : {std::string("\xff\xff\xff\xff"), framed(R"({"tcp": tru)"),
                                      framed(R"({"udp":true,"time":1,"parallel":1,"len":1000})")}) {
        ServerSession s;
        s.on_control(kCookie + params);
        EXPECT_EQ(s.phase(), Phase::Failed) << params;
        const std::string out = s.take_output();
        ASSERT_EQ(out.size(), 1u + 1u + 8u) << params;
        EXPECT_EQ(out.substr(0, 2), bytes({9, 0xfe}));
    }
}

TEST(ServerSession, ClientMessagesOutOfTurnEndTheTest) {
    ServerSession early;
    early.on_control(kCookie + framed(R"({"tcp":true,"time":1,"parallel":1,"len":1000})") + bytes({4}));
    EXPECT_EQ(early.phase(), Phase::Failed);  // spoke before making its streams
    EXPECT_NE(early.error().find("before making its streams"), std::string::npos);

    ServerSession odd;
    odd.on_control(kCookie + framed(R"({"tcp":true,"time":1,"parallel":1,"len":1000})"));
    ASSERT_TRUE(odd.on_stream_cookie(kCookie));
    odd.on_control(bytes({0x55}));
    EXPECT_EQ(odd.phase(), Phase::Failed);
    EXPECT_NE(odd.error().find("unexpected control message 85"), std::string::npos) << odd.error();

    ServerSession gone;
    gone.on_control(kCookie);
    gone.on_control_closed();
    EXPECT_EQ(gone.phase(), Phase::Failed);
    EXPECT_NE(gone.error().find("unexpectedly closed"), std::string::npos);
}

// After our results, a close instead of IPERF_DONE ends the test well; another byte is remarked.
TEST(ServerSession, TheEndWithoutIperfDone) {
    for (bool close : {true, false}) {
        ServerSession s;
        s.on_control(kCookie + framed(R"({"tcp":true,"time":1,"parallel":1,"len":1000})"));
        ASSERT_TRUE(s.on_stream_cookie(kCookie));
        s.on_control(bytes({4}));
        s.end_test();
        s.on_control(framed(R"({"cpu_util_total":0,"cpu_util_user":0,"cpu_util_system":0,"sender_has_retransmits":0,"streams":[]})"));
        s.send_results(TestResults{});
        if (close) {
            s.on_control_closed();
        } else {
            s.on_control(bytes({3}));
        }
        EXPECT_EQ(s.phase(), Phase::Done);
        EXPECT_EQ(s.warning().empty(), close) << s.warning();
    }
}

}  // namespace
}  // namespace tcpip::perf::iperf
