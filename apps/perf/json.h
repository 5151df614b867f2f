// A small JSON reader and writer (RFC 8259), enough for iperf3's control messages and -J output.
//
// iperf3 speaks JSON on its control connection (the test parameters and each side's results) and
// prints a JSON report with -J. Its JSON comes from cJSON, which has one habit a reader must
// expect: it prints unsigned 64-bit values, so the "no retransmission count" marker -1 goes over
// the wire as 18446744073709551615. A number written as an integer is therefore kept exactly as a
// 64-bit two's-complement value (as_int64() gives -1 back for that text), beside its double.
//
// The parser never trusts its input: it checks every byte it reads against the end of the text,
// bounds the nesting depth (a deep "[[[[..." cannot exhaust the stack) and rejects anything that
// is not exactly one JSON value followed by white space. Errors say where and why.
//
//     auto doc = parse_json(R"({"time": 10, "reverse": true})");
//     if (!doc) std::cerr << doc.error().message << " at byte " << doc.error().offset;
//     const Json* t = doc->find("time");             // nullptr when absent
//     Json out = Json::object();
//     out.set("bytes", Json::integer(123)).set("sender", Json::boolean(true));
//     std::string wire = out.dump();                  // {"bytes":123,"sender":true}
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stack/core/result.h"

namespace tcpip::perf {

class Json {
public:
    enum class Type { Null, Bool, Number, String, Array, Object };
    using Member = std::pair<std::string, Json>;

    Json() = default;  // null
    static Json boolean(bool value);
    static Json number(double value);            // written with up to 17 significant digits
    static Json integer(std::int64_t value);     // written exactly
    static Json string(std::string value);
    static Json array();
    static Json object();

    Type type() const { return type_; }
    bool is_null() const { return type_ == Type::Null; }
    bool is_bool() const { return type_ == Type::Bool; }
    bool is_number() const { return type_ == Type::Number; }
    bool is_string() const { return type_ == Type::String; }
    bool is_array() const { return type_ == Type::Array; }
    bool is_object() const { return type_ == Type::Object; }

    // The value, or a neutral one (false, 0, "") when the type differs.
    bool as_bool() const { return type_ == Type::Bool && bool_; }
    double as_number() const { return type_ == Type::Number ? number_ : 0.0; }
    // An integer literal exactly (wrapping 2^63..2^64-1 to negatives, as cJSON's -1 needs);
    // another number truncated toward zero and clamped to the int64 range.
    std::int64_t as_int64() const;
    const std::string& as_string() const;

    // Arrays. push appends and returns *this, for chaining.
    const std::vector<Json>& items() const { return items_; }
    Json& push(Json value);

    // Objects keep their members in insertion order (iperf3's output reads better that way).
    const std::vector<Member>& members() const { return members_; }
    const Json* find(std::string_view key) const;
    Json* find(std::string_view key);
    // Sets `key` (replacing an existing member of that name) and returns *this, for chaining.
    Json& set(std::string key, Json value);

    // Compact text, as cJSON_PrintUnformatted: what goes on the control connection.
    std::string dump() const;
    // Indented with tabs, as cJSON_Print (iperf3 -J looks like this).
    std::string dump_pretty() const;

private:
    void write(std::string& out, int indent) const;  // indent < 0: compact

    Type type_ = Type::Null;
    bool bool_ = false;
    double number_ = 0.0;
    bool integral_ = false;     // the number was written, or made, as an integer
    std::int64_t integer_ = 0;  // its exact value when integral_
    std::string string_;
    std::vector<Json> items_;
    std::vector<Member> members_;

    friend class JsonParser;
};

struct JsonError {
    std::size_t offset = 0;  // byte offset in the text where parsing stopped
    std::string message;
};

struct JsonLimits {
    std::size_t max_depth = 64;  // arrays and objects nested deeper than this are rejected
};

// Parses exactly one JSON value (surrounded by optional white space).
Result<Json, JsonError> parse_json(std::string_view text, JsonLimits limits = {});

// A JSON string literal for `text`, with the quotes (control characters escaped as \uXXXX).
std::string json_quote(std::string_view text);

}  // namespace tcpip::perf
