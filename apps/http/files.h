// The document root of tcpip-httpd: opening the file a (normalised) request path names, and
// refusing any that is not really under the root.
//
// resolve_target (http.h) already refused paths whose ".." segments climb out of the root. What
// remains are symlinks: "docs/link" may point anywhere. So the file's real path (realpath(3),
// every symlink resolved) must lie under the root's real path, itself resolved once at start-up;
// anything else is 403. The file is then opened by that resolved path with O_NOFOLLOW, so a
// symlink swapped in afterwards for its last component is not followed either.
//
// Directories: a path naming a directory serves that directory's index.html (checked the same
// way), or 404 if it has none. There are no directory listings: a listing tells a visitor more
// than the site's author may mean to publish, and index.html covers the usual need.
// Only regular files are served (not FIFOs, devices or sockets, which could block or never end).
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

#include "drivers/unique_fd.h"
#include "stack/core/result.h"

namespace tcpip::http {

struct OpenedFile {
    UniqueFd fd;
    std::uint64_t size = 0;
    std::time_t modified = 0;
    std::string path;  // the resolved path, whose extension gives the Content-Type
};

struct FileError {
    int status;  // 403 or 404
    std::string reason;
};

class DocumentRoot {
public:
    // Resolves `directory` (which must exist and be a directory); the error says why not.
    static Result<DocumentRoot, std::string> open(const std::string& directory);

    // Opens `relative` (as resolve_target returns it: no "..", no leading '/'; "" is the root).
    Result<OpenedFile, FileError> open_file(std::string_view relative) const;

    const std::string& path() const { return real_path_; }

private:
    explicit DocumentRoot(std::string real_path) : real_path_(std::move(real_path)) {}
    bool contains(const std::string& real_path) const;

    std::string real_path_;  // no trailing '/', except for "/" itself
};

}  // namespace tcpip::http
