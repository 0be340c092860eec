// SPDX-License-Identifier: MIT
#pragma once
#include <xsimd/xsimd.hpp>

#include <array>
#include <cmath>
#include <cstddef>
#include <string_view>
#include <utility>

#include "ctml/optim/detail/inverse_sqrt.hpp"
#include "ctml/optim/detail/simd_loop.hpp"
#include "ctml/optim/optimizer.hpp"

// GCC 12 reports its own AVX-512 sqrt intrinsic as reading an uninitialized value
// (GCC bug 105593, fixed in GCC 13) wherever this update is inlined with -march=native.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define CTML_POP_GCC_105593
#endif

namespace ctml {

/// @brief Adam with Keras' semantics (tf.keras optimizer_v2 / TF's ApplyAdam), at step t ≥ 1:
///   m ← β1·m + (1-β1)·g;  v ← β2·v + (1-β2)·g²;
///   lr_t = lr·√(1-β2^t) / (1-β1^t);  p ← p - lr_t·m / (√v + ε)
/// (ε is added to √v unscaled, which differs slightly from the paper's ε̂ and from PyTorch,
/// which adds ε to √(v/(1-β2^t))). As in ctml::rmsprop, 1/(√v + ε) is approximated for float on
/// AVX2/AVX-512 (within 1e-6 relative) unless `exact`.
template <double LearningRate = 0.001, double Beta1 = 0.9, double Beta2 = 0.999,
          double Epsilon = 1e-7>
struct adam {
    static constexpr std::string_view name = "adam";
    static constexpr std::size_t state_slots = 2;
    double learning_rate = LearningRate;
    double beta_1 = Beta1;
    double beta_2 = Beta2;
    double epsilon = Epsilon;
    /// Square root and division instead of the rsqrt/rcp approximation (not a hyperparameter).
    bool exact = CTML_EXACT_OPTIMIZERS != 0;

    /// `iteration` is the 1-based step number t.
    template <class T>
    void update(T* p, const T* g, std::array<T*, 2> state, std::size_t n,
                std::size_t iteration) const noexcept {
        using B = xsimd::batch<T>;
        T* m = state[0];
        T* v = state[1];
        const double t = static_cast<double>(iteration);
        const T lr_t = static_cast<T>(learning_rate * std::sqrt(1 - std::pow(beta_2, t)) /
                                      (1 - std::pow(beta_1, t)));
        const T b1 = static_cast<T>(beta_1), b2 = static_cast<T>(beta_2);
        const T c1 = static_cast<T>(1 - beta_1), c2 = static_cast<T>(1 - beta_2);
        const T eps = static_cast<T>(epsilon);
        auto mv_of = [&](const T* gg, T* mm, T* vv) {
            const B gi = B::load_unaligned(gg);
            const B mi = B(b1) * B::load_unaligned(mm) + B(c1) * gi;
            const B vi = B(b2) * B::load_unaligned(vv) + B(c2) * gi * gi;
            mi.store_unaligned(mm);
            vi.store_unaligned(vv);
            return std::pair{mi, vi};
        };
        if (!exact && detail::fast_inverse_sqrt<T> &&
            epsilon >= detail::fast_inverse_sqrt_min_epsilon) {
            detail::for_each_batch<T>(n, [&](T* pp, const T* gg, T* mm, T* vv) {
                const auto [mi, vi] = mv_of(gg, mm, vv);
                (B::load_unaligned(pp) - B(lr_t) * mi * detail::inverse_sqrt_plus(vi, B(eps)))
                    .store_unaligned(pp);
            }, p, g, m, v);
        } else {
            detail::for_each_batch<T>(n, [&](T* pp, const T* gg, T* mm, T* vv) {
                const auto [mi, vi] = mv_of(gg, mm, vv);
                (B::load_unaligned(pp) - B(lr_t) * mi / (xsimd::sqrt(vi) + B(eps)))
                    .store_unaligned(pp);
            }, p, g, m, v);
        }
    }

    void set(std::string_view key, double value) {
        if (key == "learning_rate") {
            detail::require_range(name, key, value, 0, 1e6, true, false);
            learning_rate = value;
        } else if (key == "beta_1") {
            detail::require_range(name, key, value, 0, 1, false, true);
            beta_1 = value;
        } else if (key == "beta_2") {
            detail::require_range(name, key, value, 0, 1, false, true);
            beta_2 = value;
        } else if (key == "epsilon") {
            detail::require_range(name, key, value, 0, 1, true, false);
            epsilon = value;
        } else {
            detail::unknown_hyperparameter(name, key, "learning_rate, beta_1, beta_2, epsilon");
        }
    }
    template <class F>
    void visit_hyperparameters(F&& f) const {
        f("learning_rate", learning_rate);
        f("beta_1", beta_1);
        f("beta_2", beta_2);
        f("epsilon", epsilon);
    }
};

} // namespace ctml

#ifdef CTML_POP_GCC_105593
#pragma GCC diagnostic pop
#undef CTML_POP_GCC_105593
#endif
