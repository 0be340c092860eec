// SPDX-License-Identifier: MIT
// One error hierarchy rooted at ctml::error. Every type has a stable code: the exit status of the
// `ctml` command and of the example trainers, and the reason a failed run records. Codes never
// change meaning; new kinds get new numbers.
#pragma once
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace ctml {

/// @brief Stable codes of ctml's error kinds (also process exit statuses).
enum class error_code : int {
    unknown = 1,   ///< ctml::error itself, or anything not a ctml::error
    config = 2,    ///< flags, run configuration, hyperparameters, config.json
    data = 3,      ///< datasets, labels, shapes of data
    format = 4,    ///< a file whose bytes do not follow its format
    file = 5,      ///< a file or folder that cannot be opened, created, written or renamed
    workspace = 6, ///< workspace, experiment, run, registry
    compute = 7,   ///< compute targets and submission
};

/// @brief The code's stable name ("config", "format", ...), as runs record it.
constexpr std::string_view error_code_name(error_code c) noexcept {
    switch (c) {
    case error_code::config: return "config";
    case error_code::data: return "data";
    case error_code::format: return "format";
    case error_code::file: return "file";
    case error_code::workspace: return "workspace";
    case error_code::compute: return "compute";
    case error_code::unknown: break;
    }
    return "unknown";
}

/// @brief Root of every exception ctml throws. Messages name the file, field, run or argument
/// and what was expected.
class error : public std::runtime_error {
public:
    explicit error(const std::string& what, error_code code = error_code::unknown)
        : std::runtime_error(what), code_(code) {}
    error_code code() const noexcept { return code_; }
    /// The code as a process exit status.
    int exit_status() const noexcept { return static_cast<int>(code_); }

private:
    error_code code_;
};

/// @brief Bad data: a dataset, an IDX file's content, a label out of range.
class data_error : public error {
public:
    explicit data_error(const std::string& what) : error(what, error_code::data) {}
};

/// @brief A file whose bytes do not follow its format (IDX, gzip, npz, JSON, model files).
class format_error : public error {
public:
    explicit format_error(const std::string& what) : error(what, error_code::format) {}
};

/// @brief A file or folder that cannot be opened, read, created, written or renamed, or that is
/// not what it must be (a regular file inside the model folder, under its size bound).
class file_error : public error {
public:
    explicit file_error(const std::string& what, std::error_code os_error = {})
        : error(what, error_code::file), os_error_(os_error) {}
    /// The operating system's error (errno) when one caused this, else empty.
    const std::error_code& os_error() const noexcept { return os_error_; }

private:
    std::error_code os_error_;
};

/// @brief A configuration that cannot work: flags, run configuration, hyperparameters.
class config_error : public error {
public:
    explicit config_error(const std::string& what) : error(what, error_code::config) {}
};

/// @brief Workspace, experiment, run or model registry failures.
class workspace_error : public error {
public:
    explicit workspace_error(const std::string& what) : error(what, error_code::workspace) {}
};

/// @brief Compute targets and submission failures.
class compute_error : public error {
public:
    explicit compute_error(const std::string& what) : error(what, error_code::compute) {}
};

} // namespace ctml
