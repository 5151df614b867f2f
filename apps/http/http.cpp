#include "apps/http/http.h"

#include <array>
#include <cstdio>

namespace tcpip::http {

namespace {

// Empty lines tolerated before a request line (RFC 9112 2.2 asks for at least one; a client that
// sends more is broken, and the bound keeps a stream of CRLFs from being "incomplete" forever).
constexpr int kMaxLeadingEmptyLines = 4;

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equals_ignore_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    }
    return true;
}

bool starts_with_ignore_case(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() && equals_ignore_case(text.substr(0, prefix.size()), prefix);
}

// tchar (RFC 9110 5.6.2): the characters of a token, which method and field names are.
bool is_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    switch (c) {
        case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
        case '.': case '^': case '_': case '`': case '|': case '~':
            return true;
        default:
            return false;
    }
}

bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        if (!is_tchar(c)) return false;
    }
    return true;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Optional whitespace (OWS, RFC 9110 5.6.3) trimmed from both ends.
std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// A field value may hold visible characters, spaces, tabs and obs-text (bytes >= 0x80), but no
// other control character (RFC 9110 5.5): a bare CR or a NUL inside a value is an error.
bool is_valid_field_value(std::string_view s) {
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
    }
    return true;
}

ParseResult error(int status, std::string reason) {
    ParseResult r;
    r.kind = ParseResult::Kind::Error;
    r.status = status;
    r.reason = std::move(reason);
    return r;
}

// The line starting at `pos`, without its LF or CRLF, and the position after it; nullopt if no
// LF has arrived yet.
struct Line {
    std::string_view text;
    std::size_t next;
};
std::optional<Line> line_at(std::string_view buffer, std::size_t pos) {
    const std::size_t lf = buffer.find('\n', pos);
    if (lf == std::string_view::npos) return std::nullopt;
    std::string_view text = buffer.substr(pos, lf - pos);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    return Line{text, lf + 1};
}

// request-line = method SP request-target SP HTTP-version (RFC 9112 3): exactly two single
// spaces. Fills method, target and version; an error if the line is malformed or the version is
// not 1.0 or 1.1.
std::optional<ParseResult> parse_request_line(std::string_view line, Request& request) {
    const std::size_t sp1 = line.find(' ');
    const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
        return error(400, "The request line is not 'METHOD TARGET HTTP/1.x'.");
    }
    const std::string_view method = line.substr(0, sp1);
    const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string_view version = line.substr(sp2 + 1);
    if (!is_token(method)) return error(400, "The method is not a token.");
    if (target.empty()) return error(400, "The request target is empty.");
    for (char c : target) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7f) return error(400, "The request target holds a character that must be percent-encoded.");
    }
    // HTTP-version = "HTTP" "/" DIGIT "." DIGIT, case-sensitive (RFC 9112 2.3).
    if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !is_digit(version[5]) || version[6] != '.' ||
        !is_digit(version[7])) {
        return error(400, "The HTTP version is malformed.");
    }
    if (version[5] != '1' || (version[7] != '0' && version[7] != '1')) {
        return error(505, "Only HTTP/1.0 and HTTP/1.1 are supported.");
    }
    request.method = std::string(method);
    request.target = std::string(target);
    request.minor_version = version[7] - '0';
    return std::nullopt;
}

// Content-Length = 1*DIGIT (RFC 9110 8.6); repeated fields must agree.
std::optional<ParseResult> read_framing(Request& request) {
    std::optional<std::uint64_t> length;
    for (const auto& [name, value] : request.headers) {
        if (equals_ignore_case(name, "Transfer-Encoding")) request.has_transfer_encoding = true;
        if (!equals_ignore_case(name, "Content-Length")) continue;
        if (value.empty() || value.size() > 18) return error(400, "The Content-Length is not a number.");
        std::uint64_t n = 0;
        for (char c : value) {
            if (!is_digit(c)) return error(400, "The Content-Length is not a number.");
            n = n * 10 + static_cast<std::uint64_t>(c - '0');
        }
        if (length && *length != n) return error(400, "Two Content-Length fields disagree.");
        length = n;
    }
    request.content_length = length.value_or(0);
    return std::nullopt;
}

}  // namespace

std::optional<std::string_view> Request::header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
        if (equals_ignore_case(n, name)) return std::string_view(v);
    }
    return std::nullopt;
}

bool Request::keep_alive() const {
    // Connection is a comma-separated list of options, possibly over several fields.
    bool close = false, keep = false;
    for (const auto& [name, value] : headers) {
        if (!equals_ignore_case(name, "Connection")) continue;
        std::string_view rest = value;
        while (!rest.empty()) {
            const std::size_t comma = rest.find(',');
            const std::string_view option = trim_ows(rest.substr(0, comma));
            if (equals_ignore_case(option, "close")) close = true;
            if (equals_ignore_case(option, "keep-alive")) keep = true;
            rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        }
    }
    if (close) return false;
    return minor_version >= 1 || keep;
}

ParseResult parse_request(std::string_view buffer) {
    std::size_t pos = 0;
    for (int i = 0; i < kMaxLeadingEmptyLines; ++i) {
        if (buffer.substr(pos, 2) == "\r\n") {
            pos += 2;
        } else if (buffer.substr(pos, 1) == "\n") {
            pos += 1;
        } else {
            break;
        }
    }

    // The request line; 414 as soon as it is longer than the limit, even before it ends.
    const std::optional<Line> first = line_at(buffer, pos);
    if (!first) {
        if (buffer.size() - pos > kMaxRequestLine) return error(414, "The request line is too long.");
        return ParseResult{};
    }
    if (first->text.size() > kMaxRequestLine) return error(414, "The request line is too long.");
    if (first->text.empty()) return error(400, "Too many empty lines before the request line.");
    ParseResult result;
    Request& request = result.request;
    if (auto failed = parse_request_line(first->text, request)) return std::move(*failed);

    // The header section, up to the empty line that ends the head.
    pos = first->next;
    std::size_t header_bytes = 0;
    for (;;) {
        const std::optional<Line> line = line_at(buffer, pos);
        if (!line) {
            if (header_bytes + (buffer.size() - pos) > kMaxHeaderBytes) {
                return error(431, "The request header fields are too large.");
            }
            return ParseResult{};
        }
        header_bytes += line->next - pos;
        pos = line->next;
        if (line->text.empty()) break;
        if (header_bytes > kMaxHeaderBytes) return error(431, "The request header fields are too large.");
        if (request.headers.size() >= kMaxHeaderLines) return error(431, "The request has too many header fields.");
        // obs-fold (a line starting with whitespace continues the previous one) is obsolete: a
        // server may reject it with 400 (RFC 9112 5.2), and does, since proxies disagree on it.
        if (line->text.front() == ' ' || line->text.front() == '\t') {
            return error(400, "A header line starts with whitespace (obsolete line folding).");
        }
        const std::size_t colon = line->text.find(':');
        if (colon == std::string_view::npos) return error(400, "A header line has no colon.");
        // No whitespace between name and colon (RFC 9112 5.1: MUST be rejected with 400).
        const std::string_view name = line->text.substr(0, colon);
        if (!is_token(name)) return error(400, "A header field name is not a token.");
        const std::string_view value = trim_ows(line->text.substr(colon + 1));
        if (!is_valid_field_value(value)) return error(400, "A header field value holds a control character.");
        request.headers.emplace_back(std::string(name), std::string(value));
    }

    // Host: exactly one in HTTP/1.1, at most one in HTTP/1.0 (RFC 9112 3.2).
    int hosts = 0;
    for (const auto& [name, value] : request.headers) hosts += equals_ignore_case(name, "Host") ? 1 : 0;
    if (request.minor_version == 1 && hosts == 0) return error(400, "An HTTP/1.1 request must have a Host field.");
    if (hosts > 1) return error(400, "The request has more than one Host field.");
    if (auto failed = read_framing(request)) return std::move(*failed);

    result.kind = ParseResult::Kind::Complete;
    result.consumed = pos;
    return result;
}

bool method_allowed(std::string_view method) { return method == "GET" || method == "HEAD"; }

Result<std::string, std::string> percent_decode(std::string_view text) {
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out.push_back(text[i]);
            continue;
        }
        if (i + 2 >= text.size()) return Unexpected(std::string("A '%' is not followed by two hex digits."));
        const int high = hex(text[i + 1]), low = hex(text[i + 2]);
        if (high < 0 || low < 0) return Unexpected(std::string("A '%' is not followed by two hex digits."));
        const int byte = high * 16 + low;
        if (byte == 0) return Unexpected(std::string("The path holds an encoded NUL (%00)."));
        out.push_back(static_cast<char>(byte));
        i += 2;
    }
    return out;
}

Result<std::string, TargetError> resolve_target(std::string_view target) {
    // absolute-form (RFC 9112 3.2.2): a server must accept it; only its path matters here.
    for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
        if (starts_with_ignore_case(target, scheme)) {
            target.remove_prefix(scheme.size());
            const std::size_t path = target.find_first_of("/?#");
            target = (path == std::string_view::npos || target[path] != '/') ? std::string_view("/") : target.substr(path);
            break;
        }
    }
    if (target.empty() || target.front() != '/') {
        return Unexpected(TargetError{400, "The request target is not an absolute path."});
    }
    target = target.substr(0, target.find_first_of("?#"));

    auto decoded = percent_decode(target);
    if (!decoded) return Unexpected(TargetError{400, decoded.error()});
    for (char c : *decoded) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) return Unexpected(TargetError{400, "The path holds a control character."});
        if (c == '\\') return Unexpected(TargetError{403, "The path holds a backslash."});
    }

    // Split on '/' and normalise; ".." may not climb above the root.
    std::vector<std::string_view> segments;
    std::string_view rest = *decoded;
    while (!rest.empty()) {
        const std::size_t slash = rest.find('/');
        const std::string_view segment = rest.substr(0, slash);
        rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
        if (segment.empty() || segment == ".") continue;
        if (segment == "..") {
            if (segments.empty()) return Unexpected(TargetError{403, "The path leads outside the document root."});
            segments.pop_back();
            continue;
        }
        segments.push_back(segment);
    }
    std::string relative;
    for (std::string_view segment : segments) {
        if (!relative.empty()) relative.push_back('/');
        relative.append(segment);
    }
    return relative;
}

std::string_view content_type_for(std::string_view path) {
    const std::size_t slash = path.rfind('/');
    const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
    const std::size_t dot = name.rfind('.');
    if (dot == std::string_view::npos || dot == 0) return "application/octet-stream";
    const std::string_view ext = name.substr(dot + 1);
    struct Type {
        std::string_view ext, type;
    };
    static constexpr std::array<Type, 15> kTypes = {{
        {"html", "text/html; charset=utf-8"},
        {"htm", "text/html; charset=utf-8"},
        {"txt", "text/plain; charset=utf-8"},
        {"css", "text/css; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"},  // RFC 9239
        {"json", "application/json"},
        {"png", "image/png"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},
        {"svg", "image/svg+xml"},
        {"ico", "image/vnd.microsoft.icon"},
        {"pdf", "application/pdf"},
        {"wasm", "application/wasm"},
        {"xml", "application/xml"},
    }};
    for (const Type& t : kTypes) {
        if (equals_ignore_case(ext, t.ext)) return t.type;
    }
    return "application/octet-stream";
}

std::string http_date(std::time_t t) {
    // Fixed English names: strftime's %a and %b follow the locale, and HTTP dates must not.
    static constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::tm tm{};
    gmtime_r(&t, &tm);
    char text[40];
    std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[static_cast<std::size_t>(tm.tm_wday) % 7],
                  tm.tm_mday, kMonths[static_cast<std::size_t>(tm.tm_mon) % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                  tm.tm_sec);
    return text;
}

std::string_view reason_phrase(int status) {
    switch (status) {
        case 200: return "OK";
        case 400: return "Bad Request";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 414: return "URI Too Long";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 503: return "Service Unavailable";
        case 505: return "HTTP Version Not Supported";
        default: return "";
    }
}

std::string format_head(const ResponseHead& head) {
    std::string out;
    out.reserve(256);
    out += "HTTP/1.1 " + std::to_string(head.status) + " " + std::string(reason_phrase(head.status)) + "\r\n";
    out += "Date: " + head.date + "\r\n";
    out += "Server: " + std::string(kServerName) + "\r\n";
    if (!head.content_type.empty()) out += "Content-Type: " + head.content_type + "\r\n";
    out += "Content-Length: " + std::to_string(head.content_length) + "\r\n";
    for (const auto& [name, value] : head.extra) out += name + ": " + value + "\r\n";
    if (head.close) {
        out += "Connection: close\r\n";
    } else if (head.http10_keep_alive) {
        out += "Connection: keep-alive\r\n";
    }
    out += "\r\n";
    return out;
}

std::string error_body(int status, std::string_view detail) {
    std::string escaped;
    for (char c : detail) {
        switch (c) {
            case '&': escaped += "&amp;"; break;
            case '<': escaped += "&lt;"; break;
            case '>': escaped += "&gt;"; break;
            case '"': escaped += "&quot;"; break;
            default: escaped.push_back(c);
        }
    }
    const std::string title = std::to_string(status) + " " + std::string(reason_phrase(status));
    return "<!DOCTYPE html>\n<html><head><title>" + title + "</title></head>\n<body><h1>" + title + "</h1>\n<p>" +
           escaped + "</p>\n<hr><address>" + std::string(kServerName) + "</address></body></html>\n";
}

}  // namespace tcpip::http
