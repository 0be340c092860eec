// SPDX-License-Identifier: MIT
// ctml::sgd: plain, momentum and Nesterov steps against values worked out by hand from the
// Keras 2 / Chainer formulas, and against PyTorch's equivalent form on random gradients.
#include "ctml/optim/sgd.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "ctml/core/random.hpp"
#include "optim_check.hpp"

static_assert(ctml::optimizer<ctml::sgd<>>);
static_assert(ctml::optimizer<ctml::sgd<0.1, 0.9, true>>);
static_assert(ctml::optimizer<ctml::momentum_sgd>);
static_assert(!ctml::optimizer<int>);
static_assert(!ctml::optimizer<std::vector<float>>);
static_assert(ctml::sgd<>::state_slots == 1);

namespace {

// Two scalar problems, three steps each, laid out over 19 parameters:
//   A: p₀ = 1,  g = 0.5, -0.2, 0.3        B: p₀ = -2, g = -1, 0, 4
const std::vector<double> p0{1.0, -2.0};
const std::vector<std::vector<double>> grads{{0.5, -0.2, 0.3}, {-1.0, 0.0, 4.0}};

template <class T, class Opt>
void check_three_steps(const Opt& opt, double expect_a, double expect_b) {
    const auto [p, steps] = optim_check::interleave(p0, grads);
    const auto out = optim_check::run<T>(opt, p, steps);
    const double tol = sizeof(T) == 4 ? 1e-6 : 1e-14;
    for (std::size_t i = 0; i < out.size(); ++i) {
        CAPTURE(i);
        CHECK(out[i] == doctest::Approx(i % 2 == 0 ? expect_a : expect_b).epsilon(tol));
    }
}

} // namespace

TEST_CASE_TEMPLATE("sgd: three steps worked by hand", T, float, double) {
    SUBCASE("plain: p ← p - lr·g, lr = 0.1") {
        // A: 1 - 0.05 = 0.95; 0.95 + 0.02 = 0.97; 0.97 - 0.03 = 0.94
        // B: -2 + 0.1 = -1.9; -1.9 - 0 = -1.9; -1.9 - 0.4 = -2.3
        check_three_steps<T>(ctml::sgd<0.1>{}, 0.94, -2.3);
    }
    SUBCASE("momentum: v ← μ·v - lr·g; p ← p + v, lr = 0.1, μ = 0.9") {
        // A: v = -0.05,                  p = 0.95
        //    v = 0.9·(-0.05) + 0.02 = -0.025,  p = 0.925
        //    v = 0.9·(-0.025) - 0.03 = -0.0525, p = 0.8725
        // B: v = 0.1, p = -1.9;  v = 0.09, p = -1.81;  v = 0.081 - 0.4 = -0.319, p = -2.129
        check_three_steps<T>(ctml::sgd<0.1, 0.9>{}, 0.8725, -2.129);
    }
    SUBCASE("nesterov: v ← μ·v - lr·g; p ← p + μ·v - lr·g, lr = 0.1, μ = 0.9") {
        // A: v = -0.05,   p = 1 - 0.045 - 0.05 = 0.905
        //    v = -0.025,  p = 0.905 - 0.0225 + 0.02 = 0.9025
        //    v = -0.0525, p = 0.9025 - 0.04725 - 0.03 = 0.82525
        // B: v = 0.1,     p = -2 + 0.09 + 0.1 = -1.81
        //    v = 0.09,    p = -1.81 + 0.081 - 0 = -1.729
        //    v = -0.319,  p = -1.729 - 0.2871 - 0.4 = -2.4161
        check_three_steps<T>(ctml::sgd<0.1, 0.9, true>{}, 0.82525, -2.4161);
    }
    SUBCASE("hyperparameters set at run time are the ones used") {
        ctml::sgd<> opt; // lr 0.01, no momentum
        opt.set("learning_rate", 0.1);
        opt.set("momentum", 0.9);
        opt.set("nesterov", 1);
        check_three_steps<T>(opt, 0.82525, -2.4161);
    }
}

// PyTorch's form keeps b ← μ·b + g and steps p ← p - lr·b (Nesterov: p ← p - lr·(g + μ·b)).
// With a constant lr it is the same trajectory as Keras' v = -lr·b, written differently: an
// independent reference for many random steps.
TEST_CASE_TEMPLATE("sgd: matches PyTorch's formulation on random gradients", T, float, double) {
    const auto seed = optim_check::fresh_seed();
    INFO("seed " << seed << " (replay with CTML_TEST_SEED=" << seed << ")");
    ctml::rng r(seed);
    const double lr = r.uniform(0.001, 0.2), mu = r.uniform(0.5, 0.99);
    std::vector<double> p(optim_check::n);
    for (auto& v : p) {
        v = r.uniform(-1, 1);
    }
    std::vector<std::vector<double>> steps(12, std::vector<double>(optim_check::n));
    for (auto& s : steps) {
        for (auto& v : s) {
            v = r.uniform(-2, 2);
        }
    }
    for (const bool nesterov : {false, true}) {
        CAPTURE(nesterov);
        ctml::sgd<> opt;
        opt.learning_rate = lr;
        opt.momentum = mu;
        opt.nesterov = nesterov;
        const auto out = optim_check::run<T>(opt, p, steps);
        std::vector<double> ref = p, b(p.size(), 0.0);
        for (const auto& g : steps) {
            for (std::size_t i = 0; i < ref.size(); ++i) {
                b[i] = mu * b[i] + g[i];
                ref[i] -= lr * (nesterov ? g[i] + mu * b[i] : b[i]);
            }
        }
        const double tol = sizeof(T) == 4 ? 2e-5 : 1e-12;
        for (std::size_t i = 0; i < ref.size(); ++i) {
            CHECK(std::abs(out[i] - ref[i]) <= tol * std::max(1.0, std::abs(ref[i])));
        }
    }
}

TEST_CASE("sgd: defaults, hyperparameters and errors") {
    const ctml::sgd<> plain;
    CHECK(plain.learning_rate == 0.01);
    CHECK(plain.momentum == 0.0);
    CHECK_FALSE(plain.nesterov);
    const ctml::momentum_sgd chainer; // Chainer's MomentumSGD defaults
    CHECK(chainer.learning_rate == 0.01);
    CHECK(chainer.momentum == 0.9);
    CHECK(ctml::sgd<>::name == "sgd");

    const auto hp = optim_check::hyperparameters(ctml::sgd<0.05, 0.8, true>{});
    REQUIRE(hp.size() == 3);
    CHECK(hp[0] == std::pair<std::string, double>{"learning_rate", 0.05});
    CHECK(hp[1] == std::pair<std::string, double>{"momentum", 0.8});
    CHECK(hp[2] == std::pair<std::string, double>{"nesterov", 1.0});

    const std::string unknown = optim_check::set_error(ctml::sgd<>{}, "lr", 0.1);
    INFO(unknown);
    CHECK(unknown.find("'lr'") != std::string::npos);
    CHECK(unknown.find("learning_rate, momentum, nesterov") != std::string::npos);
    const std::string negative = optim_check::set_error(ctml::sgd<>{}, "learning_rate", -0.5);
    INFO(negative);
    CHECK(negative.find("learning_rate") != std::string::npos);
    CHECK(negative.find("-0.5") != std::string::npos);
    const std::string mom = optim_check::set_error(ctml::sgd<>{}, "momentum", 1.0);
    INFO(mom);
    CHECK(mom.find("momentum") != std::string::npos);
    CHECK(mom.find("1.0") != std::string::npos);
    CHECK(optim_check::set_error(ctml::sgd<>{}, "learning_rate", 0).find("learning_rate") !=
          std::string::npos);
    CHECK(optim_check::set_error(ctml::sgd<>{}, "momentum", 0).empty());
    ctml::sgd<> opt;
    CHECK_THROWS_AS(opt.set("learning_rate", -1), ctml::config_error);
    CHECK(opt.learning_rate == 0.01); // a refused value leaves the old one
}
