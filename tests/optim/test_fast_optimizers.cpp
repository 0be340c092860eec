// SPDX-License-Identifier: MIT
// The rsqrt/rcp path of ctml::rmsprop and ctml::adam (optim/detail/inverse_sqrt.hpp) against the
// exact formula: the factor 1/(√v + ε) within 1e-6 relative of the value computed in double, over
// v from 0 and denormals to 1e30; each optimizer's step within that bound of its `exact = true`
// step, with the state (v, m) bit-identical; and `exact` selects the exact path bit for bit.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "ctml/core/random.hpp"
#include "ctml/optim/adam.hpp"
#include "ctml/optim/detail/inverse_sqrt.hpp"
#include "ctml/optim/rmsprop.hpp"
#include "ctml/optim/sgd.hpp"

namespace {

// The bound the header promises (a few float ulps: 2⁻²⁴ ≈ 6e-8 each).
constexpr double bound = 1e-6;

std::vector<float> magnitudes() {
    std::vector<float> v = {0.0f, std::numeric_limits<float>::denorm_min(), 1e-40f,
                            std::numeric_limits<float>::min(), 1e-30f, 1e-14f, 1e-7f};
    ctml::rng r(7);
    for (int e = -38; e <= 30; ++e) {
        for (int k = 0; k < 64; ++k) {
            v.push_back(static_cast<float>((1.0 + 9.0 * r.uniform()) * std::pow(10.0, e)));
        }
    }
    return v;
}

} // namespace

TEST_CASE("inverse_sqrt_plus: within 1e-6 of 1/(sqrt(v) + eps), v from 0 to 1e30") {
    using B = xsimd::batch<float>;
    const auto v = magnitudes();
    double worst = 0;
    for (const float eps : {1e-7f, 1e-8f, 0.1f, 1.0f}) {
        for (std::size_t i = 0; i + B::size <= v.size(); i += B::size) {
            float out[B::size];
            ctml::detail::inverse_sqrt_plus(B::load_unaligned(v.data() + i), B(eps))
                .store_unaligned(out);
            for (std::size_t j = 0; j < B::size; ++j) {
                const double exact = 1.0 / (std::sqrt(static_cast<double>(v[i + j])) + eps);
                const double rel = std::abs(out[j] - exact) / exact;
                CAPTURE(v[i + j]);
                CAPTURE(eps);
                REQUIRE(std::isfinite(out[j]));
                worst = std::max(worst, rel);
            }
        }
    }
    MESSAGE("worst relative error " << worst << " (fast path "
                                    << std::string(ctml::detail::fast_inverse_sqrt<float> ? "on" : "off")
                                    << ", " << B::size << " lanes)");
    CHECK(worst < bound);
}

TEST_CASE_TEMPLATE("fast optimizer step within 1e-6 of the exact one, state identical", Opt,
                   ctml::rmsprop<>, ctml::adam<>) {
    constexpr std::size_t n = 4099; // SIMD batches and a scalar tail
    ctml::rng r(11);
    std::vector<float> p0(n), g(n);
    for (std::size_t i = 0; i < n; ++i) {
        p0[i] = 0.0f; // p = 0: the step itself is the result, no cancellation against p
        const double mag = std::pow(10.0, -8.0 + 9.0 * r.uniform());
        g[i] = static_cast<float>((r.uniform() < 0.5 ? -mag : mag) * (i % 97 == 0 ? 0.0 : 1.0));
    }
    Opt fast, exact;
    fast.exact = false;
    exact.exact = true;
    std::vector<float> pf = p0, pe = p0;
    std::array<std::vector<float>, Opt::state_slots> sf, se;
    std::array<float*, Opt::state_slots> fptr{}, eptr{};
    for (std::size_t s = 0; s < Opt::state_slots; ++s) {
        sf[s].assign(n, 0.0f);
        se[s].assign(n, 0.0f);
        fptr[s] = sf[s].data();
        eptr[s] = se[s].data();
    }
    double worst = 0;
    for (std::size_t t = 1; t <= 3; ++t) {
        std::fill(pf.begin(), pf.end(), 0.0f);
        std::fill(pe.begin(), pe.end(), 0.0f);
        fast.update(pf.data(), g.data(), fptr, n, t);
        exact.update(pe.data(), g.data(), eptr, n, t);
        for (std::size_t s = 0; s < Opt::state_slots; ++s) {
            CHECK(std::memcmp(sf[s].data(), se[s].data(), n * sizeof(float)) == 0);
        }
        for (std::size_t i = 0; i < n; ++i) {
            if (pe[i] == 0.0f) {
                CHECK(pf[i] == 0.0f); // a zero gradient (rmsprop) does not move p
                continue;
            }
            worst = std::max(worst, std::abs(static_cast<double>(pf[i]) - pe[i]) /
                                        std::abs(static_cast<double>(pe[i])));
        }
    }
    MESSAGE(Opt::name << ": worst relative difference of the step " << worst);
    CHECK(worst < 2 * bound); // the factor's error plus one rounding of the exact step
    if (!ctml::detail::fast_inverse_sqrt<float>) {
        CHECK(worst == 0);
    }
}

TEST_CASE("exact = true is the plain formula, bit for bit") {
    ctml::rmsprop<> o;
    o.exact = true;
    std::vector<float> p = {1.0f, -2.0f, 3.0f}, g = {0.5f, -1.0f, 0.0f}, v(3, 0.0f);
    std::vector<float> p2 = p;
    o.update(p.data(), g.data(), std::array<float*, 1>{v.data()}, 3, 1);
    for (std::size_t i = 0; i < 3; ++i) {
        const float vi = 0.1f * g[i] * g[i] + 0.9f * 0.0f;
        const float expect = p2[i] - 0.001f * g[i] / (std::sqrt(vi) + 1e-7f);
        CHECK(p[i] == doctest::Approx(expect).epsilon(1e-7));
    }
}

TEST_CASE("an epsilon below the approximation's range takes the exact path") {
    ctml::rmsprop<> fast, exact;
    fast.epsilon = exact.epsilon = 1e-12;
    exact.exact = true;
    std::vector<float> pf(37, 0.0f), pe(37, 0.0f), g(37), vf(37, 0.0f), ve(37, 0.0f);
    for (std::size_t i = 0; i < g.size(); ++i) {
        g[i] = 1e-9f * static_cast<float>(i);
    }
    fast.update(pf.data(), g.data(), std::array<float*, 1>{vf.data()}, g.size(), 1);
    exact.update(pe.data(), g.data(), std::array<float*, 1>{ve.data()}, g.size(), 1);
    CHECK(std::memcmp(pf.data(), pe.data(), pf.size() * sizeof(float)) == 0);
}

TEST_CASE("rmsprop::update_zero_gradient is update() with g = 0, bit for bit") {
    for (const bool exact : {false, true}) {
        ctml::rmsprop<> o;
        o.exact = exact;
        ctml::rng r(3);
        std::vector<float> p(53), g(53, 0.0f), v(53);
        for (std::size_t i = 0; i < p.size(); ++i) {
            p[i] = static_cast<float>(r.uniform() - 0.5);
            v[i] = static_cast<float>(std::pow(10.0, -40.0 + 42.0 * r.uniform())); // denormals too
        }
        v[0] = 0.0f;
        std::vector<float> p2 = p, v2 = v;
        o.update(p.data(), g.data(), std::array<float*, 1>{v.data()}, p.size(), 1);
        o.update_zero_gradient(p2.data(), std::array<float*, 1>{v2.data()}, p2.size(), 1);
        CHECK(std::memcmp(p.data(), p2.data(), p.size() * sizeof(float)) == 0);
        CHECK(std::memcmp(v.data(), v2.data(), v.size() * sizeof(float)) == 0);
    }
}

TEST_CASE_TEMPLATE("an update split into sub-ranges equals one call over the buffer, bit for bit",
                   Opt, ctml::rmsprop<>, ctml::adam<>, ctml::sgd<0.01, 0.9>) {
    // The engine updates the first layer chunk by chunk and skips runs of zero-gradient rows
    // (optim/optimizer.hpp's contract); a scalar tail rounded differently from the SIMD body.
    constexpr std::size_t n = 1001;
    ctml::rng r(5);
    std::vector<float> p0(n), g(n);
    for (std::size_t i = 0; i < n; ++i) {
        p0[i] = static_cast<float>(r.uniform() - 0.5);
        g[i] = static_cast<float>(1e-3 * (r.uniform() - 0.5));
    }
    const std::vector<std::size_t> cuts = {0, 7, 300, 301, 333, 1000, n};
    for (const bool exact : {false, true}) {
        Opt o;
        if constexpr (requires { o.exact; }) {
            o.exact = exact;
        }
        std::vector<float> pa = p0, pb = p0;
        std::array<std::vector<float>, Opt::state_slots> sa, sb;
        std::array<float*, Opt::state_slots> a{}, b{};
        for (std::size_t s = 0; s < Opt::state_slots; ++s) {
            sa[s].assign(n, 0.01f);
            sb[s].assign(n, 0.01f);
            a[s] = sa[s].data();
            b[s] = sb[s].data();
        }
        for (std::size_t t = 1; t <= 2; ++t) {
            o.update(pa.data(), g.data(), a, n, t);
            for (std::size_t c = 0; c + 1 < cuts.size(); ++c) {
                std::array<float*, Opt::state_slots> part{};
                for (std::size_t s = 0; s < Opt::state_slots; ++s) {
                    part[s] = b[s] + cuts[c];
                }
                o.update(pb.data() + cuts[c], g.data() + cuts[c], part, cuts[c + 1] - cuts[c], t);
            }
        }
        CAPTURE(exact);
        CHECK(std::memcmp(pa.data(), pb.data(), n * sizeof(float)) == 0);
        for (std::size_t s = 0; s < Opt::state_slots; ++s) {
            CHECK(std::memcmp(sa[s].data(), sb[s].data(), n * sizeof(float)) == 0);
        }
    }
}
