// tcpip-perf's JSON (apps/perf/json.h): nlohmann/json with the few things iperf3's control
// messages and -J output need on top (cJSON's unsigned -1, a depth bound, no exceptions).
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
    EXPECT_TRUE(member(*doc, "tcp")->get<bool>());
    EXPECT_EQ(as_int64(*member(*doc, "num")), 10485760);
    EXPECT_EQ(as_int64(*member(*doc, "parallel")), 2);
    EXPECT_EQ(member(*doc, "client_version")->get<std::string>(), "3.12");
    EXPECT_EQ(member(*doc, "absent"), nullptr);
    EXPECT_EQ(member(Json::array(), "tcp"), nullptr);  // not an object: no members
    EXPECT_EQ(doc->begin().key(), "tcp");               // insertion order kept
}

TEST(Json, CJsonsUnsignedMinusOneReadsAsMinusOne) {
    // cJSON 1.7.15 prints the "no count" -1 as 2^64 - 1.
    auto doc = parse_json(R"({"retransmits":18446744073709551615,"neg":-9223372036854775808,"big":1e300})");
    ASSERT_TRUE(doc);
    EXPECT_EQ(as_int64(*member(*doc, "retransmits")), -1);
    EXPECT_EQ(as_int64(*member(*doc, "neg")), INT64_MIN);
    EXPECT_EQ(as_int64(*member(*doc, "big")), INT64_MAX);  // clamped
    EXPECT_DOUBLE_EQ(as_double(*member(*doc, "big")), 1e300);
    EXPECT_EQ(as_int64(Json("12")), 0);  // not a number
    EXPECT_EQ(as_double(Json(true)), 0.0);
}

TEST(Json, NegativeZeroSurvivesAReadAndAWrite) {
    // Found by fuzz_perf_json (with the hand-written reader nlohmann/json replaced): -0.0 written
    // and read again must stay -0.0, so that a second write gives the same text.
    for (const char* text : {"-0e1", "-0.0"}) {
        auto doc = parse_json(text);
        ASSERT_TRUE(doc) << text;
        EXPECT_TRUE(std::signbit(as_double(*doc))) << text;
        EXPECT_EQ(as_int64(*doc), 0) << text;
        auto again = parse_json(dump_compact(*doc));
        ASSERT_TRUE(again) << dump_compact(*doc);
        EXPECT_TRUE(std::signbit(as_double(*again))) << text;
        EXPECT_EQ(dump_compact(*again), dump_compact(*doc)) << text;
    }
    EXPECT_EQ(dump_compact(*parse_json("-0")), "0");  // an integer has no sign of zero
    EXPECT_EQ(dump_compact(*parse_json("0")), "0");
}

TEST(Json, NumbersStringsAndEscapes) {
    auto doc = parse_json(R"([0, -1.5, 2.5e3, "a\"b\\c\n\u00e9\ud83d\ude00", true, false, null, {}, []])");
    ASSERT_TRUE(doc) << doc.error().message;
    const Json& items = *doc;
    ASSERT_EQ(items.size(), 9u);
    EXPECT_EQ(as_int64(items[0]), 0);
    EXPECT_DOUBLE_EQ(as_double(items[1]), -1.5);
    EXPECT_DOUBLE_EQ(as_double(items[2]), 2500.0);
    EXPECT_EQ(items[3].get<std::string>(), "a\"b\\c\n\xc3\xa9\xf0\x9f\x98\x80");
    EXPECT_TRUE(items[4].get<bool>());
    EXPECT_TRUE(items[5].is_boolean());
    EXPECT_TRUE(items[6].is_null());
    EXPECT_TRUE(items[7].is_object());
    EXPECT_TRUE(items[8].is_array());
}

TEST(Json, RejectsMalformedText) {
    for (const char* bad : {"", "{", "{\"a\":}", "{\"a\" 1}", "[1,]", "[1 2]", "tru", "01", "1.", "-", "1e",
                            "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"a\nb\"", "{\"a\":1} x", "{1:2}",
                            "nul", "[\"\\udc00\"]", "\"\xff\""}) {
        auto doc = parse_json(bad);
        EXPECT_FALSE(doc) << "accepted: " << bad;
    }
    // The error says where: at or just after the bad literal, within the text.
    const std::string text = "{\"tcp\": tru";
    auto doc = parse_json(text);
    ASSERT_FALSE(doc);
    EXPECT_GE(doc.error().offset, 8u);
    EXPECT_LE(doc.error().offset, text.size());
    EXPECT_NE(doc.error().message.find("invalid literal"), std::string::npos) << doc.error().message;
}

TEST(Json, BoundsNestingDepth) {
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    EXPECT_FALSE(parse_json(deep));  // rejected, and nothing 100,000 levels deep is kept
    const std::string ok = std::string(64, '[') + std::string(64, ']');
    EXPECT_TRUE(parse_json(ok));
    const std::string too_deep = std::string(65, '[') + std::string(65, ']');
    EXPECT_FALSE(parse_json(too_deep));
    EXPECT_FALSE(parse_json(R"({"a":)" + std::string(64, '[') + std::string(64, ']') + "}"));  // 65 with the object
    EXPECT_TRUE(parse_json(R"({"a":)" + std::string(63, '[') + std::string(63, ']') + "}"));
}

TEST(Json, WritesCompactTextThatReadsBack) {
    Json j = {{"id", 3}, {"bytes", -1}, {"jitter", 0.25}, {"name", "q\"\x01"}, {"list", Json::array()}};
    j["list"].push_back(true);
    j["id"] = 4;  // replaces, keeps its place
    EXPECT_EQ(dump_compact(j), R"({"id":4,"bytes":-1,"jitter":0.25,"name":"q\"\u0001","list":[true]})");
    auto back = parse_json(dump_compact(j));
    ASSERT_TRUE(back);
    EXPECT_EQ(dump_compact(*back), dump_compact(j));
}

TEST(Json, BadUtf8IsReplacedNotThrown) {
    // A -T title from the command line is not checked: writing it must not throw.
    const Json j = {{"title", "a\xff" "b"}};
    EXPECT_EQ(dump_compact(j), "{\"title\":\"a\xef\xbf\xbd" "b\"}");
    EXPECT_TRUE(parse_json(dump_pretty(j)));
}

TEST(Json, DoublesRoundTripAndNonFiniteIsNull) {
    const Json j = {0.1, 1.0 / 3.0, 1e308 * 10};
    auto back = parse_json(dump_compact(j));
    ASSERT_TRUE(back) << dump_compact(j);
    EXPECT_EQ(as_double((*back)[0]), 0.1);
    EXPECT_EQ(as_double((*back)[1]), 1.0 / 3.0);
    EXPECT_TRUE((*back)[2].is_null());
}

TEST(Json, PrettyPrintsWithTabsAndReadsBack) {
    const Json j = {{"a", 1}, {"b", {{"c", Json::array()}}}};
    EXPECT_EQ(dump_pretty(j), "{\n\t\"a\": 1,\n\t\"b\": {\n\t\t\"c\": []\n\t}\n}");
    auto back = parse_json(dump_pretty(j));
    ASSERT_TRUE(back);
    EXPECT_EQ(dump_compact(*back), dump_compact(j));
}

}  // namespace
}  // namespace tcpip::perf
