// SPDX-License-Identifier: MIT
// Shared by the optimizer tests: run an optimizer over a parameter vector for given gradients,
// and read back its hyperparameters and its errors.
#pragma once
#include <doctest/doctest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "ctml/core/error.hpp"
#include "ctml/optim/optimizer.hpp"

namespace optim_check {

// 19 parameters: more than one SIMD batch of floats (8 with AVX2, 16 with AVX-512) or doubles,
// plus a scalar tail, so that both code paths of update() run.
inline constexpr std::size_t n = 19;

inline std::uint64_t fresh_seed() {
    if (const char* s = std::getenv("CTML_TEST_SEED")) {
        return std::stoull(s);
    }
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

/// Runs `steps.size()` updates (1-based iteration numbers) of `opt` from p0 with the given
/// gradients, converting everything to T; returns the parameters after the last step.
template <class T, class Opt>
std::vector<double> run(const Opt& opt, const std::vector<double>& p0,
                        const std::vector<std::vector<double>>& steps) {
    const std::size_t m = p0.size();
    std::vector<T> p(p0.begin(), p0.end()), g(m);
    std::array<std::vector<T>, Opt::state_slots> state;
    std::array<T*, Opt::state_slots> ptrs{};
    for (std::size_t s = 0; s < Opt::state_slots; ++s) {
        state[s].assign(m, T(0));
        ptrs[s] = state[s].data();
    }
    for (std::size_t t = 0; t < steps.size(); ++t) {
        for (std::size_t i = 0; i < m; ++i) {
            g[i] = static_cast<T>(steps[t][i]);
        }
        opt.update(p.data(), g.data(), ptrs, m, t + 1);
    }
    return std::vector<double>(p.begin(), p.end());
}

/// Lays the hand-worked scalar problems out over n parameters: parameter i gets problem i % k.
inline std::pair<std::vector<double>, std::vector<std::vector<double>>>
interleave(const std::vector<double>& p0, const std::vector<std::vector<double>>& grads) {
    const std::size_t k = p0.size();
    std::vector<double> p(n);
    std::vector<std::vector<double>> steps(grads[0].size(), std::vector<double>(n));
    for (std::size_t i = 0; i < n; ++i) {
        p[i] = p0[i % k];
        for (std::size_t t = 0; t < steps.size(); ++t) {
            steps[t][i] = grads[i % k][t];
        }
    }
    return {p, steps};
}

template <class Opt> std::vector<std::pair<std::string, double>> hyperparameters(const Opt& opt) {
    std::vector<std::pair<std::string, double>> v;
    opt.visit_hyperparameters([&](std::string_view k, double x) { v.emplace_back(k, x); });
    return v;
}

/// The message of the config_error that set(key, value) throws ("" when it does not throw).
template <class Opt> std::string set_error(Opt opt, std::string_view key, double value) {
    try {
        opt.set(key, value);
    } catch (const ctml::config_error& e) {
        return e.what();
    }
    return "";
}

} // namespace optim_check
