// iperf3's JSON (its control messages and the -J report) with nlohmann/json, Debian's
// nlohmann-json3-dev: the library does the grammar (RFC 8259), the escapes and the number
// formatting; this header adds only what iperf3 and untrusted peers need on top.
//
//   - Json is nlohmann::ordered_json: members keep their insertion order, so our -J document and
//     our parameters read in the order iperf3 writes them. A repeated name: the last value wins.
//   - parse_json never throws and bounds the nesting depth. nlohmann's parser is iterative, but
//     dump() recurses, so a peer's "[[[[..." must not become a value 100,000 levels deep.
//   - as_int64 reads cJSON's habit: iperf3 prints the "no retransmission count" marker -1 as the
//     unsigned 18446744073709551615, which nlohmann keeps as an unsigned 64-bit number; as_int64
//     gives -1 back for it (two's complement).
//   - dump_compact / dump_pretty never throw: a string that is not valid UTF-8 (a -T title from
//     the command line) is written with U+FFFD in place of the bad bytes.
//
//     auto doc = parse_json(R"({"time": 10, "reverse": true})");
//     if (!doc) std::cerr << doc.error().message;
//     const Json* t = member(*doc, "time");            // nullptr when absent
//     Json out = {{"bytes", 123}, {"sender", true}};
//     std::string wire = dump_compact(out);             // {"bytes":123,"sender":true}
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "stack/core/result.h"

namespace tcpip::perf {

using Json = nlohmann::ordered_json;

struct JsonError {
    std::size_t offset = 0;  // byte offset in the text where parsing stopped (0 when not known:
                             // nesting too deep, a number beyond the double range such as 1e400)
    std::string message;
};

struct JsonLimits {
    std::size_t max_depth = 64;  // arrays and objects nested deeper than this are rejected
};

// Parses exactly one JSON value (surrounded by optional white space).
inline Result<Json, JsonError> parse_json(std::string_view text, JsonLimits limits = {}) {
    // The callback sees each array and object open with the number of containers around it; a
    // container too deep is discarded at once (its contents are read but never stored).
    bool too_deep = false;
    auto bound_depth = [&](int depth, Json::parse_event_t event, Json&) {
        const bool opens = event == Json::parse_event_t::array_start || event == Json::parse_event_t::object_start;
        if (opens && static_cast<std::size_t>(depth) >= limits.max_depth) too_deep = true;
        return !too_deep;
    };
    try {
        Json value = Json::parse(text.begin(), text.end(), bound_depth);
        if (too_deep) return Unexpected(JsonError{0, "nested deeper than " + std::to_string(limits.max_depth) + " levels"});
        return value;
    } catch (const Json::parse_error& e) {
        // e.byte counts from 1 and may point one past the end (at the end of the text).
        const std::size_t offset = e.byte == 0 ? 0 : std::min(e.byte - 1, text.size());
        return Unexpected(JsonError{offset, e.what()});
    } catch (const Json::exception& e) {
        return Unexpected(JsonError{0, e.what()});  // out_of_range: a number JSON allows but a double cannot hold
    }
}

// The member `key` of an object, or nullptr when it is absent or `object` is not an object.
inline const Json* member(const Json& object, std::string_view key) {
    if (!object.is_object()) return nullptr;
    const auto it = object.find(key);
    return it == object.end() ? nullptr : &*it;
}

// A number as a signed 64-bit integer: integers exactly, 2^63..2^64-1 wrapped to negatives (so
// cJSON's 18446744073709551615 is -1), a fraction truncated toward zero and clamped to the int64
// range. Not a number: 0.
inline std::int64_t as_int64(const Json& value) {
    if (value.is_number_unsigned()) return static_cast<std::int64_t>(value.get<std::uint64_t>());
    if (value.is_number_integer()) return value.get<std::int64_t>();
    if (!value.is_number_float()) return 0;
    const double d = value.get<double>();
    if (std::isnan(d)) return 0;
    if (d >= 9.2233720368547758e18) return std::numeric_limits<std::int64_t>::max();
    if (d <= -9.2233720368547758e18) return std::numeric_limits<std::int64_t>::min();
    return static_cast<std::int64_t>(d);
}

// A number as a double; not a number: 0.
inline double as_double(const Json& value) { return value.is_number() ? value.get<double>() : 0.0; }

// Compact text, as cJSON_PrintUnformatted: what goes on the control connection.
inline std::string dump_compact(const Json& value) {
    return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// Indented with tabs, as iperf3 -J is (cJSON_Print).
inline std::string dump_pretty(const Json& value) {
    return value.dump(1, '\t', false, Json::error_handler_t::replace);
}

}  // namespace tcpip::perf
