// SPDX-License-Identifier: MIT
// Helpers for the data tests: a temporary folder and IDX files written raw or with zlib's gzip.
#pragma once
#include <zlib.h>

#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace ctml_test {

namespace fs = std::filesystem;
using bytes = std::vector<std::uint8_t>;

/// A fresh folder under the system temp folder, removed with everything in it at scope exit.
class temp_dir {
public:
    explicit temp_dir(const std::string& tag) {
        std::random_device rd;
        for (int attempt = 0; attempt < 100; ++attempt) {
            path_ = fs::temp_directory_path() /
                    ("ctml_" + tag + "_" + std::to_string(rd()) + std::to_string(attempt));
            if (fs::create_directory(path_)) {
                return;
            }
        }
        throw std::runtime_error("cannot create a temporary folder for " + tag);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    const fs::path& path() const noexcept { return path_; }
    fs::path operator/(const std::string& name) const { return path_ / name; }

private:
    fs::path path_;
};

/// The bytes of an IDX file: magic 00 00 type ndims, big-endian dims, then the data.
inline bytes idx_bytes(std::uint8_t type, std::initializer_list<std::uint32_t> dims,
                       const bytes& data) {
    bytes out = {0, 0, type, static_cast<std::uint8_t>(dims.size())};
    for (const std::uint32_t d : dims) {
        out.push_back(static_cast<std::uint8_t>(d >> 24));
        out.push_back(static_cast<std::uint8_t>(d >> 16));
        out.push_back(static_cast<std::uint8_t>(d >> 8));
        out.push_back(static_cast<std::uint8_t>(d));
    }
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

/// n bytes with a compressible but non-trivial pattern, seeded.
inline bytes pattern(std::size_t n, std::uint32_t seed = 1) {
    std::mt19937 g(seed);
    bytes out(n);
    for (std::size_t i = 0; i < n; ++i) {
        out[i] = static_cast<std::uint8_t>((i % 97 < 60) ? 0 : g() % 256);
    }
    return out;
}

inline void write_raw(const fs::path& p, const bytes& b) {
    std::ofstream f(p, std::ios::binary);
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    REQUIRE(f.good());
}

/// Writes b as one gzip member with zlib's gzFile API (appends a member with mode "ab").
inline void write_gz(const fs::path& p, const bytes& b, const char* mode = "wb") {
    gzFile f = gzopen(p.c_str(), mode);
    REQUIRE(f != nullptr);
    if (!b.empty()) {
        REQUIRE(gzwrite(f, b.data(), static_cast<unsigned>(b.size())) ==
                static_cast<int>(b.size()));
    }
    REQUIRE(gzclose(f) == Z_OK);
}

/// Writes b raw, or gzip-compressed when gz is true.
inline void write_file(const fs::path& p, const bytes& b, bool gz) {
    if (gz) {
        write_gz(p, b);
    } else {
        write_raw(p, b);
    }
}

inline bytes read_all(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

/// The message of the E that f throws; fails the check (and returns "") when f does not throw.
template <class E, class F>
std::string thrown(F&& f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    }
    FAIL_CHECK("expected an exception, none was thrown");
    return {};
}

} // namespace ctml_test
