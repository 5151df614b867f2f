// HTTP/1.1 for tcpip-httpd, the part that is pure text processing: parsing a request head,
// turning its target into a safe path under the document root, and formatting response heads.
// Nothing here touches a socket or a file, so every rule can be unit-tested on strings
// (tests/unit/http_test.cpp); apps/http/files.h opens files, apps/tcpip_httpd.cpp serves.
//
// The message syntax is RFC 9112 (HTTP/1.1), the semantics RFC 9110:
//
//     request-line   = method SP request-target SP HTTP-version CRLF      (RFC 9112 3)
//     field-line     = field-name ":" OWS field-value OWS CRLF            (RFC 9112 5)
//     HTTP-message   = start-line CRLF *( field-line CRLF ) CRLF [ message-body ]
//
// Limits (a server must bound what a client makes it hold, RFC 9112 3 and 5): a request line
// longer than kMaxRequestLine is answered 414, a header section larger than kMaxHeaderBytes or
// with more than kMaxHeaderLines lines 431 (RFC 6585). Both are detected as soon as the limit is
// passed, before the head is complete, so a connection never buffers more than about
// kMaxRequestLine + kMaxHeaderBytes bytes of head.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stack/core/result.h"

namespace tcpip::http {

constexpr std::size_t kMaxRequestLine = 8 * 1024;
constexpr std::size_t kMaxHeaderBytes = 16 * 1024;
constexpr std::size_t kMaxHeaderLines = 100;

struct Request {
    std::string method;        // as sent: methods are case-sensitive (RFC 9110 9.1)
    std::string target;        // the request-target, still percent-encoded
    int minor_version = 1;     // HTTP/1.<minor_version>: 0 or 1
    std::vector<std::pair<std::string, std::string>> headers;  // names as sent, values trimmed

    // The value of the first field named `name` (case-insensitive), if any.
    std::optional<std::string_view> header(std::string_view name) const;
    // Whether the connection stays open after the response (RFC 9112 9.3): HTTP/1.1 unless
    // "Connection: close"; HTTP/1.0 only with "Connection: keep-alive".
    bool keep_alive() const;
    // Length of the request body that follows the head (Content-Length, 0 without one).
    std::uint64_t content_length = 0;
    // A Transfer-Encoding was sent: the body's end cannot be found without decoding it, which
    // this server does not do for GET and HEAD, so the connection closes after the response.
    bool has_transfer_encoding = false;
};

// What parse_request found at the front of a buffer.
struct ParseResult {
    enum class Kind { Incomplete, Complete, Error };
    Kind kind = Kind::Incomplete;
    Request request;       // when Complete
    std::size_t consumed = 0;  // when Complete: bytes of the head, up to and including its empty line
    int status = 0;        // when Error: 400, 414, 431 or 505
    std::string reason;    // when Error: why, for the response body (one short sentence)
};

// Parses the request head at the front of `buffer`. Incomplete means "need more bytes" and is
// only returned while no limit has been passed; an Error is final (the connection closes after
// the error response, since the request's framing cannot be trusted). Lines may end in CRLF or a
// bare LF (RFC 9112 2.2 lets a recipient accept LF), and up to a few empty lines before the request
// line are skipped (RFC 9112 2.2: "SHOULD ignore at least one empty line").
ParseResult parse_request(std::string_view buffer);

// Methods this server implements. Any other well-formed method is answered 405 with
// "Allow: GET, HEAD" (RFC 9110 15.5.6).
bool method_allowed(std::string_view method);

// Percent-decodes `text` (RFC 3986 2.1). Errors: a '%' not followed by two hex digits, or an
// encoded NUL (%00), which would cut a C path string short.
Result<std::string, std::string> percent_decode(std::string_view text);

// A request-target made into a path relative to the document root, or the status to refuse it
// with. The steps, each a defence:
//   1. origin-form "/path?query" (absolute-form "http://host/path" is reduced to its path;
//      anything else, like "*", is 400);
//   2. the query (and a stray fragment) are dropped;
//   3. percent-decoding (malformed escapes and %00: 400), so "%2e%2e" and "%2f" are seen for
//      what they are before the path is split;
//   4. a control character in the decoded path: 400; a backslash: 403 (on Linux a backslash is
//      an ordinary file-name byte, but it means "separator" to other systems and to some
//      clients; no file we serve needs one, so refusing it is the simple, safe choice);
//   5. normalisation (RFC 3986 5.2.4 in spirit): empty and "." segments vanish, ".." removes the
//      previous segment, and a ".." with nothing left to remove would leave the root: 403.
// The result has no leading '/', no "." or ".." segments and no empty segments ("//etc/passwd"
// is "etc/passwd", under the root); "" is the root itself. Symlinks are checked later, against
// the file system (files.h).
struct TargetError {
    int status;          // 400 or 403
    std::string reason;
};
Result<std::string, TargetError> resolve_target(std::string_view target);

// The Content-Type for a file name, by its extension (case-insensitive); text types carry
// "; charset=utf-8". Unknown extensions are application/octet-stream.
std::string_view content_type_for(std::string_view path);

// "Sun, 06 Nov 1994 08:49:37 GMT" (IMF-fixdate, RFC 9110 5.6.7), for Date and Last-Modified.
std::string http_date(std::time_t t);

// The reason phrase for a status code ("Not Found"); "" for codes this server never sends.
std::string_view reason_phrase(int status);

// A response head (status line and fields, up to and including the empty line).
struct ResponseHead {
    int status = 200;
    std::string content_type;
    std::uint64_t content_length = 0;
    // Whether the connection closes after this response; `http10_keep_alive` says the client
    // spoke HTTP/1.0 and asked to keep it open, which must then be confirmed ("Connection:
    // keep-alive"), since an HTTP/1.0 client assumes close otherwise.
    bool close = false;
    bool http10_keep_alive = false;
    std::string date;    // http_date(now)
    std::vector<std::pair<std::string, std::string>> extra;  // e.g. {"Allow", "GET, HEAD"}
};
// Always "HTTP/1.1": a server sends its own highest version (RFC 9110 6.2), whatever the client's.
std::string format_head(const ResponseHead& head);

// The small HTML body of an error response: status, reason phrase, and `detail`, HTML-escaped.
std::string error_body(int status, std::string_view detail);

// The name in the Server field.
constexpr std::string_view kServerName = "tcpip-httpd/0.1";

}  // namespace tcpip::http
