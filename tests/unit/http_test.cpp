// tcpip-httpd's HTTP rules, on strings and a temporary directory: request parsing (every status
// the parser gives: 400, 414, 431, 505), the methods (405), path safety (400, 403, traversal in
// all its spellings), the document root (404, 403 for symlinks that leave it, index.html),
// content types and response heads.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "apps/http/files.h"
#include "apps/http/http.h"

namespace tcpip::http {
namespace {

using Kind = ParseResult::Kind;

ParseResult parse(const std::string& text) { return parse_request(text); }

// The status a complete-or-failed parse ends with: 0 for a complete request, -1 if incomplete.
int status_of(const std::string& text) {
    ParseResult r = parse(text);
    if (r.kind == Kind::Complete) return 0;
    if (r.kind == Kind::Incomplete) return -1;
    return r.status;
}

// ---- Parsing well-formed requests ----

TEST(HttpParse, SimpleGet) {
    const std::string text = "GET /index.html HTTP/1.1\r\nHost: example\r\nUser-Agent: t\r\n\r\n";
    ParseResult r = parse(text);
    ASSERT_EQ(r.kind, Kind::Complete) << r.reason;
    EXPECT_EQ(r.consumed, text.size());
    EXPECT_EQ(r.request.method, "GET");
    EXPECT_EQ(r.request.target, "/index.html");
    EXPECT_EQ(r.request.minor_version, 1);
    ASSERT_EQ(r.request.headers.size(), 2u);
    EXPECT_EQ(r.request.header("host").value_or(""), "example");
    EXPECT_EQ(r.request.header("USER-AGENT").value_or(""), "t");
    EXPECT_FALSE(r.request.header("Accept").has_value());
    EXPECT_TRUE(r.request.keep_alive());
}

TEST(HttpParse, ValueWhitespaceIsTrimmedAndEmptyValuesAllowed) {
    ParseResult r = parse("GET / HTTP/1.1\r\nHost:   a b \t\r\nX-Empty:\r\n\r\n");
    ASSERT_EQ(r.kind, Kind::Complete) << r.reason;
    EXPECT_EQ(r.request.header("Host").value_or("?"), "a b");
    EXPECT_EQ(r.request.header("X-Empty").value_or("?"), "");
}

TEST(HttpParse, BareLfLineEndingsAndLeadingEmptyLines) {
    ParseResult r = parse("\r\n\nHEAD /a HTTP/1.0\nAccept: */*\n\n");
    ASSERT_EQ(r.kind, Kind::Complete) << r.reason;
    EXPECT_EQ(r.request.method, "HEAD");
    EXPECT_EQ(r.request.minor_version, 0);
}

TEST(HttpParse, IncompleteUntilTheEmptyLine) {
    const std::string full = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    for (std::size_t n = 0; n < full.size(); ++n) {
        EXPECT_EQ(parse(full.substr(0, n)).kind, Kind::Incomplete) << "prefix of " << n << " bytes";
    }
    EXPECT_EQ(parse(full).kind, Kind::Complete);
}

TEST(HttpParse, PipelinedRequestsAreConsumedOneAtATime) {
    const std::string first = "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n";
    const std::string second = "GET /2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    ParseResult r = parse(first + second + "GET /3");
    ASSERT_EQ(r.kind, Kind::Complete);
    EXPECT_EQ(r.consumed, first.size());
    EXPECT_EQ(r.request.target, "/1");
    r = parse(second + "GET /3");
    ASSERT_EQ(r.kind, Kind::Complete);
    EXPECT_EQ(r.request.target, "/2");
    EXPECT_FALSE(r.request.keep_alive());
    EXPECT_EQ(parse("GET /3").kind, Kind::Incomplete);
}

TEST(HttpParse, ContentLengthAndTransferEncoding) {
    ParseResult r = parse("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\ncontent-length: 12\r\n\r\n");
    ASSERT_EQ(r.kind, Kind::Complete) << r.reason;
    EXPECT_EQ(r.request.content_length, 12u);
    EXPECT_FALSE(r.request.has_transfer_encoding);
    r = parse("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    ASSERT_EQ(r.kind, Kind::Complete);
    EXPECT_TRUE(r.request.has_transfer_encoding);
}

// Whatever arrives, the parser never reads out of bounds (the sanitizer build checks), never
// claims more than it was given, and never asks for more once the limits are passed: so a
// connection never buffers more than this bound of head bytes.
TEST(HttpParse, RandomInputStaysWithinTheBounds) {
    constexpr std::size_t kBound = 2 * 4 + kMaxRequestLine + 2 + kMaxHeaderBytes;  // empty lines, line, headers
    static constexpr char kAlphabet[] = "GET HEAD /a%2e.:\r\n\r\nHost: x\x00\x7f\xff \t";
    const std::string alphabet(kAlphabet, sizeof kAlphabet - 1);  // with its NUL
    std::uint64_t state = 12345;
    auto next = [&state] {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        return static_cast<std::size_t>(state >> 33);
    };
    for (int i = 0; i < 3000; ++i) {
        std::string text = i % 2 ? "GET / HTTP/1.1\r\n" : "";
        const std::size_t length = next() % (i % 10 == 0 ? 30000 : 300);
        for (std::size_t j = 0; j < length; ++j) text.push_back(alphabet[next() % alphabet.size()]);
        ParseResult r = parse(text);
        if (r.kind == Kind::Incomplete) {
            EXPECT_LE(text.size(), kBound);
        }
        if (r.kind == Kind::Complete) {
            EXPECT_LE(r.consumed, text.size());
        }
        if (r.kind == Kind::Error) {
            EXPECT_TRUE(r.status == 400 || r.status == 414 || r.status == 431 || r.status == 505) << r.status;
            EXPECT_FALSE(r.reason.empty());
        }
    }
}

// ---- Keep-alive (RFC 9112 9.3) ----

TEST(HttpKeepAlive, DefaultsByVersionAndTheConnectionField) {
    auto keep = [](const std::string& version, const std::string& fields) {
        ParseResult r = parse_request("GET / " + version + "\r\nHost: x\r\n" + fields + "\r\n");
        EXPECT_EQ(r.kind, Kind::Complete) << r.reason;
        return r.request.keep_alive();
    };
    EXPECT_TRUE(keep("HTTP/1.1", ""));
    EXPECT_FALSE(keep("HTTP/1.1", "Connection: close\r\n"));
    EXPECT_FALSE(keep("HTTP/1.1", "Connection: Upgrade, CLOSE\r\n"));
    EXPECT_FALSE(keep("HTTP/1.1", "Connection: keep-alive\r\nConnection: close\r\n"));
    EXPECT_FALSE(keep("HTTP/1.0", ""));
    EXPECT_TRUE(keep("HTTP/1.0", "Connection: Keep-Alive\r\n"));
    EXPECT_FALSE(keep("HTTP/1.0", "Connection: keep-alive, close\r\n"));
}

// ---- 400 Bad Request ----

TEST(HttpParse, MalformedRequestLinesAre400) {
    for (const std::string line : {"HELLO", "GET /", "GET / HTTP/1.1 extra", "GET  / HTTP/1.1", "GET /  HTTP/1.1",
                                   " GET / HTTP/1.1", "G(T / HTTP/1.1", "GET / HTTX/1.1", "GET / http/1.1",
                                   "GET / HTTP/1.10", "GET / HTTP/1", "GET / HTTP/a.b", "GET /a\x01 HTTP/1.1",
                                   "GET /\x80 HTTP/1.1", "GET / HTTP/1.1\r", "\x16\x03\x01\x02"}) {
        EXPECT_EQ(status_of(line + "\r\nHost: x\r\n\r\n"), 400) << "'" << line << "'";
    }
}

TEST(HttpParse, MalformedHeaderLinesAre400) {
    for (const std::string header : {"NoColon", "Space Before: x", "Name : value", ": empty-name", " folded: x",
                                     "\tfolded: x", "Bad\x01Name: x", "X: a\x01z", "X: a\rz", "X: a\x7fz"}) {
        EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: x\r\n" + header + "\r\n\r\n"), 400) << "'" << header << "'";
    }
}

TEST(HttpParse, HostIsRequiredOnceInHttp11) {
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n"), 400);
    EXPECT_EQ(status_of("GET / HTTP/1.0\r\n\r\n"), 0);  // HTTP/1.0 may omit it
}

TEST(HttpParse, BadContentLengthIs400) {
    for (const std::string value : {"", "-1", "1 2", "0x10", "12a", "99999999999999999999", "1,1"}) {
        EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: " + value + "\r\n\r\n"), 400) << value;
    }
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"), 400);
}

TEST(HttpParse, TooManyLeadingEmptyLinesAre400) {
    EXPECT_EQ(status_of("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
}

// ---- 505 HTTP Version Not Supported ----

TEST(HttpParse, OtherVersionsAre505) {
    for (const std::string version : {"HTTP/2.0", "HTTP/1.2", "HTTP/0.9", "HTTP/3.0", "HTTP/9.9"}) {
        ParseResult r = parse("GET / " + version + "\r\nHost: x\r\n\r\n");
        EXPECT_EQ(r.kind, Kind::Error) << version;
        EXPECT_EQ(r.status, 505) << version;
    }
    // Known as soon as the request line is complete, before the headers.
    EXPECT_EQ(status_of("GET / HTTP/2.0\r\n"), 505);
}

// ---- 414 URI Too Long ----

TEST(HttpParse, LongRequestLineIs414EvenBeforeItEnds) {
    const std::string fits = "GET /" + std::string(kMaxRequestLine - 14, 'a') + " HTTP/1.1";
    ASSERT_EQ(fits.size(), kMaxRequestLine);
    EXPECT_EQ(status_of(fits + "\r\nHost: x\r\n\r\n"), 0);
    const std::string too_long = "GET /" + std::string(kMaxRequestLine, 'a');
    EXPECT_EQ(status_of(too_long + " HTTP/1.1\r\nHost: x\r\n\r\n"), 414);
    EXPECT_EQ(status_of(too_long), 414);  // no line end yet: the limit is already passed
    EXPECT_EQ(status_of(std::string(kMaxRequestLine, 'a')), -1);  // at the limit: still waiting
}

// ---- 431 Request Header Fields Too Large ----

TEST(HttpParse, LargeHeaderSectionIs431EvenBeforeItEnds) {
    std::string head = "GET / HTTP/1.1\r\nHost: x\r\n";
    while (head.size() < kMaxHeaderBytes + 100) head += "X-Filler: " + std::string(1000, 'f') + "\r\n";
    EXPECT_EQ(status_of(head + "\r\n"), 431);
    EXPECT_EQ(status_of(head), 431);
    // One header line that never ends.
    EXPECT_EQ(status_of("GET / HTTP/1.1\r\nX-Long: " + std::string(kMaxHeaderBytes + 1, 'x')), 431);
}

TEST(HttpParse, TooManyHeaderLinesAre431) {
    std::string head = "GET / HTTP/1.1\r\nHost: x\r\n";
    for (std::size_t i = 1; i < kMaxHeaderLines; ++i) head += "X-" + std::to_string(i) + ": y\r\n";
    EXPECT_EQ(status_of(head + "\r\n"), 0);  // exactly the limit
    EXPECT_EQ(status_of(head + "X-Last: y\r\n\r\n"), 431);
    EXPECT_EQ(status_of(head + "X-Last: y\r\n"), 431);  // before the head ends
}

// ---- 405 Method Not Allowed ----

TEST(HttpMethods, OnlyGetAndHeadAreAllowed) {
    EXPECT_TRUE(method_allowed("GET"));
    EXPECT_TRUE(method_allowed("HEAD"));
    for (const char* m : {"POST", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PATCH", "BREW", "get", "Head"}) {
        EXPECT_FALSE(method_allowed(m)) << m;
    }
    // An unknown method is still a well-formed request: the server answers it 405, not 400.
    ParseResult r = parse("BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_EQ(r.kind, Kind::Complete);
    EXPECT_FALSE(method_allowed(r.request.method));
}

// ---- Percent-decoding and path safety (400, 403) ----

TEST(HttpPath, PercentDecoding) {
    EXPECT_EQ(percent_decode("/a%20b%2Fc%2fd").value_or("?"), "/a b/c/d");
    EXPECT_EQ(percent_decode("%e2%82%ac").value_or("?"), "\xe2\x82\xac");
    EXPECT_EQ(percent_decode("plain").value_or("?"), "plain");
    for (const char* bad : {"%", "%2", "a%", "%zz", "%2g", "%%", "%00", "a%00b"}) {
        EXPECT_FALSE(percent_decode(bad).has_value()) << bad;
    }
}

int target_status(const std::string& target) {
    auto r = resolve_target(target);
    return r ? 200 : r.error().status;
}

TEST(HttpPath, NormalisesWithinTheRoot) {
    EXPECT_EQ(resolve_target("/").value_or("?"), "");
    EXPECT_EQ(resolve_target("/index.html").value_or("?"), "index.html");
    EXPECT_EQ(resolve_target("/a/b/../c").value_or("?"), "a/c");
    EXPECT_EQ(resolve_target("/a/./b/").value_or("?"), "a/b");
    EXPECT_EQ(resolve_target("/a/%2E%2E/b").value_or("?"), "b");
    EXPECT_EQ(resolve_target("/a/..").value_or("?"), "");
    EXPECT_EQ(resolve_target("/file%20name.txt?x=/../../etc#frag").value_or("?"), "file name.txt");
    EXPECT_EQ(resolve_target("/...").value_or("?"), "...");  // just a name
    EXPECT_EQ(resolve_target("/..a/b..").value_or("?"), "..a/b..");
    // Empty segments vanish: "//etc/passwd" is etc/passwd under the root, not /etc/passwd.
    EXPECT_EQ(resolve_target("//etc/passwd").value_or("?"), "etc/passwd");
    EXPECT_EQ(resolve_target("/a//b///c").value_or("?"), "a/b/c");
    // absolute-form keeps only the path.
    EXPECT_EQ(resolve_target("http://example.com/a/b?q").value_or("?"), "a/b");
    EXPECT_EQ(resolve_target("HTTP://example.com").value_or("?"), "");
}

TEST(HttpPath, TraversalIsForbidden) {
    for (const char* target : {"/..", "/../", "/../etc/passwd", "/%2e%2e/", "/%2E%2E/etc/passwd", "/.%2e/etc/passwd",
                               "/%2e./etc/passwd", "/a/%2e%2e/%2e%2e/x", "/a/../../x", "/a/b/../../../x",
                               "/..%2fetc%2fpasswd", "/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/./../x",
                               "http://host/../etc/passwd"}) {
        EXPECT_EQ(target_status(target), 403) << target;
    }
}

TEST(HttpPath, BackslashesAreForbidden) {
    for (const char* target : {"/..\\etc\\passwd", "/a\\..\\..\\x", "/%5c..%5cetc", "/%2e%2e%5cx", "/dir\\file"}) {
        EXPECT_EQ(target_status(target), 403) << target;
    }
}

TEST(HttpPath, NulMalformedEscapesAndControlCharactersAre400) {
    for (const char* target : {"/%00", "/index.html%00.txt", "/%", "/%4", "/%zz/x", "/a%0d%0aX-Injected: 1", "/%1f",
                               "/%7f", "*", "index.html", "", "?x"}) {
        EXPECT_EQ(target_status(target), 400) << target;
    }
}

// ---- Content types, dates, heads, bodies ----

TEST(HttpContentType, ByExtension) {
    EXPECT_EQ(content_type_for("index.html"), "text/html; charset=utf-8");
    EXPECT_EQ(content_type_for("a/b/PAGE.HTM"), "text/html; charset=utf-8");
    EXPECT_EQ(content_type_for("notes.txt"), "text/plain; charset=utf-8");
    EXPECT_EQ(content_type_for("style.css"), "text/css; charset=utf-8");
    EXPECT_EQ(content_type_for("app.js"), "text/javascript; charset=utf-8");
    EXPECT_EQ(content_type_for("data.json"), "application/json");
    EXPECT_EQ(content_type_for("logo.png"), "image/png");
    EXPECT_EQ(content_type_for("photo.jpg"), "image/jpeg");
    EXPECT_EQ(content_type_for("photo.JPEG"), "image/jpeg");
    EXPECT_EQ(content_type_for("anim.gif"), "image/gif");
    EXPECT_EQ(content_type_for("icon.svg"), "image/svg+xml");
    EXPECT_EQ(content_type_for("favicon.ico"), "image/vnd.microsoft.icon");
    EXPECT_EQ(content_type_for("paper.pdf"), "application/pdf");
    EXPECT_EQ(content_type_for("module.wasm"), "application/wasm");
    EXPECT_EQ(content_type_for("archive.tar.gz"), "application/octet-stream");
    EXPECT_EQ(content_type_for("README"), "application/octet-stream");
    EXPECT_EQ(content_type_for(".html"), "application/octet-stream");  // a dot file, no extension
    EXPECT_EQ(content_type_for("dir.html/file"), "application/octet-stream");
}

TEST(HttpDate, ImfFixdate) {
    EXPECT_EQ(http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");  // RFC 9110's example
    EXPECT_EQ(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
}

TEST(HttpReason, EveryStatusTheServerSends) {
    EXPECT_EQ(reason_phrase(200), "OK");
    EXPECT_EQ(reason_phrase(400), "Bad Request");
    EXPECT_EQ(reason_phrase(403), "Forbidden");
    EXPECT_EQ(reason_phrase(404), "Not Found");
    EXPECT_EQ(reason_phrase(405), "Method Not Allowed");
    EXPECT_EQ(reason_phrase(414), "URI Too Long");
    EXPECT_EQ(reason_phrase(431), "Request Header Fields Too Large");
    EXPECT_EQ(reason_phrase(505), "HTTP Version Not Supported");
}

TEST(HttpHead, Format) {
    ResponseHead head;
    head.status = 405;
    head.content_type = "text/html; charset=utf-8";
    head.content_length = 42;
    head.close = true;
    head.date = "Sun, 06 Nov 1994 08:49:37 GMT";
    head.extra = {{"Allow", "GET, HEAD"}};
    EXPECT_EQ(format_head(head),
              "HTTP/1.1 405 Method Not Allowed\r\n"
              "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
              "Server: tcpip-httpd/0.1\r\n"
              "Content-Type: text/html; charset=utf-8\r\n"
              "Content-Length: 42\r\n"
              "Allow: GET, HEAD\r\n"
              "Connection: close\r\n"
              "\r\n");
    ResponseHead keep;
    keep.content_length = 5000000000ULL;  // beyond 32 bits
    keep.http10_keep_alive = true;
    keep.date = "D";
    const std::string text = format_head(keep);
    EXPECT_EQ(text.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << text;
    EXPECT_NE(text.find("Content-Length: 5000000000\r\n"), std::string::npos) << text;
    EXPECT_NE(text.find("Connection: keep-alive\r\n"), std::string::npos) << text;
    ResponseHead plain;
    EXPECT_EQ(format_head(plain).find("Connection:"), std::string::npos);  // HTTP/1.1 keep-alive is implicit
}

TEST(HttpErrorBody, NamesTheStatusAndEscapesTheDetail) {
    const std::string body = error_body(404, "<script>&\"");
    EXPECT_NE(body.find("<title>404 Not Found</title>"), std::string::npos) << body;
    EXPECT_NE(body.find("&lt;script&gt;&amp;&quot;"), std::string::npos) << body;
    EXPECT_EQ(body.find("<script>"), std::string::npos) << body;
}

// ---- The document root: 404, 403 for symlinks out of it, index.html ----

class DocumentRootTest : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/tcpip-http-test-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        base_ = pattern;
        root_ = base_ + "/root";
        ASSERT_EQ(::mkdir(root_.c_str(), 0755), 0);
        ASSERT_EQ(::mkdir((root_ + "/docs").c_str(), 0755), 0);
        ASSERT_EQ(::mkdir((root_ + "/empty").c_str(), 0755), 0);
        write(root_ + "/hello.txt", "hello\n");
        write(root_ + "/docs/index.html", "<p>docs</p>\n");
        write(base_ + "/secret.txt", "outside the root\n");
        ASSERT_EQ(::mkdir((base_ + "/outside-dir").c_str(), 0755), 0);
        write(base_ + "/outside-dir/index.html", "outside index\n");
        ASSERT_EQ(::symlink((base_ + "/secret.txt").c_str(), (root_ + "/escape.txt").c_str()), 0);
        ASSERT_EQ(::symlink("../secret.txt", (root_ + "/relative-escape.txt").c_str()), 0);
        ASSERT_EQ(::symlink((base_ + "/outside-dir").c_str(), (root_ + "/escape-dir").c_str()), 0);
        ASSERT_EQ(::symlink("hello.txt", (root_ + "/alias.txt").c_str()), 0);
        ASSERT_EQ(::symlink("missing", (root_ + "/dangling").c_str()), 0);
        ASSERT_EQ(::mkfifo((root_ + "/fifo").c_str(), 0644), 0);
    }
    void TearDown() override {
        if (!base_.empty()) {
            const int rc = std::system(("rm -rf '" + base_ + "'").c_str());
            EXPECT_EQ(rc, 0);
        }
    }
    static void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }
    int status(const DocumentRoot& root, const std::string& relative) {
        auto f = root.open_file(relative);
        return f ? 200 : f.error().status;
    }

    std::string base_, root_;
};

TEST_F(DocumentRootTest, ServesFilesAndDirectoryIndexes) {
    auto root = DocumentRoot::open(root_ + "/");
    ASSERT_TRUE(root) << root.error();
    auto hello = root->open_file("hello.txt");
    ASSERT_TRUE(hello) << hello.error().reason;
    EXPECT_EQ(hello->size, 6u);
    char buffer[16] = {};
    EXPECT_EQ(::pread(hello->fd.get(), buffer, sizeof buffer, 0), 6);
    EXPECT_EQ(std::string(buffer), "hello\n");
    auto docs = root->open_file("docs");
    ASSERT_TRUE(docs) << docs.error().reason;
    EXPECT_EQ(docs->path, root->path() + "/docs/index.html");
    EXPECT_EQ(status(*root, "alias.txt"), 200);  // a symlink that stays inside is fine
}

TEST_F(DocumentRootTest, MissingIs404) {
    auto root = DocumentRoot::open(root_);
    ASSERT_TRUE(root);
    EXPECT_EQ(status(*root, "nope.txt"), 404);
    EXPECT_EQ(status(*root, "docs/nope/x"), 404);
    EXPECT_EQ(status(*root, "hello.txt/x"), 404);  // ENOTDIR
    EXPECT_EQ(status(*root, "empty"), 404);        // no index.html, and no listings
    EXPECT_EQ(status(*root, ""), 404);             // the root has no index.html either
    EXPECT_EQ(status(*root, "dangling"), 404);
    EXPECT_EQ(status(*root, "etc/passwd"), 404);   // what "//etc/passwd" becomes
}

TEST_F(DocumentRootTest, SymlinksLeavingTheRootAre403) {
    auto root = DocumentRoot::open(root_);
    ASSERT_TRUE(root);
    EXPECT_EQ(status(*root, "escape.txt"), 403);
    EXPECT_EQ(status(*root, "relative-escape.txt"), 403);
    EXPECT_EQ(status(*root, "escape-dir"), 403);
    EXPECT_EQ(status(*root, "escape-dir/index.html"), 403);
}

TEST_F(DocumentRootTest, OnlyRegularFilesAreServed) {
    auto root = DocumentRoot::open(root_);
    ASSERT_TRUE(root);
    EXPECT_EQ(status(*root, "fifo"), 403);
}

TEST_F(DocumentRootTest, RootMustBeADirectory) {
    EXPECT_FALSE(DocumentRoot::open(root_ + "/hello.txt").has_value());
    EXPECT_FALSE(DocumentRoot::open(root_ + "/no-such-dir").has_value());
}

}  // namespace
}  // namespace tcpip::http
