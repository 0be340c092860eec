// SPDX-License-Identifier: MIT
// Row-major GEMM through CBLAS (OpenBLAS). ctml calls CBLAS directly rather than through
// xtensor-blas expressions: the step's buffers are raw aligned arrays, and a direct call
// costs nothing per step (no adaptors, no shape objects). The declarations come from
// xtensor-blas's own CBLAS header, not the system <cblas.h>: the two declare the same enums, and
// only one of them may appear in a translation unit that also uses xtensor-blas.
#pragma once
#include <xflens/cxxblas/drivers/cblas.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "ctml/config.hpp"
#include "ctml/core/thread_pool.hpp"

#if CTML_BLAS_OPENBLAS
extern "C" {
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
// OpenBLAS's packing-buffer table (exported by libopenblas; see ctml::cpu_engine::warm_up_blas).
void* blas_memory_alloc(int procpos);
void blas_memory_free(void* buffer);
char* openblas_get_corename(void);
// A DYNAMIC_ARCH OpenBLAS's kernel-table selection (reads OPENBLAS_CORETYPE, else CPUID). Weak:
// an OpenBLAS built for one architecture has neither, and ctml then leaves it alone.
__attribute__((weak)) void gotoblas_dynamic_init(void);
__attribute__((weak)) void gotoblas_dynamic_quit(void);
}
#endif

namespace ctml::kernels::cpu {

enum class trans : bool { no = false, yes = true };

namespace detail {
inline CBLAS_TRANSPOSE cblas_trans(trans t) noexcept { return t == trans::yes ? CblasTrans : CblasNoTrans; }
inline int as_int(std::size_t v) noexcept { return static_cast<int>(v); }
} // namespace detail

/// One CBLAS call, exactly as asked (no shape-dependent splitting).
inline void blas_gemm(trans ta, trans tb, std::size_t m, std::size_t n, std::size_t k, float alpha,
                      const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta,
                      float* c, std::size_t ldc) noexcept {
    using detail::as_int;
    cblas_sgemm(CblasRowMajor, detail::cblas_trans(ta), detail::cblas_trans(tb), as_int(m),
                as_int(n), as_int(k), alpha, a, as_int(lda), b, as_int(ldb), beta, c, as_int(ldc));
}

inline void blas_gemm(trans ta, trans tb, std::size_t m, std::size_t n, std::size_t k,
                      double alpha, const double* a, std::size_t lda, const double* b,
                      std::size_t ldb, double beta, double* c, std::size_t ldc) noexcept {
    using detail::as_int;
    cblas_dgemm(CblasRowMajor, detail::cblas_trans(ta), detail::cblas_trans(tb), as_int(m),
                as_int(n), as_int(k), alpha, a, as_int(lda), b, as_int(ldb), beta, c, as_int(ldc));
}

/// y (stride incy) = alpha · A x (x with stride incx) + beta · y: one column of a GEMM.
inline void blas_gemv_column(std::size_t m, std::size_t k, float alpha, const float* a,
                             std::size_t lda, const float* x, std::size_t incx, float beta,
                             float* y, std::size_t incy) noexcept {
    using detail::as_int;
    cblas_sgemv(CblasRowMajor, CblasNoTrans, as_int(m), as_int(k), alpha, a, as_int(lda), x,
                as_int(incx), beta, y, as_int(incy));
}

inline void blas_gemv_column(std::size_t m, std::size_t k, double alpha, const double* a,
                             std::size_t lda, const double* x, std::size_t incx, double beta,
                             double* y, std::size_t incy) noexcept {
    using detail::as_int;
    cblas_dgemv(CblasRowMajor, CblasNoTrans, as_int(m), as_int(k), alpha, a, as_int(lda), x,
                as_int(incx), beta, y, as_int(incy));
}

/// C(m×n) = alpha · op(A) · op(B) + beta · C, row-major with leading dimensions lda, ldb, ldc:
/// op(A) is m×k (A stored k×m when transposed), op(B) is k×n (B stored n×k when transposed).
/// Leading dimensions let a thread compute a block of columns of C in place.
template <class T>
void gemm(trans ta, trans tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a,
          std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) noexcept {
    // OpenBLAS 0.3.21's AVX-512 "small matrix" kernels (m·n·k up to 1e6) malloc a buffer on
    // every non-transposed call whose last vector of columns is at most half full
    // (n mod 16 in 1..8 for float, n mod 8 in 1..4 for double; measured, see
    // tests/kernels/test_gemm.cpp). The training step must not allocate: such a call becomes a
    // GEMM on the full vectors and one GEMV per remaining column.
    constexpr std::size_t lanes = 64 / sizeof(T);
    const std::size_t rem = n % lanes;
    if (ta == trans::no && tb == trans::no && m * n * k <= 1000000 && rem != 0 &&
        rem <= lanes / 2) {
        const std::size_t head = n - rem;
        if (head > 0) {
            blas_gemm(ta, tb, m, head, k, alpha, a, lda, b, ldb, beta, c, ldc);
        }
        for (std::size_t j = head; j < n; ++j) {
            blas_gemv_column(m, k, alpha, a, lda, b + j, ldb, beta, c + j, ldc);
        }
        return;
    }
    blas_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/// The same on densely packed matrices.
template <class T>
void gemm(trans ta, trans tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a,
          const T* b, T beta, T* c) noexcept {
    gemm(ta, tb, m, n, k, alpha, a, ta == trans::yes ? m : k, b, tb == trans::yes ? k : n, beta,
         c, n);
}

/// Threads the BLAS itself uses for one call (OpenBLAS; 1 for another CBLAS).
inline int blas_threads() noexcept {
#if CTML_BLAS_OPENBLAS
    return openblas_get_num_threads();
#else
    return 1;
#endif
}

inline void set_blas_threads(int n) noexcept {
#if CTML_BLAS_OPENBLAS
    openblas_set_num_threads(n < 1 ? 1 : n);
#else
    (void)n;
#endif
}

/// The kernel set the BLAS runs: OpenBLAS's core name ("SkylakeX", "Prescott", ...), or "" for
/// another CBLAS.
inline std::string blas_kernels() {
#if CTML_BLAS_OPENBLAS
    const char* name = openblas_get_corename();
    return name != nullptr ? name : "";
#else
    return "";
#endif
}

namespace detail {
inline bool select_blas_kernels_now() noexcept {
#if CTML_BLAS_OPENBLAS && defined(__x86_64__)
    // OpenBLAS 0.3.21 (Debian 12) does not know recent Xeons (Sapphire Rapids and later, as
    // KVM guests report them) and falls back to its SSE3 "Prescott" kernels: SGEMM then runs at
    // a quarter of the AVX-512 kernels' rate (24 against 84-138 GFLOP/s on one core here). A
    // DYNAMIC_ARCH build carries the SkylakeX kernels; select them as OPENBLAS_CORETYPE would at
    // start. Not when the user chose (OPENBLAS_CORETYPE set, or CTML_BLAS_KERNELS=keep), not for
    // another fallback, not without AVX-512 F/BW/DQ/VL (what those kernels use).
    if (gotoblas_dynamic_init == nullptr || gotoblas_dynamic_quit == nullptr) {
        return false;
    }
    if (std::getenv("OPENBLAS_CORETYPE") != nullptr) {
        return false;
    }
    if (const char* keep = std::getenv("CTML_BLAS_KERNELS"); keep != nullptr &&
                                                             std::strcmp(keep, "keep") == 0) {
        return false;
    }
    const char* name = openblas_get_corename();
    if (name == nullptr || std::strcmp(name, "Prescott") != 0) {
        return false;
    }
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
        !__builtin_cpu_supports("avx512dq") || !__builtin_cpu_supports("avx512vl")) {
        return false;
    }
    // gotoblas_dynamic_init() selects only while no table is set; the variable is read there
    // and removed again, so the process environment (and a child's) stays as the user left it.
    gotoblas_dynamic_quit();
    setenv("OPENBLAS_CORETYPE", "SKYLAKEX", 1);
    gotoblas_dynamic_init();
    unsetenv("OPENBLAS_CORETYPE");
    return true;
#else
    return false;
#endif
}
} // namespace detail

/// @brief Once per process (the first CPU engine calls it): when a DYNAMIC_ARCH OpenBLAS fell
/// back to its SSE3 "Prescott" kernels on a CPU with AVX-512, switches it to its SkylakeX
/// kernels, as `OPENBLAS_CORETYPE=SKYLAKEX` would have at start. Call it before any BLAS call
/// is in flight on another thread. OPENBLAS_CORETYPE (any value) or CTML_BLAS_KERNELS=keep
/// leaves OpenBLAS's own choice. Returns whether this process switched (now or earlier).
inline bool select_blas_kernels() noexcept {
    static const bool switched = detail::select_blas_kernels_now();
    return switched;
}

} // namespace ctml::kernels::cpu

namespace ctml {

/// @brief Sets the number of threads ctml uses (0: all cores, the default): the step threads of
/// an engine whose settings ask for 0, and the BLAS's own threads for calls made outside an
/// engine (the next engine sets the BLAS back to one thread: engine/cpu.hpp).
inline void set_num_threads(std::size_t n) noexcept {
    detail::configured_threads() = n;
    kernels::cpu::set_blas_threads(static_cast<int>(thread_count()));
}

/// @brief The number of threads ctml uses (see set_num_threads).
inline std::size_t num_threads() noexcept { return thread_count(); }

} // namespace ctml
