// SPDX-License-Identifier: MIT
// Weight initializers. Each fills a fan_in × fan_out kernel from ctml::rng, so that the same seed
// gives the same weights on any platform.
#pragma once
#include <cmath>
#include <concepts>
#include <cstddef>
#include <string_view>

#include "ctml/core/random.hpp"

namespace ctml {

/// @brief Keras' default: U(-l, l) with l = sqrt(6 / (fan_in + fan_out)).
struct glorot_uniform {
    static constexpr std::string_view name = "glorot_uniform";
    template <class T>
    static void fill(T* w, std::size_t fan_in, std::size_t fan_out, rng& r) noexcept {
        const double limit = std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
        for (std::size_t i = 0; i < fan_in * fan_out; ++i) {
            w[i] = static_cast<T>(r.uniform(-limit, limit));
        }
    }
};

/// @brief Keras' he_normal: a normal of stddev sqrt(2 / fan_in) truncated at two standard
/// deviations (redrawn), scaled by 1/0.87962566 so that the truncated draw keeps that stddev.
struct he_normal {
    static constexpr std::string_view name = "he_normal";
    template <class T>
    static void fill(T* w, std::size_t fan_in, std::size_t fan_out, rng& r) noexcept {
        const double stddev = std::sqrt(2.0 / static_cast<double>(fan_in)) / 0.87962566103423978;
        for (std::size_t i = 0; i < fan_in * fan_out; ++i) {
            double z = r.normal();
            while (std::abs(z) > 2.0) {
                z = r.normal();
            }
            w[i] = static_cast<T>(z * stddev);
        }
    }
};

/// @brief Chainer's default (LeCunNormal): N(0, 1 / fan_in), not truncated.
struct lecun_normal {
    static constexpr std::string_view name = "lecun_normal";
    template <class T>
    static void fill(T* w, std::size_t fan_in, std::size_t fan_out, rng& r) noexcept {
        const double stddev = std::sqrt(1.0 / static_cast<double>(fan_in));
        for (std::size_t i = 0; i < fan_in * fan_out; ++i) {
            w[i] = static_cast<T>(r.normal() * stddev);
        }
    }
};

/// @brief All zeros.
struct zeros {
    static constexpr std::string_view name = "zeros";
    template <class T>
    static void fill(T* w, std::size_t fan_in, std::size_t fan_out, rng&) noexcept {
        for (std::size_t i = 0; i < fan_in * fan_out; ++i) {
            w[i] = T(0);
        }
    }
};

/// @brief What the initializer slot of a layer accepts.
template <class I>
concept initializer = requires(float* w, std::size_t n, rng& r) {
    { I::name } -> std::convertible_to<std::string_view>;
    I::fill(w, n, n, r);
};

} // namespace ctml
