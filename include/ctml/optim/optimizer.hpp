// SPDX-License-Identifier: MIT
#pragma once
#include <array>
#include <concepts>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "ctml/core/error.hpp"

namespace ctml {

/// @brief What the optimizer slot accepts: ctml::sgd<>, ctml::rmsprop<>, ctml::adam<>, or a type
/// with a name, a number of per-parameter state slots, named hyperparameters and an update that
/// runs over the whole contiguous parameter buffer in one pass.
namespace detail {
// What the optimizer concept passes to visit_hyperparameters. A named type, not a lambda: nvcc's
// front end (CUDA 13) rejects a lambda inside a requires-expression, so every optimizer failed
// the concept in a .cu file (examples built as CUDA, the CUDA engine's tests).
struct hyperparameter_sink {
    void operator()(std::string_view, double) const noexcept {}
};
} // namespace detail

template <class O>
concept optimizer = requires(O o, const O co, float* p, const float* g, std::size_t n) {
    { O::name } -> std::convertible_to<std::string_view>;
    { O::state_slots } -> std::convertible_to<std::size_t>;
    co.update(p, g, std::array<float*, O::state_slots>{}, n, n);
    o.set(std::string_view{}, 0.0);
    co.visit_hyperparameters(detail::hyperparameter_sink{});
};

namespace detail {
inline void require_range(std::string_view optimizer, std::string_view name, double v, double lo,
                          double hi, bool lo_open, bool hi_open) {
    const bool ok = (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
    if (!ok) {
        throw config_error(std::string(optimizer) + ": hyperparameter '" + std::string(name) +
                           "' = " + std::to_string(v) + " is outside " + (lo_open ? "(" : "[") +
                           std::to_string(lo) + ", " + std::to_string(hi) + (hi_open ? ")" : "]"));
    }
}
[[noreturn]] inline void unknown_hyperparameter(std::string_view optimizer, std::string_view name,
                                                std::string_view known) {
    throw config_error(std::string(optimizer) + ": unknown hyperparameter '" + std::string(name) +
                       "' (expected one of: " + std::string(known) + ")");
}
} // namespace detail

} // namespace ctml
