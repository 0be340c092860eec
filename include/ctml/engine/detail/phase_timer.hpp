// SPDX-License-Identifier: MIT
// Wall time per phase of the CPU engine's step, for profiles on a machine without performance
// counters (benchmarks/step_profile_phases). Compiled in only with CTML_PHASE_TIMING defined;
// otherwise phase_scope is empty and the step carries no timing code at all.
//
// Each phase_scope adds its lifetime to its phase's total, on the thread that ran it (the
// caller's scopes time the whole phase, pool threads included). Not for production builds: the
// totals are process-wide and unsynchronised, meant for one engine stepping on one thread.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

#if defined(CTML_PHASE_TIMING)
#include <chrono>
#endif

namespace ctml::detail {

enum class phase : std::size_t {
    load_batch,  // gather of the batch's features and labels into the engine
    compress,    // CSR of the input (per sample)
    transpose,   // CSC of the input (per feature)
    forward0,    // forward of layer 0 (sparse or GEMM) with its bias and activation
    forward1,
    forward2,
    forward_rest, // forward of layers 3 and above
    loss,        // loss and its gradient
    output_bias, // the last layer's bias gradient
    backward0,   // layer 0's dW (+ its update)
    backward1,   // layer 1's dW, dX into layer 0, layer 0's activation' and db (+ update)
    backward2,
    backward_rest,
    count
};

inline constexpr std::array<const char*, static_cast<std::size_t>(phase::count)> phase_names{
    "load batch (gather)", "compress (CSR)", "transpose (CSC)", "L0 forward", "L1 forward",
    "L2 forward", "L3+ forward", "loss", "output bias grad", "L0 backward (dW + update)",
    "L1 backward (dW, dX, update)", "L2 backward (dW, dX, update)", "L3+ backward"};

#if defined(CTML_PHASE_TIMING)
inline std::array<std::uint64_t, static_cast<std::size_t>(phase::count)>& phase_totals() noexcept {
    static std::array<std::uint64_t, static_cast<std::size_t>(phase::count)> t{};
    return t;
}

class phase_scope {
public:
    explicit phase_scope(phase p) noexcept : p_(p), t0_(std::chrono::steady_clock::now()) {}
    phase_scope(const phase_scope&) = delete;
    phase_scope& operator=(const phase_scope&) = delete;
    ~phase_scope() {
        const auto dt = std::chrono::steady_clock::now() - t0_;
        phase_totals()[static_cast<std::size_t>(p_)] += static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(dt).count());
    }

private:
    phase p_;
    std::chrono::steady_clock::time_point t0_;
};
#else
class phase_scope {
public:
    explicit constexpr phase_scope(phase) noexcept {}
    // User-provided, so that a scope is not an "unused variable" to clang (it inlines to nothing).
    ~phase_scope() {} // NOLINT(modernize-use-equals-default)
};
#endif

/// The phase of layer L's forward or backward.
constexpr phase layer_phase(bool forward, std::size_t layer) noexcept {
    const std::size_t l = layer < 3 ? layer : 3;
    return static_cast<phase>((forward ? static_cast<std::size_t>(phase::forward0)
                                       : static_cast<std::size_t>(phase::backward0)) +
                              l);
}

} // namespace ctml::detail
