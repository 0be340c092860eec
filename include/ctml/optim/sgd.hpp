// SPDX-License-Identifier: MIT
#pragma once
#include <xsimd/xsimd.hpp>

#include <array>
#include <cstddef>
#include <string_view>

#include "ctml/optim/detail/simd_loop.hpp"
#include "ctml/optim/optimizer.hpp"

namespace ctml {

/// @brief Stochastic gradient descent with optional momentum, Keras 2 and Chainer semantics:
///   v ← μ·v - lr·g;  p ← p + v            (Chainer's MomentumSGD, Keras SGD)
///   p ← p + μ·v - lr·g  with the new v    (nesterov = true, Keras)
/// With μ = 0 this is p ← p - lr·g. (PyTorch keeps v' = μ·v' + g, p ← p - lr·v': the same
/// trajectory while lr is constant.)
/// @tparam LearningRate default lr (0.01), @tparam Momentum default μ (0), @tparam Nesterov
template <double LearningRate = 0.01, double Momentum = 0.0, bool Nesterov = false>
struct sgd {
    static constexpr std::string_view name = "sgd";
    static constexpr std::size_t state_slots = 1;
    double learning_rate = LearningRate;
    double momentum = Momentum;
    bool nesterov = Nesterov;

    template <class T>
    void update(T* p, const T* g, std::array<T*, 1> state, std::size_t n,
                std::size_t /*iteration*/) const noexcept {
        using B = xsimd::batch<T>;
        T* v = state[0];
        const T mu = static_cast<T>(momentum), lr = static_cast<T>(learning_rate);
        if (nesterov) {
            detail::for_each_batch<T>(n, [&](T* pp, const T* gg, T* vv) {
                const B gi = B::load_unaligned(gg);
                const B vi = B(mu) * B::load_unaligned(vv) - B(lr) * gi;
                vi.store_unaligned(vv);
                (B::load_unaligned(pp) + B(mu) * vi - B(lr) * gi).store_unaligned(pp);
            }, p, g, v);
        } else {
            detail::for_each_batch<T>(n, [&](T* pp, const T* gg, T* vv) {
                const B vi = B(mu) * B::load_unaligned(vv) - B(lr) * B::load_unaligned(gg);
                vi.store_unaligned(vv);
                (B::load_unaligned(pp) + vi).store_unaligned(pp);
            }, p, g, v);
        }
    }

    void set(std::string_view key, double value) {
        if (key == "learning_rate") {
            detail::require_range(name, key, value, 0, 1e6, true, false);
            learning_rate = value;
        } else if (key == "momentum") {
            detail::require_range(name, key, value, 0, 1, false, true);
            momentum = value;
        } else if (key == "nesterov") {
            nesterov = value != 0;
        } else {
            detail::unknown_hyperparameter(name, key, "learning_rate, momentum, nesterov");
        }
    }
    template <class F>
    void visit_hyperparameters(F&& f) const {
        f("learning_rate", learning_rate);
        f("momentum", momentum);
        f("nesterov", nesterov ? 1.0 : 0.0);
    }
};

/// Chainer's MomentumSGD defaults: lr 0.01, momentum 0.9.
using momentum_sgd = sgd<0.01, 0.9>;

} // namespace ctml
