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

/// @brief RMSprop with Keras' semantics (Keras 2 / tf.keras optimizer_v2, momentum 0):
///   v ← ρ·v + (1-ρ)·g²;  p ← p - lr·g / (√v + ε), v starting at 0.
/// torch.optim.RMSprop(alpha=ρ, eps=ε) computes the same. For float on AVX2/AVX-512 the factor
/// 1/(√v + ε) comes from rsqrt and rcp with one Newton step each (within 1e-6 relative of the
/// exact value: optim/detail/inverse_sqrt.hpp); `exact = true` (or -DCTML_EXACT_OPTIMIZERS=1 for
/// the default) computes √ and ÷ instead. v is the same either way.
/// @tparam LearningRate default lr (0.001), @tparam Rho default ρ (0.9), @tparam Epsilon ε (1e-7)
template <double LearningRate = 0.001, double Rho = 0.9, double Epsilon = 1e-7>
struct rmsprop {
    static constexpr std::string_view name = "rmsprop";
    static constexpr std::size_t state_slots = 1;
    double learning_rate = LearningRate;
    double rho = Rho;
    double epsilon = Epsilon;
    /// Square root and division instead of the rsqrt/rcp approximation (not a hyperparameter:
    /// not in the job's JSON).
    bool exact = CTML_EXACT_OPTIMIZERS != 0;

    template <class T>
    void update(T* p, const T* g, std::array<T*, 1> state, std::size_t n,
                std::size_t /*iteration*/) const noexcept {
        using B = xsimd::batch<T>;
        T* v = state[0];
        const T r = static_cast<T>(rho), r1 = static_cast<T>(1 - rho);
        const T lr = static_cast<T>(learning_rate), eps = static_cast<T>(epsilon);
        auto v_of = [&](const T* gg, T* vv) {
            const B gi = B::load_unaligned(gg);
            const B vi = B(r) * B::load_unaligned(vv) + B(r1) * gi * gi;
            vi.store_unaligned(vv);
            return std::pair{gi, vi};
        };
        if (!exact && detail::fast_inverse_sqrt<T> &&
            epsilon >= detail::fast_inverse_sqrt_min_epsilon) {
            detail::for_each_batch<T>(n, [&](T* pp, const T* gg, T* vv) {
                const auto [gi, vi] = v_of(gg, vv);
                (B::load_unaligned(pp) - B(lr) * gi * detail::inverse_sqrt_plus(vi, B(eps)))
                    .store_unaligned(pp);
            }, p, g, v);
        } else {
            detail::for_each_batch<T>(n, [&](T* pp, const T* gg, T* vv) {
                const auto [gi, vi] = v_of(gg, vv);
                (B::load_unaligned(pp) - B(lr) * gi / (xsimd::sqrt(vi) + B(eps)))
                    .store_unaligned(pp);
            }, p, g, v);
        }
    }

    /// The same update where every gradient is known to be zero (the first layer's kernel rows
    /// of pixels that are 0 in the whole batch): v ← ρ·v, p unchanged, which is what update()
    /// computes then (p − lr·0/(√v + ε) = p), bit for bit, reading neither g nor p.
    template <class T>
    void update_zero_gradient(T* /*p*/, std::array<T*, 1> state, std::size_t n,
                              std::size_t /*iteration*/) const noexcept {
        using B = xsimd::batch<T>;
        T* v = state[0];
        const T r = static_cast<T>(rho);
        detail::for_each_batch<T>(
            n, [&](T* vv) { (B(r) * B::load_unaligned(vv)).store_unaligned(vv); }, v);
    }

    void set(std::string_view key, double value) {
        if (key == "learning_rate") {
            detail::require_range(name, key, value, 0, 1e6, true, false);
            learning_rate = value;
        } else if (key == "rho") {
            detail::require_range(name, key, value, 0, 1, false, true);
            rho = value;
        } else if (key == "epsilon") {
            detail::require_range(name, key, value, 0, 1, true, false);
            epsilon = value;
        } else {
            detail::unknown_hyperparameter(name, key, "learning_rate, rho, epsilon");
        }
    }
    template <class F>
    void visit_hyperparameters(F&& f) const {
        f("learning_rate", learning_rate);
        f("rho", rho);
        f("epsilon", epsilon);
    }
};

} // namespace ctml

#ifdef CTML_POP_GCC_105593
#pragma GCC diagnostic pop
#undef CTML_POP_GCC_105593
#endif
