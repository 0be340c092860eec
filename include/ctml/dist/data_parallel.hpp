// SPDX-License-Identifier: MIT
// Data-parallel training step: each rank computes the gradient of the mean loss over its share
// of the global batch, the gradients are combined by one all-reduce, and every rank applies the
// same optimizer step, so the parameters stay identical on all ranks.
//
// Weighting: an engine's gradient is the mean over its own rows, g_r = (1/n_r) Σ_{i∈r} ∇ℓ_i. The
// full batch's mean is (1/N) Σ_i ∇ℓ_i = Σ_r (n_r/N) g_r, so each rank scales by n_r/N before an
// all-reduce *sum* (a plain average of the g_r is right only when every share is the same size).
// A rank whose share is empty contributes zeros.
#pragma once
#include <algorithm>
#include <cstddef>
#include <span>
#include <string>

#include "ctml/core/error.hpp"
#include "ctml/dist/communicator.hpp"

namespace ctml::dist {

/// @brief What data_parallel_step needs of an engine (ctml::cpu_engine has it): a forward and
/// backward pass over `rows` rows of its input into gradients(), then apply_gradients().
template <class E, class Targets>
concept gradient_engine = requires(E& e, const Targets& t, std::size_t rows) {
    e.forward_backward(t, rows);
    { e.gradients() } -> std::convertible_to<std::span<float>>;
    e.apply_gradients();
};

/// @brief One step over a global batch of `global_rows`, of which this rank has loaded
/// `local_rows` (its share_of) into the engine's input with `targets`. Returns the engine's
/// forward_backward result for the local rows (loss sum and correct count, for logging; sum
/// them over ranks for the global figures).
template <class Engine, class Targets, communicator Comm>
    requires gradient_engine<Engine, Targets>
auto data_parallel_step(Engine& engine, Comm& comm, const Targets& targets, std::size_t local_rows,
                        std::size_t global_rows) {
    if (global_rows == 0 || local_rows > global_rows) {
        throw config_error("data_parallel_step: local rows " + std::to_string(local_rows) +
                           " of a global batch of " + std::to_string(global_rows));
    }
    using result_type = decltype(engine.forward_backward(targets, local_rows));
    result_type r{};
    std::span<float> g = engine.gradients();
    if (local_rows > 0) {
        r = engine.forward_backward(targets, local_rows);
        if (local_rows != global_rows) {
            const float w = static_cast<float>(static_cast<double>(local_rows) /
                                               static_cast<double>(global_rows));
            for (float& x : g) {
                x *= w;
            }
        }
    } else {
        std::fill(g.begin(), g.end(), 0.0f);
    }
    comm.all_reduce_sum(g);
    engine.apply_gradients();
    return r;
}

} // namespace ctml::dist
