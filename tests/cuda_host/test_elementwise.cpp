// SPDX-License-Identifier: MIT
// The CUDA kernels' per-element arithmetic (ctml/kernels/cuda/elementwise.hpp), compiled by the
// host compiler and checked against ctml's CPU code on random inputs: activations and their
// derivatives (nn/activations.hpp), the fused bias + activation and activation backward + bias
// gradient (kernels/cpu/fused.hpp), softmax cross-entropy per row (nn/losses.hpp), the optimizer
// updates (optim/*.hpp) and the byte-to-scalar gather (data/dataset.hpp). Runs without a GPU.
//
// Tolerance: the two sides run the same operations in the same order on the same libm, so they
// agree to rounding; each check allows 4 units in the last place of the larger magnitude
// (float: 4 · 2^-23 ≈ 4.8e-7 relative, double: 4 · 2^-52 ≈ 8.9e-16; parameters: of max(|p|, 1);
// sums over rows: 8-64 ulps), which still fails on any change of formula (a missing (1 - rho),
// a sign, eps inside the sqrt).
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <tuple>
#include <vector>

#include "ctml/core/random.hpp"
#include "ctml/data/dataset.hpp"
#include "ctml/kernels/cpu/fused.hpp"
#include "ctml/kernels/cuda/elementwise.hpp"
#include "ctml/nn/activations.hpp"
#include "ctml/nn/losses.hpp"
#include "ctml/optim/adam.hpp"
#include "ctml/optim/rmsprop.hpp"
#include "ctml/optim/sgd.hpp"

namespace cu = ctml::cuda;

namespace {

// floor: the magnitude below which differences are judged absolutely (1 for parameters, which
// are O(1) and may cancel to near 0 in an update).
template <class T>
bool close(T a, T b, T ulps = 4, T floor = std::numeric_limits<T>::min()) {
    const T scale = std::max({std::fabs(a), std::fabs(b), floor});
    return std::fabs(a - b) <= ulps * std::numeric_limits<T>::epsilon() * scale;
}

template <class T>
std::vector<T> uniform(ctml::rng& g, std::size_t n, double lo, double hi) {
    std::vector<T> v(n);
    for (auto& x : v) {
        x = static_cast<T>(g.uniform(lo, hi));
    }
    return v;
}

template <class T>
void require_close(const std::vector<T>& gpu, const std::vector<T>& cpu, const std::string& what,
                   T ulps = 4, T floor = std::numeric_limits<T>::min()) {
    REQUIRE(gpu.size() == cpu.size());
    std::size_t bad = 0;
    std::size_t first = 0;
    for (std::size_t i = 0; i < gpu.size(); ++i) {
        if (!close(gpu[i], cpu[i], ulps, floor)) {
            first = bad++ == 0 ? i : first;
        }
    }
    INFO(what << ": " << bad << " of " << gpu.size() << " differ; first at " << first << ": "
              << (bad ? gpu[first] : T(0)) << " vs " << (bad ? cpu[first] : T(0)));
    CHECK(bad == 0);
}

// Each enumerator with the ctml activation type it stands for.
template <cu::activation A, class Act>
struct pair_of {
    static constexpr cu::activation kind = A;
    using type = Act;
};
using elementwise_pairs =
    std::tuple<pair_of<cu::activation::identity, ctml::identity>,
               pair_of<cu::activation::relu, ctml::relu>, pair_of<cu::activation::tanh, ctml::tanh>,
               pair_of<cu::activation::sigmoid, ctml::sigmoid>>;

template <class F>
void for_each_pair(F&& f) {
    std::apply([&](auto... p) { (f(p), ...); }, elementwise_pairs{});
}

} // namespace

TEST_CASE_TEMPLATE("activation forward and derivative match ctml's activation types", T, float,
                   double) {
    ctml::rng g(1);
    // Wide enough to reach sigmoid's two branches and tanh's saturation, plus exact zeros
    // (relu'(0) = 0 on both sides).
    auto z = uniform<T>(g, 4096, -30, 30);
    std::fill(z.begin(), z.begin() + 8, T(0));
    for_each_pair([&](auto p) {
        using P = decltype(p);
        using Act = typename P::type;
        std::vector<T> y_gpu(z.size()), y_cpu(z.size()), d_gpu(z.size()), d_cpu(z.size());
        for (std::size_t i = 0; i < z.size(); ++i) {
            y_gpu[i] = cu::activate<P::kind>(z[i]);
            y_cpu[i] = Act::apply(z[i]);
            d_gpu[i] = cu::derivative_from_output<P::kind>(y_cpu[i]);
            d_cpu[i] = Act::derivative(y_cpu[i]);
        }
        require_close(y_gpu, y_cpu, std::string("forward ") + cu::to_string(P::kind));
        require_close(d_gpu, d_cpu, std::string("derivative ") + cu::to_string(P::kind));
    });
}

TEST_CASE("activation enumerators are spelled as ctml's activation types") {
    CHECK(std::string(cu::to_string(cu::activation::identity)) == "identity");
    CHECK(std::string(cu::to_string(cu::activation::relu)) == std::string(ctml::relu::name));
    CHECK(std::string(cu::to_string(cu::activation::tanh)) == std::string(ctml::tanh::name));
    CHECK(std::string(cu::to_string(cu::activation::sigmoid)) == std::string(ctml::sigmoid::name));
    CHECK(std::string(cu::to_string(cu::activation::softmax)) == std::string(ctml::softmax::name));
}

TEST_CASE_TEMPLATE("bias + activation and activation backward + bias gradient match the CPU "
                   "fused kernels",
                   T, float, double) {
    ctml::rng g(2);
    constexpr std::size_t rows = 37, cols = 53; // no multiple of a vector width
    const auto gemm_out = uniform<T>(g, rows * cols, -4, 4);
    const auto bias = uniform<T>(g, cols, -1, 1);
    const auto upstream = uniform<T>(g, rows * cols, -2, 2);
    for_each_pair([&](auto p) {
        using P = decltype(p);
        using Act = typename P::type;
        std::vector<T> y_cpu = gemm_out;
        ctml::kernels::cpu::bias_activation<Act>(y_cpu.data(), bias.data(), rows, cols);
        std::vector<T> y_gpu(rows * cols);
        for (std::size_t i = 0; i < rows * cols; ++i) {
            y_gpu[i] = cu::bias_activate<P::kind>(gemm_out[i], bias[i % cols]);
        }
        require_close(y_gpu, y_cpu, std::string("bias+activation ") + cu::to_string(P::kind));

        std::vector<T> d_cpu = upstream, db_cpu(cols);
        ctml::kernels::cpu::activation_backward_bias<Act>(y_cpu.data(), d_cpu.data(), rows, cols,
                                                          db_cpu.data());
        // The kernel's structure on the host: element function, then column sums in row order
        // (the device sums 8 row lanes and then the lanes: a different order, so the bias
        // gradient gets a looser bound below).
        std::vector<T> d_gpu(rows * cols), db_gpu(cols, T(0));
        for (std::size_t i = 0; i < rows * cols; ++i) {
            d_gpu[i] = cu::activation_backward<P::kind>(upstream[i], y_cpu[i]);
            db_gpu[i % cols] += d_gpu[i];
        }
        require_close(d_gpu, d_cpu, std::string("activation backward ") + cu::to_string(P::kind));
        require_close(db_gpu, db_cpu, std::string("bias gradient ") + cu::to_string(P::kind));
    });
}

TEST_CASE_TEMPLATE("softmax cross-entropy of a row matches ctml's fused loss", T, float, double) {
    ctml::rng g(3);
    for (const double spread : {3.0, 1e4}) { // ordinary logits, and logits that overflow exp
        CAPTURE(spread);
        constexpr std::size_t rows = 64, k = 10;
        const auto z = uniform<T>(g, rows * k, -spread, spread);
        std::vector<std::int32_t> labels(rows);
        for (auto& l : labels) {
            l = static_cast<std::int32_t>(g.below(k));
        }
        const T scale = T(1) / static_cast<T>(rows);
        std::vector<T> p_cpu(rows * k), d_cpu(rows * k);
        const ctml::target_view<T> t{labels.data(), nullptr};
        const auto cpu = ctml::sparse_categorical_crossentropy::fused(z.data(), t, rows, k, scale,
                                                                      p_cpu.data(), d_cpu.data());
        std::vector<T> d_gpu(rows * k);
        T loss_gpu = 0;
        std::size_t correct_gpu = 0;
        for (std::size_t r = 0; r < rows; ++r) {
            const auto m = cu::softmax_cross_entropy_row(z.data() + r * k, k, labels[r], scale,
                                                         d_gpu.data() + r * k);
            CHECK(std::isfinite(m.loss));
            loss_gpu += m.loss;
            correct_gpu += m.correct ? 1 : 0;
        }
        CHECK(close(loss_gpu, cpu.loss_sum, T(64)));
        CHECK(correct_gpu == cpu.correct);
        require_close(d_gpu, d_cpu, "softmax cross-entropy gradient", T(8));
        // Without a gradient buffer (evaluation) the metrics are the same.
        const auto m0 = cu::softmax_cross_entropy_row<T>(z.data(), k, labels[0], scale, nullptr);
        const auto m1 = cu::softmax_cross_entropy_row<T>(z.data(), k, labels[0], scale,
                                                         d_gpu.data());
        CHECK(m0.loss == m1.loss);
        CHECK(m0.correct == m1.correct);
    }
}

TEST_CASE("the warp's argmax reduction equals a sequential first-index argmax") {
    // softmax_cross_entropy_kernel: lane l folds columns l, l+32, ...; then a xor butterfly
    // merges lanes. Simulated here for rows narrower and wider than a warp, with ties.
    ctml::rng g(4);
    for (const std::uint32_t classes : {1u, 10u, 31u, 32u, 33u, 100u}) {
        for (int trial = 0; trial < 50; ++trial) {
            std::vector<float> z(classes);
            for (auto& v : z) {
                v = static_cast<float>(g.below(4)); // few values: many ties
            }
            std::array<cu::argmax_state<float>, 32> lane{};
            for (std::uint32_t l = 0; l < 32; ++l) {
                lane[l] = {0.0f, classes};
                for (std::uint32_t j = l; j < classes; j += 32) {
                    cu::argmax_update(lane[l], z[j], j, classes);
                }
            }
            for (std::uint32_t offset = 16; offset > 0; offset /= 2) {
                auto next = lane;
                for (std::uint32_t l = 0; l < 32; ++l) {
                    next[l] = cu::argmax_merge(lane[l], lane[l ^ offset], classes);
                }
                lane = next;
            }
            const auto expected = static_cast<std::uint32_t>(
                std::max_element(z.begin(), z.end()) - z.begin());
            for (std::uint32_t l = 0; l < 32; ++l) {
                REQUIRE(lane[l].index == expected);
            }
        }
    }
}

namespace {

// n parameters not a multiple of any vector width, several steps: the CPU optimizer's SIMD body
// and scalar tail both run.
constexpr std::size_t opt_n = 1027;
constexpr std::size_t opt_steps = 6;

template <class T, class Cpu, class Gpu>
void compare_optimizer(const char* what, std::size_t slots, Cpu&& cpu_step, Gpu&& gpu_step) {
    ctml::rng g(5);
    std::vector<T> p_cpu = uniform<T>(g, opt_n, -1, 1);
    std::vector<T> p_gpu = p_cpu;
    std::vector<T> s1_cpu(opt_n, T(0)), s2_cpu(opt_n, T(0)), s1_gpu(opt_n, T(0)),
        s2_gpu(opt_n, T(0));
    for (std::size_t t = 1; t <= opt_steps; ++t) {
        // Gradients over six orders of magnitude, and some exact zeros.
        std::vector<T> grad(opt_n);
        for (std::size_t i = 0; i < opt_n; ++i) {
            grad[i] = i % 17 == 0 ? T(0)
                                  : static_cast<T>(g.uniform(-1, 1) * std::pow(10.0, -g.uniform(0, 6)));
        }
        cpu_step(p_cpu.data(), grad.data(), s1_cpu.data(), s2_cpu.data(), t);
        gpu_step(p_gpu.data(), grad.data(), s1_gpu.data(), s2_gpu.data(), t);
    }
    // Parameters against their own scale (1): the CPU's nesterov update associates
    // p + μv - lr·g as (p + μv) - lr·g in its SIMD body and p + (μv - lr·g) in its tail, so
    // where p nearly cancels the two differ by an ulp of p, not of the result.
    require_close(p_gpu, p_cpu, std::string(what) + " parameters", T(4), T(1));
    require_close(s1_gpu, s1_cpu, std::string(what) + " first state");
    if (slots == 2) {
        require_close(s2_gpu, s2_cpu, std::string(what) + " second state");
    }
}

// The host side of mlp_trainer::coefficients(), for the element updates.
template <class T>
cu::optimizer_coefficients<T> coefficients(double lr, double decay, double decay_2, double eps,
                                           bool nesterov) {
    cu::optimizer_coefficients<T> c{};
    c.learning_rate = static_cast<T>(lr);
    c.decay = static_cast<T>(decay);
    c.one_minus_decay = static_cast<T>(1 - decay);
    c.decay_2 = static_cast<T>(decay_2);
    c.one_minus_decay_2 = static_cast<T>(1 - decay_2);
    c.epsilon = static_cast<T>(eps);
    c.learning_rate_d = lr;
    c.beta_1_d = decay;
    c.beta_2_d = decay_2;
    c.nesterov = nesterov;
    return c;
}

template <cu::optimizer_kind K, class T>
auto gpu_update(const cu::optimizer_coefficients<T>& c) {
    return [c](T* p, const T* g, T* s1, T* s2, std::size_t t) {
        T lr_t = c.learning_rate;
        if constexpr (K == cu::optimizer_kind::adam) {
            lr_t = static_cast<T>(cu::adam_step_size(c.learning_rate_d, c.beta_1_d, c.beta_2_d,
                                                     static_cast<double>(t)));
        }
        for (std::size_t i = 0; i < opt_n; ++i) {
            cu::optimizer_update<K>(p[i], g[i], s1[i], s2[i], c, lr_t);
        }
    };
}

} // namespace

TEST_CASE_TEMPLATE("optimizer element updates match ctml's optimizers", T, float, double) {
    SUBCASE("sgd") {
        const ctml::sgd<0.05, 0.0, false> o;
        compare_optimizer<T>("sgd", 1,
                             [&](T* p, const T* g, T* s1, T*, std::size_t t) {
                                 o.update(p, g, std::array<T*, 1>{s1}, opt_n, t);
                             },
                             gpu_update<cu::optimizer_kind::sgd>(
                                 coefficients<T>(o.learning_rate, o.momentum, 0, 0, o.nesterov)));
    }
    SUBCASE("momentum sgd") {
        const ctml::momentum_sgd o;
        compare_optimizer<T>("momentum sgd", 1,
                             [&](T* p, const T* g, T* s1, T*, std::size_t t) {
                                 o.update(p, g, std::array<T*, 1>{s1}, opt_n, t);
                             },
                             gpu_update<cu::optimizer_kind::sgd>(
                                 coefficients<T>(o.learning_rate, o.momentum, 0, 0, o.nesterov)));
    }
    SUBCASE("nesterov sgd") {
        const ctml::sgd<0.01, 0.9, true> o;
        compare_optimizer<T>("nesterov sgd", 1,
                             [&](T* p, const T* g, T* s1, T*, std::size_t t) {
                                 o.update(p, g, std::array<T*, 1>{s1}, opt_n, t);
                             },
                             gpu_update<cu::optimizer_kind::sgd>(
                                 coefficients<T>(o.learning_rate, o.momentum, 0, 0, o.nesterov)));
    }
    SUBCASE("rmsprop") {
        const ctml::rmsprop<> o;
        compare_optimizer<T>("rmsprop", 1,
                             [&](T* p, const T* g, T* s1, T*, std::size_t t) {
                                 o.update(p, g, std::array<T*, 1>{s1}, opt_n, t);
                             },
                             gpu_update<cu::optimizer_kind::rmsprop>(
                                 coefficients<T>(o.learning_rate, o.rho, 0, o.epsilon, false)));
    }
    SUBCASE("adam") {
        const ctml::adam<> o;
        compare_optimizer<T>("adam", 2,
                             [&](T* p, const T* g, T* s1, T* s2, std::size_t t) {
                                 o.update(p, g, std::array<T*, 2>{s1, s2}, opt_n, t);
                             },
                             gpu_update<cu::optimizer_kind::adam>(coefficients<T>(
                                 o.learning_rate, o.beta_1, o.beta_2, o.epsilon, false)));
    }
}

TEST_CASE_TEMPLATE("the byte-to-scalar gather matches dataset::gather_features", T, float,
                   double) {
    ctml::dataset<std::uint8_t> d;
    d.dim = 784;
    d.scale = 1.0 / 255.0;
    d.features.resize(20 * d.dim);
    std::iota(d.features.begin(), d.features.end(), std::uint8_t{0}); // every byte value
    const std::vector<std::size_t> rows{3, 0, 19, 7, 7};
    std::vector<T> cpu(rows.size() * d.dim);
    d.gather_features<T>(rows, cpu.data());
    std::vector<T> gpu(cpu.size());
    const T scale = static_cast<T>(d.scale);
    for (std::size_t r = 0; r < rows.size(); ++r) {
        for (std::size_t j = 0; j < d.dim; ++j) {
            gpu[r * d.dim + j] = cu::byte_to_scalar(d.features[rows[r] * d.dim + j], scale);
        }
    }
    CHECK(gpu == cpu); // the same two roundings: bit for bit
}
