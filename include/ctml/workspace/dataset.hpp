// SPDX-License-Identifier: MIT
// File datasets: files from local paths or URLs, registered as versioned, content-hashed
// datasets of a workspace and resolved to a local folder a trainer takes as --data-folder.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ctml/workspace/types.hpp"
#include "ctml/workspace/workspace.hpp"

namespace ctml::workspace {

/// @brief One source of a file dataset: a local file or folder, or an http(s)/file URL, with an
/// optional expected SHA-256 (hex) that the bytes must match.
struct file_source {
    std::string location{};
    std::string sha256{};
    file_source(std::string loc, std::string hash = {}) : location(std::move(loc)), sha256(std::move(hash)) {}
    file_source(const char* loc) : location(loc) {}
};

/// @brief Download behaviour (URLs).
struct download_options {
    int attempts = 4;                 ///< tries per URL (retry with resume after a failure)
    long connect_timeout_s = 30;
    long low_speed_time_s = 60;       ///< give up a try after this long below 1 byte/s
    bool progress = true;             ///< a progress line on stderr when it is a terminal
};

/// @brief A set of files, not yet registered (from_files) or a registered version
/// (get_by_name).
class file_dataset {
public:
    /// @brief Sources in order; a folder contributes its regular files (recursively, relative
    /// paths kept), a file or URL its base name. Two files with the same path are an error.
    /// Nothing is read yet.
    static file_dataset from_files(std::vector<file_source> sources,
                                   download_options options = {});

    /// @brief Fetches every source into the workspace's object store (URLs with libcurl:
    /// retried, resumed, checked against Content-Length and the expected hash), then records a
    /// version of `name`. Identical content to the latest version gives that version back
    /// unless create_new_version. Errors (404, truncated body, wrong checksum, missing path)
    /// name the source, and record nothing.
    dataset_version register_dataset(workspace& ws, std::string_view name,
                                     std::string_view description = {},
                                     bool create_new_version = false);

    /// @brief A registered version (0: latest).
    static file_dataset get_by_name(workspace& ws, std::string_view name, std::int64_t version = 0);

    /// The registered version (get_by_name, register_dataset); empty otherwise.
    const std::optional<dataset_version>& version() const noexcept { return version_; }
    const std::vector<file_source>& sources() const noexcept { return sources_; }

    /// @brief Copies the registered version's files into `to_dir` (verified against their
    /// hashes); returns to_dir.
    std::filesystem::path download(const std::filesystem::path& to_dir) const;
    /// @brief A folder inside the workspace (`<root>/datasets/<name>/<version>`) holding the
    /// version's files, made once (hard links to the objects, or copies); returns it.
    std::filesystem::path mount() const;

private:
    std::vector<file_source> sources_{};
    download_options options_;
    std::optional<dataset_version> version_{};
    workspace* ws_ = nullptr;
};

} // namespace ctml::workspace

#include "ctml/workspace/detail/dataset_impl.hpp"
