// SPDX-License-Identifier: MIT
#pragma once
#include <xsimd/xsimd.hpp>

#include <array>
#include <cstddef>
#include <string_view>

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
        std::size_t i = 0;
        if (nesterov) {
            for (; i + B::size <= n; i += B::size) {
                const B gi = B::load_unaligned(g + i);
                const B vi = B(mu) * B::load_unaligned(v + i) - B(lr) * gi;
                vi.store_unaligned(v + i);
                (B::load_unaligned(p + i) + B(mu) * vi - B(lr) * gi).store_unaligned(p + i);
            }
            for (; i < n; ++i) {
                v[i] = mu * v[i] - lr * g[i];
                p[i] += mu * v[i] - lr * g[i];
            }
        } else {
            for (; i + B::size <= n; i += B::size) {
                const B vi = B(mu) * B::load_unaligned(v + i) - B(lr) * B::load_unaligned(g + i);
                vi.store_unaligned(v + i);
                (B::load_unaligned(p + i) + vi).store_unaligned(p + i);
            }
            for (; i < n; ++i) {
                v[i] = mu * v[i] - lr * g[i];
                p[i] += v[i];
            }
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
