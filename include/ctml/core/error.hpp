// SPDX-License-Identifier: MIT
#pragma once
#include <stdexcept>
#include <string>

namespace ctml {

/// @brief Root of every exception ctml throws. Messages name the file, field, run or argument
/// and what was expected.
class error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// @brief Bad data: a dataset, an IDX file, a label out of range.
class data_error : public error {
public:
    using error::error;
};

/// @brief A file whose bytes do not follow its format (IDX, gzip, npz, JSON, model files).
class format_error : public error {
public:
    using error::error;
};

/// @brief A configuration that cannot work: flags, run configuration, hyperparameters.
class config_error : public error {
public:
    using error::error;
};

/// @brief Workspace, experiment, run or model registry failures.
class workspace_error : public error {
public:
    using error::error;
};

/// @brief Compute targets and submission failures.
class compute_error : public error {
public:
    using error::error;
};

} // namespace ctml
