// SPDX-License-Identifier: MIT
// Shared by the gradient-check tests: fresh random problems, a reference forward pass written
// out with plain loops (independent of ctml's kernels), and the finite-difference comparison.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "ctml/core/random.hpp"
#include "ctml/engine/cpu.hpp"
#include "ctml/nn/losses.hpp"
#include "ctml/nn/network.hpp"
#include "ctml/optim/sgd.hpp"
#include "ctml/train/run_config.hpp"

namespace grad_check {

/// A seed that differs on every run; printed by the caller (INFO) so a failure can be replayed
/// by setting CTML_TEST_SEED.
inline std::uint64_t fresh_seed() {
    if (const char* s = std::getenv("CTML_TEST_SEED")) {
        return std::stoull(s);
    }
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

// The activations again, written from their definitions (not from ctml's code).
template <class Act>
void reference_activation(std::vector<double>& z, std::size_t rows, std::size_t cols) {
    for (std::size_t i = 0; i < rows; ++i) {
        double* zi = z.data() + i * cols;
        if constexpr (std::is_same_v<Act, ctml::softmax>) {
            double s = 0;
            for (std::size_t j = 0; j < cols; ++j) {
                s += std::exp(zi[j]);
            }
            for (std::size_t j = 0; j < cols; ++j) {
                zi[j] = std::exp(zi[j]) / s;
            }
        } else {
            for (std::size_t j = 0; j < cols; ++j) {
                const double v = zi[j];
                if constexpr (std::is_same_v<Act, ctml::relu>) {
                    zi[j] = v > 0 ? v : 0.0;
                } else if constexpr (std::is_same_v<Act, ctml::tanh>) {
                    zi[j] = std::tanh(v);
                } else if constexpr (std::is_same_v<Act, ctml::sigmoid>) {
                    zi[j] = 1.0 / (1.0 + std::exp(-v));
                } else {
                    static_assert(std::is_same_v<Act, ctml::identity>);
                }
            }
        }
    }
}

/// Layer by layer with naive loops: pre[l] is layer l's x·W + b, the result is the output.
/// Also reports the smallest |pre-activation| of any relu layer (how close to the kink).
/// A dropout layer is the identity (inference), or multiplies by masks[l] when given.
struct reference_pass {
    std::vector<std::vector<double>> pre;
    std::vector<double> out;
    double relu_margin = INFINITY;
};

template <class Arch>
reference_pass reference_forward(const ctml::network<Arch, double>& net,
                                 const std::vector<double>& x, std::size_t rows,
                                 const std::vector<std::vector<double>>& masks = {}) {
    reference_pass r;
    std::vector<double> a = x;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (
            [&] {
                using L = typename Arch::template layer_type<I>;
                if constexpr (!L::has_parameters) {
                    r.pre.push_back(a);
                    if (!masks.empty()) {
                        for (std::size_t k = 0; k < a.size(); ++k) {
                            a[k] *= masks[I][k];
                        }
                    }
                    return;
                } else {
                using Act = typename L::activation_type;
                const std::size_t in = net.width(I), out = net.width(I + 1);
                const auto w = net.kernel(I);
                const auto b = net.bias(I);
                std::vector<double> z(rows * out);
                for (std::size_t i = 0; i < rows; ++i) {
                    for (std::size_t j = 0; j < out; ++j) {
                        double s = b[j];
                        for (std::size_t p = 0; p < in; ++p) {
                            s += a[i * in + p] * w[p * out + j];
                        }
                        z[i * out + j] = s;
                        if constexpr (std::is_same_v<Act, ctml::relu>) {
                            r.relu_margin = std::min(r.relu_margin, std::abs(s));
                        }
                    }
                }
                r.pre.push_back(z);
                reference_activation<Act>(z, rows, out);
                a = std::move(z);
                }
            }(),
            ...);
    }
    (std::make_index_sequence<Arch::layer_count>{});
    r.out = std::move(a);
    return r;
}

/// Random targets for `rows` rows of `k` outputs: labels in [0, k) and dense rows.
struct targets {
    std::vector<std::int32_t> labels;
    std::vector<double> dense;
};

enum class target_kind { labels, probabilities, unnormalized, real };

inline targets random_targets(ctml::rng& r, std::size_t rows, std::size_t k, target_kind kind) {
    targets t;
    for (std::size_t i = 0; i < rows; ++i) {
        t.labels.push_back(static_cast<std::int32_t>(r.below(k)));
    }
    if (kind == target_kind::labels) {
        return t;
    }
    t.dense.resize(rows * k);
    for (std::size_t i = 0; i < rows; ++i) {
        double s = 0;
        for (std::size_t j = 0; j < k; ++j) {
            t.dense[i * k + j] =
                kind == target_kind::real ? r.uniform(-1.5, 1.5) : r.uniform(0.05, 1);
            s += t.dense[i * k + j];
        }
        if (kind == target_kind::probabilities) {
            for (std::size_t j = 0; j < k; ++j) {
                t.dense[i * k + j] /= s;
            }
        }
    }
    return t;
}

struct result {
    double max_rel = 0;    // worst relative error over all parameters
    std::size_t worst = 0; // its index in net.parameters()
    double analytic = 0, numeric = 0;
    std::size_t checked = 0;
    double max_abs_grad = 0; // so that a check of all-zero gradients cannot pass unnoticed
};

// Relative error with a floor in the denominator: a gradient entry near zero is compared
// absolutely (|a - n| / floor) instead of dividing rounding noise by nearly nothing.
inline constexpr double rel_floor = 1e-3;
inline double relative_error(double a, double n) {
    return std::abs(a - n) / std::max({std::abs(a), std::abs(n), rel_floor});
}

/// The job a test trains: double precision and plain SGD unless told.
template <class Arch, class Loss, class Optimizer = ctml::sgd<>, class T = double>
using test_job = ctml::run_config<Arch, Loss, Optimizer, ctml::scalar<T>>;

/// A CPU engine for `net` with `batch` rows per step and `threads` step threads.
template <class Job>
struct engine_for {
    static typename Job::settings_type settings(const typename Job::network_type& net,
                                                std::size_t batch, std::size_t threads,
                                                std::uint64_t seed = 0) {
        auto s = Job::defaults();
        s.widths = net.configured_widths();
        s.batch_size = batch;
        s.threads = threads;
        s.seed = seed;
        return s;
    }
};

/// Analytic gradients of the mean loss (cpu_engine::forward_backward) against central finite
/// differences (steps ±h, ±2h) of the mean loss, for every parameter. The loss is recomputed
/// with cpu_engine::evaluate_batch, or, with `training` (dropout with masks fixed), with
/// forward_backward itself. `x` (rows × input width) is copied into the engine's input.
/// `threads`: the engine's step threads (large layers are then split in column blocks);
/// `only`: the parameter indices to check (all when empty).
template <class Arch, class Loss>
result check(ctml::network<Arch, double>& net, const std::vector<double>& x, std::size_t rows,
             const targets& t, bool use_labels, std::size_t threads = 1,
             const std::vector<std::size_t>& only = {}, double h = 1e-4, bool training = false,
             std::uint64_t seed = 0) {
    using job = test_job<Arch, Loss>;
    // The batch is larger than `rows`: the gradient must be the mean over `rows`, not the batch.
    ctml::cpu_engine<job> tr(net, engine_for<job>::settings(net, rows + 3, threads, seed));
    REQUIRE(tr.threads() == threads);
    if (training) {
        tr.fix_dropout_masks(true);
    }
    std::copy(x.begin(), x.end(), tr.input());
    const ctml::target_view<double> tv{use_labels ? t.labels.data() : nullptr,
                                       use_labels ? nullptr : t.dense.data()};
    tr.forward_backward(tv, rows);
    const std::vector<double> g(tr.gradients().begin(), tr.gradients().end());
    auto p = net.parameters();
    REQUIRE(g.size() == p.size());
    result r;
    const double n = static_cast<double>(rows);
    for (std::size_t k = 0; k < (only.empty() ? p.size() : only.size()); ++k) {
        const std::size_t i = only.empty() ? k : only[k];
        const double saved = p[i];
        auto loss_at = [&](double d) {
            p[i] = saved + d;
            return (training ? tr.forward_backward(tv, rows) : tr.evaluate_batch(tv, rows))
                       .loss_sum /
                   n;
        };
        // Fourth-order central difference: its truncation error (h⁴) is negligible at h = 1e-4,
        // where rounding in the loss costs ~1e-11 (the two-point formula at h = 1e-6 is
        // limited by rounding to ~5e-7 relative error, too close to the 1e-6 bar).
        const double numeric =
            (8 * (loss_at(h) - loss_at(-h)) - (loss_at(2 * h) - loss_at(-2 * h))) / (12 * h);
        p[i] = saved;
        const double e = relative_error(g[i], numeric);
        r.max_abs_grad = std::max(r.max_abs_grad, std::abs(g[i]));
        if (e >= r.max_rel) {
            r.max_rel = e;
            r.worst = i;
            r.analytic = g[i];
            r.numeric = numeric;
        }
        ++r.checked;
    }
    return r;
}

/// Fresh random parameters (the layer's initializer for kernels, random biases so that the bias
/// path is exercised too) and inputs; redrawn until every relu pre-activation is at least
/// `margin` away from the kink, where finite differences are meaningless.
template <class Arch>
std::vector<double> randomize(ctml::network<Arch, double>& net, ctml::rng& r, std::size_t rows,
                              double margin = 1e-2) {
    net.initialize(r.next());
    for (std::size_t l = 0; l < Arch::layer_count; ++l) {
        for (auto& b : net.bias(l)) { // empty for a dropout
            b = r.uniform(-0.5, 0.5);
        }
    }
    std::vector<double> x(rows * net.input_width());
    for (int attempt = 0; attempt < 1000; ++attempt) {
        for (auto& v : x) {
            v = r.uniform(-1, 1);
        }
        if (reference_forward(net, x, rows).relu_margin >= margin) {
            return x;
        }
    }
    FAIL("could not draw inputs away from the relu kink");
    return x;
}

} // namespace grad_check
