// SPDX-License-Identifier: MIT
// Device kernels of the dense-network training step (ctml/kernels/cuda/mlp_trainer.cuh drives
// them): batch gather with byte-to-scalar conversion, fused bias + activation, fused softmax +
// cross-entropy (+ its gradient), deterministic metric accumulation, fused activation backward +
// bias-gradient reduction, and one fused optimizer update over the whole parameter buffer.
// The arithmetic of each element is in elementwise.hpp (host and device, tested on the host);
// this file adds the parallel structure. The GEMMs are cuBLAS's. Every launcher enqueues on a
// stream and checks the launch; none waits.
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
#include "ctml/kernels/cuda/elementwise.hpp"

namespace ctml::cuda {
namespace detail {

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
                dst4[i] = make_float4(byte_to_scalar(v.x, scale), byte_to_scalar(v.y, scale),
                                      byte_to_scalar(v.z, scale), byte_to_scalar(v.w, scale));
            }
            return;
        }
    }
    for (std::uint32_t i = threadIdx.x; i < dim; i += blockDim.x) {
        dst[i] = byte_to_scalar(src[i], scale);
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
        y[i] = bias_activate<A>(y[i], b[i % cols]);
    }
}

// One warp per row of logits: numerically stable log-softmax, the row's cross-entropy, whether
// argmax (first index on ties, like numpy) hits the label, and, when grad is given, the loss
// gradient (softmax - onehot) / rows of the batch mean: softmax_cross_entropy_row's element
// functions, with the row's max and sum reduced across the warp.
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
    argmax_state<T> a{T(0), classes};
    for (std::uint32_t j = lane; j < classes; j += 32) {
        argmax_update(a, z[j], j, classes);
    }
    for (int offset = 16; offset > 0; offset /= 2) {
        const argmax_state<T> other{__shfl_xor_sync(0xffffffffu, a.best, offset),
                                    __shfl_xor_sync(0xffffffffu, a.index, offset)};
        a = argmax_merge(a, other, classes);
    }
    T sum = 0;
    for (std::uint32_t j = lane; j < classes; j += 32) {
        sum += detail::exp_(z[j] - a.best);
    }
    for (int offset = 16; offset > 0; offset /= 2) {
        sum += __shfl_xor_sync(0xffffffffu, sum, offset);
    }
    const std::int32_t label = labels[row];
    if (lane == 0) {
        row_loss[row] = softmax_cross_entropy_loss(a.best, sum, z[label]);
        row_correct[row] = static_cast<std::int32_t>(a.index) == label ? 1 : 0;
    }
    if (grad) {
        const T inv_rows = T(1) / static_cast<T>(rows);
        const T inv_sum = T(1) / sum;
        T* g = grad + static_cast<std::size_t>(row) * classes;
        for (std::uint32_t j = lane; j < classes; j += 32) {
            g[j] = softmax_cross_entropy_grad(z[j], a.best, inv_sum,
                                              static_cast<std::int32_t>(j) == label, inv_rows);
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
                g = activation_backward<A>(g, y[i]);
                dz[i] = g;
            } else {
                (void)y; // dz already is dL/dz: no write back
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

// One pass over all parameters, gradients and optimizer state (the same layout, contiguous), four
// floats per thread access where T is float. step points at the optimizer step just counted.
template <optimizer_kind K, class T>
__global__ void optimizer_kernel(T* __restrict__ params, const T* __restrict__ grads,
                                 T* __restrict__ state1, T* __restrict__ state2, std::size_t n,
                                 optimizer_coefficients<T> c,
                                 const unsigned long long* __restrict__ step) {
    T lr_t = c.learning_rate;
    if constexpr (K == optimizer_kind::adam) {
        lr_t = static_cast<T>(adam_step_size(c.learning_rate_d, c.beta_1_d, c.beta_2_d,
                                             static_cast<double>(*step)));
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
            optimizer_update<K>(p.x, g.x, a.x, b.x, c, lr_t);
            optimizer_update<K>(p.y, g.y, a.y, b.y, c, lr_t);
            optimizer_update<K>(p.z, g.z, a.z, b.z, c, lr_t);
            optimizer_update<K>(p.w, g.w, a.w, b.w, c, lr_t);
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
        optimizer_update<K>(p, grads[i], a, b, c, lr_t);
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
