// SPDX-License-Identifier: MIT
// Whole-file reads (regular files only, bounded) and crash-safe whole-file writes (POSIX), and
// the check that a file a folder names stays inside it.
#pragma once
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctml/config.hpp"
#include "ctml/core/error.hpp"

namespace ctml::io {

namespace detail {

[[noreturn]] inline void throw_file_error(const std::filesystem::path& path, std::string_view op,
                                          int err) {
    const std::error_code code(err, std::generic_category());
    throw file_error(path.string() + ": cannot " + std::string(op) + ": " + code.message(), code);
}

/// Closes on scope exit; `release()` hands the descriptor back so close errors can be checked.
class fd_guard {
public:
    explicit fd_guard(int fd) noexcept : fd_(fd) {}
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    ~fd_guard() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    int get() const noexcept { return fd_; }
    int release() noexcept { return std::exchange(fd_, -1); }

private:
    int fd_;
};

inline void write_all(int fd, std::string_view bytes, const std::filesystem::path& shown) {
    const char* p = bytes.data();
    std::size_t left = bytes.size();
    while (left > 0) {
        const ::ssize_t n = ::write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_file_error(shown, "write", errno);
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

/// A name no other writer picks: concurrent writers of the same target each get their own
/// temporary, and O_EXCL below refuses a collision instead of sharing a file.
inline std::filesystem::path temp_sibling(const std::filesystem::path& path, unsigned attempt) {
    thread_local std::mt19937_64 gen{std::random_device{}()};
    // Appended piece by piece: GCC 12 -O3 flags `"." + std::string&&` with a false -Wrestrict.
    std::string name = ".";
    name += path.filename().string();
    name += ".tmp.";
    name += std::to_string(::getpid());
    name += '.';
    name += std::to_string(gen() % 1000000007u);
    name += '.';
    name += std::to_string(attempt);
    return path.parent_path() / name;
}

/// Makes the rename itself durable; a failure here leaves the new file in place, so it is not
/// reported (some filesystems refuse fsync on directories).
inline void fsync_parent(const std::filesystem::path& path) {
    const auto dir = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

} // namespace detail

/// @brief Replaces `path` with `bytes` so that a reader, or a crash at any moment, sees either
/// the old file whole or the new one whole: the bytes go to a temporary file in the same folder,
/// which is flushed to disk (fsync) and renamed over `path`. On any failure the old file is
/// untouched, the temporary is removed, and ctml::file_error names `path` and the errno text.
/// The new file gets mode 0666 minus the umask; the parent folder must exist.
inline void write_file_atomic(const std::filesystem::path& path, std::string_view bytes) {
    if (path.empty() || !path.has_filename()) {
        throw file_error("write_file_atomic: \"" + path.string() + "\" does not name a file",
                         std::make_error_code(std::errc::invalid_argument));
    }
    std::filesystem::path tmp;
    int fd = -1;
    for (unsigned attempt = 0; fd < 0; ++attempt) {
        tmp = detail::temp_sibling(path, attempt);
        fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && (errno != EEXIST || attempt >= 100)) {
            detail::throw_file_error(path, "create a temporary file in its folder", errno);
        }
    }
    detail::fd_guard guard(fd);
    try {
        detail::write_all(fd, bytes, path);
        if (::fsync(fd) != 0) {
            detail::throw_file_error(path, "fsync", errno);
        }
        if (::close(guard.release()) != 0) {
            detail::throw_file_error(path, "close", errno);
        }
        if (::rename(tmp.c_str(), path.c_str()) != 0) {
            detail::throw_file_error(path, "rename the temporary file into place", errno);
        }
    } catch (...) {
        ::unlink(tmp.c_str());
        throw;
    }
    detail::fsync_parent(path);
}

/// @brief The whole content of the regular file `path`, at most `max_bytes` of it.
/// Only regular files are read: a folder ("Is a directory"), a device such as /dev/zero, a FIFO
/// or a socket is refused without reading (the file is opened with O_NONBLOCK, so opening a FIFO
/// does not wait for a writer, and checked with fstat). A file larger than `max_bytes`
/// (CTML_MAX_FILE_BYTES by default), or one that grows past it while being read, is refused
/// before its bytes are held. Every error is a ctml::file_error naming the path, with the errno.
inline std::string read_file(const std::filesystem::path& path,
                             std::uint64_t max_bytes = CTML_MAX_FILE_BYTES) {
    detail::fd_guard fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    if (fd.get() < 0) {
        detail::throw_file_error(path, "open for reading", errno);
    }
    struct ::stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        detail::throw_file_error(path, "stat", errno);
    }
    if (S_ISDIR(st.st_mode)) {
        detail::throw_file_error(path, "read", EISDIR);
    }
    if (!S_ISREG(st.st_mode)) {
        throw file_error(path.string() + ": cannot read: not a regular file (a device, FIFO or "
                                         "socket); ctml reads only regular files",
                         std::make_error_code(std::errc::invalid_argument));
    }
    const auto too_large = [&](std::uint64_t size, const char* how) {
        throw file_error(path.string() + ": cannot read: " + how + std::to_string(size) +
                             " bytes, more than the limit of " + std::to_string(max_bytes) +
                             " bytes (CTML_MAX_FILE_BYTES, or the reader's own bound)",
                         std::make_error_code(std::errc::file_too_large));
    };
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (size > max_bytes) {
        too_large(size, "the file holds ");
    }
    // Back to blocking reads (a regular file ignores the flag; this keeps the intent explicit).
    const int flags = ::fcntl(fd.get(), F_GETFL);
    if (flags >= 0) {
        ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
    }
    std::string out;
    out.reserve(static_cast<std::size_t>(size));
    // Read to end of file rather than trusting st_size (the file may grow, /proc files report
    // 0), but never past max_bytes.
    char chunk[65536];
    for (;;) {
        const ::ssize_t n = ::read(fd.get(), chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            detail::throw_file_error(path, "read", errno);
        }
        if (n == 0) {
            break;
        }
        if (static_cast<std::uint64_t>(n) > max_bytes - out.size()) {
            too_large(out.size() + static_cast<std::uint64_t>(n), "the file grew to at least ");
        }
        out.append(chunk, static_cast<std::size_t>(n));
    }
    return out;
}

/// @brief The file `name` inside the folder `dir`, resolved, for files a folder's own content
/// names (model.json's "weights"). `name` must be a relative path without "..", and the file
/// must exist and, with every symbolic link resolved, still lie inside `dir`; `field` names who
/// asked ("model.json: field \"weights\"") in the ctml::file_error otherwise. The file's type and
/// size are read_file's to check.
inline std::filesystem::path resolve_inside(const std::filesystem::path& dir,
                                            const std::filesystem::path& name,
                                            std::string_view field) {
    namespace fs = std::filesystem;
    const std::string who = field.empty() ? dir.string() : std::string(field);
    const auto refuse = [&](const std::string& why, std::errc e) {
        throw file_error(who + ": \"" + name.string() + "\" " + why, std::make_error_code(e));
    };
    if (name.empty() || name.has_root_name() || name.has_root_directory()) {
        refuse("must be a file name relative to the folder " + dir.string(),
               std::errc::permission_denied);
    }
    for (const auto& part : name) {
        if (part == "..") {
            refuse("must not leave the folder " + dir.string() + " (\"..\")",
                   std::errc::permission_denied);
        }
    }
    std::error_code ec;
    const fs::path base = fs::canonical(dir, ec);
    if (ec) {
        throw file_error(dir.string() + ": cannot open the folder: " + ec.message(), ec);
    }
    const fs::path target = fs::canonical(base / name, ec);
    if (ec) {
        throw file_error(who + ": \"" + name.string() + "\": cannot open " +
                             (dir / name).string() + ": " + ec.message(),
                         ec);
    }
    // Component-wise prefix test: /a/bc is not inside /a/b.
    auto t = target.begin();
    for (auto b = base.begin(); b != base.end(); ++b, ++t) {
        if (t == target.end() || *t != *b) {
            refuse("resolves to " + target.string() + ", outside the folder " + base.string() +
                       " (a symbolic link may not leave it)",
                   std::errc::permission_denied);
        }
    }
    if (t == target.end()) {
        refuse("names the folder itself", std::errc::is_a_directory);
    }
    return target;
}

} // namespace ctml::io
