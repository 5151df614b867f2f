#include "apps/http/files.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>

namespace tcpip::http {

namespace {

// realpath(3) into a std::string; nullopt with errno set on failure.
std::optional<std::string> real_path_of(const std::string& path) {
    std::unique_ptr<char, decltype(&std::free)> resolved(::realpath(path.c_str(), nullptr), &std::free);
    if (!resolved) return std::nullopt;
    return std::string(resolved.get());
}

FileError error_from_errno(int error) {
    if (error == EACCES || error == EPERM) return {403, "Permission denied."};
    if (error == ELOOP) return {403, "Too many levels of symbolic links."};
    return {404, "The requested file does not exist."};
}

}  // namespace

Result<DocumentRoot, std::string> DocumentRoot::open(const std::string& directory) {
    auto real = real_path_of(directory);
    if (!real) return Unexpected(directory + ": " + std::strerror(errno));
    struct stat st {};
    if (::stat(real->c_str(), &st) != 0) return Unexpected(directory + ": " + std::strerror(errno));
    if (!S_ISDIR(st.st_mode)) return Unexpected(directory + ": not a directory");
    return DocumentRoot(std::move(*real));
}

bool DocumentRoot::contains(const std::string& real_path) const {
    if (real_path_ == "/") return real_path.front() == '/';
    return real_path == real_path_ ||
           (real_path.size() > real_path_.size() && real_path.compare(0, real_path_.size(), real_path_) == 0 &&
            real_path[real_path_.size()] == '/');
}

Result<OpenedFile, FileError> DocumentRoot::open_file(std::string_view relative) const {
    std::string wanted = real_path_;
    if (!relative.empty()) {
        if (wanted.back() != '/') wanted.push_back('/');
        wanted.append(relative);
    }
    // Up to two steps: the path itself, then (for a directory) its index.html.
    for (int step = 0; step < 2; ++step) {
        auto real = real_path_of(wanted);
        if (!real) return Unexpected(error_from_errno(errno));
        if (!contains(*real)) return Unexpected(FileError{403, "The path leads outside the document root."});
        struct stat st {};
        if (::stat(real->c_str(), &st) != 0) return Unexpected(error_from_errno(errno));
        if (S_ISDIR(st.st_mode)) {
            if (step == 1) return Unexpected(FileError{404, "The directory has no index.html."});
            wanted = *real + (real->back() == '/' ? "" : "/") + "index.html";
            continue;
        }
        if (!S_ISREG(st.st_mode)) return Unexpected(FileError{403, "Only regular files are served."});
        // O_NONBLOCK: should a FIFO be swapped in since the stat, open must not wait for a writer.
        UniqueFd fd(::open(real->c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
        if (!fd) return Unexpected(error_from_errno(errno));
        if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
            return Unexpected(FileError{403, "Only regular files are served."});
        }
        OpenedFile file;
        file.fd = std::move(fd);
        file.size = static_cast<std::uint64_t>(st.st_size);
        file.modified = st.st_mtime;
        file.path = std::move(*real);
        return file;
    }
    return Unexpected(FileError{404, "The requested file does not exist."});
}

}  // namespace tcpip::http
