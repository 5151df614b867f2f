// The JSON reader and writer of apps/perf (iperf3's control messages and -J output).
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "apps/perf/json.h"

namespace tcpip::perf {
namespace {

TEST(Json, ParsesIperf3Parameters) {
    // What iperf3 3.12 sent in a captured -R -n 10M -P 2 test.
    auto doc = parse_json(R"({"tcp":true,"omit":0,"time":0,"num":10485760,"blockcount":0,"parallel":2,)"
                          R"("reverse":true,"len":131072,"pacing_timer":1000,"client_version":"3.12"})");
    ASSERT_TRUE(doc) << doc.error().message;
    ASSERT_TRUE(doc->is_object());
    EXPECT_TRUE(doc->find("tcp")->as_bool());
    EXPECT_EQ(doc->find("num")->as_int64(), 10485760);
    EXPECT_EQ(doc->find("parallel")->as_int64(), 2);
    EXPECT_EQ(doc->find("client_version")->as_string(), "3.12");
    EXPECT_EQ(doc->find("absent"), nullptr);
    EXPECT_EQ(doc->members().front().first, "tcp");  // insertion order kept
}

TEST(Json, CJsonsUnsignedMinusOneReadsAsMinusOne) {
    // cJSON 1.7.15 prints the "no count" -1 as 2^64 - 1.
    auto doc = parse_json(R"({"retransmits":18446744073709551615,"neg":-9223372036854775808,"big":1e300})");
    ASSERT_TRUE(doc);
    EXPECT_EQ(doc->find("retransmits")->as_int64(), -1);
    EXPECT_EQ(doc->find("neg")->as_int64(), INT64_MIN);
    EXPECT_EQ(doc->find("big")->as_int64(), INT64_MAX);  // clamped
    EXPECT_DOUBLE_EQ(doc->find("big")->as_number(), 1e300);
}

TEST(Json, NegativeZeroSurvivesAReadAndAWrite) {
    // Found by fuzz_perf_json: "-0e1" read as -0.0 was written "-0", which read as the integer 0
    // and was written "0". "-0" now reads as the double -0.0, as in cJSON.
    for (const char* text : {"-0", "-0e1", "-0.0"}) {
        auto doc = parse_json(text);
        ASSERT_TRUE(doc) << text;
        EXPECT_EQ(doc->dump(), "-0") << text;
        EXPECT_TRUE(std::signbit(doc->as_number())) << text;
        EXPECT_EQ(doc->as_int64(), 0) << text;
    }
    EXPECT_EQ(parse_json("0")->dump(), "0");
}

TEST(Json, NumbersStringsAndEscapes) {
    auto doc = parse_json(R"([0, -1.5, 2.5e3, "a\"b\\c\n\u00e9\ud83d\ude00", true, false, null, {}, []])");
    ASSERT_TRUE(doc) << doc.error().message;
    const auto& items = doc->items();
    ASSERT_EQ(items.size(), 9u);
    EXPECT_EQ(items[0].as_int64(), 0);
    EXPECT_DOUBLE_EQ(items[1].as_number(), -1.5);
    EXPECT_DOUBLE_EQ(items[2].as_number(), 2500.0);
    EXPECT_EQ(items[3].as_string(), "a\"b\\c\n\xc3\xa9\xf0\x9f\x98\x80");
    EXPECT_TRUE(items[4].as_bool());
    EXPECT_TRUE(items[5].is_bool());
    EXPECT_TRUE(items[6].is_null());
    EXPECT_TRUE(items[7].is_object());
    EXPECT_TRUE(items[8].is_array());
}

TEST(Json, RejectsMalformedText) {
    for (const char* bad : {"", "{", "{\"a\":}", "{\"a\" 1}", "[1,]", "[1 2]", "tru", "01", "1.", "-", "1e",
                            "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"a\nb\"", "{\"a\":1} x", "{1:2}",
                            "nul", "[\"\\udc00\"]"}) {
        auto doc = parse_json(bad);
        EXPECT_FALSE(doc) << "accepted: " << bad;
    }
    auto doc = parse_json("{\"tcp\": tru");
    ASSERT_FALSE(doc);
    EXPECT_EQ(doc.error().offset, 8u);
    EXPECT_FALSE(doc.error().message.empty());
}

TEST(Json, BoundsNestingDepth) {
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    EXPECT_FALSE(parse_json(deep));  // no stack overflow: rejected at depth 65
    const std::string ok = std::string(64, '[') + std::string(64, ']');
    EXPECT_TRUE(parse_json(ok));
    const std::string too_deep = std::string(65, '[') + std::string(65, ']');
    EXPECT_FALSE(parse_json(too_deep));
}

TEST(Json, WritesCompactTextThatReadsBack) {
    Json j = Json::object();
    j.set("id", Json::integer(3)).set("bytes", Json::integer(-1)).set("jitter", Json::number(0.25));
    j.set("name", Json::string("q\"\x01")).set("list", Json::array());
    j.find("list")->push(Json::boolean(true));
    j.set("id", Json::integer(4));  // replaces, keeps its place
    EXPECT_EQ(j.dump(), R"({"id":4,"bytes":-1,"jitter":0.25,"name":"q\"\u0001","list":[true]})");
    auto back = parse_json(j.dump());
    ASSERT_TRUE(back);
    EXPECT_EQ(back->dump(), j.dump());
}

TEST(Json, DoublesRoundTripAndNonFiniteIsNull) {
    Json j = Json::array();
    j.push(Json::number(0.1)).push(Json::number(1.0 / 3.0));
    j.push(Json::number(1e308 * 10));
    auto back = parse_json(j.dump());
    ASSERT_TRUE(back) << j.dump();
    EXPECT_EQ(back->items()[0].as_number(), 0.1);
    EXPECT_EQ(back->items()[1].as_number(), 1.0 / 3.0);
    EXPECT_TRUE(back->items()[2].is_null());
}

TEST(Json, PrettyPrintsLikeCJson) {
    Json j = Json::object();
    j.set("a", Json::integer(1)).set("b", Json::object().set("c", Json::array()));
    EXPECT_EQ(j.dump_pretty(), "{\n\t\"a\":\t1,\n\t\"b\":\t{\n\t\t\"c\":\t[]\n\t}\n}");
    EXPECT_TRUE(parse_json(j.dump_pretty()));
}

}  // namespace
}  // namespace tcpip::perf
