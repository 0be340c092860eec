// SPDX-License-Identifier: MIT
// Losses: values and gradients against their textbook formulas, gradient checks of every loss and
// target kind through a network, and the fused softmax cross-entropy at logits of ±1e4.
#include "ctml/nn/losses.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "ctml/core/random.hpp"
#include "ctml/nn/network.hpp"
#include "ctml/optim/sgd.hpp"
#include "ctml/engine/cpu.hpp"
#include "grad_check.hpp"

static_assert(ctml::loss<ctml::categorical_crossentropy>);
static_assert(ctml::loss<ctml::sparse_categorical_crossentropy>);
static_assert(ctml::loss<ctml::mean_squared_error>);
static_assert(!ctml::loss<int>);
static_assert(!ctml::loss<ctml::relu>);
static_assert(ctml::categorical_crossentropy::accepts_dense &&
              ctml::categorical_crossentropy::accepts_labels);
static_assert(!ctml::sparse_categorical_crossentropy::accepts_dense);

namespace {

using grad_check::target_kind;

struct problem {
    std::size_t rows, k;
    std::vector<double> z;
    grad_check::targets t;
};

problem random_problem(ctml::rng& r, target_kind kind) {
    problem p{3 + r.below(5), 2 + r.below(6), {}, {}};
    p.z.resize(p.rows * p.k);
    for (auto& v : p.z) {
        v = r.uniform(-4, 4);
    }
    p.t = grad_check::random_targets(r, p.rows, p.k, kind);
    return p;
}

double target_at(const problem& p, bool labels, std::size_t i, std::size_t j) {
    return labels ? (static_cast<std::size_t>(p.t.labels[i]) == j ? 1.0 : 0.0)
                  : p.t.dense[i * p.k + j];
}

std::size_t argmax_row(const double* v, std::size_t k) {
    std::size_t best = 0;
    for (std::size_t j = 1; j < k; ++j) {
        best = v[j] > v[best] ? j : best;
    }
    return best;
}

// -Σ t log softmax(z) from the definition (logits in [-4, 4]: no overflow to worry about),
// d/dz = softmax(z)·Σt - t.
template <class Loss> void check_cross_entropy(const problem& p, bool labels, bool alias_p) {
    const ctml::target_view<double> tv{labels ? p.t.labels.data() : nullptr,
                                       labels ? nullptr : p.t.dense.data()};
    const double scale = 0.25;
    std::vector<double> z = p.z, prob(p.z.size()), dz(p.z.size());
    double* pout = alias_p ? z.data() : prob.data();
    double* dout = alias_p ? dz.data() : z.data(); // the other aliasing the trainer may use
    const auto res = Loss::fused(z.data(), tv, p.rows, p.k, scale, pout, dout);
    double loss = 0;
    std::size_t correct = 0;
    for (std::size_t i = 0; i < p.rows; ++i) {
        const double* zi = p.z.data() + i * p.k;
        double s = 0, tsum = 0;
        for (std::size_t j = 0; j < p.k; ++j) {
            s += std::exp(zi[j]);
            tsum += target_at(p, labels, i, j);
        }
        std::size_t cls = labels ? static_cast<std::size_t>(p.t.labels[i]) : 0;
        if (!labels) {
            cls = argmax_row(p.t.dense.data() + i * p.k, p.k);
        }
        for (std::size_t j = 0; j < p.k; ++j) {
            const double pj = std::exp(zi[j]) / s;
            const double tj = target_at(p, labels, i, j);
            loss -= tj * std::log(pj);
            CHECK(pout[i * p.k + j] == doctest::Approx(pj).epsilon(1e-13));
            CHECK(dout[i * p.k + j] == doctest::Approx(scale * (pj * tsum - tj)).epsilon(1e-12));
        }
        correct += argmax_row(zi, p.k) == cls;
    }
    CHECK(res.loss_sum == doctest::Approx(loss).epsilon(1e-13));
    CHECK(res.correct == correct);
}

} // namespace

TEST_CASE("categorical_crossentropy: loss, probabilities, gradient and accuracy by definition") {
    const auto seed = grad_check::fresh_seed();
    INFO("seed " << seed << " (replay with CTML_TEST_SEED=" << seed << ")");
    ctml::rng r(seed);
    for (int rep = 0; rep < 20; ++rep) {
        const bool alias = rep % 2 == 0;
        check_cross_entropy<ctml::categorical_crossentropy>(random_problem(r, target_kind::labels),
                                                            true, alias);
        check_cross_entropy<ctml::categorical_crossentropy>(
            random_problem(r, target_kind::probabilities), false, alias);
        check_cross_entropy<ctml::categorical_crossentropy>(
            random_problem(r, target_kind::unnormalized), false, alias);
        check_cross_entropy<ctml::sparse_categorical_crossentropy>(
            random_problem(r, target_kind::labels), true, alias);
    }
}

TEST_CASE("mean_squared_error: mean over outputs, then batch; labels read as one-hot") {
    const auto seed = grad_check::fresh_seed();
    INFO("seed " << seed << " (replay with CTML_TEST_SEED=" << seed << ")");
    ctml::rng r(seed);
    for (int rep = 0; rep < 20; ++rep) {
        const bool labels = rep % 2 == 0;
        const auto p = random_problem(r, labels ? target_kind::labels : target_kind::real);
        const ctml::target_view<double> tv{labels ? p.t.labels.data() : nullptr,
                                           labels ? nullptr : p.t.dense.data()};
        std::vector<double> dy(p.z.size());
        const double scale = 1.0 / 3;
        const auto res =
            ctml::mean_squared_error::evaluate(p.z.data(), tv, p.rows, p.k, scale, dy.data());
        double loss = 0;
        std::size_t correct = 0;
        for (std::size_t i = 0; i < p.rows; ++i) {
            double row = 0;
            for (std::size_t j = 0; j < p.k; ++j) {
                const double e = p.z[i * p.k + j] - target_at(p, labels, i, j);
                row += e * e;
                CHECK(dy[i * p.k + j] ==
                      doctest::Approx(scale * 2 * e / static_cast<double>(p.k)).epsilon(1e-14));
            }
            loss += row / static_cast<double>(p.k);
            const std::size_t cls = labels ? static_cast<std::size_t>(p.t.labels[i])
                                           : argmax_row(p.t.dense.data() + i * p.k, p.k);
            correct += argmax_row(p.z.data() + i * p.k, p.k) == cls;
        }
        CHECK(res.loss_sum == doctest::Approx(loss).epsilon(1e-14));
        CHECK(res.correct == correct);
    }
}

// Gradient checks through a network: the loss's gradient composed with the last layer.
TEST_CASE("gradient check: every loss and target kind") {
    using softmax_net =
        ctml::sequential<ctml::input<4>, ctml::dense<6, ctml::tanh>, ctml::dense<5, ctml::softmax>>;
    using linear_net = ctml::sequential<ctml::input<4>, ctml::dense<6, ctml::tanh>,
                                        ctml::dense<5, ctml::identity>>;
    const auto seed = grad_check::fresh_seed();
    INFO("seed " << seed << " (replay with CTML_TEST_SEED=" << seed << ")");
    ctml::rng r(seed);
    const std::size_t rows = 6;
    auto run = [&]<class Net, class Loss>(target_kind kind, bool labels) {
        ctml::network<Net, double> net;
        const auto x = grad_check::randomize(net, r, rows);
        const auto t = grad_check::random_targets(r, rows, 5, kind);
        const auto res = grad_check::check<Net, Loss>(net, x, rows, t, labels);
        INFO(Loss::name << (labels ? " with labels" : " with dense targets") << ": worst index "
                        << res.worst << ", analytic " << res.analytic << " vs numeric "
                        << res.numeric);
        CHECK(res.max_abs_grad > 1e-3);
        CHECK(res.max_rel < 1e-6);
    };
    run.operator()<softmax_net, ctml::categorical_crossentropy>(target_kind::labels, true);
    run.operator()<softmax_net, ctml::categorical_crossentropy>(target_kind::probabilities, false);
    run.operator()<softmax_net, ctml::categorical_crossentropy>(target_kind::unnormalized, false);
    run.operator()<softmax_net, ctml::sparse_categorical_crossentropy>(target_kind::labels, true);
    run.operator()<linear_net, ctml::mean_squared_error>(target_kind::labels, true);
    run.operator()<linear_net, ctml::mean_squared_error>(target_kind::real, false);
    run.operator()<softmax_net, ctml::mean_squared_error>(target_kind::probabilities, false);
}

// Logits of ±1e4: exp overflows (float and double) unless the loss works in log-sum-exp form.
// Row logits (1e4, -1e4, 1e4 - 1): softmax = (1, e^-20000, e^-1) / (1 + e^-1 + e^-20000), so with
// L0 = log(1 + e^-1) the loss is L0 for class 0, L0 + 2e4 for class 1, L0 + 1 for class 2.
TEST_CASE_TEMPLATE("softmax cross-entropy is finite and exact at logits of ±1e4", T, float,
                   double) {
    const T z0[] = {T(1e4), T(-1e4), T(1e4 - 1)};
    const double l0 = std::log1p(std::exp(-1.0));
    const double p_exact[] = {1 / (1 + std::exp(-1.0)), 0.0, std::exp(-1.0) / (1 + std::exp(-1.0))};
    const double loss_exact[] = {l0, l0 + 2e4, l0 + 1};
    const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-14;
    for (std::int32_t c = 0; c < 3; ++c) {
        CAPTURE(c);
        std::vector<T> z(z0, z0 + 3), p(3), dz(3);
        const ctml::target_view<T> tv{&c, nullptr};
        const auto res = ctml::sparse_categorical_crossentropy::fused(z.data(), tv, 1, 3, T(1),
                                                                      p.data(), dz.data());
        REQUIRE(std::isfinite(res.loss_sum));
        CHECK(static_cast<double>(res.loss_sum) == doctest::Approx(loss_exact[c]).epsilon(tol));
        for (std::size_t j = 0; j < 3; ++j) {
            REQUIRE(std::isfinite(p[j]));
            REQUIRE(std::isfinite(dz[j]));
            const double g = p_exact[j] - (static_cast<std::int32_t>(j) == c ? 1.0 : 0.0);
            CHECK(static_cast<double>(p[j]) == doctest::Approx(p_exact[j]).epsilon(tol));
            CHECK(static_cast<double>(dz[j]) == doctest::Approx(g).epsilon(tol));
        }
        CHECK(res.correct == (c == 0 ? 1u : 0u));
    }
    // Dense targets (0.5, 0.5, 0): loss = ½·L0 + ½·(L0 + 2e4); all logits equal: log 3.
    {
        std::vector<T> z(z0, z0 + 3), p(3), dz(3);
        const T t[] = {T(0.5), T(0.5), T(0)};
        const ctml::target_view<T> tv{nullptr, t};
        const auto res =
            ctml::categorical_crossentropy::fused(z.data(), tv, 1, 3, T(1), p.data(), dz.data());
        CHECK(static_cast<double>(res.loss_sum) == doctest::Approx(l0 + 1e4).epsilon(tol));
        CHECK(static_cast<double>(dz[1]) == doctest::Approx(-0.5).epsilon(tol));
    }
    for (const T v : {T(-1e4), T(1e4)}) {
        std::vector<T> z(4, v), p(4), dz(4);
        const std::int32_t c = 2;
        const auto res = ctml::categorical_crossentropy::fused(
            z.data(), ctml::target_view<T>{&c, nullptr}, 1, 4, T(1), p.data(), dz.data());
        CHECK(static_cast<double>(res.loss_sum) == doctest::Approx(std::log(4.0)).epsilon(tol));
        CHECK(static_cast<double>(dz[2]) == doctest::Approx(-0.75).epsilon(tol));
    }
}

// The same through a trainer: a last layer whose logits are ±1e4. dL/db = (p - onehot) / rows and
// dL/dW = xᵀ (p - onehot) / rows, exactly.
TEST_CASE_TEMPLATE("cpu_engine: huge logits give the exact finite loss and gradient", T, float,
                   double) {
    using net_t = ctml::sequential<ctml::input<2>, ctml::dense<3, ctml::softmax>>;
    ctml::network<net_t, T> net;
    // Row x = (1, 0): logits are the first kernel row plus the bias.
    const T w[] = {T(1e4), T(-1e4), T(1e4 - 1), T(5), T(6), T(7)};
    std::copy(std::begin(w), std::end(w), net.kernel(0).begin());
    using job = grad_check::test_job<net_t, ctml::sparse_categorical_crossentropy, ctml::sgd<>, T>;
    ctml::cpu_engine<job> tr(net, grad_check::engine_for<job>::settings(net, 1, 1));
    tr.input()[0] = T(1);
    tr.input()[1] = T(0);
    const std::int32_t label = 1;
    const auto res = tr.forward_backward(ctml::target_view<T>{&label, nullptr}, 1);
    const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-14;
    const double l0 = std::log1p(std::exp(-1.0));
    CHECK(static_cast<double>(res.loss_sum) == doctest::Approx(l0 + 2e4).epsilon(tol));
    const auto g = tr.gradients();
    const double p[] = {1 / (1 + std::exp(-1.0)), 0.0, std::exp(-1.0) / (1 + std::exp(-1.0))};
    const double d[] = {p[0], p[1] - 1, p[2]};
    for (std::size_t j = 0; j < 3; ++j) {
        REQUIRE(std::isfinite(g[j]));
        CHECK(static_cast<double>(g[net.kernel_offset(0) + j]) ==
              doctest::Approx(d[j]).epsilon(tol));
        CHECK(g[net.kernel_offset(0) + 3 + j] == T(0)); // x₁ = 0
        CHECK(static_cast<double>(g[net.bias_offset(0) + j]) == doctest::Approx(d[j]).epsilon(tol));
    }
    // The same network evaluated without gradients reports the same loss.
    const auto e = tr.evaluate_batch(ctml::target_view<T>{&label, nullptr}, 1);
    CHECK(e.loss_sum == res.loss_sum);
}
