// SPDX-License-Identifier: MIT
// Content-addressed files: objects/sha256/<2 hex>/<62 hex>, read-only once in place. A file
// goes in through a temporary in objects/tmp (same filesystem), hashed while copied, fsynced,
// then renamed to its hash: a reader or a crash sees a whole object or none. SHA-256 comes from
// OpenSSL's libcrypto.
#pragma once
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "ctml/core/error.hpp"
#include "ctml/io/file.hpp"
#include "ctml/workspace/types.hpp"

namespace ctml::workspace::detail {

/// @brief Incremental SHA-256.
class sha256 {
public:
    sha256() : ctx_(EVP_MD_CTX_new()) {
        if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) {
            EVP_MD_CTX_free(ctx_);
            throw workspace_error("SHA-256: OpenSSL could not initialise a digest");
        }
    }
    sha256(const sha256&) = delete;
    sha256& operator=(const sha256&) = delete;
    ~sha256() { EVP_MD_CTX_free(ctx_); }

    void update(std::string_view bytes) { EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()); }
    /// The digest as 64 lower-case hex digits.
    std::string hex() {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        EVP_DigestFinal_ex(ctx_, md, &n);
        static constexpr char digits[] = "0123456789abcdef";
        std::string out;
        for (unsigned i = 0; i < n; ++i) {
            out += digits[md[i] >> 4];
            out += digits[md[i] & 0xF];
        }
        return out;
    }

private:
    EVP_MD_CTX* ctx_;
};

inline std::string sha256_hex(std::string_view bytes) {
    sha256 h;
    h.update(bytes);
    return h.hex();
}

inline bool is_sha256_hex(std::string_view s) {
    if (s.size() != 64) {
        return false;
    }
    for (const char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

/// Reads `fd` to its end, giving each chunk to `sink`.
template <class Sink>
void read_chunks(int fd, const std::filesystem::path& shown, Sink&& sink) {
    static thread_local char buf[1 << 16];
    for (;;) {
        const ::ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            io::detail::throw_file_error(shown, "read", errno);
        }
        if (n == 0) {
            return;
        }
        sink(std::string_view(buf, static_cast<std::size_t>(n)));
    }
}

/// @brief The object store under `root` (`<root>/objects`).
class object_store {
public:
    explicit object_store(std::filesystem::path root) : dir_(std::move(root) / "objects") {}

    const std::filesystem::path& dir() const noexcept { return dir_; }

    std::filesystem::path path_of(std::string_view hex) const {
        return dir_ / "sha256" / std::string(hex.substr(0, 2)) / std::string(hex.substr(2));
    }

    bool contains(std::string_view hex) const {
        std::error_code ec;
        return is_sha256_hex(hex) && std::filesystem::is_regular_file(path_of(hex), ec);
    }

    /// A new temporary file in objects/tmp, open for writing; `path` receives its name.
    int create_temp(std::filesystem::path& path) const {
        std::error_code ec;
        std::filesystem::create_directories(dir_ / "tmp", ec);
        if (ec) {
            throw file_error((dir_ / "tmp").string() + ": cannot create folder: " + ec.message(),
                             ec);
        }
        thread_local std::mt19937_64 gen{std::random_device{}()};
        for (int attempt = 0; attempt < 100; ++attempt) {
            char name[64];
            std::snprintf(name, sizeof name, "%ld.%016llx", static_cast<long>(::getpid()),
                          static_cast<unsigned long long>(gen()));
            path = dir_ / "tmp" / name;
            const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            if (fd >= 0) {
                return fd;
            }
            if (errno != EEXIST) {
                io::detail::throw_file_error(path, "create", errno);
            }
        }
        throw file_error((dir_ / "tmp").string() + ": cannot find a free temporary name");
    }

    /// Moves the finished temporary `tmp` (already fsynced) into place under `hex`; an object
    /// already there is kept (same content) and the temporary removed.
    void commit_temp(const std::filesystem::path& tmp, std::string_view hex) const {
        const std::filesystem::path final_path = path_of(hex);
        std::error_code ec;
        std::filesystem::create_directories(final_path.parent_path(), ec);
        if (ec) {
            ::unlink(tmp.c_str());
            throw file_error(final_path.parent_path().string() + ": cannot create folder: " +
                                 ec.message(),
                             ec);
        }
        ::chmod(tmp.c_str(), 0444);
        if (std::filesystem::is_regular_file(final_path, ec)) {
            ::unlink(tmp.c_str());
            return;
        }
        if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
            const int err = errno;
            ::unlink(tmp.c_str());
            io::detail::throw_file_error(final_path, "rename the object into place", err);
        }
        io::detail::fsync_parent(final_path);
    }

    /// Copies the regular file `file` in; returns path (empty), size and sha256.
    file_info put_file(const std::filesystem::path& file) const {
        io::detail::fd_guard in(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
        if (in.get() < 0) {
            io::detail::throw_file_error(file, "open for reading", errno);
        }
        std::filesystem::path tmp;
        io::detail::fd_guard out(create_temp(tmp));
        file_info info;
        try {
            sha256 h;
            read_chunks(in.get(), file, [&](std::string_view chunk) {
                h.update(chunk);
                io::detail::write_all(out.get(), chunk, tmp);
                info.size += chunk.size();
            });
            if (::fsync(out.get()) != 0) {
                io::detail::throw_file_error(tmp, "fsync", errno);
            }
            if (::close(out.release()) != 0) {
                io::detail::throw_file_error(tmp, "close", errno);
            }
            info.sha256 = h.hex();
        } catch (...) {
            ::unlink(tmp.c_str());
            throw;
        }
        commit_temp(tmp, info.sha256);
        return info;
    }

    /// Copies object `hex` to `to` atomically, checking its hash on the way: a damaged object is
    /// an error, never a silently wrong file.
    void copy_out(std::string_view hex, const std::filesystem::path& to) const {
        const std::filesystem::path from = path_of(hex);
        io::detail::fd_guard in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
        if (in.get() < 0) {
            throw workspace_error("object " + std::string(hex) + " is missing from " +
                                  dir_.string() + " (" + std::strerror(errno) + ")");
        }
        std::error_code ec;
        std::filesystem::create_directories(to.parent_path(), ec);
        if (ec) {
            throw file_error(to.parent_path().string() + ": cannot create folder: " + ec.message(),
                             ec);
        }
        std::string bytes;
        sha256 h;
        read_chunks(in.get(), from, [&](std::string_view chunk) {
            h.update(chunk);
            bytes.append(chunk);
        });
        if (h.hex() != hex) {
            throw workspace_error("object " + from.string() +
                                  " is damaged: its content no longer has its hash");
        }
        io::write_file_atomic(to, bytes);
    }

private:
    std::filesystem::path dir_;
};

} // namespace ctml::workspace::detail
