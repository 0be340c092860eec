// SPDX-License-Identifier: MIT
// Products with a sparse left operand, for a first layer whose inputs are mostly zero (an MNIST
// batch is about 19% non-zero). The batch is compressed once per step (rows, CSR; and features,
// CSC), then
//   forward  Y[r0:r1, :] = X[r0:r1, :] · W      sums, per sample, W's rows where x_f ≠ 0, and
//   backward dW[r0:r1, :] = Xᵀ · D               builds each kernel row from the samples where that
//                                                feature is non-zero,
// doing density × the multiply-adds of the dense GEMM. The sums are the same as the GEMM's up to
// rounding order.
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace ctml::kernels::cpu {

/// Compresses rows × cols of x (row stride cols) into CSR: row_ptr (rows + 1), col (nnz), val
/// (nnz). Returns false, leaving the output unusable, when more than max_nnz values are non-zero.
template <class T>
bool compress_rows(const T* __restrict x, std::size_t rows, std::size_t cols, std::size_t max_nnz,
                   std::uint32_t* __restrict row_ptr, std::uint32_t* __restrict col,
                   T* __restrict val) noexcept {
    // Branch-free: every value is written at the current end and kept only if non-zero (a
    // branch per value would mispredict on about every fifth MNIST pixel). col and val must
    // hold rows × cols + 16 entries.
    std::size_t nnz = 0;
    row_ptr[0] = 0;
    for (std::size_t i = 0; i < rows; ++i) {
        if (nnz > max_nnz) {
            return false;
        }
        const T* xi = x + i * cols;
        std::size_t j = 0;
#if defined(__AVX512F__)
        if constexpr (std::is_same_v<T, float>) {
            // Compress in registers and store whole registers (a compressing store to memory is
            // microcoded and slow on some AVX-512 cores); the buffers have 16 entries of slack.
            const __m512i step = _mm512_set1_epi32(16);
            __m512i ids = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            const std::size_t full = cols - cols % 16;
            for (; j < full; j += 16) {
                const __m512 v = _mm512_loadu_ps(xi + j);
                const __mmask16 m = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_NEQ_UQ);
                _mm512_storeu_ps(val + nnz, _mm512_maskz_compress_ps(m, v));
                _mm512_storeu_si512(col + nnz, _mm512_maskz_compress_epi32(m, ids));
                nnz += static_cast<std::size_t>(__builtin_popcount(m));
                ids = _mm512_add_epi32(ids, step);
            }
        }
#endif
        for (std::size_t left = cols - j; left != 0; --left, ++j) {
            col[nnz] = static_cast<std::uint32_t>(j);
            val[nnz] = xi[j];
            nnz += xi[j] != T(0);
        }
        row_ptr[i + 1] = static_cast<std::uint32_t>(nnz);
    }
    return nnz <= max_nnz;
}

/// The same matrix by columns (CSC): col_ptr (cols + 1), row (nnz), cval (nnz), rows in order.
template <class T>
void transpose_compressed(std::size_t rows, std::size_t cols, const std::uint32_t* __restrict row_ptr,
                          const std::uint32_t* __restrict col, const T* __restrict val,
                          std::uint32_t* __restrict col_ptr, std::uint32_t* __restrict row,
                          T* __restrict cval) noexcept {
    for (std::size_t j = 0; j <= cols; ++j) {
        col_ptr[j] = 0;
    }
    const std::size_t nnz = row_ptr[rows];
    for (std::size_t p = 0; p < nnz; ++p) {
        ++col_ptr[col[p] + 1];
    }
    for (std::size_t j = 0; j < cols; ++j) {
        col_ptr[j + 1] += col_ptr[j];
    }
    // col_ptr[j] is now the start of column j; fill and advance, then shift back.
    for (std::size_t i = 0; i < rows; ++i) {
        for (std::size_t p = row_ptr[i]; p < row_ptr[i + 1]; ++p) {
            const std::uint32_t q = col_ptr[col[p]]++;
            row[q] = static_cast<std::uint32_t>(i);
            cval[q] = val[p];
        }
    }
    for (std::size_t j = cols; j > 0; --j) {
        col_ptr[j] = col_ptr[j - 1];
    }
    col_ptr[0] = 0;
}

namespace detail {
// The last w < one-register columns, with AVX-512 masks where available (a scalar loop over
// them cost as much as all the full registers of a 300-wide layer).
#if defined(__AVX512F__)
inline __m512 load_part(const float* p, std::size_t w) noexcept {
    return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << w) - 1), p);
}
inline void store_part(float* p, __m512 v, std::size_t w) noexcept {
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << w) - 1), v);
}
inline __m512 splat(float v) noexcept { return _mm512_set1_ps(v); }
inline __m512 fma_part(__m512 a, __m512 b, __m512 c) noexcept { return _mm512_fmadd_ps(a, b, c); }
inline __m512d load_part(const double* p, std::size_t w) noexcept {
    return _mm512_maskz_loadu_pd(static_cast<__mmask8>((1u << w) - 1), p);
}
inline void store_part(double* p, __m512d v, std::size_t w) noexcept {
    _mm512_mask_storeu_pd(p, static_cast<__mmask8>((1u << w) - 1), v);
}
inline __m512d splat(double v) noexcept { return _mm512_set1_pd(v); }
inline __m512d fma_part(__m512d a, __m512d b, __m512d c) noexcept { return _mm512_fmadd_pd(a, b, c); }
#endif

// out[0:n] = Σ_p v[p] · src[index[p] · ld + 0:n]: the accumulators of four (then one) SIMD
// registers of columns stay in registers across all p, so each source value is loaded once.
template <class T>
void gather_row(const std::uint32_t* __restrict index, const T* __restrict v, std::size_t count,
                const T* __restrict src, std::size_t ld, std::size_t n, T* __restrict out) noexcept {
    using B = xsimd::batch<T>;
    constexpr std::size_t L = B::size;
    std::size_t j = 0;
    for (; j + 4 * L <= n; j += 4 * L) {
        B a0(T(0)), a1(T(0)), a2(T(0)), a3(T(0));
        for (std::size_t p = 0; p < count; ++p) {
            const B s(v[p]);
            const T* r = src + static_cast<std::size_t>(index[p]) * ld + j;
            a0 = xsimd::fma(s, B::load_unaligned(r), a0);
            a1 = xsimd::fma(s, B::load_unaligned(r + L), a1);
            a2 = xsimd::fma(s, B::load_unaligned(r + 2 * L), a2);
            a3 = xsimd::fma(s, B::load_unaligned(r + 3 * L), a3);
        }
        a0.store_unaligned(out + j);
        a1.store_unaligned(out + j + L);
        a2.store_unaligned(out + j + 2 * L);
        a3.store_unaligned(out + j + 3 * L);
    }
    for (; j + L <= n; j += L) {
        B a(T(0));
        for (std::size_t p = 0; p < count; ++p) {
            a = xsimd::fma(B(v[p]),
                           B::load_unaligned(src + static_cast<std::size_t>(index[p]) * ld + j), a);
        }
        a.store_unaligned(out + j);
    }
    if (j == n) {
        return;
    }
#if defined(__AVX512F__)
    if constexpr (L == 64 / sizeof(T)) {
        const std::size_t w = n - j;
        auto a = splat(T(0));
        for (std::size_t p = 0; p < count; ++p) {
            a = fma_part(splat(v[p]), load_part(src + static_cast<std::size_t>(index[p]) * ld + j, w), a);
        }
        store_part(out + j, a, w);
        return;
    }
#endif
    for (; j < n; ++j) {
        T a = 0;
        for (std::size_t p = 0; p < count; ++p) {
            a += v[p] * src[static_cast<std::size_t>(index[p]) * ld + j];
        }
        out[j] = a;
    }
}
} // namespace detail

/// Y[r0:r1, 0:n] = X[r0:r1, :] · W for the CSR matrix X; W is k × ldw (its first n columns are
/// used), Y has row stride ldy. Each output row accumulates in registers over its sample's
/// non-zeros, so threads take disjoint row ranges with no repeated work.
template <class T>
void sparse_gemm(std::size_t r0, std::size_t r1, const std::uint32_t* row_ptr,
                 const std::uint32_t* col, const T* val, const T* w, std::size_t ldw,
                 std::size_t n, T* y, std::size_t ldy) noexcept {
    for (std::size_t i = r0; i < r1; ++i) {
        const std::size_t p0 = row_ptr[i];
        detail::gather_row(col + p0, val + p0, row_ptr[i + 1] - p0, w, ldw, n, y + i * ldy);
    }
}

/// dW[r0:r1, :] = Xᵀ · D for the CSC matrix X (its columns r0..r1); D is rows × n with row
/// stride ldd, dW has row stride lddw. Rows of dW whose feature is zero in every sample become 0.
template <class T>
void sparse_gemm_tn(std::size_t r0, std::size_t r1, const std::uint32_t* col_ptr,
                    const std::uint32_t* row, const T* cval, const T* d, std::size_t ldd,
                    std::size_t n, T* dw, std::size_t lddw) noexcept {
    for (std::size_t i = r0; i < r1; ++i) {
        const std::size_t p0 = col_ptr[i];
        detail::gather_row(row + p0, cval + p0, col_ptr[i + 1] - p0, d, ldd, n, dw + i * lddw);
    }
}

} // namespace ctml::kernels::cpu
