// SPDX-License-Identifier: MIT
// Row-major GEMM through CBLAS (OpenBLAS). ctml calls CBLAS directly rather than through
// xtensor-blas expressions: the step's buffers are raw aligned arrays, and a direct call
// costs nothing per step (no adaptors, no shape objects). The declarations come from
// xtensor-blas's own CBLAS header, not the system <cblas.h>: the two declare the same enums, and
// only one of them may appear in a translation unit that also uses xtensor-blas.
#pragma once
#include <xflens/cxxblas/drivers/cblas.h>

#include <cstddef>

#include "ctml/config.hpp"

#if CTML_BLAS_OPENBLAS
extern "C" {
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
}
#endif

namespace ctml::kernels::cpu {

enum class trans : bool { no = false, yes = true };

/// C(m×n) = alpha · op(A) · op(B) + beta · C, all row-major and densely packed:
/// op(A) is m×k (A stored k×m when transposed), op(B) is k×n (B stored n×k when transposed).
inline void gemm(trans ta, trans tb, std::size_t m, std::size_t n, std::size_t k, float alpha,
                 const float* a, const float* b, float beta, float* c) noexcept {
    const auto lda = static_cast<int>(ta == trans::yes ? m : k);
    const auto ldb = static_cast<int>(tb == trans::yes ? k : n);
    cblas_sgemm(CblasRowMajor, ta == trans::yes ? CblasTrans : CblasNoTrans,
                tb == trans::yes ? CblasTrans : CblasNoTrans, static_cast<int>(m),
                static_cast<int>(n), static_cast<int>(k), alpha, a, lda, b, ldb, beta, c,
                static_cast<int>(n));
}

inline void gemm(trans ta, trans tb, std::size_t m, std::size_t n, std::size_t k, double alpha,
                 const double* a, const double* b, double beta, double* c) noexcept {
    const auto lda = static_cast<int>(ta == trans::yes ? m : k);
    const auto ldb = static_cast<int>(tb == trans::yes ? k : n);
    cblas_dgemm(CblasRowMajor, ta == trans::yes ? CblasTrans : CblasNoTrans,
                tb == trans::yes ? CblasTrans : CblasNoTrans, static_cast<int>(m),
                static_cast<int>(n), static_cast<int>(k), alpha, a, lda, b, ldb, beta, c,
                static_cast<int>(n));
}

} // namespace ctml::kernels::cpu

namespace ctml {

namespace detail {
inline int& requested_threads() noexcept {
    static int n = 0;
    return n;
}
} // namespace detail

/// @brief Sets the number of threads ctml's kernels use (0: all cores, the default).
inline void set_num_threads(int n) noexcept {
    detail::requested_threads() = n;
#if CTML_BLAS_OPENBLAS
    if (n > 0) {
        openblas_set_num_threads(n);
    }
#endif
}

/// @brief The number of threads the BLAS uses now.
inline int num_threads() noexcept {
#if CTML_BLAS_OPENBLAS
    return openblas_get_num_threads();
#else
    return detail::requested_threads();
#endif
}

} // namespace ctml
