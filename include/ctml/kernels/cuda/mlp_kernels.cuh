// SPDX-License-Identifier: MIT
// Device kernels of the dense-network training step (ctml/kernels/cuda/mlp_trainer.cuh drives
// them): batch gather with byte-to-scalar conversion, fused bias + activation, fused softmax +
// cross-entropy (+ its gradient), deterministic metric accumulation, fused activation backward +
// bias-gradient reduction, and one fused optimizer update over the whole parameter buffer.
// The GEMMs are cuBLAS's. Every launcher enqueues on a stream and checks the launch; none waits.
#pragma once
#include "ctml/config.hpp"
#if !CTML_WITH_CUDA
#error "ctml/kernels/cuda/*.cuh need CTML_WITH_CUDA=1 (configure ctml with CUDA, or define it) and nvcc"
#endif
#ifndef __CUDACC__
#error "ctml/kernels/cuda/mlp_kernels.cuh holds device code: include it from a .cu file built by nvcc"
#endif

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "ctml/kernels/cuda/check.cuh"

namespace ctml::cuda {

/// @brief A layer's activation, chosen at run time. softmax is only valid on the last layer, where
/// it is fused with the cross-entropy loss (the last layer's pre-activations are the logits).
enum class activation : int { identity, relu, tanh, sigmoid, softmax };

inline const char* to_string(activation a) noexcept {
    switch (a) {
    case activation::identity: return "identity";
    case activation::relu: return "relu";
    case activation::tanh: return "tanh";
    case activation::sigmoid: return "sigmoid";
    case activation::softmax: return "softmax";
    }
    return "unknown";
}

/// @brief Which update rule the fused optimizer kernel applies.
enum class optimizer_kind : int { sgd, rmsprop, adam };

namespace detail {

// Scalars the optimizer kernel needs, already in the parameter type (captured by value in graphs).
template <class T>
struct optimizer_coefficients {
    T lr;        // learning rate
    T decay;     // rmsprop rho; sgd momentum; adam beta1
    T decay2;    // adam beta2
    T epsilon;   // rmsprop, adam
    double lr_d; // adam: lr, beta1, beta2 in double for the bias correction computed per step
    double beta1_d;
    double beta2_d;
    bool nesterov;
};

__device__ __forceinline__ float exp_(float x) { return expf(x); }
__device__ __forceinline__ double exp_(double x) { return exp(x); }
__device__ __forceinline__ float log_(float x) { return logf(x); }
__device__ __forceinline__ double log_(double x) { return log(x); }
__device__ __forceinline__ float tanh_(float x) { return tanhf(x); }
__device__ __forceinline__ double tanh_(double x) { return tanh(x); }
__device__ __forceinline__ float sqrt_(float x) { return sqrtf(x); }
__device__ __forceinline__ double sqrt_(double x) { return sqrt(x); }

template <activation A, class T>
__device__ __forceinline__ T activate(T x) {
    if constexpr (A == activation::relu) {
        return x > T(0) ? x : T(0);
    } else if constexpr (A == activation::tanh) {
        return tanh_(x);
    } else if constexpr (A == activation::sigmoid) {
        return T(1) / (T(1) + exp_(-x));
    } else {
        return x; // identity; softmax layers keep their logits here (the loss kernel normalises)
    }
}

// The derivative written in terms of the activation's output, the only thing the forward keeps.
// relu'(0) is 0, as in TensorFlow and Chainer.
template <activation A, class T>
__device__ __forceinline__ T derivative_from_output(T y) {
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

inline unsigned grid_for(std::size_t work, unsigned block, unsigned max_blocks = 4096) {
    const std::size_t blocks = (work + block - 1) / block;
    return static_cast<unsigned>(std::clamp<std::size_t>(blocks, 1, max_blocks));
}

// One block per batch row. The dataset row is order[*cursor * batch + r] while training (the
// cursor lives on the device so that a captured graph walks the epoch by itself), first + r
// while evaluating. Images stay bytes on the device; conversion happens here, once per use.
template <class T>
__global__ void gather_batch_kernel(const std::uint8_t* __restrict__ images,
                                    const std::int32_t* __restrict__ labels,
                                    const std::uint32_t* __restrict__ order,
                                    const unsigned long long* __restrict__ cursor, std::size_t first,
                                    std::uint32_t batch, std::uint32_t dim, T scale,
                                    T* __restrict__ x, std::int32_t* __restrict__ y) {
    const std::uint32_t r = blockIdx.x;
    const std::size_t pos = (cursor ? static_cast<std::size_t>(*cursor) * batch : first) + r;
    const std::size_t row = order ? static_cast<std::size_t>(order[pos]) : pos;
    const std::uint8_t* src = images + row * dim;
    T* dst = x + static_cast<std::size_t>(r) * dim;
    if (threadIdx.x == 0) {
        y[r] = labels[row];
    }
    if constexpr (std::is_same_v<T, float>) {
        if (dim % 4 == 0) { // rows then start on 4-byte (source) and 16-byte (destination) bounds
            const auto* src4 = reinterpret_cast<const uchar4*>(src);
            auto* dst4 = reinterpret_cast<float4*>(dst);
            for (std::uint32_t i = threadIdx.x; i < dim / 4; i += blockDim.x) {
                const uchar4 v = src4[i];
                dst4[i] = make_float4(float(v.x) * scale, float(v.y) * scale, float(v.z) * scale,
                                      float(v.w) * scale);
            }
            return;
        }
    }
    for (std::uint32_t i = threadIdx.x; i < dim; i += blockDim.x) {
        dst[i] = static_cast<T>(src[i]) * scale;
    }
}

// y = f(y + b) in place on a rows × cols row-major block (y holds x·W from the GEMM).
template <activation A, class T>
__global__ void bias_activation_kernel(T* __restrict__ y, const T* __restrict__ b,
                                       std::uint32_t rows, std::uint32_t cols) {
    const std::size_t n = static_cast<std::size_t>(rows) * cols;
    const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
    for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
         i += stride) {
        y[i] = activate<A>(y[i] + b[i % cols]);
    }
}

// One warp per row of logits: numerically stable log-softmax, the row's cross-entropy
// (logsumexp - z[label]), whether argmax (first index on ties, like numpy) hits the label, and,
// when grad is given, the loss gradient (softmax - onehot) / rows of the batch mean.
template <class T>
__global__ void softmax_cross_entropy_kernel(const T* __restrict__ logits,
                                             const std::int32_t* __restrict__ labels,
                                             std::uint32_t rows, std::uint32_t classes,
                                             T* __restrict__ grad, T* __restrict__ row_loss,
                                             std::int32_t* __restrict__ row_correct) {
    const std::uint32_t row = (blockIdx.x * blockDim.x + threadIdx.x) / 32;
    const std::uint32_t lane = threadIdx.x % 32;
    if (row >= rows) {
        return; // whole warps leave together: rows are warp-aligned
    }
    const T* z = logits + static_cast<std::size_t>(row) * classes;
    T best = -INFINITY;
    std::uint32_t arg = classes;
    for (std::uint32_t j = lane; j < classes; j += 32) {
        if (z[j] > best || arg == classes) {
            best = z[j];
            arg = j;
        }
    }
    for (int offset = 16; offset > 0; offset /= 2) {
        const T other = __shfl_xor_sync(0xffffffffu, best, offset);
        const std::uint32_t other_arg = __shfl_xor_sync(0xffffffffu, arg, offset);
        if (other_arg < classes && (arg == classes || other > best || (other == best && other_arg < arg))) {
            best = other;
            arg = other_arg;
        }
    }
    T sum = 0;
    for (std::uint32_t j = lane; j < classes; j += 32) {
        sum += exp_(z[j] - best);
    }
    for (int offset = 16; offset > 0; offset /= 2) {
        sum += __shfl_xor_sync(0xffffffffu, sum, offset);
    }
    const std::int32_t label = labels[row];
    if (lane == 0) {
        row_loss[row] = best + log_(sum) - z[label];
        row_correct[row] = static_cast<std::int32_t>(arg) == label ? 1 : 0;
    }
    if (grad) {
        const T inv_rows = T(1) / static_cast<T>(rows);
        const T inv_sum = T(1) / sum;
        T* g = grad + static_cast<std::size_t>(row) * classes;
        for (std::uint32_t j = lane; j < classes; j += 32) {
            const T p = exp_(z[j] - best) * inv_sum;
            g[j] = (p - (static_cast<std::int32_t>(j) == label ? T(1) : T(0))) * inv_rows;
        }
    }
}

constexpr unsigned metrics_block = 256;

// One block, fixed reduction order: the epoch's totals are the same on every run (no atomics).
// totals[0] += sum of row losses, totals[1] += number of correct rows. While training it also
// advances counters[0] (the batch cursor) and counters[1] (the optimizer step, read by adam's
// bias correction later in the same step).
template <class T>
__global__ void accumulate_metrics_kernel(const T* __restrict__ row_loss,
                                          const std::int32_t* __restrict__ row_correct,
                                          std::uint32_t rows, double* __restrict__ totals,
                                          unsigned long long* __restrict__ counters) {
    __shared__ double loss_part[metrics_block];
    __shared__ double correct_part[metrics_block];
    double loss = 0;
    double correct = 0;
    for (std::uint32_t i = threadIdx.x; i < rows; i += blockDim.x) {
        loss += static_cast<double>(row_loss[i]);
        correct += row_correct[i];
    }
    loss_part[threadIdx.x] = loss;
    correct_part[threadIdx.x] = correct;
    __syncthreads();
    for (unsigned half = metrics_block / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) {
            loss_part[threadIdx.x] += loss_part[threadIdx.x + half];
            correct_part[threadIdx.x] += correct_part[threadIdx.x + half];
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        totals[0] += loss_part[0];
        totals[1] += correct_part[0];
        if (counters) {
            counters[0] += 1;
            counters[1] += 1;
        }
    }
}

constexpr unsigned reduce_cols = 32;
constexpr unsigned reduce_rows = 8;

// dz holds dL/d(output) of a layer on entry (or dL/dz already, for the last layer); on exit
// dL/dz = dz * f'(z), and db = column sums of dL/dz. Blocks of 32 columns × 8 row lanes: each warp
// reads 32 consecutive floats of a row, the 8 partial sums meet in shared memory.
template <activation A, class T>
__global__ void activation_backward_bias_grad_kernel(T* __restrict__ dz, const T* __restrict__ y,
                                                     std::uint32_t rows, std::uint32_t cols,
                                                     T* __restrict__ db) {
    __shared__ T partial[reduce_rows][reduce_cols + 1];
    const std::uint32_t c = blockIdx.x * reduce_cols + threadIdx.x;
    T sum = 0;
    if (c < cols) {
        for (std::uint32_t r = threadIdx.y; r < rows; r += reduce_rows) {
            const std::size_t i = static_cast<std::size_t>(r) * cols + c;
            T g = dz[i];
            if constexpr (A != activation::identity && A != activation::softmax) {
                g *= derivative_from_output<A>(y[i]);
                dz[i] = g;
            } else {
                (void)y;
            }
            sum += g;
        }
    }
    partial[threadIdx.y][threadIdx.x] = sum;
    __syncthreads();
    if (threadIdx.y == 0 && c < cols) {
        T total = 0;
        for (unsigned k = 0; k < reduce_rows; ++k) {
            total += partial[k][threadIdx.x];
        }
        db[c] = total;
    }
}

template <optimizer_kind K, class T>
__device__ __forceinline__ void update_one(T& p, T g, T& s1, T& s2,
                                           const optimizer_coefficients<T>& c, T lr_t) {
    if constexpr (K == optimizer_kind::sgd) {
        // Keras/Chainer: v = m v - lr g; p += v (nesterov: p += m v - lr g).
        const T v = c.decay * s1 - c.lr * g;
        s1 = v;
        p += c.nesterov ? c.decay * v - c.lr * g : v;
    } else if constexpr (K == optimizer_kind::rmsprop) {
        // Keras: v = rho v + (1 - rho) g^2; p -= lr g / (sqrt(v) + eps).
        const T v = c.decay * s1 + (T(1) - c.decay) * g * g;
        s1 = v;
        p -= c.lr * g / (sqrt_(v) + c.epsilon);
    } else {
        // Keras: m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; p -= lr_t m / (sqrt(v) + eps).
        const T m = c.decay * s1 + (T(1) - c.decay) * g;
        const T v = c.decay2 * s2 + (T(1) - c.decay2) * g * g;
        s1 = m;
        s2 = v;
        p -= lr_t * m / (sqrt_(v) + c.epsilon);
    }
}

// One pass over all parameters, gradients and optimizer state (the same layout, contiguous), four
// floats per thread access where T is float. step points at the optimizer step just counted.
template <optimizer_kind K, class T>
__global__ void optimizer_kernel(T* __restrict__ params, const T* __restrict__ grads,
                                 T* __restrict__ state1, T* __restrict__ state2, std::size_t n,
                                 optimizer_coefficients<T> c,
                                 const unsigned long long* __restrict__ step) {
    T lr_t = c.lr;
    if constexpr (K == optimizer_kind::adam) {
        const double t = static_cast<double>(*step);
        lr_t = static_cast<T>(c.lr_d * sqrt(1.0 - pow(c.beta2_d, t)) / (1.0 - pow(c.beta1_d, t)));
    }
    const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
    const std::size_t first = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    std::size_t done = 0;
    if constexpr (std::is_same_v<T, float>) {
        // cudaMalloc'd buffers are 256-byte aligned, so element 0 starts a float4.
        const std::size_t n4 = n / 4;
        auto* p4 = reinterpret_cast<float4*>(params);
        const auto* g4 = reinterpret_cast<const float4*>(grads);
        auto* a4 = reinterpret_cast<float4*>(state1);
        auto* b4 = reinterpret_cast<float4*>(state2);
        for (std::size_t i = first; i < n4; i += stride) {
            float4 p = p4[i];
            const float4 g = g4[i];
            float4 a = a4[i];
            float4 b = K == optimizer_kind::adam ? b4[i] : float4{};
            update_one<K>(p.x, g.x, a.x, b.x, c, lr_t);
            update_one<K>(p.y, g.y, a.y, b.y, c, lr_t);
            update_one<K>(p.z, g.z, a.z, b.z, c, lr_t);
            update_one<K>(p.w, g.w, a.w, b.w, c, lr_t);
            p4[i] = p;
            a4[i] = a;
            if constexpr (K == optimizer_kind::adam) {
                b4[i] = b;
            }
        }
        done = n4 * 4;
    }
    for (std::size_t i = done + first; i < n; i += stride) {
        T p = params[i];
        T a = state1[i];
        T b = K == optimizer_kind::adam ? state2[i] : T(0);
        update_one<K>(p, grads[i], a, b, c, lr_t);
        params[i] = p;
        state1[i] = a;
        if constexpr (K == optimizer_kind::adam) {
            state2[i] = b;
        }
    }
}

// ---- host-side launchers: choose the template instance for a run-time enum, launch, check ----

template <class T>
void launch_gather(cudaStream_t s, const std::uint8_t* images, const std::int32_t* labels,
                   const std::uint32_t* order, const unsigned long long* cursor, std::size_t first,
                   std::uint32_t batch, std::uint32_t rows, std::uint32_t dim, T scale, T* x,
                   std::int32_t* y) {
    const unsigned threads = std::clamp<unsigned>((dim / 4 + 31) / 32 * 32, 32, 256);
    gather_batch_kernel<T><<<rows, threads, 0, s>>>(images, labels, order, cursor, first, batch,
                                                    dim, scale, x, y);
    CTML_CUDA_CHECK_LAUNCH("gather_batch_kernel");
}

template <class T>
void launch_bias_activation(cudaStream_t s, activation a, T* y, const T* b, std::uint32_t rows,
                            std::uint32_t cols) {
    constexpr unsigned block = 256;
    const unsigned grid = grid_for(static_cast<std::size_t>(rows) * cols, block);
    switch (a) {
    case activation::relu:
        bias_activation_kernel<activation::relu><<<grid, block, 0, s>>>(y, b, rows, cols);
        break;
    case activation::tanh:
        bias_activation_kernel<activation::tanh><<<grid, block, 0, s>>>(y, b, rows, cols);
        break;
    case activation::sigmoid:
        bias_activation_kernel<activation::sigmoid><<<grid, block, 0, s>>>(y, b, rows, cols);
        break;
    case activation::identity:
    case activation::softmax:
        bias_activation_kernel<activation::identity><<<grid, block, 0, s>>>(y, b, rows, cols);
        break;
    }
    CTML_CUDA_CHECK_LAUNCH("bias_activation_kernel");
}

template <class T>
void launch_softmax_cross_entropy(cudaStream_t s, const T* logits, const std::int32_t* labels,
                                  std::uint32_t rows, std::uint32_t classes, T* grad, T* row_loss,
                                  std::int32_t* row_correct) {
    constexpr unsigned block = 128; // 4 rows per block
    const unsigned grid = (rows * 32u + block - 1) / block;
    softmax_cross_entropy_kernel<T><<<grid, block, 0, s>>>(logits, labels, rows, classes, grad,
                                                           row_loss, row_correct);
    CTML_CUDA_CHECK_LAUNCH("softmax_cross_entropy_kernel");
}

template <class T>
void launch_accumulate_metrics(cudaStream_t s, const T* row_loss, const std::int32_t* row_correct,
                               std::uint32_t rows, double* totals, unsigned long long* counters) {
    accumulate_metrics_kernel<T><<<1, metrics_block, 0, s>>>(row_loss, row_correct, rows, totals,
                                                             counters);
    CTML_CUDA_CHECK_LAUNCH("accumulate_metrics_kernel");
}

template <class T>
void launch_activation_backward_bias_grad(cudaStream_t s, activation a, T* dz, const T* y,
                                          std::uint32_t rows, std::uint32_t cols, T* db) {
    const dim3 block(reduce_cols, reduce_rows);
    const unsigned grid = (cols + reduce_cols - 1) / reduce_cols;
    switch (a) {
    case activation::relu:
        activation_backward_bias_grad_kernel<activation::relu><<<grid, block, 0, s>>>(dz, y, rows,
                                                                                    cols, db);
        break;
    case activation::tanh:
        activation_backward_bias_grad_kernel<activation::tanh><<<grid, block, 0, s>>>(dz, y, rows,
                                                                                    cols, db);
        break;
    case activation::sigmoid:
        activation_backward_bias_grad_kernel<activation::sigmoid><<<grid, block, 0, s>>>(
            dz, y, rows, cols, db);
        break;
    case activation::identity:
    case activation::softmax:
        activation_backward_bias_grad_kernel<activation::identity><<<grid, block, 0, s>>>(
            dz, y, rows, cols, db);
        break;
    }
    CTML_CUDA_CHECK_LAUNCH("activation_backward_bias_grad_kernel");
}

template <class T>
void launch_optimizer(cudaStream_t s, optimizer_kind k, T* params, const T* grads, T* state1,
                      T* state2, std::size_t n, const optimizer_coefficients<T>& c,
                      const unsigned long long* step) {
    constexpr unsigned block = 256;
    const unsigned grid = grid_for(std::is_same_v<T, float> ? (n + 3) / 4 : n, block);
    switch (k) {
    case optimizer_kind::sgd:
        optimizer_kernel<optimizer_kind::sgd><<<grid, block, 0, s>>>(params, grads, state1, state2,
                                                                     n, c, step);
        break;
    case optimizer_kind::rmsprop:
        optimizer_kernel<optimizer_kind::rmsprop><<<grid, block, 0, s>>>(params, grads, state1,
                                                                         state2, n, c, step);
        break;
    case optimizer_kind::adam:
        optimizer_kernel<optimizer_kind::adam><<<grid, block, 0, s>>>(params, grads, state1,
                                                                      state2, n, c, step);
        break;
    }
    CTML_CUDA_CHECK_LAUNCH("optimizer_kernel");
}

} // namespace detail
} // namespace ctml::cuda
