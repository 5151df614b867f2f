// iperf3's control messages (apps/perf/iperf_protocol.h) and the report lines (report.h),
// checked without a network.
#include <gtest/gtest.h>

#include <string>

#include "apps/perf/iperf_protocol.h"
#include "apps/perf/report.h"

namespace tcpip::perf::iperf {
namespace {

TEST(IperfState, CodesMatchIperfApiH) {
    EXPECT_EQ(state_byte(State::TestStart), 1);
    EXPECT_EQ(state_byte(State::TestRunning), 2);
    EXPECT_EQ(state_byte(State::TestEnd), 4);
    EXPECT_EQ(state_byte(State::ParamExchange), 9);
    EXPECT_EQ(state_byte(State::CreateStreams), 10);
    EXPECT_EQ(state_byte(State::ServerTerminate), 11);
    EXPECT_EQ(state_byte(State::ClientTerminate), 12);
    EXPECT_EQ(state_byte(State::ExchangeResults), 13);
    EXPECT_EQ(state_byte(State::DisplayResults), 14);
    EXPECT_EQ(state_byte(State::IperfStart), 15);
    EXPECT_EQ(state_byte(State::IperfDone), 16);
    EXPECT_EQ(state_byte(State::AccessDenied), 0xff);  // (signed char) -1
    EXPECT_EQ(state_byte(State::ServerError), 0xfe);
    EXPECT_EQ(state_from_byte(0xff), State::AccessDenied);
    EXPECT_EQ(state_from_byte(4), State::TestEnd);
    for (int unused : {0, 3, 5, 6, 7, 8, 17, 0x55, 0x80}) {
        EXPECT_FALSE(state_from_byte(static_cast<std::uint8_t>(unused))) << unused;
    }
    EXPECT_STREQ(state_name(State::ExchangeResults), "EXCHANGE_RESULTS");
}

TEST(IperfCookie, MadeFromIperfsAlphabetAndChecked) {
    std::uint32_t n = 0;
    const auto cookie = make_cookie([&] { return n++ * 7; });
    EXPECT_EQ(cookie.back(), '\0');
    for (std::size_t i = 0; i + 1 < cookie.size(); ++i) {
        const char c = cookie[i];
        EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7')) << c;
    }
    auto ok = check_cookie(std::string_view(cookie.data(), cookie.size()));
    ASSERT_TRUE(ok) << ok.error();
    EXPECT_EQ(ok->size(), 36u);

    EXPECT_FALSE(check_cookie(std::string(36, 'a')));                  // short
    EXPECT_FALSE(check_cookie(std::string(37, 'a')));                  // no NUL
    EXPECT_FALSE(check_cookie(std::string(35, 'a') + "\x01" + '\0'));  // not printable
    EXPECT_FALSE(check_cookie(std::string(37, '\xff')));
}

TEST(IperfFraming, BigEndianLengthPrefix) {
    EXPECT_EQ(encode_length(0x91), (std::array<std::uint8_t, 4>{0, 0, 0, 0x91}));
    EXPECT_EQ(decode_length({0x12, 0x34, 0x56, 0x78}), 0x12345678u);
    EXPECT_EQ(decode_length(encode_length(0xffffffffu)), 0xffffffffu);
    const Json j = {{"a", 1}};
    const std::string framed = frame_json(j);
    EXPECT_EQ(framed, std::string("\0\0\0\x07{\"a\":1}", 11));
}

TEST(IperfParams, ReadsWhatIperf3Sends) {
    auto json = parse_json(R"({"tcp":true,"omit":0,"time":0,"num":10485760,"blockcount":0,"parallel":2,)"
                           R"("reverse":true,"len":131072,"pacing_timer":1000,"client_version":"3.12"})");
    ASSERT_TRUE(json);
    auto p = params_from_json(*json);
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(p->duration, 0);
    EXPECT_EQ(p->bytes, 10485760u);
    EXPECT_EQ(p->parallel, 2);
    EXPECT_TRUE(p->reverse);
    EXPECT_EQ(p->block_size, 131072u);
    EXPECT_EQ(p->client_version, "3.12");
    EXPECT_FALSE(p->nodelay);
}

TEST(IperfParams, DefaultsWhenAbsent) {
    auto p = params_from_json(Json{{"tcp", true}});
    ASSERT_TRUE(p);
    EXPECT_EQ(p->duration, 10);
    EXPECT_EQ(p->parallel, 1);
    EXPECT_EQ(p->block_size, kDefaultBlockSize);
    EXPECT_FALSE(p->reverse);
}

TEST(IperfParams, RejectsWhatWeDoNotDoAndWhatIsOutOfRange) {
    auto check = [](const char* text, IperfError code) {
        auto json = parse_json(text);
        ASSERT_TRUE(json) << text;
        auto p = params_from_json(*json);
        ASSERT_FALSE(p) << text;
        EXPECT_EQ(p.error().code, code) << text;
        EXPECT_FALSE(p.error().message.empty());
    };
    check(R"({"udp":true})", IperfError::Unimplemented);
    check(R"({"tcp":true,"bidirectional":true})", IperfError::Unimplemented);
    check(R"({"tcp":true,"bandwidth":1000000})", IperfError::Unimplemented);
    check(R"({"tcp":true,"omit":2})", IperfError::Unimplemented);
    check(R"({"tcp":true,"parallel":0})", IperfError::RecvParams);
    check(R"({"tcp":true,"parallel":129})", IperfError::RecvParams);
    check(R"({"tcp":true,"len":0})", IperfError::RecvParams);
    check(R"({"tcp":true,"len":2000000})", IperfError::RecvParams);
    check(R"({"tcp":true,"time":-1})", IperfError::RecvParams);
    check(R"({"tcp":true,"time":"10"})", IperfError::RecvParams);
    check(R"([1,2])", IperfError::RecvParams);
    // A zero bitrate is iperf3's default ("unlimited"), not a pacing request.
    auto json = parse_json(R"({"tcp":true,"bandwidth":0})");
    EXPECT_TRUE(params_from_json(*json));
}

TEST(IperfParams, WrittenAsIperf312DoesAndReadBack) {
    TestParams p;
    p.duration = 2;
    p.parallel = 4;
    p.reverse = true;
    const Json j = params_to_json(p, "3.12");
    EXPECT_EQ(j.dump(), R"({"tcp":true,"omit":0,"time":2,"parallel":4,"reverse":true,"len":131072,)"
                        R"("pacing_timer":1000,"client_version":"3.12"})");
    auto back = params_from_json(j);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->duration, 2);
    EXPECT_EQ(back->parallel, 4);
    EXPECT_TRUE(back->reverse);
}

// -C NAME travels as iperf3 sends it: "congestion" in the parameters, for the server's streams.
TEST(IperfParams, CongestionControlIsSentAndReadBack) {
    TestParams p;
    p.congestion = "reno";
    const Json j = params_to_json(p, "3.12");
    EXPECT_NE(j.dump().find(R"("congestion":"reno")"), std::string::npos) << j.dump();
    auto back = params_from_json(j);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->congestion, "reno");
    auto none = params_from_json(params_to_json(TestParams{}, "3.12"));
    ASSERT_TRUE(none);
    EXPECT_EQ(none->congestion, "");
}

TEST(IperfResults, ReadsIperf3sResults) {
    // A kernel iperf3 client's results from a captured -R -P 2 test (cJSON's -1 as 2^64-1).
    auto json = parse_json(
        R"({"cpu_util_total":39.1,"cpu_util_user":39.1,"cpu_util_system":0,"sender_has_retransmits":18446744073709551615,)"
        R"("congestion_used":"bbr","streams":[{"id":1,"bytes":5898240,"retransmits":18446744073709551615,"jitter":0,)"
        R"("errors":0,"packets":0,"start_time":0,"end_time":0.004019},{"id":3,"bytes":4587520,)"
        R"("retransmits":18446744073709551615,"jitter":0,"errors":0,"packets":0,"start_time":0,"end_time":0.004022}]})");
    ASSERT_TRUE(json);
    auto r = results_from_json(*json);
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(r->sender_has_retransmits, -1);
    EXPECT_DOUBLE_EQ(r->cpu_total, 39.1);
    EXPECT_EQ(r->congestion_used, "bbr");
    ASSERT_EQ(r->streams.size(), 2u);
    EXPECT_EQ(r->streams[1].id, 3);
    EXPECT_EQ(r->streams[1].bytes, 4587520);
    EXPECT_EQ(r->streams[1].retransmits, -1);
    EXPECT_DOUBLE_EQ(r->streams[0].end_time, 0.004019);
}

TEST(IperfResults, BuiltAndReadBack) {
    TestResults r;
    r.cpu_total = 12.5;
    r.sender_has_retransmits = 1;
    r.streams.push_back({1, 1000, 7, 0, 0, 0, 0, 2.0});
    r.streams.push_back({3, 2000, 0, 0, 0, 0, 0, 2.0});
    auto back = results_from_json(results_to_json(r));
    ASSERT_TRUE(back) << back.error();
    EXPECT_EQ(back->sender_has_retransmits, 1);
    ASSERT_EQ(back->streams.size(), 2u);
    EXPECT_EQ(back->streams[0].retransmits, 7);
    EXPECT_EQ(back->streams[1].bytes, 2000);
    EXPECT_DOUBLE_EQ(back->streams[1].end_time, 2.0);
    EXPECT_NE(dump_compact(results_to_json(r)).find(R"("cpu_util_user":0.0,)"), std::string::npos);
}

TEST(IperfResults, MissingFieldsAreAnError) {
    for (const char* bad : {R"({"streams":[]})", R"({"cpu_util_total":1,"cpu_util_user":1,"cpu_util_system":1,"sender_has_retransmits":1})",
                            R"({"cpu_util_total":1,"cpu_util_user":1,"cpu_util_system":1,"sender_has_retransmits":1,"streams":[{"id":1}]})",
                            R"({"cpu_util_total":1,"cpu_util_user":1,"cpu_util_system":1,"sender_has_retransmits":1,"streams":{}})"}) {
        auto json = parse_json(bad);
        ASSERT_TRUE(json) << bad;
        EXPECT_FALSE(results_from_json(*json)) << bad;
    }
}

TEST(IperfStreams, IdsAreOneThenThreeOnward) {
    EXPECT_EQ(stream_id(0), 1);
    EXPECT_EQ(stream_id(1), 3);
    EXPECT_EQ(stream_id(2), 4);
    EXPECT_EQ(stream_id(127), 129);
}

}  // namespace
}  // namespace tcpip::perf::iperf

namespace tcpip::perf {
namespace {

TEST(PerfReport, AdaptiveUnitsAsIperf3) {
    EXPECT_EQ(format_bytes(4.24 * 1024 * 1024 * 1024), "4.24 GBytes");
    EXPECT_EQ(format_bytes(64.4 * 1024), "64.4 KBytes");
    EXPECT_EQ(format_bytes(710 * 1024.0 * 1024), " 710 MBytes");
    EXPECT_EQ(format_bytes(512), " 512 Bytes");
    EXPECT_EQ(format_rate(18.2e9), "18.2 Gbits/sec");
    EXPECT_EQ(format_rate(673e6), " 673 Mbits/sec");
    EXPECT_EQ(format_rate(0), "0.00 bits/sec");
    EXPECT_DOUBLE_EQ(bits_per_second(1000, 2.0), 4000.0);
    EXPECT_EQ(bits_per_second(1000, 0), 0.0);
}

TEST(PerfReport, LinesLineUpLikeIperf3s) {
    const std::string sender = format_line({"5", 0, 2.0, 4552665088ull, 11, std::nullopt, "sender"});
    EXPECT_EQ(sender, "[  5]   0.00-2.00   sec  4.24 GBytes  18.2 Gbits/sec   11             sender\n");
    const std::string receiver = format_line({"5", 0, 2.0, 4552665088ull, std::nullopt, std::nullopt, "receiver"});
    EXPECT_EQ(receiver, "[  5]   0.00-2.00   sec  4.24 GBytes  18.2 Gbits/sec                  receiver\n");
    EXPECT_EQ(sender.find("sender"), receiver.find("receiver"));
    const std::string interval = format_line({"SUM", 1.0, 2.0, 1000, 0, 1024 * 506, ""});
    EXPECT_EQ(interval, "[SUM]   1.00-2.00   sec  1000 Bytes  8.00 Kbits/sec    0    506 KBytes\n");
}

TEST(PerfReport, JsonPiecesCarryIperf3sNames) {
    const Json s = summary_json(0, 2.0, 1000, 3, true);
    EXPECT_EQ(dump_compact(s),
              R"({"start":0.0,"end":2.0,"seconds":2.0,"bytes":1000,"bits_per_second":4000.0,"retransmits":3,"sender":true})");
    JsonInterval in;
    in.socket = 5;
    in.end = 1.0;
    in.bytes = 125;
    const Json i = interval_json(in);
    EXPECT_EQ(as_int64(*member(i, "socket")), 5);
    EXPECT_EQ(as_double(*member(i, "bits_per_second")), 1000.0);
    EXPECT_EQ(member(i, "retransmits"), nullptr);
    EXPECT_FALSE(member(i, "omitted")->get<bool>());
}

}  // namespace
}  // namespace tcpip::perf
