// SPDX-License-Identifier: MIT
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ctml/core/error.hpp"

namespace ctml {

/// @brief An in-memory supervised dataset: `size()` rows of `dim` features stored as Feature
/// (std::uint8_t for image bytes, float or double otherwise), each row converted to the network's
/// scalar as `value * scale` only when a batch is gathered, plus either class labels (integers in
/// [0, classes)) or dense targets (`target_dim` values per row, for regression losses).
/// The trainer shuffles indices, never the rows.
template <class Feature>
struct dataset {
    std::vector<Feature> features;     ///< size() × dim, row-major
    std::size_t dim = 0;               ///< features per row
    double scale = 1.0;                ///< multiplier applied when converting to the network scalar
    std::vector<std::int32_t> labels;  ///< class per row, or empty when targets are given
    std::size_t classes = 0;           ///< number of classes when labels are given
    std::vector<double> targets;       ///< size() × target_dim, or empty when labels are given
    std::size_t target_dim = 0;

    std::size_t size() const noexcept { return dim == 0 ? 0 : features.size() / dim; }
    bool has_labels() const noexcept { return !labels.empty(); }

    /// Copies the rows `rows` into x (rows.size() × dim), converted and scaled. No allocation.
    template <class T>
    void gather_features(std::span<const std::size_t> rows, T* x) const noexcept {
        const T s = static_cast<T>(scale);
        for (std::size_t r = 0; r < rows.size(); ++r) {
            const Feature* src = features.data() + rows[r] * dim;
            T* dst = x + r * dim;
            for (std::size_t j = 0; j < dim; ++j) {
                dst[j] = static_cast<T>(src[j]) * s;
            }
        }
    }

    /// Checks the invariants above; throws ctml::data_error naming `what` and the broken rule.
    void validate(const std::string& what) const {
        if (dim == 0) {
            throw data_error(what + ": feature dimension is 0");
        }
        if (features.size() % dim != 0) {
            throw data_error(what + ": " + std::to_string(features.size()) +
                             " feature values are not a whole number of rows of " +
                             std::to_string(dim));
        }
        const std::size_t n = size();
        if (has_labels()) {
            if (labels.size() != n) {
                throw data_error(what + ": " + std::to_string(n) + " rows but " +
                                 std::to_string(labels.size()) + " labels");
            }
            for (std::size_t i = 0; i < n; ++i) {
                if (labels[i] < 0 || static_cast<std::size_t>(labels[i]) >= classes) {
                    throw data_error(what + ": label " + std::to_string(labels[i]) + " at row " +
                                     std::to_string(i) + " is outside [0, " +
                                     std::to_string(classes) + ")");
                }
            }
        } else {
            if (target_dim == 0 || targets.size() != n * target_dim) {
                throw data_error(what + ": expected labels, or " + std::to_string(n) + " × " +
                                 std::to_string(target_dim) + " targets, got " +
                                 std::to_string(targets.size()) + " target values");
            }
        }
    }
};

} // namespace ctml
