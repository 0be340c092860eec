// SPDX-License-Identifier: MIT
// URL downloads into the object store with libcurl: retried with exponential back-off on
// transient failures (connection errors, timeouts, 5xx, 429, a body shorter than its
// Content-Length), resumed with a Range request where the server allows it (else restarted),
// checked against an expected SHA-256, and committed atomically. A progress line goes to stderr
// when it is a terminal.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "ctml/core/error.hpp"
#include "ctml/io/file.hpp"
#include "ctml/workspace/detail/objects.hpp"
#include "ctml/workspace/types.hpp"

namespace ctml::workspace::detail {

/// @brief How download_url behaves (mirrors ctml::workspace::download_options).
struct http_options {
    int attempts = 4;
    long connect_timeout_s = 30;
    long low_speed_time_s = 60;
    bool progress = true;
};

inline void curl_global() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct curl_transfer {
    int fd = -1;
    std::uint64_t written = 0;
    std::uint64_t resume_from = 0;
    bool first_chunk = true;
    bool write_failed = false;
    int write_errno = 0;
    CURL* curl = nullptr;
    std::string shown;
    bool progress = false;
    std::chrono::steady_clock::time_point last_progress{};
};

inline std::size_t curl_write(char* data, std::size_t size, std::size_t n, void* user) {
    auto* t = static_cast<curl_transfer*>(user);
    const std::size_t bytes = size * n;
    if (t->first_chunk) {
        t->first_chunk = false;
        long code = 0;
        curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
        if (t->resume_from > 0 && code != 206) {
            // The server ignored the Range request and sends everything again: start over.
            if (::ftruncate(t->fd, 0) != 0 || ::lseek(t->fd, 0, SEEK_SET) != 0) {
                t->write_failed = true;
                t->write_errno = errno;
                return 0;
            }
            t->written = 0;
        }
    }
    try {
        io::detail::write_all(t->fd, std::string_view(data, bytes), t->shown);
    } catch (const file_error& e) {
        t->write_failed = true;
        t->write_errno = e.os_error().value();
        return 0;
    }
    t->written += bytes;
    return bytes;
}

inline int curl_progress(void* user, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t) {
    auto* t = static_cast<curl_transfer*>(user);
    const auto when = std::chrono::steady_clock::now();
    if (t->progress && when - t->last_progress > std::chrono::milliseconds(200)) {
        t->last_progress = when;
        const double mib = 1024.0 * 1024.0;
        const double done = static_cast<double>(t->resume_from + static_cast<std::uint64_t>(now));
        if (total > 0) {
            std::fprintf(stderr, "\r%s: %.1f / %.1f MiB", t->shown.c_str(), done / mib,
                         static_cast<double>(t->resume_from + static_cast<std::uint64_t>(total)) /
                             mib);
        } else {
            std::fprintf(stderr, "\r%s: %.1f MiB", t->shown.c_str(), done / mib);
        }
        std::fflush(stderr);
    }
    return 0;
}

inline bool transient(CURLcode rc, long http_code) {
    switch (rc) {
    case CURLE_PARTIAL_FILE:
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR: return true;
    case CURLE_HTTP_RETURNED_ERROR: return http_code >= 500 || http_code == 429 || http_code == 408;
    default: return false;
    }
}

/// @brief Downloads `url` into `objects`; returns its size and SHA-256 (path left empty).
/// Throws ctml::data_error naming the URL: an HTTP error status (404, ...), a body still short
/// or a connection still failing after every attempt, or a SHA-256 other than `expected_sha256`
/// (when given). Nothing is left behind on failure.
inline file_info download_url(const object_store& objects, const std::string& url,
                              const std::string& expected_sha256, const http_options& opt) {
    curl_global();
    std::filesystem::path tmp;
    io::detail::fd_guard fd(objects.create_temp(tmp));
    struct cleanup {
        std::filesystem::path* p;
        bool armed = true;
        ~cleanup() {
            if (armed) {
                ::unlink(p->c_str());
            }
        }
    } guard{&tmp};
    CURL* curl = curl_easy_init();
    if (curl == nullptr) {
        throw data_error(url + ": libcurl could not start a transfer");
    }
    struct curl_closer {
        CURL* c;
        ~curl_closer() { curl_easy_cleanup(c); }
    } closer{curl};
    curl_transfer t;
    t.fd = fd.get();
    t.curl = curl;
    t.shown = url;
    t.progress = opt.progress && ::isatty(STDERR_FILENO) == 1;
    char errbuf[CURL_ERROR_SIZE] = {};
    std::string last_error;
    bool ok = false;
    const int attempts = opt.attempts < 1 ? 1 : opt.attempts;
    for (int attempt = 0; attempt < attempts && !ok; ++attempt) {
        if (attempt > 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(200 << (attempt - 1)));
        }
        curl_easy_reset(curl);
        errbuf[0] = '\0';
        t.first_chunk = true;
        t.resume_from = t.written;
        curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
        curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
        curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, opt.connect_timeout_s);
        curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, opt.low_speed_time_s);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &curl_write);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, t.progress ? 0L : 1L);
        curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &curl_progress);
        curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
        if (t.resume_from > 0) {
            curl_easy_setopt(curl, CURLOPT_RESUME_FROM_LARGE,
                             static_cast<curl_off_t>(t.resume_from));
        }
        const CURLcode rc = curl_easy_perform(curl);
        long code = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
        if (t.write_failed) {
            throw file_error(tmp.string() + ": cannot write the download of " + url + ": " +
                                 std::strerror(t.write_errno),
                             std::error_code(t.write_errno, std::generic_category()));
        }
        if (rc == CURLE_OK) {
            ok = true;
            break;
        }
        if (rc == CURLE_RANGE_ERROR || (rc == CURLE_HTTP_RETURNED_ERROR && code == 416)) {
            // The server refuses to resume: start over next time.
            if (::ftruncate(fd.get(), 0) != 0 || ::lseek(fd.get(), 0, SEEK_SET) != 0) {
                io::detail::throw_file_error(tmp, "truncate", errno);
            }
            t.written = 0;
            last_error = "the server refused to resume";
            continue;
        }
        last_error = errbuf[0] != '\0' ? std::string(errbuf) : curl_easy_strerror(rc);
        if (rc == CURLE_HTTP_RETURNED_ERROR) {
            last_error = "HTTP " + std::to_string(code) + " (" + last_error + ")";
        }
        if (!transient(rc, code)) {
            break;
        }
    }
    if (t.progress) {
        std::fprintf(stderr, "\n");
    }
    if (!ok) {
        throw data_error(url + ": download failed: " + last_error);
    }
    if (::fsync(fd.get()) != 0) {
        io::detail::throw_file_error(tmp, "fsync", errno);
    }
    if (::close(fd.release()) != 0) {
        io::detail::throw_file_error(tmp, "close", errno);
    }
    // Hash what is on disk (after resumes and restarts, that is what counts).
    file_info info;
    {
        io::detail::fd_guard in(::open(tmp.c_str(), O_RDONLY | O_CLOEXEC));
        if (in.get() < 0) {
            io::detail::throw_file_error(tmp, "open", errno);
        }
        sha256 h;
        read_chunks(in.get(), tmp, [&](std::string_view chunk) {
            h.update(chunk);
            info.size += chunk.size();
        });
        info.sha256 = h.hex();
    }
    if (!expected_sha256.empty() && info.sha256 != expected_sha256) {
        throw data_error(url + ": SHA-256 " + info.sha256 + " does not match the expected " +
                         expected_sha256 + " (" + std::to_string(info.size) + " bytes received)");
    }
    guard.armed = false;
    objects.commit_temp(tmp, info.sha256);
    return info;
}

} // namespace ctml::workspace::detail
