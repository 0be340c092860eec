// SPDX-License-Identifier: MIT
// The element-wise passes of a dense layer, each fused into one sweep over the GEMM output:
// forward  z ← f(z + b)                       (bias add + activation)
// backward d ← d ⊙ f'(y), db ← Σ_rows d       (activation derivative + bias gradient)
// Each works on `cols` columns of row-major rows `ld` apart, so that threads can take column
// blocks of one matrix. Act is any type with the members of a ctml::activation (nn/activations.hpp
// states them); the kernels know no layer or activation types themselves.
#pragma once
#include <cstddef>

namespace ctml::kernels::cpu {

/// z (rows × cols, row stride ld) ← Act(z + b) row by row; with Act = softmax the softmax is
/// row-wise (cols must then be the whole row).
template <class Act, class T>
void bias_activation(T* __restrict z, const T* __restrict b, std::size_t rows, std::size_t cols,
                     std::size_t ld) noexcept {
    for (std::size_t i = 0; i < rows; ++i) {
        T* __restrict zi = z + i * ld;
        if constexpr (Act::elementwise) {
            for (std::size_t j = 0; j < cols; ++j) {
                zi[j] = Act::apply(zi[j] + b[j]);
            }
        } else {
            for (std::size_t j = 0; j < cols; ++j) {
                zi[j] += b[j];
            }
            Act::apply_row(zi, cols);
        }
    }
}

template <class Act, class T>
void bias_activation(T* z, const T* b, std::size_t rows, std::size_t cols) noexcept {
    bias_activation<Act>(z, b, rows, cols, cols);
}

/// db ← Σ_rows d (overwrites db); d is rows × cols with row stride ld.
template <class T>
void column_sums(const T* __restrict d, std::size_t rows, std::size_t cols, std::size_t ld,
                 T* __restrict db) noexcept {
    for (std::size_t j = 0; j < cols; ++j) {
        db[j] = T(0);
    }
    for (std::size_t i = 0; i < rows; ++i) {
        const T* __restrict di = d + i * ld;
        for (std::size_t j = 0; j < cols; ++j) {
            db[j] += di[j];
        }
    }
}

template <class T>
void column_sums(const T* d, std::size_t rows, std::size_t cols, T* db) noexcept {
    column_sums(d, rows, cols, cols, db);
}

/// d ← d ⊙ Act'(y) (or the softmax Jacobian product), then db ← Σ_rows d, in one sweep over
/// rows × cols with row stride ld.
template <class Act, class T>
void activation_backward_bias(const T* __restrict y, T* __restrict d, std::size_t rows,
                              std::size_t cols, std::size_t ld, T* __restrict db) noexcept {
    for (std::size_t j = 0; j < cols; ++j) {
        db[j] = T(0);
    }
    for (std::size_t i = 0; i < rows; ++i) {
        const T* __restrict yi = y + i * ld;
        T* __restrict di = d + i * ld;
        if constexpr (Act::elementwise) {
            for (std::size_t j = 0; j < cols; ++j) {
                di[j] *= Act::derivative(yi[j]);
                db[j] += di[j];
            }
        } else {
            Act::backward_row(yi, di, cols);
            for (std::size_t j = 0; j < cols; ++j) {
                db[j] += di[j];
            }
        }
    }
}

template <class Act, class T>
void activation_backward_bias(const T* y, T* d, std::size_t rows, std::size_t cols,
                              T* db) noexcept {
    activation_backward_bias<Act>(y, d, rows, cols, cols, db);
}

} // namespace ctml::kernels::cpu
