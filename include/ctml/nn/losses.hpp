// SPDX-License-Identifier: MIT
// Losses, each the mean over the batch of a per-sample loss. Cross-entropies fuse with the softmax
// of the last layer: they take its logits z and compute log-softmax with log-sum-exp, so the loss
// stays finite and the gradient (softmax(z) - t) / B exact for any finite logits.
#pragma once
#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ctml {

/// @brief Targets of one batch: class labels (one per row) or dense rows of `width` values.
/// Exactly one of the two pointers is set.
template <class T>
struct target_view {
    const std::int32_t* labels = nullptr;
    const T* dense = nullptr;
};

/// @brief Per-batch sums a loss reports: loss summed over rows, correctly classified rows
/// (counted when labels are given, or by argmax of dense targets).
template <class T>
struct batch_result {
    T loss_sum = 0;
    std::size_t correct = 0;
};

namespace detail {
template <class T>
std::size_t argmax(const T* p, std::size_t n) noexcept {
    return static_cast<std::size_t>(std::max_element(p, p + n) - p);
}
template <class T>
std::size_t target_class(const target_view<T>& t, std::size_t row, std::size_t k) noexcept {
    return t.labels ? static_cast<std::size_t>(t.labels[row]) : argmax(t.dense + row * k, k);
}

// Fused softmax + cross-entropy over rows × k logits: writes probabilities to p and
// grad_scale · (p - t) to dz; p and dz may alias z. Returns the loss sum and correct count.
template <class T>
batch_result<T> softmax_xent(const T* z, const target_view<T>& t, std::size_t rows, std::size_t k,
                             T grad_scale, T* p, T* dz) noexcept {
    batch_result<T> r;
    for (std::size_t i = 0; i < rows; ++i) {
        const T* zi = z + i * k;
        T* pi = p + i * k;
        T* di = dz + i * k;
        const T m = *std::max_element(zi, zi + k);
        // Target terms first: p and dz may alias z.
        std::size_t c = 0;
        T tsum = 0, tz = 0;
        if (t.labels) {
            c = static_cast<std::size_t>(t.labels[i]);
            tsum = 1;
            tz = zi[c] - m;
        } else {
            const T* ti = t.dense + i * k;
            for (std::size_t j = 0; j < k; ++j) {
                tsum += ti[j];
                tz += ti[j] * (zi[j] - m);
            }
            c = argmax(ti, k);
        }
        T s = 0;
        for (std::size_t j = 0; j < k; ++j) {
            pi[j] = std::exp(zi[j] - m);
            s += pi[j];
        }
        // loss = -sum_j t_j log softmax_j = sum(t) log s - sum_j t_j (z_j - m)
        r.loss_sum += tsum * std::log(s) - tz;
        const T inv = T(1) / s;
        std::size_t best = 0;
        for (std::size_t j = 0; j < k; ++j) {
            pi[j] *= inv;
            best = pi[j] > pi[best] ? j : best;
        }
        // d/dz_j = p_j sum(t) - t_j
        if (t.labels) {
            for (std::size_t j = 0; j < k; ++j) {
                di[j] = grad_scale * (pi[j] - (j == c ? T(1) : T(0)));
            }
        } else {
            const T* ti = t.dense + i * k;
            for (std::size_t j = 0; j < k; ++j) {
                di[j] = grad_scale * (pi[j] * tsum - ti[j]);
            }
        }
        r.correct += best == c;
    }
    return r;
}
} // namespace detail

/// @brief Keras' categorical_crossentropy: one-hot (or any probability) targets; labels are
/// taken as one-hot. The last layer must use softmax.
struct categorical_crossentropy {
    static constexpr std::string_view name = "categorical_crossentropy";
    static constexpr bool fuses_softmax = true;
    static constexpr bool accepts_dense = true;
    static constexpr bool accepts_labels = true;
    template <class T>
    static batch_result<T> fused(const T* z, const target_view<T>& t, std::size_t rows,
                                 std::size_t k, T grad_scale, T* p, T* dz) noexcept {
        return detail::softmax_xent(z, t, rows, k, grad_scale, p, dz);
    }
};

/// @brief Keras' sparse_categorical_crossentropy: integer class labels. The last layer must use
/// softmax. (Chainer's F.softmax_cross_entropy on logits is this loss with a softmax output.)
struct sparse_categorical_crossentropy {
    static constexpr std::string_view name = "sparse_categorical_crossentropy";
    static constexpr bool fuses_softmax = true;
    static constexpr bool accepts_dense = false;
    static constexpr bool accepts_labels = true;
    template <class T>
    static batch_result<T> fused(const T* z, const target_view<T>& t, std::size_t rows,
                                 std::size_t k, T grad_scale, T* p, T* dz) noexcept {
        return detail::softmax_xent(z, t, rows, k, grad_scale, p, dz);
    }
};

/// @brief Keras' mean_squared_error: mean over the k outputs, then over the batch. Labels are
/// taken as one-hot targets.
struct mean_squared_error {
    static constexpr std::string_view name = "mean_squared_error";
    static constexpr bool fuses_softmax = false;
    static constexpr bool accepts_dense = true;
    static constexpr bool accepts_labels = true;
    /// Loss sum over rows of y (rows × k outputs); dy = grad_scale · d(per-row loss)/dy.
    template <class T>
    static batch_result<T> evaluate(const T* y, const target_view<T>& t, std::size_t rows,
                                    std::size_t k, T grad_scale, T* dy) noexcept {
        batch_result<T> r;
        const T inv_k = T(1) / static_cast<T>(k);
        for (std::size_t i = 0; i < rows; ++i) {
            const T* yi = y + i * k;
            T* di = dy + i * k;
            const std::size_t c = detail::target_class(t, i, k);
            T s = 0;
            for (std::size_t j = 0; j < k; ++j) {
                const T tj = t.labels ? (j == c ? T(1) : T(0)) : t.dense[i * k + j];
                const T e = yi[j] - tj;
                s += e * e;
                di[j] = grad_scale * T(2) * e * inv_k;
            }
            r.loss_sum += s * inv_k;
            r.correct += detail::argmax(yi, k) == c;
        }
        return r;
    }
};

// Loss contract (what the loss slot of run_config accepts; each is the mean over the batch of a
// per-row loss, the engine passes the batch's rows and the scale 1 / rows):
//
//   L::name             std::string_view: the name in the job's JSON
//   L::accepts_labels   bool: integer class labels (target_view::labels) are valid targets
//   L::accepts_dense    bool: dense target rows (target_view::dense, k values a row) are valid
//   L::fuses_softmax    bool. true: the network must end in softmax, and the loss takes the
//                       last layer's logits z (its softmax not applied):
//     L::fused(z, t, rows, k, scale, p, dz) -> batch_result<T>   static, noexcept: the
//                       probabilities into p, scale · dL/dz into dz (p and dz may alias z)
//                       false: the loss takes the last layer's outputs y:
//     L::evaluate(y, t, rows, k, scale, dy) -> batch_result<T>   static, noexcept:
//                       scale · d(row loss)/dy into dy
//   Both return the loss summed over the rows and the rows classified correctly (argmax of the
//   output against the label, or against the argmax of a dense target), for T = float, double.

/// @brief What the loss slot accepts: a type with a name that either fuses with softmax
/// (`fused(z, targets, rows, k, scale, p, dz)`) or evaluates outputs (`evaluate(y, ...)`); see
/// the contract above.
template <class L>
concept loss = requires {
    { L::name } -> std::convertible_to<std::string_view>;
    { L::fuses_softmax } -> std::convertible_to<bool>;
    { L::accepts_dense } -> std::convertible_to<bool>;
    { L::accepts_labels } -> std::convertible_to<bool>;
} && ((L::fuses_softmax && requires(const float* z, float* p, target_view<float> t) {
                              L::fused(z, t, std::size_t{}, std::size_t{}, 1.0f, p, p);
                          }) ||
      (!L::fuses_softmax && requires(const float* y, float* d, target_view<float> t) {
          L::evaluate(y, t, std::size_t{}, std::size_t{}, 1.0f, d);
      }));

} // namespace ctml
