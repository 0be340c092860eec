// SPDX-License-Identifier: MIT
// Activations as tag types. An element-wise activation gives f(z) and f'(z) written in terms of
// the output y = f(z), so the backward pass needs only the stored outputs. softmax is row-wise.
#pragma once
#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <string_view>

namespace ctml {

/// @brief y = z.
struct identity {
    static constexpr std::string_view name = "linear"; // Keras' spelling
    static constexpr bool elementwise = true;
    template <class T>
    static T apply(T z) noexcept { return z; }
    template <class T>
    static T derivative(T) noexcept { return T(1); }
};

/// @brief y = max(z, 0).
struct relu {
    static constexpr std::string_view name = "relu";
    static constexpr bool elementwise = true;
    template <class T>
    static T apply(T z) noexcept { return z > T(0) ? z : T(0); }
    template <class T>
    static T derivative(T y) noexcept { return y > T(0) ? T(1) : T(0); }
};

/// @brief y = tanh(z).
struct tanh {
    static constexpr std::string_view name = "tanh";
    static constexpr bool elementwise = true;
    template <class T>
    static T apply(T z) noexcept { return std::tanh(z); }
    template <class T>
    static T derivative(T y) noexcept { return T(1) - y * y; }
};

/// @brief y = 1 / (1 + exp(-z)), computed without overflow for large |z|.
struct sigmoid {
    static constexpr std::string_view name = "sigmoid";
    static constexpr bool elementwise = true;
    template <class T>
    static T apply(T z) noexcept {
        if (z >= T(0)) {
            return T(1) / (T(1) + std::exp(-z));
        }
        const T e = std::exp(z);
        return e / (T(1) + e);
    }
    template <class T>
    static T derivative(T y) noexcept { return y * (T(1) - y); }
};

/// @brief Row-wise y_i = exp(z_i - max z) / sum_j exp(z_j - max z). Allowed only in the last
/// layer; with a cross-entropy loss the two fuse into one stable log-sum-exp computation.
struct softmax {
    static constexpr std::string_view name = "softmax";
    static constexpr bool elementwise = false;

    template <class T>
    static void apply_row(T* z, std::size_t n) noexcept {
        const T m = *std::max_element(z, z + n);
        T s = 0;
        for (std::size_t j = 0; j < n; ++j) {
            z[j] = std::exp(z[j] - m);
            s += z[j];
        }
        const T inv = T(1) / s;
        for (std::size_t j = 0; j < n; ++j) {
            z[j] *= inv;
        }
    }
    /// dz = J(y)ᵀ dy = y ⊙ (dy - <dy, y>), in place on dy.
    template <class T>
    static void backward_row(const T* y, T* dy, std::size_t n) noexcept {
        T dot = 0;
        for (std::size_t j = 0; j < n; ++j) {
            dot += dy[j] * y[j];
        }
        for (std::size_t j = 0; j < n; ++j) {
            dy[j] = y[j] * (dy[j] - dot);
        }
    }
};

// Activation contract (what a layer's activation slot accepts; the CPU kernels in
// kernels/cpu/fused.hpp call exactly these members):
//
//   A::name          std::string_view: the Keras spelling, written to and checked in model.json
//   A::elementwise   bool. true: y = f(z) one value at a time, with
//     A::apply(z) -> T          static, noexcept, for T = float and double
//     A::derivative(y) -> T     f'(z) written in terms of the output y = f(z): the backward
//                               pass keeps only the outputs
//                    false: a function of the whole row (softmax), with
//     A::apply_row(z, n)        in place on one row of n values
//     A::backward_row(y, dy, n) dz = J(y)ᵀ dy in place on dy, from the row's outputs y
//   A type named softmax is allowed only in the last layer (where a cross-entropy fuses with it).
//   The CUDA engine runs only the five activations below (engine/cuda_support.hpp).

/// @brief What the activation slot of a layer accepts: ctml::identity, relu, tanh, sigmoid,
/// softmax, or a type with the same members (see the contract above).
template <class A>
concept activation =
    requires {
        { A::name } -> std::convertible_to<std::string_view>;
        { A::elementwise } -> std::convertible_to<bool>;
    } &&
    ((A::elementwise && requires(float f) {
         { A::apply(f) } -> std::same_as<float>;
         { A::derivative(f) } -> std::same_as<float>;
     }) ||
     (!A::elementwise && requires(float* p, std::size_t n) {
         A::apply_row(p, n);
         A::backward_row(p, p, n);
     }));

} // namespace ctml
