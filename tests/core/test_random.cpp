// SPDX-License-Identifier: MIT
#include "ctml/core/random.hpp"

#include <doctest/doctest.h>

#include <cmath>

TEST_CASE("rng: same seed, same stream; different seed, different stream") {
    ctml::rng a(42), b(42), c(43);
    for (int i = 0; i < 100; ++i) {
        const auto x = a.next();
        CHECK(x == b.next());
        CHECK(x != c.next());
    }
}

TEST_CASE("rng: uniform and normal moments") {
    ctml::rng r(7);
    const int n = 200000;
    double su = 0, sn = 0, sn2 = 0;
    for (int i = 0; i < n; ++i) {
        const double u = r.uniform();
        REQUIRE(u >= 0.0);
        REQUIRE(u < 1.0);
        su += u;
        const double z = r.normal();
        sn += z;
        sn2 += z * z;
    }
    CHECK(su / n == doctest::Approx(0.5).epsilon(0.01));
    CHECK(std::abs(sn / n) < 0.01);
    CHECK(sn2 / n == doctest::Approx(1.0).epsilon(0.02));
}
