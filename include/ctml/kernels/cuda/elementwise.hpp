// SPDX-License-Identifier: MIT
// The per-element arithmetic of the CUDA training step, as functions that compile for the host
// and the device (CTML_HOST_DEVICE): activation forward and derivative, bias + activation, the
// softmax cross-entropy of one row, the optimizer element updates (SGD with momentum/Nesterov,
// RMSprop, Adam), the byte-to-scalar conversion of a gathered batch. The kernels in
// mlp_kernels.cuh call these and add only the parallel structure (grid loops, warp reductions),
// so a host compiler can test the arithmetic against ctml's CPU kernels without a GPU
// (tests/cuda_host/test_elementwise.cpp).
//
// Plain C++ besides the macro: no CUDA header, no CTML_WITH_CUDA needed. Math calls are written
// ::expf / ::exp (the C functions CUDA declares for both sides): inside namespace ctml an
// unqualified tanh(x) would find the activation type ctml::tanh instead.
#pragma once
#include <math.h>

#include <cstddef>
#include <cstdint>

#ifndef CTML_HOST_DEVICE
#if defined(__CUDACC__)
#define CTML_HOST_DEVICE __host__ __device__
#else
#define CTML_HOST_DEVICE
#endif
#endif

namespace ctml::cuda {

/// @brief A layer's activation, chosen at run time; each enumerator is spelled as ctml's
/// activation type (ctml::identity, relu, tanh, sigmoid, softmax). softmax is only valid on the
/// last layer, where it is fused with the cross-entropy loss (the last layer's pre-activations
/// are the logits).
enum class activation : int { identity, relu, tanh, sigmoid, softmax };

/// "identity", "relu", "tanh", "sigmoid", "softmax": the names of ctml's activation types.
constexpr const char* to_string(activation a) noexcept {
    switch (a) {
    case activation::identity: return "identity";
    case activation::relu: return "relu";
    case activation::tanh: return "tanh";
    case activation::sigmoid: return "sigmoid";
    case activation::softmax: return "softmax";
    }
    return "unknown";
}

/// @brief Which update rule the fused optimizer kernel applies (ctml::sgd, rmsprop, adam).
enum class optimizer_kind : int { sgd, rmsprop, adam };

namespace detail {

CTML_HOST_DEVICE inline float exp_(float x) { return ::expf(x); }
CTML_HOST_DEVICE inline double exp_(double x) { return ::exp(x); }
CTML_HOST_DEVICE inline float log_(float x) { return ::logf(x); }
CTML_HOST_DEVICE inline double log_(double x) { return ::log(x); }
CTML_HOST_DEVICE inline float tanh_(float x) { return ::tanhf(x); }
CTML_HOST_DEVICE inline double tanh_(double x) { return ::tanh(x); }
CTML_HOST_DEVICE inline float sqrt_(float x) { return ::sqrtf(x); }
CTML_HOST_DEVICE inline double sqrt_(double x) { return ::sqrt(x); }

} // namespace detail

// ---- activations -------------------------------------------------------------------------------

/// f(z). sigmoid in the form that never overflows exp (ctml::sigmoid's); softmax layers keep
/// their logits here (the loss normalises them).
template <activation A, class T>
CTML_HOST_DEVICE inline T activate(T z) {
    if constexpr (A == activation::relu) {
        return z > T(0) ? z : T(0);
    } else if constexpr (A == activation::tanh) {
        return detail::tanh_(z);
    } else if constexpr (A == activation::sigmoid) {
        if (z >= T(0)) {
            return T(1) / (T(1) + detail::exp_(-z));
        }
        const T e = detail::exp_(z);
        return e / (T(1) + e);
    } else {
        return z;
    }
}

/// f'(z) written from the output y = f(z), the only thing the forward pass keeps. relu'(0) = 0,
/// as in TensorFlow and Chainer.
template <activation A, class T>
CTML_HOST_DEVICE inline T derivative_from_output(T y) {
    if constexpr (A == activation::relu) {
        return y > T(0) ? T(1) : T(0);
    } else if constexpr (A == activation::tanh) {
        return T(1) - y * y;
    } else if constexpr (A == activation::sigmoid) {
        return y * (T(1) - y);
    } else {
        return T(1);
    }
}

/// One element of the fused forward epilogue: f(z + b), z from the GEMM.
template <activation A, class T>
CTML_HOST_DEVICE inline T bias_activate(T z, T b) {
    return activate<A>(z + b);
}

/// One element of the fused backward epilogue: dL/dz from dL/dy and y. identity and softmax pass
/// d through (the softmax layer's d already is dL/dz, from the fused loss).
template <activation A, class T>
CTML_HOST_DEVICE inline T activation_backward(T d, T y) {
    if constexpr (A == activation::identity || A == activation::softmax) {
        (void)y;
        return d;
    } else {
        return d * derivative_from_output<A>(y);
    }
}

// ---- batch gather ------------------------------------------------------------------------------

/// A stored feature byte as the network's scalar: value * scale (ctml::dataset::gather_features).
template <class T>
CTML_HOST_DEVICE inline T byte_to_scalar(std::uint8_t b, T scale) {
    return static_cast<T>(b) * scale;
}

// ---- softmax cross-entropy on integer labels ---------------------------------------------------

/// A running argmax over a row's logits: the largest value, and its index (`none` = classes
/// until the first value). Ties go to the lower index, as numpy's argmax.
template <class T>
struct argmax_state {
    T best;
    std::uint32_t index;
};

/// Folds z_j into s; j visited in increasing order within one lane.
template <class T>
CTML_HOST_DEVICE inline void argmax_update(argmax_state<T>& s, T z, std::uint32_t j,
                                           std::uint32_t none) {
    if (s.index == none || z > s.best) {
        s.best = z;
        s.index = j;
    }
}

/// Combines two lanes' states (any order of lanes gives the same result).
template <class T>
CTML_HOST_DEVICE inline argmax_state<T> argmax_merge(argmax_state<T> a, argmax_state<T> b,
                                                     std::uint32_t none) {
    if (b.index == none) {
        return a;
    }
    if (a.index == none || b.best > a.best || (b.best == a.best && b.index < a.index)) {
        return b;
    }
    return a;
}

/// The row's loss -log softmax(z)_label from its max m and s = Σ exp(z_j - m): log s - (z_label
/// - m), as ctml's CPU loss computes it.
template <class T>
CTML_HOST_DEVICE inline T softmax_cross_entropy_loss(T m, T s, T z_label) {
    return detail::log_(s) - (z_label - m);
}

/// dL/dz_j of the batch mean: (softmax_j - onehot_j) * scale, scale = 1 / batch rows.
template <class T>
CTML_HOST_DEVICE inline T softmax_cross_entropy_grad(T z, T m, T inv_s, bool is_label, T scale) {
    const T p = detail::exp_(z - m) * inv_s;
    return scale * (p - (is_label ? T(1) : T(0)));
}

/// What one row of logits contributes to the batch's metrics.
template <class T>
struct row_metrics {
    T loss;
    bool correct;
};

/// One row, sequentially: what one warp of softmax_cross_entropy_kernel computes with 32 lanes
/// (the same element functions, another summation order). grad may be null (evaluation).
template <class T>
CTML_HOST_DEVICE inline row_metrics<T> softmax_cross_entropy_row(const T* z, std::uint32_t classes,
                                                                 std::int32_t label, T scale,
                                                                 T* grad) {
    argmax_state<T> a{T(0), classes};
    for (std::uint32_t j = 0; j < classes; ++j) {
        argmax_update(a, z[j], j, classes);
    }
    T s = 0;
    for (std::uint32_t j = 0; j < classes; ++j) {
        s += detail::exp_(z[j] - a.best);
    }
    if (grad) {
        const T inv_s = T(1) / s;
        for (std::uint32_t j = 0; j < classes; ++j) {
            grad[j] = softmax_cross_entropy_grad(z[j], a.best, inv_s,
                                                 static_cast<std::int32_t>(j) == label, scale);
        }
    }
    return {softmax_cross_entropy_loss(a.best, s, z[label]),
            static_cast<std::int32_t>(a.index) == label};
}

// ---- optimizer element updates (Keras semantics, as ctml/optim/*.hpp) --------------------------

/// The optimizer's scalars, converted once on the host: the (1 - decay) terms are computed in
/// double and then rounded, as the CPU optimizers do.
template <class T>
struct optimizer_coefficients {
    T learning_rate;
    T decay;            ///< sgd momentum; rmsprop rho; adam beta_1
    T one_minus_decay;  ///< rmsprop 1 - rho; adam 1 - beta_1
    T decay_2;          ///< adam beta_2
    T one_minus_decay_2;///< adam 1 - beta_2
    T epsilon;          ///< rmsprop, adam
    double learning_rate_d; ///< adam's bias correction is computed in double per step
    double beta_1_d;
    double beta_2_d;
    bool nesterov;      ///< sgd
};

/// v ← μ v - lr g; p ← p + v (nesterov: p ← p + μ v - lr g with the new v).
template <class T>
CTML_HOST_DEVICE inline void sgd_update(T& p, T g, T& v, T lr, T mu, bool nesterov) {
    v = mu * v - lr * g;
    if (nesterov) {
        p += mu * v - lr * g;
    } else {
        p += v;
    }
}

/// v ← ρ v + (1 - ρ) g²; p ← p - lr g / (√v + ε).
template <class T>
CTML_HOST_DEVICE inline void rmsprop_update(T& p, T g, T& v, T lr, T rho, T one_minus_rho,
                                            T eps) {
    v = rho * v + one_minus_rho * g * g;
    p -= lr * g / (detail::sqrt_(v) + eps);
}

/// lr_t = lr √(1 - β2^t) / (1 - β1^t) at step t ≥ 1, in double (then rounded once).
CTML_HOST_DEVICE inline double adam_step_size(double lr, double beta_1, double beta_2, double t) {
    return lr * ::sqrt(1.0 - ::pow(beta_2, t)) / (1.0 - ::pow(beta_1, t));
}

/// m ← β1 m + (1 - β1) g; v ← β2 v + (1 - β2) g²; p ← p - lr_t m / (√v + ε).
template <class T>
CTML_HOST_DEVICE inline void adam_update(T& p, T g, T& m, T& v, T lr_t, T b1, T c1, T b2, T c2,
                                         T eps) {
    m = b1 * m + c1 * g;
    v = b2 * v + c2 * g * g;
    p -= lr_t * m / (detail::sqrt_(v) + eps);
}

/// One parameter's update for the rule K; s2 is used by adam only; lr_t is adam's step size.
template <optimizer_kind K, class T>
CTML_HOST_DEVICE inline void optimizer_update(T& p, T g, T& s1, T& s2,
                                              const optimizer_coefficients<T>& c, T lr_t) {
    if constexpr (K == optimizer_kind::sgd) {
        (void)s2;
        (void)lr_t;
        sgd_update(p, g, s1, c.learning_rate, c.decay, c.nesterov);
    } else if constexpr (K == optimizer_kind::rmsprop) {
        (void)s2;
        (void)lr_t;
        rmsprop_update(p, g, s1, c.learning_rate, c.decay, c.one_minus_decay, c.epsilon);
    } else {
        adam_update(p, g, s1, s2, lr_t, c.decay, c.one_minus_decay, c.decay_2,
                    c.one_minus_decay_2, c.epsilon);
    }
}

} // namespace ctml::cuda
