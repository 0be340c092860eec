// SPDX-License-Identifier: MIT
// ctml::kernels::cpu::gemm against plain loops: every transposition, alpha and beta, leading
// dimensions (a block of columns computed in place, as the trainer's threads do), and the
// thread-count controls.
#include "ctml/kernels/cpu/gemm.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <vector>

#include "ctml/core/random.hpp"

namespace {

using ctml::kernels::cpu::trans;

// C = alpha · op(A) · op(B) + beta · C with op(A) m×k, op(B) k×n, from the definition.
template <class T>
void reference(trans ta, trans tb, std::size_t m, std::size_t n, std::size_t k, double alpha,
               const std::vector<T>& a, std::size_t lda, const std::vector<T>& b, std::size_t ldb,
               double beta, std::vector<double>& c, std::size_t ldc) {
    for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
            double s = 0;
            for (std::size_t p = 0; p < k; ++p) {
                const double aip = ta == trans::yes ? a[p * lda + i] : a[i * lda + p];
                const double bpj = tb == trans::yes ? b[j * ldb + p] : b[p * ldb + j];
                s += aip * bpj;
            }
            c[i * ldc + j] = alpha * s + beta * c[i * ldc + j];
        }
    }
}

template <class T> std::vector<T> random_vector(std::size_t n, ctml::rng& r) {
    std::vector<T> v(n);
    for (auto& x : v) {
        x = static_cast<T>(r.uniform(-1, 1));
    }
    return v;
}

} // namespace

TEST_CASE_TEMPLATE("gemm: every transposition, alpha and beta, against plain loops", T, float,
                   double) {
    ctml::rng r(42);
    const double tol = sizeof(T) == 4 ? 1e-5 : 1e-13;
    const std::size_t shapes[][3] = {
        {1, 1, 1}, {3, 5, 7}, {50, 100, 300}, {17, 33, 65}, {64, 10, 128}};
    const double scalars[][2] = {{1, 0}, {0.5, 1}, {-2, 0.25}};
    for (const auto& shape : shapes) {
        // (no structured bindings: clang 14 cannot capture them in CAPTURE's lambda)
        const std::size_t m = shape[0], n = shape[1], k = shape[2];
        for (const trans ta : {trans::no, trans::yes}) {
            for (const trans tb : {trans::no, trans::yes}) {
                for (const auto& ab : scalars) {
                    const double alpha = ab[0], beta = ab[1];
                    CAPTURE(m);
                    CAPTURE(n);
                    CAPTURE(k);
                    CAPTURE(static_cast<bool>(ta));
                    CAPTURE(static_cast<bool>(tb));
                    CAPTURE(alpha);
                    const auto a = random_vector<T>(m * k, r);
                    const auto b = random_vector<T>(k * n, r);
                    const auto c0 = random_vector<T>(m * n, r);
                    std::vector<T> c = c0;
                    ctml::kernels::cpu::gemm(ta, tb, m, n, k, static_cast<T>(alpha), a.data(),
                                             b.data(), static_cast<T>(beta), c.data());
                    std::vector<double> ref(c0.begin(), c0.end());
                    reference(ta, tb, m, n, k, alpha, a, ta == trans::yes ? m : k, b,
                              tb == trans::yes ? k : n, beta, ref, n);
                    double worst = 0;
                    for (std::size_t i = 0; i < c.size(); ++i) {
                        worst = std::max(worst, std::abs(c[i] - ref[i]) / (1 + std::abs(ref[i])));
                    }
                    CHECK(worst < tol * std::sqrt(static_cast<double>(k)));
                }
            }
        }
    }
}

// A thread computes columns [c0, c1) of C = A·B in place, with the full matrices' leading
// dimensions; nothing outside its block may change.
TEST_CASE_TEMPLATE("gemm: a block of columns with leading dimensions", T, float, double) {
    ctml::rng r(7);
    const std::size_t m = 20, n = 90, k = 40, c0 = 32, c1 = 71;
    const auto a = random_vector<T>(m * k, r);
    const auto b = random_vector<T>(k * n, r);
    std::vector<T> c(m * n, T(-7));
    ctml::kernels::cpu::gemm(trans::no, trans::no, m, c1 - c0, k, T(1), a.data(), k, b.data() + c0,
                             n, T(0), c.data() + c0, n);
    std::vector<double> ref(m * n, 0.0);
    reference(trans::no, trans::no, m, n, k, 1.0, a, k, b, n, 0.0, ref, n);
    const double tol = sizeof(T) == 4 ? 1e-5 : 1e-13;
    for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
            if (j >= c0 && j < c1) {
                CHECK(std::abs(c[i * n + j] - ref[i * n + j]) < tol * 10);
            } else {
                CHECK(c[i * n + j] == T(-7));
            }
        }
    }
    // The transposed form the backward pass uses: rows [r0, r1) of Aᵀ·D, A stored k × m.
    const std::size_t r0 = 5, r1 = 13;
    std::vector<T> g(m * n, T(3));
    const auto at = random_vector<T>(k * m, r);
    const auto d = random_vector<T>(k * n, r);
    ctml::kernels::cpu::gemm(trans::yes, trans::no, r1 - r0, n, k, T(1), at.data() + r0, m,
                             d.data(), n, T(0), g.data() + r0 * n, n);
    std::vector<double> gref(m * n, 0.0);
    reference(trans::yes, trans::no, m, n, k, 1.0, at, m, d, n, 0.0, gref, n);
    for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
            if (i >= r0 && i < r1) {
                CHECK(std::abs(g[i * n + j] - gref[i * n + j]) < tol * 10);
            } else {
                CHECK(g[i * n + j] == T(3));
            }
        }
    }
}

TEST_CASE("thread controls: ctml's count and the BLAS's own") {
    const int blas_before = ctml::kernels::cpu::blas_threads();
    const std::size_t before = ctml::num_threads();
    CHECK(before >= 1);
    ctml::set_num_threads(1);
    CHECK(ctml::num_threads() == 1);
    CHECK(ctml::kernels::cpu::blas_threads() == 1);
    ctml::set_num_threads(2);
    CHECK(ctml::num_threads() == 2);
    CHECK(ctml::kernels::cpu::blas_threads() == 2);
    ctml::set_num_threads(0); // back to all cores
    CHECK(ctml::num_threads() >= 1);
    ctml::kernels::cpu::set_blas_threads(0); // clamped to one thread
    CHECK(ctml::kernels::cpu::blas_threads() == 1);
    ctml::kernels::cpu::set_blas_threads(blas_before);
}
