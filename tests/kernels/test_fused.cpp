// SPDX-License-Identifier: MIT
// The fused element-wise kernels (bias + activation forward; activation derivative + bias
// gradient backward) and the activations they apply, against their definitions, on strided
// column blocks as the trainer's threads use them.
#include "ctml/kernels/cpu/fused.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <limits>
#include <type_traits>
#include <vector>

#include "ctml/core/random.hpp"
#include "ctml/nn/activations.hpp"

namespace {

// f(z) and f'(z) from the definitions, in terms of z (the kernels use the output y).
template <class Act> double f(double z) {
    if constexpr (std::is_same_v<Act, ctml::identity>) {
        return z;
    } else if constexpr (std::is_same_v<Act, ctml::relu>) {
        return z > 0 ? z : 0;
    } else if constexpr (std::is_same_v<Act, ctml::tanh>) {
        return std::tanh(z);
    } else {
        return 1 / (1 + std::exp(-z));
    }
}
template <class Act> double fprime(double z) {
    if constexpr (std::is_same_v<Act, ctml::identity>) {
        return 1;
    } else if constexpr (std::is_same_v<Act, ctml::relu>) {
        return z > 0 ? 1 : 0;
    } else if constexpr (std::is_same_v<Act, ctml::tanh>) {
        return 1 / (std::cosh(z) * std::cosh(z));
    } else {
        return std::exp(-z) / ((1 + std::exp(-z)) * (1 + std::exp(-z)));
    }
}

// A rows × ld matrix; the kernels see columns [c0, c0 + cols) only.
constexpr std::size_t rows = 7, ld = 29, c0 = 5, cols = 17;

std::vector<double> random_matrix(ctml::rng& r) {
    std::vector<double> m(rows * ld);
    for (auto& v : m) {
        v = r.uniform(-3, 3);
    }
    return m;
}

} // namespace

TEST_CASE_TEMPLATE("bias_activation and activation_backward_bias on a column block", Act,
                   ctml::identity, ctml::relu, ctml::tanh, ctml::sigmoid) {
    ctml::rng r(5);
    const auto z0 = random_matrix(r);
    std::vector<double> b(cols);
    for (auto& v : b) {
        v = r.uniform(-1, 1);
    }
    std::vector<double> y = z0;
    ctml::kernels::cpu::bias_activation<Act>(y.data() + c0, b.data(), rows, cols, ld);
    const auto d0 = random_matrix(r);
    std::vector<double> d = d0, db(cols, 99.0);
    ctml::kernels::cpu::activation_backward_bias<Act>(y.data() + c0, d.data() + c0, rows, cols, ld,
                                                      db.data());
    std::vector<double> db_ref(cols, 0.0);
    for (std::size_t i = 0; i < rows; ++i) {
        for (std::size_t j = 0; j < ld; ++j) {
            const std::size_t at = i * ld + j;
            if (j < c0 || j >= c0 + cols) {
                CHECK(y[at] == z0[at]); // outside the block: untouched
                CHECK(d[at] == d0[at]);
                continue;
            }
            const double z = z0[at] + b[j - c0];
            CHECK(y[at] == doctest::Approx(f<Act>(z)).epsilon(1e-14));
            const double dz = d0[at] * fprime<Act>(z);
            CHECK(d[at] == doctest::Approx(dz).epsilon(1e-12));
            db_ref[j - c0] += dz;
        }
    }
    for (std::size_t j = 0; j < cols; ++j) {
        CHECK(db[j] == doctest::Approx(db_ref[j]).epsilon(1e-12)); // overwritten, not accumulated
    }
}

TEST_CASE("column_sums: over rows with a stride, overwriting") {
    ctml::rng r(6);
    const auto d = random_matrix(r);
    std::vector<double> s(cols, 5.0);
    ctml::kernels::cpu::column_sums(d.data() + c0, rows, cols, ld, s.data());
    for (std::size_t j = 0; j < cols; ++j) {
        double ref = 0;
        for (std::size_t i = 0; i < rows; ++i) {
            ref += d[i * ld + c0 + j];
        }
        CHECK(s[j] == doctest::Approx(ref).epsilon(1e-14));
    }
}

TEST_CASE("softmax: rows sum to one, stable for huge logits, backward is Jᵀ·dy") {
    ctml::rng r(7);
    const std::size_t n = 6, m = 4;
    std::vector<double> z(n * m), b(m, 0.0);
    for (auto& v : z) {
        v = r.uniform(-5, 5);
    }
    z[3] = 1e4; // row 0: one huge logit
    for (std::size_t j = 0; j < m; ++j) {
        z[m + j] = -1e4; // row 1: all hugely negative
    }
    const auto z0 = z;
    ctml::kernels::cpu::bias_activation<ctml::softmax>(z.data(), b.data(), n, m);
    for (std::size_t i = 0; i < n; ++i) {
        double s = 0;
        for (std::size_t j = 0; j < m; ++j) {
            REQUIRE(std::isfinite(z[i * m + j]));
            s += z[i * m + j];
        }
        CHECK(s == doctest::Approx(1.0).epsilon(1e-14));
    }
    CHECK(z[3] == 1.0);
    CHECK(z[m] == doctest::Approx(0.25).epsilon(1e-15));
    for (std::size_t i = 2; i < n; ++i) { // moderate rows against exp(z)/Σexp(z) directly
        double s = 0;
        for (std::size_t j = 0; j < m; ++j) {
            s += std::exp(z0[i * m + j]);
        }
        for (std::size_t j = 0; j < m; ++j) {
            CHECK(z[i * m + j] == doctest::Approx(std::exp(z0[i * m + j]) / s).epsilon(1e-14));
        }
    }
    // backward: dz_j = Σ_i J_ij dy_i with J_ij = y_i (δ_ij - y_j).
    const double* y = z.data() + 2 * m;
    std::vector<double> dy(m), dz(m);
    for (auto& v : dy) {
        v = r.uniform(-1, 1);
    }
    dz = dy;
    ctml::softmax::backward_row(y, dz.data(), m);
    for (std::size_t j = 0; j < m; ++j) {
        double ref = 0;
        for (std::size_t i = 0; i < m; ++i) {
            ref += y[i] * ((i == j ? 1.0 : 0.0) - y[j]) * dy[i];
        }
        CHECK(dz[j] == doctest::Approx(ref).epsilon(1e-13));
    }
}

TEST_CASE_TEMPLATE("sigmoid and tanh saturate without overflow", T, float, double) {
    const T big = std::numeric_limits<T>::max() / 2;
    CHECK(ctml::sigmoid::apply(T(-1000)) == T(0));
    CHECK(ctml::sigmoid::apply(T(1000)) == T(1));
    CHECK(ctml::sigmoid::apply(-big) == T(0));
    CHECK(ctml::sigmoid::apply(big) == T(1));
    CHECK(ctml::sigmoid::apply(T(0)) == T(0.5));
    CHECK(ctml::tanh::apply(T(1000)) == T(1));
    CHECK(ctml::relu::apply(T(-0.5)) == T(0));
    CHECK(ctml::relu::derivative(T(0)) == T(0)); // at the kink: the subgradient 0, as Keras
    CHECK(ctml::identity::derivative(T(123)) == T(1));
    CHECK(ctml::sigmoid::apply(T(-30)) > T(0)); // the negative branch keeps tiny values
}
