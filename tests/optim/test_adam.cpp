// SPDX-License-Identifier: MIT
// ctml::adam: steps against values worked out by hand from Keras' formula, and against the
// paper's Algorithm 1 (bias-corrected m̂, v̂) on random gradients; defaults, hyperparameters, errors.
#include "ctml/optim/adam.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "ctml/core/random.hpp"
#include "optim_check.hpp"

static_assert(ctml::optimizer<ctml::adam<>>);
static_assert(ctml::adam<>::state_slots == 2);

TEST_CASE_TEMPLATE("adam: three steps worked by hand (lr 0.01, beta 0.9 / 0.999, eps 1e-7)", T,
                   float, double) {
    // Keras: m ← β1·m + (1-β1)·g; v ← β2·v + (1-β2)·g²; lr_t = lr·√(1-β2^t)/(1-β1^t);
    // p ← p - lr_t·m / (√v + ε).
    // A: p₀ = 1, g = 0.5, -0.2, 0.3.
    const double ma1 = 0.1 * 0.5, va1 = 0.001 * 0.25;
    const double pa1 =
        1.0 - 0.01 * std::sqrt(1 - 0.999) / (1 - 0.9) * ma1 / (std::sqrt(va1) + 1e-7);
    const double ma2 = 0.9 * ma1 + 0.1 * -0.2, va2 = 0.999 * va1 + 0.001 * 0.04;
    const double pa2 =
        pa1 - 0.01 * std::sqrt(1 - 0.999 * 0.999) / (1 - 0.9 * 0.9) * ma2 / (std::sqrt(va2) + 1e-7);
    const double ma3 = 0.9 * ma2 + 0.1 * 0.3, va3 = 0.999 * va2 + 0.001 * 0.09;
    const double pa3 = pa2 - 0.01 * std::sqrt(1 - 0.999 * 0.999 * 0.999) / (1 - 0.9 * 0.9 * 0.9) *
                                 ma3 / (std::sqrt(va3) + 1e-7);
    // B: p₀ = -2, g = -1, 0, 4.
    const double mb1 = 0.1 * -1.0, vb1 = 0.001 * 1.0;
    const double pb1 =
        -2.0 - 0.01 * std::sqrt(1 - 0.999) / (1 - 0.9) * mb1 / (std::sqrt(vb1) + 1e-7);
    const double mb2 = 0.9 * mb1, vb2 = 0.999 * vb1;
    const double pb2 =
        pb1 - 0.01 * std::sqrt(1 - 0.999 * 0.999) / (1 - 0.9 * 0.9) * mb2 / (std::sqrt(vb2) + 1e-7);
    const double mb3 = 0.9 * mb2 + 0.1 * 4.0, vb3 = 0.999 * vb2 + 0.001 * 16.0;
    const double pb3 = pb2 - 0.01 * std::sqrt(1 - 0.999 * 0.999 * 0.999) / (1 - 0.9 * 0.9 * 0.9) *
                                 mb3 / (std::sqrt(vb3) + 1e-7);
    // Adam's first step moves every parameter by about lr, whatever the gradient's size.
    CHECK(1.0 - pa1 == doctest::Approx(0.01).epsilon(1e-4));
    CHECK(pb1 + 2.0 == doctest::Approx(0.01).epsilon(1e-4));

    const auto [p, steps] =
        optim_check::interleave({1.0, -2.0}, {{0.5, -0.2, 0.3}, {-1.0, 0.0, 4.0}});
    const double tol = sizeof(T) == 4 ? 1e-6 : 1e-13;
    SUBCASE("compiled hyperparameters") {
        const auto out = optim_check::run<T>(ctml::adam<0.01>{}, p, steps);
        for (std::size_t i = 0; i < out.size(); ++i) {
            CAPTURE(i);
            CHECK(out[i] == doctest::Approx(i % 2 == 0 ? pa3 : pb3).epsilon(tol));
        }
    }
    SUBCASE("run-time hyperparameters are the ones used") {
        ctml::adam<> opt;
        opt.set("learning_rate", 0.01);
        const auto out = optim_check::run<T>(opt, p, steps);
        CHECK(out[0] == doctest::Approx(pa3).epsilon(tol));
        CHECK(out[1] == doctest::Approx(pb3).epsilon(tol));
        opt.set("beta_1", 0.5);
        opt.set("beta_2", 0.75);
        opt.set("epsilon", 0.01);
        // One step: m = 0.5·0.5, v = 0.25·0.25, lr_1 = 0.01·√0.25/0.5 = 0.01.
        const auto one = optim_check::run<T>(opt, {1.0}, {{0.5}});
        CHECK(one[0] ==
              doctest::Approx(1.0 - 0.01 * 0.25 / (std::sqrt(0.0625) + 0.01)).epsilon(tol));
    }
}

// Kingma & Ba, Algorithm 1: m̂ = m/(1-β1^t), v̂ = v/(1-β2^t), p ← p - lr·m̂/(√v̂ + ε'). Keras adds
// its ε to √v before the correction, which is the paper's form with ε' = ε/√(1-β2^t)
// (the paper's section 2, "efficiency" remark). Random gradients, 15 steps.
TEST_CASE_TEMPLATE("adam: matches the paper's bias-corrected form on random gradients", T, float,
                   double) {
    const auto seed = optim_check::fresh_seed();
    INFO("seed " << seed << " (replay with CTML_TEST_SEED=" << seed << ")");
    ctml::rng r(seed);
    ctml::adam<> opt;
    opt.learning_rate = r.uniform(1e-4, 0.05);
    opt.beta_1 = r.uniform(0.5, 0.95);
    opt.beta_2 = r.uniform(0.9, 0.9999);
    opt.epsilon = r.uniform(1e-8, 1e-3);
    std::vector<double> p(optim_check::n);
    for (auto& v : p) {
        v = r.uniform(-1, 1);
    }
    std::vector<std::vector<double>> steps(15, std::vector<double>(optim_check::n));
    for (auto& s : steps) {
        for (auto& v : s) {
            v = r.uniform(-3, 3);
        }
    }
    const auto out = optim_check::run<T>(opt, p, steps);
    std::vector<double> ref = p, m(p.size(), 0.0), v(p.size(), 0.0);
    for (std::size_t t = 1; t <= steps.size(); ++t) {
        const double c1 = 1 - std::pow(opt.beta_1, static_cast<double>(t));
        const double c2 = 1 - std::pow(opt.beta_2, static_cast<double>(t));
        const double eps = opt.epsilon / std::sqrt(c2);
        for (std::size_t i = 0; i < ref.size(); ++i) {
            const double g = steps[t - 1][i];
            m[i] = opt.beta_1 * m[i] + (1 - opt.beta_1) * g;
            v[i] = opt.beta_2 * v[i] + (1 - opt.beta_2) * g * g;
            ref[i] -= opt.learning_rate * (m[i] / c1) / (std::sqrt(v[i] / c2) + eps);
        }
    }
    const double tol = sizeof(T) == 4 ? 2e-5 : 1e-12;
    for (std::size_t i = 0; i < ref.size(); ++i) {
        CHECK(std::abs(out[i] - ref[i]) <= tol * std::max(1.0, std::abs(ref[i])));
    }
}

TEST_CASE("adam: Keras defaults, hyperparameters and errors") {
    const ctml::adam<> keras;
    CHECK(keras.learning_rate == 0.001);
    CHECK(keras.beta_1 == 0.9);
    CHECK(keras.beta_2 == 0.999);
    CHECK(keras.epsilon == 1e-7);
    CHECK(ctml::adam<>::name == "adam");
    const auto hp = optim_check::hyperparameters(ctml::adam<0.01, 0.8, 0.99, 1e-8>{});
    REQUIRE(hp.size() == 4);
    CHECK(hp[0] == std::pair<std::string, double>{"learning_rate", 0.01});
    CHECK(hp[1] == std::pair<std::string, double>{"beta_1", 0.8});
    CHECK(hp[2] == std::pair<std::string, double>{"beta_2", 0.99});
    CHECK(hp[3] == std::pair<std::string, double>{"epsilon", 1e-8});

    const std::string unknown = optim_check::set_error(ctml::adam<>{}, "beta1", 0.9);
    INFO(unknown);
    CHECK(unknown.find("adam") != std::string::npos);
    CHECK(unknown.find("'beta1'") != std::string::npos);
    CHECK(unknown.find("learning_rate, beta_1, beta_2, epsilon") != std::string::npos);
    const std::string b2 = optim_check::set_error(ctml::adam<>{}, "beta_2", 1.0);
    INFO(b2);
    CHECK(b2.find("'beta_2'") != std::string::npos);
    CHECK(b2.find("1.0") != std::string::npos);
    const std::string lr = optim_check::set_error(ctml::adam<>{}, "learning_rate", -3);
    INFO(lr);
    CHECK(lr.find("-3") != std::string::npos);
    CHECK(optim_check::set_error(ctml::adam<>{}, "beta_1", 0).empty());
}
