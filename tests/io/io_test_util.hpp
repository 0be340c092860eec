// SPDX-License-Identifier: MIT
// Helpers shared by the tests in tests/io: a scratch folder and running a child command.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

#include <sys/wait.h>

#include <doctest/doctest.h>

namespace ctml_test {

/// A fresh folder under the system temporary directory, removed with everything in it.
class scratch_dir {
public:
    scratch_dir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "ctml-io-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) {
            throw std::runtime_error("mkdtemp failed for " + tmpl);
        }
        path_ = tmpl;
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;
    ~scratch_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

/// The message of the exception `expr` throws as E; fails the test if it throws nothing.
#define CTML_THROW_MESSAGE(E, expr)                                                               \
    [&]() -> std::string {                                                                        \
        try {                                                                                     \
            (void)(expr);                                                                         \
        } catch (const E& e) {                                                                    \
            return e.what();                                                                      \
        }                                                                                         \
        FAIL("expected " #E " from " #expr);                                                      \
        return {};                                                                                \
    }()

struct command_result {
    int status = -1;
    std::string out;
};

/// Runs `command` through the shell, capturing its stdout; status is the exit code.
inline command_result run_command(const std::string& command) {
    command_result r;
    FILE* p = ::popen(command.c_str(), "r");
    if (!p) {
        return r;
    }
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) {
        r.out.append(buf, n);
    }
    const int st = ::pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

inline std::string hex(const void* data, std::size_t n) {
    static constexpr char digits[] = "0123456789abcdef";
    const auto* p = static_cast<const unsigned char*>(data);
    std::string s;
    s.reserve(2 * n);
    for (std::size_t i = 0; i < n; ++i) {
        s += digits[p[i] >> 4];
        s += digits[p[i] & 0xF];
    }
    return s;
}

} // namespace ctml_test
