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
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

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

/// CSR (as compress_rows) of the rows index[0..rows) of a row-major uint8 matrix with `dim`
/// columns, each value converted as static_cast<T>(x) * scale: the batch gather and its
/// compression in one pass, with no dense float copy of the batch in between. Returns false
/// when more than max_nnz values are non-zero (the output is then unusable). col and val must
/// hold rows × dim + 16 entries.
template <class T>
bool compress_rows_u8(const std::uint8_t* __restrict base, std::size_t dim,
                      const std::size_t* __restrict index, std::size_t rows, T scale,
                      std::size_t max_nnz, std::uint32_t* __restrict row_ptr,
                      std::uint32_t* __restrict col, T* __restrict val) noexcept {
    std::size_t nnz = 0;
    row_ptr[0] = 0;
    for (std::size_t i = 0; i < 2 && i < rows; ++i) {
        const char* first = reinterpret_cast<const char*>(base + index[i] * dim);
        for (std::size_t b = 0; b < dim; b += 64) {
            __builtin_prefetch(first + b);
        }
    }
    for (std::size_t i = 0; i < rows; ++i) {
        if (nnz > max_nnz) {
            return false;
        }
        const std::uint8_t* xi = base + index[i] * dim;
        if (i + 2 < rows) { // a sample's row two ahead: a random place in the dataset
            const char* next = reinterpret_cast<const char*>(base + index[i + 2] * dim);
            for (std::size_t b = 0; b < dim; b += 64) {
                __builtin_prefetch(next + b);
            }
        }
        std::size_t j = 0;
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
        if constexpr (std::is_same_v<T, float>) {
            const __m512 s = _mm512_set1_ps(scale);
            const __m512i step = _mm512_set1_epi32(16);
            __m512i ids = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            const std::size_t full = dim - dim % 16;
            for (; j < full; j += 16) {
                const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(xi + j));
                const __mmask16 m = _mm_test_epi8_mask(b, b);
                // The maskz forms with all lanes: the plain ones start from an undefined
                // register, which g++ 12 reports as maybe-uninitialized.
                const __m512 v = _mm512_mul_ps(
                    _mm512_maskz_cvtepi32_ps(0xFFFF, _mm512_maskz_cvtepu8_epi32(0xFFFF, b)), s);
                _mm512_storeu_ps(val + nnz, _mm512_maskz_compress_ps(m, v));
                _mm512_storeu_si512(col + nnz, _mm512_maskz_compress_epi32(m, ids));
                nnz += static_cast<std::size_t>(__builtin_popcount(m));
                ids = _mm512_add_epi32(ids, step);
            }
        }
#endif
        for (; j < dim; ++j) {
            col[nnz] = static_cast<std::uint32_t>(j);
            val[nnz] = static_cast<T>(xi[j]) * scale;
            nnz += xi[j] != 0;
        }
        row_ptr[i + 1] = static_cast<std::uint32_t>(nnz);
    }
    return nnz <= max_nnz;
}

/// Words of scratch compress_columns_u8 needs for `rows` samples of `dim` features.
constexpr std::size_t compress_columns_u8_scratch(std::size_t dim, std::size_t rows) noexcept {
    return ((dim + 63) / 64) * ((rows + 63) / 64) * 64;
}

namespace detail {
// Transposes a 64 × 64 bit matrix in place (a[i] bit j ↔ a[j] bit i): the recursive block swap.
inline void transpose_bits64(std::uint64_t* a) noexcept {
    std::uint64_t m = 0x00000000FFFFFFFFULL;
    for (unsigned j = 32; j != 0; j >>= 1, m ^= m << j) {
        for (unsigned k = 0; k < 64; k = ((k | j) + 1) & ~j) {
            const std::uint64_t t = ((a[k] >> j) ^ a[k | j]) & m;
            a[k] ^= t << j;
            a[k | j] ^= t;
        }
    }
}
} // namespace detail

/// CSC (as transpose_compressed of compress_rows_u8's CSR: rows in order within each feature) of
/// the same rows, built from the bytes: a bit mask of each sample's non-zero features per block
/// of 64 features, transposed 64 × 64 bits at a time into each feature's mask of samples, whose
/// set bits are the rows. `masks` holds compress_columns_u8_scratch(dim, rows) words. Cheaper
/// than transposing the CSR by counting sort (a scattered store per non-zero).
template <class T>
void compress_columns_u8(const std::uint8_t* __restrict base, std::size_t dim,
                         const std::size_t* __restrict index, std::size_t rows, T scale,
                         std::uint32_t* __restrict col_ptr, std::uint32_t* __restrict row,
                         T* __restrict cval, std::uint64_t* __restrict masks) noexcept {
    const std::size_t tiles = (dim + 63) / 64, blocks = (rows + 63) / 64;
    for (std::size_t t = 0; t < tiles; ++t) {
        const std::size_t w = std::min<std::size_t>(64, dim - t * 64);
        for (std::size_t b = 0; b < blocks; ++b) {
            std::uint64_t* m = masks + (t * blocks + b) * 64;
            for (std::size_t i = 0; i < 64; ++i) {
                const std::size_t r = b * 64 + i;
                if (r >= rows) {
                    m[i] = 0;
                    continue;
                }
                const std::uint8_t* x = base + index[r] * dim + t * 64;
#if defined(__AVX512F__) && defined(__AVX512BW__)
                const __m512i v = _mm512_maskz_loadu_epi8(
                    w == 64 ? ~__mmask64{0} : (__mmask64{1} << w) - 1, x);
                m[i] = _mm512_test_epi8_mask(v, v);
#else
                std::uint64_t bits = 0;
                for (std::size_t f = 0; f < w; ++f) {
                    bits |= std::uint64_t{x[f] != 0} << f;
                }
                m[i] = bits;
#endif
            }
            detail::transpose_bits64(m); // m[f] = the samples of this block with feature f ≠ 0
        }
    }
    std::uint32_t q = 0;
    col_ptr[0] = 0;
    for (std::size_t f = 0; f < dim; ++f) {
        const std::uint64_t* m = masks + (f / 64) * blocks * 64 + f % 64;
        for (std::size_t b = 0; b < blocks; ++b) {
            for (std::uint64_t bits = m[b * 64]; bits != 0; bits &= bits - 1) {
                const std::size_t r = b * 64 + static_cast<std::size_t>(__builtin_ctzll(bits));
                row[q] = static_cast<std::uint32_t>(r);
                cval[q] = static_cast<T>(base[index[r] * dim + f]) * scale;
                ++q;
            }
        }
        col_ptr[f + 1] = q;
    }
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
inline __m512 load_full(const float* p) noexcept { return _mm512_loadu_ps(p); }
inline void store_full(float* p, __m512 v) noexcept { _mm512_storeu_ps(p, v); }
inline __m512 splat(float v) noexcept { return _mm512_set1_ps(v); }
inline __m512 fma_part(__m512 a, __m512 b, __m512 c) noexcept { return _mm512_fmadd_ps(a, b, c); }
inline __m512d load_part(const double* p, std::size_t w) noexcept {
    return _mm512_maskz_loadu_pd(static_cast<__mmask8>((1u << w) - 1), p);
}
inline void store_part(double* p, __m512d v, std::size_t w) noexcept {
    _mm512_mask_storeu_pd(p, static_cast<__mmask8>((1u << w) - 1), v);
}
inline __m512d load_full(const double* p) noexcept { return _mm512_loadu_pd(p); }
inline void store_full(double* p, __m512d v) noexcept { _mm512_storeu_pd(p, v); }
inline __m512d splat(double v) noexcept { return _mm512_set1_pd(v); }
inline __m512d fma_part(__m512d a, __m512d b, __m512d c) noexcept { return _mm512_fmadd_pd(a, b, c); }
#endif

// out[0:n] = Σ_p v[p] · src[index[p] · ld + 0:n], with the whole output row in R registers
// (AVX-512, n ≤ R lanes, R ≤ 24): each source row is read once, in full, and the row Dist
// non-zeros ahead is prefetched, since the rows are scattered over a source larger than L1
// (and than L2 for a first layer's kernel kept with its optimizer state).
#if defined(__AVX512F__)
template <std::size_t R, class T>
void gather_row_registers(const std::uint32_t* __restrict index, const T* __restrict v,
                          std::size_t count, const T* __restrict src, std::size_t ld,
                          std::size_t n, T* __restrict out) noexcept {
    constexpr std::size_t L = 64 / sizeof(T);
    constexpr std::size_t dist = 4;
    using V = decltype(splat(T(0)));
    const std::size_t tail = n - (R - 1) * L; // 1..L lanes in the last register
    // Every access to a[] has a constant index (the folds below unroll at compile time; no
    // unroll pragma, which nvcc's front end rejects), so the array lives in registers.
    using full = std::make_index_sequence<R - 1>;
    V a[R];
    [&]<std::size_t... K>(std::index_sequence<K...>) {
        ((a[K] = splat(T(0))), ...);
    }(std::make_index_sequence<R>{});
    const std::size_t row_bytes = n * sizeof(T);
    for (std::size_t p = 0; p < count; ++p) {
        if (p + dist < count) {
            const char* q = reinterpret_cast<const char*>(
                src + static_cast<std::size_t>(index[p + dist]) * ld);
            for (std::size_t b = 0; b < row_bytes; b += 64) {
                _mm_prefetch(q + b, _MM_HINT_T0);
            }
        }
        const V s = splat(v[p]);
        const T* r = src + static_cast<std::size_t>(index[p]) * ld;
        [&]<std::size_t... K>(std::index_sequence<K...>) {
            ((a[K] = fma_part(s, load_full(r + K * L), a[K])), ...);
        }(full{});
        a[R - 1] = fma_part(s, load_part(r + (R - 1) * L, tail), a[R - 1]);
    }
    [&]<std::size_t... K>(std::index_sequence<K...>) {
        (store_full(out + K * L, a[K]), ...);
    }(full{});
    store_part(out + (R - 1) * L, a[R - 1], tail);
}

template <class T, std::size_t... R>
bool gather_row_dispatch(std::index_sequence<R...>, const std::uint32_t* index, const T* v,
                         std::size_t count, const T* src, std::size_t ld, std::size_t n,
                         T* out) noexcept {
    constexpr std::size_t L = 64 / sizeof(T);
    const std::size_t regs = (n + L - 1) / L;
    return ((regs == R + 1 ? (gather_row_registers<R + 1>(index, v, count, src, ld, n, out), true)
                           : false) ||
            ...);
}
#endif

// The same for any n: the accumulators of four (then one) SIMD registers of columns stay in
// registers across all p, and the source is swept once per group of registers.
template <class T>
void gather_row(const std::uint32_t* __restrict index, const T* __restrict v, std::size_t count,
                const T* __restrict src, std::size_t ld, std::size_t n, T* __restrict out) noexcept {
    using B = xsimd::batch<T>;
    constexpr std::size_t L = B::size;
#if defined(__AVX512F__)
    if constexpr (L == 64 / sizeof(T)) {
        constexpr std::size_t max_registers = 24; // of 32, leaving room for the broadcast
        if (n != 0 && n <= max_registers * L &&
            gather_row_dispatch(std::make_index_sequence<max_registers>{}, index, v, count, src,
                                ld, n, out)) {
            return;
        }
    }
#endif
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
