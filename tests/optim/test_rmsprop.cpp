// SPDX-License-Identifier: MIT
// ctml::rmsprop: steps against values worked out by hand from Keras' formula
// (v ← ρ·v + (1-ρ)·g², p ← p - lr·g / (√v + ε), v₀ = 0), defaults, hyperparameters, errors.
#include "ctml/optim/rmsprop.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "ctml/core/random.hpp"
#include "optim_check.hpp"

static_assert(ctml::optimizer<ctml::rmsprop<>>);
static_assert(ctml::rmsprop<>::state_slots == 1);

TEST_CASE_TEMPLATE("rmsprop: three steps worked by hand (lr 0.01, rho 0.9, eps 1e-7)", T, float,
                   double) {
    // A: p₀ = 1, g = 0.5, -0.2, 0.3.
    const double va1 = 0.1 * 0.25; // ρ·0 + (1-ρ)·0.5²
    const double pa1 = 1.0 - 0.01 * 0.5 / (std::sqrt(va1) + 1e-7);
    const double va2 = 0.9 * va1 + 0.1 * 0.04; // = 0.0265
    const double pa2 = pa1 - 0.01 * -0.2 / (std::sqrt(va2) + 1e-7);
    const double va3 = 0.9 * va2 + 0.1 * 0.09; // = 0.03285
    const double pa3 = pa2 - 0.01 * 0.3 / (std::sqrt(va3) + 1e-7);
    // B: p₀ = -2, g = -1, 0, 4 (a zero gradient does not move p).
    const double vb1 = 0.1 * 1.0;
    const double pb1 = -2.0 + 0.01 * 1.0 / (std::sqrt(vb1) + 1e-7);
    const double vb3 = 0.9 * (0.9 * vb1) + 0.1 * 16.0; // = 1.681
    const double pb3 = pb1 - 0.01 * 4.0 / (std::sqrt(vb3) + 1e-7);
    // C: p₀ = 3, g = 0, 0, 0: 0 / (√0 + ε) = 0, no NaN.
    // The first step of RMSprop from v = 0 moves by lr/√(1-ρ) ≈ 0.0316 whatever |g| is.
    CHECK(1.0 - pa1 == doctest::Approx(0.01 / std::sqrt(0.1)).epsilon(1e-5));
    // In decimals: 1 - 0.005/0.158114 = 0.968377; + 0.002/0.162788 = 0.980663;
    // - 0.003/0.181246 = 0.964111.
    CHECK(pa1 == doctest::Approx(0.968377).epsilon(1e-6));
    CHECK(pa2 == doctest::Approx(0.980663).epsilon(1e-6));
    CHECK(pa3 == doctest::Approx(0.964111).epsilon(1e-6));

    const auto [p, steps] =
        optim_check::interleave({1.0, -2.0, 3.0}, {{0.5, -0.2, 0.3}, {-1.0, 0.0, 4.0}, {0, 0, 0}});
    const double tol = sizeof(T) == 4 ? 1e-6 : 1e-14;
    SUBCASE("compiled hyperparameters") {
        const auto out = optim_check::run<T>(ctml::rmsprop<0.01>{}, p, steps);
        for (std::size_t i = 0; i < out.size(); ++i) {
            CAPTURE(i);
            const double expect = i % 3 == 0 ? pa3 : i % 3 == 1 ? pb3 : 3.0;
            CHECK(out[i] == doctest::Approx(expect).epsilon(tol));
        }
    }
    SUBCASE("run-time hyperparameters are the ones used") {
        ctml::rmsprop<> opt; // lr 0.001
        opt.set("learning_rate", 0.01);
        const auto out = optim_check::run<T>(opt, p, steps);
        CHECK(out[0] == doctest::Approx(pa3).epsilon(tol));
        CHECK(out[1] == doctest::Approx(pb3).epsilon(tol));
        opt.set("rho", 0.5);
        opt.set("epsilon", 0.1);
        // One step with ρ = 0.5, ε = 0.1: v = 0.5·0.25, p = 1 - 0.01·0.5 / (√0.125 + 0.1).
        const auto one = optim_check::run<T>(opt, {1.0}, {{0.5}});
        CHECK(one[0] == doctest::Approx(1.0 - 0.01 * 0.5 / (std::sqrt(0.125) + 0.1)).epsilon(tol));
    }
}

TEST_CASE("rmsprop: Keras defaults, hyperparameters and errors") {
    const ctml::rmsprop<> keras;
    CHECK(keras.learning_rate == 0.001);
    CHECK(keras.rho == 0.9);
    CHECK(keras.epsilon == 1e-7);
    CHECK(ctml::rmsprop<>::name == "rmsprop");
    const auto hp = optim_check::hyperparameters(ctml::rmsprop<0.002, 0.95, 1e-6>{});
    REQUIRE(hp.size() == 3);
    CHECK(hp[0] == std::pair<std::string, double>{"learning_rate", 0.002});
    CHECK(hp[1] == std::pair<std::string, double>{"rho", 0.95});
    CHECK(hp[2] == std::pair<std::string, double>{"epsilon", 1e-6});

    const std::string unknown = optim_check::set_error(ctml::rmsprop<>{}, "momentum", 0.9);
    INFO(unknown);
    CHECK(unknown.find("rmsprop") != std::string::npos);
    CHECK(unknown.find("'momentum'") != std::string::npos);
    CHECK(unknown.find("learning_rate, rho, epsilon") != std::string::npos);
    const std::string rho = optim_check::set_error(ctml::rmsprop<>{}, "rho", 1.5);
    INFO(rho);
    CHECK(rho.find("'rho'") != std::string::npos);
    CHECK(rho.find("1.5") != std::string::npos);
    CHECK_FALSE(optim_check::set_error(ctml::rmsprop<>{}, "epsilon", 0).empty());
    CHECK_FALSE(optim_check::set_error(ctml::rmsprop<>{}, "learning_rate",
                                       std::numeric_limits<double>::quiet_NaN())
                    .empty());
    CHECK(optim_check::set_error(ctml::rmsprop<>{}, "rho", 0).empty());
}
