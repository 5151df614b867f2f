// JSON reader and writer: RFC 8259's grammar, by recursive descent. See json.h.
#include "apps/perf/json.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace tcpip::perf {

// ---- Building values ----

Json Json::boolean(bool value) {
    Json j;
    j.type_ = Type::Bool;
    j.bool_ = value;
    return j;
}

Json Json::number(double value) {
    Json j;
    j.type_ = Type::Number;
    j.number_ = value;
    return j;
}

Json Json::integer(std::int64_t value) {
    Json j;
    j.type_ = Type::Number;
    j.number_ = static_cast<double>(value);
    j.integral_ = true;
    j.integer_ = value;
    return j;
}

Json Json::string(std::string value) {
    Json j;
    j.type_ = Type::String;
    j.string_ = std::move(value);
    return j;
}

Json Json::array() {
    Json j;
    j.type_ = Type::Array;
    return j;
}

Json Json::object() {
    Json j;
    j.type_ = Type::Object;
    return j;
}

std::int64_t Json::as_int64() const {
    if (type_ != Type::Number) return 0;
    if (integral_) return integer_;
    // A fraction or an exponent: truncate, and clamp what does not fit (NaN gives 0).
    if (!(number_ == number_)) return 0;
    if (number_ >= 9.2233720368547758e18) return std::numeric_limits<std::int64_t>::max();
    if (number_ <= -9.2233720368547758e18) return std::numeric_limits<std::int64_t>::min();
    return static_cast<std::int64_t>(number_);
}

const std::string& Json::as_string() const {
    static const std::string empty;
    return type_ == Type::String ? string_ : empty;
}

Json& Json::push(Json value) {
    items_.push_back(std::move(value));
    return *this;
}

const Json* Json::find(std::string_view key) const {
    for (const auto& m : members_) {
        if (m.first == key) return &m.second;
    }
    return nullptr;
}

Json* Json::find(std::string_view key) {
    for (auto& m : members_) {
        if (m.first == key) return &m.second;
    }
    return nullptr;
}

Json& Json::set(std::string key, Json value) {
    if (Json* existing = find(key)) {
        *existing = std::move(value);
    } else {
        members_.emplace_back(std::move(key), std::move(value));
    }
    return *this;
}

// ---- Writing ----

std::string json_quote(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 2);
    out += '"';
    for (const char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
                    out += buf;
                } else {
                    out += c;  // UTF-8 passes through as it is
                }
        }
    }
    out += '"';
    return out;
}

namespace {

// The shortest of %.15g and %.17g that reads back as the same double (cJSON does the same), or
// null for NaN and infinities, which JSON cannot spell.
std::string format_double(double value) {
    if (!std::isfinite(value)) return "null";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.15g", value);
    if (std::strtod(buf, nullptr) != value) std::snprintf(buf, sizeof buf, "%.17g", value);
    return buf;
}

void newline_and_indent(std::string& out, int indent) {
    out += '\n';
    out.append(static_cast<std::size_t>(indent), '\t');
}

}  // namespace

void Json::write(std::string& out, int indent) const {
    const bool pretty = indent >= 0;
    switch (type_) {
        case Type::Null: out += "null"; break;
        case Type::Bool: out += bool_ ? "true" : "false"; break;
        case Type::Number: out += integral_ ? std::to_string(integer_) : format_double(number_); break;
        case Type::String: out += json_quote(string_); break;
        case Type::Array:
            // Arrays stay on one line, as cJSON prints them: [{...}, {...}].
            out += '[';
            for (std::size_t i = 0; i < items_.size(); ++i) {
                if (i > 0) out += pretty ? ", " : ",";
                items_[i].write(out, indent);
            }
            out += ']';
            break;
        case Type::Object:
            out += '{';
            for (std::size_t i = 0; i < members_.size(); ++i) {
                if (i > 0) out += ',';
                if (pretty) newline_and_indent(out, indent + 1);
                out += json_quote(members_[i].first);
                out += pretty ? ":\t" : ":";
                members_[i].second.write(out, pretty ? indent + 1 : -1);
            }
            if (pretty) newline_and_indent(out, indent);
            out += '}';
            break;
    }
}

std::string Json::dump() const {
    std::string out;
    write(out, -1);
    return out;
}

std::string Json::dump_pretty() const {
    std::string out;
    write(out, 0);
    return out;
}

// ---- Reading ----

class JsonParser {
public:
    JsonParser(std::string_view text, JsonLimits limits) : text_(text), limits_(limits) {}

    Result<Json, JsonError> parse_document() {
        skip_space();
        Json value;
        if (!parse_value(value, 0)) return Unexpected(error_);
        skip_space();
        if (pos_ != text_.size()) return fail("unexpected text after the JSON value");
        return value;
    }

private:
    Unexpected<JsonError> fail(std::string message) {
        error_ = JsonError{pos_, std::move(message)};
        return Unexpected(error_);
    }
    bool failed(std::string message) {
        error_ = JsonError{pos_, std::move(message)};
        return false;
    }

    bool at_end() const { return pos_ >= text_.size(); }
    char peek() const { return at_end() ? '\0' : text_[pos_]; }

    void skip_space() {
        while (!at_end() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) {
            ++pos_;
        }
    }

    bool literal(std::string_view word) {
        if (text_.substr(pos_, word.size()) != word) return failed("invalid literal");
        pos_ += word.size();
        return true;
    }

    bool parse_value(Json& out, std::size_t depth) {
        if (at_end()) return failed("unexpected end of text");
        switch (peek()) {
            case '{': return parse_object(out, depth + 1);
            case '[': return parse_array(out, depth + 1);
            case '"':
                out.type_ = Json::Type::String;
                return parse_string(out.string_);
            case 't':
                out = Json::boolean(true);
                return literal("true");
            case 'f':
                out = Json::boolean(false);
                return literal("false");
            case 'n':
                out = Json();
                return literal("null");
            default:
                if (peek() == '-' || (peek() >= '0' && peek() <= '9')) return parse_number(out);
                return failed("unexpected character");
        }
    }

    bool parse_object(Json& out, std::size_t depth) {
        if (depth > limits_.max_depth) return failed("nested too deeply");
        out = Json::object();
        ++pos_;  // '{'
        skip_space();
        if (peek() == '}') {
            ++pos_;
            return true;
        }
        for (;;) {
            skip_space();
            if (peek() != '"') return failed("expected a string as the member name");
            std::string key;
            if (!parse_string(key)) return false;
            skip_space();
            if (peek() != ':') return failed("expected ':' after the member name");
            ++pos_;
            skip_space();
            Json value;
            if (!parse_value(value, depth)) return false;
            out.set(std::move(key), std::move(value));  // a repeated name: the last one wins
            skip_space();
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            if (peek() == '}') {
                ++pos_;
                return true;
            }
            return failed("expected ',' or '}' in an object");
        }
    }

    bool parse_array(Json& out, std::size_t depth) {
        if (depth > limits_.max_depth) return failed("nested too deeply");
        out = Json::array();
        ++pos_;  // '['
        skip_space();
        if (peek() == ']') {
            ++pos_;
            return true;
        }
        for (;;) {
            skip_space();
            Json value;
            if (!parse_value(value, depth)) return false;
            out.items_.push_back(std::move(value));
            skip_space();
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            if (peek() == ']') {
                ++pos_;
                return true;
            }
            return failed("expected ',' or ']' in an array");
        }
    }

    // Four hex digits of a \u escape.
    bool parse_hex4(std::uint32_t& out) {
        if (text_.size() - pos_ < 4) return failed("truncated \\u escape");
        out = 0;
        for (int i = 0; i < 4; ++i) {
            const char c = text_[pos_++];
            out <<= 4;
            if (c >= '0' && c <= '9') out |= static_cast<std::uint32_t>(c - '0');
            else if (c >= 'a' && c <= 'f') out |= static_cast<std::uint32_t>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') out |= static_cast<std::uint32_t>(c - 'A' + 10);
            else return failed("bad hex digit in a \\u escape");
        }
        return true;
    }

    static void append_utf8(std::string& out, std::uint32_t cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    bool parse_string(std::string& out) {
        ++pos_;  // the opening quote
        out.clear();
        for (;;) {
            if (at_end()) return failed("unterminated string");
            const char c = text_[pos_++];
            if (c == '"') return true;
            if (static_cast<unsigned char>(c) < 0x20) return failed("control character in a string");
            if (c != '\\') {
                out += c;
                continue;
            }
            if (at_end()) return failed("unterminated escape");
            const char e = text_[pos_++];
            switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    std::uint32_t cp = 0;
                    if (!parse_hex4(cp)) return false;
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        // A high surrogate must be followed by \u and a low one (RFC 8259 section 7).
                        std::uint32_t low = 0;
                        if (text_.substr(pos_, 2) != "\\u") return failed("lone high surrogate");
                        pos_ += 2;
                        if (!parse_hex4(low)) return false;
                        if (low < 0xDC00 || low > 0xDFFF) return failed("bad low surrogate");
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                        return failed("lone low surrogate");
                    }
                    append_utf8(out, cp);
                    break;
                }
                default: return failed("unknown escape");
            }
        }
    }

    bool parse_number(Json& out) {
        const std::size_t start = pos_;
        bool negative = false;
        if (peek() == '-') {
            negative = true;
            ++pos_;
        }
        if (peek() == '0') {
            ++pos_;
        } else if (peek() >= '1' && peek() <= '9') {
            while (peek() >= '0' && peek() <= '9') ++pos_;
        } else {
            return failed("expected a digit");
        }
        const std::size_t int_end = pos_;
        bool integral = true;
        if (peek() == '.') {
            integral = false;
            ++pos_;
            if (!(peek() >= '0' && peek() <= '9')) return failed("expected a digit after '.'");
            while (peek() >= '0' && peek() <= '9') ++pos_;
        }
        if (peek() == 'e' || peek() == 'E') {
            integral = false;
            ++pos_;
            if (peek() == '+' || peek() == '-') ++pos_;
            if (!(peek() >= '0' && peek() <= '9')) return failed("expected a digit in the exponent");
            while (peek() >= '0' && peek() <= '9') ++pos_;
        }
        const std::string literal(text_.substr(start, pos_ - start));
        out = Json::number(std::strtod(literal.c_str(), nullptr));
        if (integral) {
            // The exact value, if it fits 64 bits; 2^63..2^64-1 wrap (cJSON writes -1 as 2^64-1).
            std::uint64_t magnitude = 0;
            bool fits = true;
            for (std::size_t i = start + (negative ? 1 : 0); i < int_end; ++i) {
                const auto digit = static_cast<std::uint64_t>(text_[i] - '0');
                if (magnitude > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
                    fits = false;
                    break;
                }
                magnitude = magnitude * 10 + digit;
            }
            if (fits && negative && magnitude > (std::uint64_t{1} << 63)) fits = false;
            // "-0" is the double -0.0, as cJSON reads it, not the integer 0: an integer has no
            // sign of zero, and -0.0 is written back as "-0", so the text would not survive a
            // read and a write (found by fuzz_perf_json, tests/fuzz/regressions/perf_json/).
            if (negative && magnitude == 0) fits = false;
            if (fits) {
                out.integral_ = true;
                out.integer_ = negative ? static_cast<std::int64_t>(0 - magnitude) : static_cast<std::int64_t>(magnitude);
            }
        }
        return true;
    }

    std::string_view text_;
    JsonLimits limits_;
    std::size_t pos_ = 0;
    JsonError error_;
};

Result<Json, JsonError> parse_json(std::string_view text, JsonLimits limits) {
    return JsonParser(text, limits).parse_document();
}

}  // namespace tcpip::perf
