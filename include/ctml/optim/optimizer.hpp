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

// Optimizer contract (what the optimizer slot of run_config accepts):
//
//   O::name                  std::string_view: the name in the job's JSON ("rmsprop")
//   O::state_slots           std::size_t: per-parameter state buffers the engine allocates (each
//                            as large as the parameter buffer, same layout, zero at the start)
//   o.update(p, g, state, n, t)  const noexcept, for T = float and double: one step over n
//                            parameters p[0..n) with gradients g[0..n) and state[k][0..n), at
//                            iteration t (1-based; Adam's bias correction). Element-wise: the
//                            engine calls it on any sub-range (one layer's rows, as each layer's
//                            gradient completes), and the result must equal one call on the whole
//                            buffer.
//   o.set(key, value)        sets a hyperparameter by name; a value out of range or an unknown
//                            name throws ctml::config_error naming both
//   o.visit_hyperparameters(f)   calls f(name, value) for every hyperparameter, in a fixed order
//                            (the job's JSON and the trainer's flags are made from it)
//   Hyperparameters are public double members whose defaults are the template arguments.

/// @brief What the optimizer slot accepts: ctml::sgd<>, ctml::rmsprop<>, ctml::adam<>, or a type
/// with a name, a number of per-parameter state slots, named hyperparameters and an update that
/// runs over the whole contiguous parameter buffer in one pass (see the contract above).
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
// Stands in for a missing optimizer (evaluation) or a rejected one (run_config's slot after its
// static_assert): satisfies ctml::optimizer, does nothing.
struct no_optimizer {
    static constexpr std::string_view name = "none";
    static constexpr std::size_t state_slots = 0;
    template <class T>
    void update(T*, const T*, std::array<T*, 0>, std::size_t, std::size_t) const noexcept {}
    void set(std::string_view key, double) {
        throw config_error("no optimizer: unknown hyperparameter '" + std::string(key) + "'");
    }
    template <class F>
    void visit_hyperparameters(F&&) const {}
};

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
