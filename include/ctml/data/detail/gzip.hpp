// SPDX-License-Identifier: MIT
// A file read in chunks as its plain bytes: a gzip file is inflated on the fly, any other file is
// read as it is. Readers built on it never need the whole compressed file in memory and never
// size a buffer from what a header claims.
#pragma once
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctml/core/error.hpp"

namespace ctml::detail {

/// Deflate cannot expand a stream by more than about 1032:1, so a gzip file of n bytes never
/// holds more than this many plain bytes; readers reserve no more than this before data arrives.
inline constexpr std::uint64_t gzip_max_expansion = 1040;

/// @brief Sequential reader of a file's plain bytes; gzip is detected by its magic bytes 1f 8b,
/// not by the file's extension. Only regular files are read. Errors name the file:
/// ctml::file_error when it cannot be opened or read (or is a folder, FIFO or device),
/// ctml::format_error for a corrupt gzip stream.
class byte_source {
public:
    explicit byte_source(const std::filesystem::path& path)
        : path_(path), in_buf_(std::size_t{1} << 16) {
        // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses anything
        // but a regular file (a FIFO, /dev/zero, a socket) before a byte is read.
        fd_.fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd_.fd < 0) {
            const std::error_code ec(errno, std::generic_category());
            throw file_error(path_.string() + ": cannot open for reading (" + ec.message() + ")",
                             ec);
        }
        struct ::stat st {};
        if (::fstat(fd_.fd, &st) != 0) {
            const std::error_code ec(errno, std::generic_category());
            throw file_error(path_.string() + ": cannot stat (" + ec.message() + ")", ec);
        }
        if (!S_ISREG(st.st_mode)) {
            throw file_error(path_.string() + (S_ISDIR(st.st_mode)
                                                   ? ": is a folder, expected a file"
                                                   : ": not a regular file (a device, FIFO or "
                                                     "socket); ctml reads only regular files"),
                             std::make_error_code(S_ISDIR(st.st_mode)
                                                      ? std::errc::is_a_directory
                                                      : std::errc::invalid_argument));
        }
        file_size_ = static_cast<std::uint64_t>(st.st_size);
        const int flags = ::fcntl(fd_.fd, F_GETFL);
        if (flags >= 0) {
            ::fcntl(fd_.fd, F_SETFL, flags & ~O_NONBLOCK);
        }
        fill_input();
        gzip_ = avail_ >= 2 && in_buf_[0] == 0x1f && in_buf_[1] == 0x8b;
        if (gzip_) {
            zs_ = std::make_unique<z_stream>();
            if (inflateInit2(zs_.get(), 15 + 16) != Z_OK) {  // 15 + 16: gzip wrapper only
                zs_.reset();
                throw std::bad_alloc();
            }
            zs_->next_in = in_buf_.data();
            zs_->avail_in = static_cast<uInt>(avail_);
        }
    }
    byte_source(const byte_source&) = delete;
    byte_source& operator=(const byte_source&) = delete;
    ~byte_source() {
        if (zs_) {
            inflateEnd(zs_.get());
        }
    }

    const std::filesystem::path& path() const noexcept { return path_; }
    bool is_gzip() const noexcept { return gzip_; }

    /// Size of the file on disk when it is a regular file (compressed size for gzip).
    std::optional<std::uint64_t> file_size() const noexcept { return file_size_; }

    /// Upper bound on the plain bytes this file can hold, when it can be known without reading.
    std::optional<std::uint64_t> max_plain_size() const noexcept {
        if (!file_size_) {
            return std::nullopt;
        }
        if (!gzip_) {
            return file_size_;
        }
        const std::uint64_t limit = UINT64_MAX / gzip_max_expansion;
        return *file_size_ >= limit ? UINT64_MAX : *file_size_ * gzip_max_expansion + 4096;
    }

    /// Reads up to n plain bytes into dst; fewer only at the end of the data.
    std::size_t read(std::uint8_t* dst, std::size_t n) {
        return gzip_ ? read_gzip(dst, n) : read_raw(dst, n);
    }

    /// Reads and counts the bytes left, stopping after `cap` (the count is then a lower bound).
    std::uint64_t skip_rest(std::uint64_t cap) {
        std::array<std::uint8_t, 1 << 14> scratch{};
        std::uint64_t total = 0;
        while (total <= cap) {
            const std::size_t got = read(scratch.data(), scratch.size());
            if (got == 0) {
                break;
            }
            total += got;
        }
        return total;
    }

private:
    // Reads the next piece of the file into in_buf_ once the previous one is used up.
    void fill_input() {
        avail_ = read_fd(in_buf_.data(), in_buf_.size());
        pos_ = 0;
    }

    // Reads up to n bytes (fewer only at end of file); a failed read is a ctml::file_error.
    std::size_t read_fd(std::uint8_t* dst, std::size_t n) {
        std::size_t done = 0;
        while (done < n) {
            const ::ssize_t got = ::read(fd_.fd, dst + done, std::min<std::size_t>(n - done, 1u << 30));
            if (got < 0) {
                if (errno == EINTR) {
                    continue;
                }
                const std::error_code ec(errno, std::generic_category());
                throw file_error(path_.string() + ": read error (" + ec.message() + ")", ec);
            }
            if (got == 0) {
                break;
            }
            done += static_cast<std::size_t>(got);
        }
        return done;
    }

    std::size_t read_raw(std::uint8_t* dst, std::size_t n) {
        std::size_t done = 0;
        while (done < n) {
            if (pos_ == avail_) {
                if (n - done >= in_buf_.size()) {
                    // Large request: skip the staging buffer.
                    const std::size_t got = read_fd(dst + done, n - done);
                    done += got;
                    if (got == 0) {
                        break;
                    }
                    continue;
                }
                fill_input();
                if (avail_ == 0) {
                    break;
                }
            }
            const std::size_t k = std::min(n - done, avail_ - pos_);
            std::copy_n(in_buf_.data() + pos_, k, dst + done);
            pos_ += k;
            done += k;
        }
        return done;
    }

    std::size_t read_gzip(std::uint8_t* dst, std::size_t n) {
        std::size_t done = 0;
        while (done < n) {
            const auto chunk = static_cast<uInt>(std::min<std::size_t>(n - done, UINT_MAX));
            zs_->next_out = dst + done;
            zs_->avail_out = chunk;
            const bool more = inflate_some();
            done += chunk - zs_->avail_out;
            if (!more) {
                break;
            }
        }
        return done;
    }

    // Runs inflate until the output window is full or the stream is over; false at the end.
    bool inflate_some() {
        while (zs_->avail_out > 0) {
            if (member_ended_) {
                if (!next_member()) {
                    return false;
                }
            }
            if (zs_->avail_in == 0) {
                refill_gzip();
                if (zs_->avail_in == 0) {
                    throw format_error(path_.string() +
                                       ": truncated gzip stream (the file ends before the end of "
                                       "its compressed data)");
                }
            }
            const int rc = inflate(zs_.get(), Z_NO_FLUSH);
            if (rc == Z_STREAM_END) {
                member_ended_ = true;
            } else if (rc == Z_MEM_ERROR) {
                throw std::bad_alloc();
            } else if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_STREAM_ERROR) {
                throw format_error(path_.string() + ": corrupt gzip stream (zlib: " +
                                   (zs_->msg ? zs_->msg : "invalid data") + ")");
            }
            // Z_OK, or Z_BUF_ERROR when inflate needs more input: loop and refill.
        }
        return true;
    }

    // gzip allows several members back to back (what `cat a.gz b.gz` makes); anything else after
    // the end of a member is damage, not data.
    bool next_member() {
        if (zs_->avail_in == 0) {
            refill_gzip();
        }
        if (zs_->avail_in == 0) {
            return false;
        }
        if (zs_->next_in[0] != 0x1f) {
            throw format_error(path_.string() + ": corrupt gzip stream (unexpected bytes after the "
                                                "end of the compressed data)");
        }
        if (inflateReset(zs_.get()) != Z_OK) {
            throw format_error(path_.string() + ": corrupt gzip stream (cannot restart inflate)");
        }
        member_ended_ = false;
        return true;
    }

    void refill_gzip() {
        fill_input();
        zs_->next_in = in_buf_.data();
        zs_->avail_in = static_cast<uInt>(avail_);
    }

    // Closes the descriptor however the object ends, a throwing constructor included.
    struct fd_holder {
        int fd = -1;
        fd_holder() = default;
        fd_holder(const fd_holder&) = delete;
        fd_holder& operator=(const fd_holder&) = delete;
        ~fd_holder() {
            if (fd >= 0) {
                ::close(fd);
            }
        }
    };

    std::filesystem::path path_;
    fd_holder fd_;
    std::vector<std::uint8_t> in_buf_;
    std::size_t avail_ = 0;  // bytes of in_buf_ filled
    std::size_t pos_ = 0;    // raw mode: bytes of in_buf_ already handed out
    std::optional<std::uint64_t> file_size_;
    bool gzip_ = false;
    bool member_ended_ = false;
    std::unique_ptr<z_stream> zs_;
};

} // namespace ctml::detail
