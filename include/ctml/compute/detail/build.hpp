// SPDX-License-Identifier: MIT
// Preparing a job's program from a source folder: configure and build it with CMake, cached in
// the workspace under `compute/builds/<hash>/` where the hash covers every source file (path,
// size, bytes), the CMake target and arguments, the job's environment and the compiler variables
// (CC, CXX, CFLAGS, CXXFLAGS, LDFLAGS). An unchanged folder reuses the build without running
// CMake at all; concurrent submissions of the same folder build once (flock).
#pragma once
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctml/compute/job.hpp"
#include "ctml/core/error.hpp"
#include "ctml/io/file.hpp"
#include "ctml/workspace/detail/objects.hpp"

namespace ctml::compute::detail {

/// @brief The files a build depends on, relative and sorted: every regular file under `dir`
/// except version-control folders and CMake build trees (folders holding a CMakeCache.txt).
inline std::vector<std::string> source_files(const std::filesystem::path& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    auto it = std::filesystem::recursive_directory_iterator(dir, ec);
    if (ec) {
        throw compute_error("source folder " + dir.string() + ": cannot list: " + ec.message());
    }
    for (; it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) {
            throw compute_error("source folder " + dir.string() + ": cannot list: " +
                                ec.message());
        }
        const auto& p = it->path();
        if (it->is_directory(ec)) {
            const auto name = p.filename().string();
            if (name == ".git" || name == ".hg" || name == ".svn" ||
                std::filesystem::exists(p / "CMakeCache.txt", ec)) {
                it.disable_recursion_pending();
            }
            continue;
        }
        if (it->is_regular_file(ec)) {
            out.push_back(std::filesystem::relative(p, dir).generic_string());
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

/// @brief The build cache key of `job` (hex SHA-256).
inline std::string build_hash(const script_run_config& job) {
    const std::filesystem::path dir(job.source_folder);
    workspace::detail::sha256 h;
    const auto feed = [&](std::string_view tag, std::string_view value) {
        h.update(tag);
        h.update(std::to_string(value.size()));
        h.update(":");
        h.update(value);
    };
    feed("format", "ctml.build.1");
    for (const auto& rel : source_files(dir)) {
        feed("file", rel);
        feed("bytes", io::read_file(dir / rel, std::uint64_t(1) << 32));
    }
    feed("target", job.cmake_target);
    for (const auto& a : job.cmake_arguments) {
        feed("cmake_arg", a);
    }
    for (const auto& [k, v] : job.environment) {
        feed("env", k + "=" + v);
    }
    for (const char* var : {"CC", "CXX", "CFLAGS", "CXXFLAGS", "LDFLAGS", "CMAKE_GENERATOR"}) {
        const char* v = std::getenv(var);
        feed(var, v != nullptr ? v : "");
    }
    return h.hex();
}

/// @brief An exclusive flock on `path`, released on destruction.
class file_lock {
public:
    explicit file_lock(const std::filesystem::path& path)
        : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
        if (fd_ < 0 || ::flock(fd_, LOCK_EX) != 0) {
            throw compute_error("cannot lock " + path.string());
        }
    }
    file_lock(const file_lock&) = delete;
    file_lock& operator=(const file_lock&) = delete;
    ~file_lock() {
        if (fd_ >= 0) {
            ::close(fd_); // releases the lock
        }
    }

private:
    int fd_;
};

/// @brief The program `target` inside a CMake build tree: an executable regular file with that
/// name, outside CMakeFiles/.
inline std::filesystem::path find_built_program(const std::filesystem::path& build_dir,
                                                const std::string& target) {
    std::error_code ec;
    std::vector<std::filesystem::path> found;
    for (auto it = std::filesystem::recursive_directory_iterator(build_dir, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_directory(ec) && it->path().filename() == "CMakeFiles") {
            it.disable_recursion_pending();
            continue;
        }
        if (it->path().filename() == target && it->is_regular_file(ec) &&
            ::access(it->path().c_str(), X_OK) == 0) {
            found.push_back(it->path());
        }
    }
    if (found.empty()) {
        throw compute_error("the build of target " + target + " made no program named " + target +
                            " under " + build_dir.string());
    }
    std::sort(found.begin(), found.end());
    return found.front();
}

} // namespace ctml::compute::detail
