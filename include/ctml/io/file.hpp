// SPDX-License-Identifier: MIT
// Whole-file reads and crash-safe whole-file writes (POSIX).
#pragma once
#include <cerrno>
#include <cstddef>
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

/// @brief The whole content of the regular file `path`; ctml::file_error names the path and
/// the errno text (a folder gives "Is a directory").
inline std::string read_file(const std::filesystem::path& path) {
    detail::fd_guard fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
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
    std::string out;
    if (S_ISREG(st.st_mode)) {
        out.reserve(static_cast<std::size_t>(st.st_size));
    }
    // Read to end of file rather than trusting st_size: the file may grow, and pipes or /proc
    // files report 0.
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
        out.append(chunk, static_cast<std::size_t>(n));
    }
    return out;
}

} // namespace ctml::io
