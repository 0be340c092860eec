// SPDX-License-Identifier: MIT
// ctml::network and ctml::sequential: the forward pass against plain loops, gradients of every
// activation and of multi-layer networks (linear<>, dynamic widths) against finite differences,
// parameter layout and count, initializers, layer_widths errors.
#include "ctml/nn/network.hpp"

#include <doctest/doctest.h>

#include "ctml/engine/inference.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "ctml/nn/losses.hpp"
#include "ctml/nn/sequential.hpp"
#include "grad_check.hpp"

namespace {

using keras_net = ctml::sequential<ctml::input<784>, ctml::dense<300, ctml::relu>,
                                   ctml::dense<100, ctml::relu>, ctml::dense<10, ctml::softmax>>;
// 784·300 + 300 + 300·100 + 100 + 100·10 + 10
static_assert(keras_net::parameter_count == 266610);
static_assert(keras_net::layer_count == 3);
static_assert(keras_net::all_static);
static_assert(std::is_same_v<keras_net::output_activation, ctml::softmax>);

using chainer_net =
    ctml::sequential<ctml::input<784>, ctml::linear<784, 100, ctml::relu>,
                     ctml::linear<100, 100, ctml::relu>, ctml::linear<100, 10, ctml::softmax>>;
static_assert(chainer_net::parameter_count == 784 * 100 + 100 + 100 * 100 + 100 + 100 * 10 + 10);

using sweep_net = ctml::sequential<ctml::input<784>, ctml::dense<ctml::dynamic, ctml::relu>,
                                   ctml::dense<100, ctml::relu>, ctml::dense<10, ctml::softmax>>;
static_assert(!sweep_net::all_static);
static_assert(sweep_net::parameter_count == ctml::dynamic);
static_assert(sweep_net::static_widths[1] == ctml::dynamic);

// The concepts accept what they should and refuse what they should.
static_assert(ctml::architecture<keras_net>);
static_assert(!ctml::architecture<ctml::dense<3>>);
static_assert(ctml::layer<ctml::dense<3, ctml::relu>>);
static_assert(ctml::layer<ctml::linear<2, 3, ctml::tanh>>);
static_assert(!ctml::layer<ctml::input<3>>);
static_assert(!ctml::layer<int>);
static_assert(ctml::activation<ctml::identity> && ctml::activation<ctml::relu> &&
              ctml::activation<ctml::tanh> && ctml::activation<ctml::sigmoid> &&
              ctml::activation<ctml::softmax>);
static_assert(!ctml::activation<int> && !ctml::activation<ctml::glorot_uniform>);
static_assert(ctml::initializer<ctml::glorot_uniform> && ctml::initializer<ctml::he_normal> &&
              ctml::initializer<ctml::lecun_normal> && ctml::initializer<ctml::zeros>);
static_assert(!ctml::initializer<ctml::relu>);

void require_gradients_match(const grad_check::result& r) {
    INFO("parameters checked: " << r.checked << ", worst index " << r.worst << ": analytic "
                                << r.analytic << " vs numeric " << r.numeric);
    CHECK(r.checked > 0);
    CHECK(r.max_abs_grad > 1e-3); // the check compared something
    CHECK(r.max_rel < 1e-6);
}

} // namespace

TEST_CASE("network: parameter count and layout of the Keras network") {
    ctml::network<keras_net> net;
    CHECK(net.parameter_count() == 266610);
    CHECK(net.input_width() == 784);
    CHECK(net.output_width() == 10);
    // [W0 | b0 | W1 | b1 | W2 | b2], back to back.
    CHECK(net.kernel_offset(0) == 0);
    CHECK(net.bias_offset(0) == 784 * 300);
    CHECK(net.kernel_offset(1) == 784 * 300 + 300);
    CHECK(net.bias_offset(1) == net.kernel_offset(1) + 300 * 100);
    CHECK(net.kernel_offset(2) == net.bias_offset(1) + 100);
    CHECK(net.bias_offset(2) + 10 == net.parameter_count());
    CHECK(net.kernel(1).data() == net.parameters().data() + net.kernel_offset(1));
    CHECK(net.bias(2).size() == 10);
    // One aligned buffer.
    CHECK(reinterpret_cast<std::uintptr_t>(net.parameters().data()) % CTML_BUFFER_ALIGNMENT == 0);
}

TEST_CASE("network: dynamic widths come from layer_widths") {
    ctml::network<sweep_net> net(
        ctml::layer_widths<sweep_net>{}.set(0, 300, "--first-layer-neurons"));
    CHECK(net.parameter_count() == keras_net::parameter_count);
    CHECK(net.width(1) == 300);
    ctml::network<sweep_net> small(ctml::layer_widths<sweep_net>{}.set(0, 20));
    CHECK(small.parameter_count() == 784 * 20 + 20 + 20 * 100 + 100 + 100 * 10 + 10);
    // Setting a compiled width to its own value is allowed.
    CHECK_NOTHROW(ctml::layer_widths<sweep_net>{}.set(1, 100, "--second-layer-neurons"));
}

TEST_CASE("layer_widths: a conflicting width names the flag and the compiled width") {
    ctml::layer_widths<keras_net> w;
    try {
        w.set(1, 64, "--second-layer-neurons");
        FAIL("expected ctml::config_error");
    } catch (const ctml::config_error& e) {
        const std::string m = e.what();
        INFO(m);
        CHECK(m.find("--second-layer-neurons") != std::string::npos);
        CHECK(m.find("64") != std::string::npos);
        CHECK(m.find("compiled width 100") != std::string::npos);
        CHECK(m.find("ctml::dynamic") != std::string::npos);
    }
    CHECK(w[1] == 100); // unchanged after the refusal
    CHECK_THROWS_WITH_AS(w.set(3, 10, "--third"), doctest::Contains("does not exist"),
                         ctml::config_error);
    CHECK_THROWS_WITH_AS(w.set(0, 0, "--first-layer-neurons"),
                         doctest::Contains("--first-layer-neurons"), ctml::config_error);
}

TEST_CASE("layer_widths: a dynamic width that was never set is an error naming the layer") {
    using net_t =
        ctml::sequential<ctml::input<4>, ctml::dense<8, ctml::relu>,
                         ctml::dense<ctml::dynamic, ctml::relu>, ctml::dense<2, ctml::softmax>>;
    try {
        ctml::network<net_t> net{ctml::layer_widths<net_t>{}};
        FAIL("expected ctml::config_error");
    } catch (const ctml::config_error& e) {
        const std::string m = e.what();
        INFO(m);
        CHECK(m.find("layer 1") != std::string::npos);
        CHECK(m.find("dynamic") != std::string::npos);
    }
    ctml::network<net_t> net(ctml::layer_widths<net_t>{}.set(1, 5));
    CHECK(net.parameter_count() == 4 * 8 + 8 + 8 * 5 + 5 + 5 * 2 + 2);
}

TEST_CASE("initializers: same seed same bits, different seed different weights, zero biases") {
    ctml::network<keras_net> a, b, c;
    a.initialize(42);
    b.initialize(42);
    c.initialize(43);
    REQUIRE(a.parameter_count() == b.parameter_count());
    CHECK(std::memcmp(a.parameters().data(), b.parameters().data(),
                      a.parameter_count() * sizeof(float)) == 0);
    CHECK(std::memcmp(a.parameters().data(), c.parameters().data(),
                      a.parameter_count() * sizeof(float)) != 0);
    for (std::size_t l = 0; l < keras_net::layer_count; ++l) {
        const auto bias = a.bias(l);
        CHECK(std::all_of(bias.begin(), bias.end(), [](float v) { return v == 0.0f; }));
    }
    // glorot_uniform: within ±sqrt(6 / (fan_in + fan_out)), spread over the whole interval.
    const auto k0 = a.kernel(0);
    const float limit = std::sqrt(6.0f / (784 + 300));
    const auto [lo, hi] = std::minmax_element(k0.begin(), k0.end());
    CHECK(*lo >= -limit);
    CHECK(*hi <= limit);
    CHECK(*lo < -0.99f * limit);
    CHECK(*hi > 0.99f * limit);
}

TEST_CASE("initializers: he_normal, lecun_normal and zeros draw what they promise") {
    using net_t = ctml::sequential<ctml::input<400>, ctml::dense<500, ctml::relu, ctml::he_normal>,
                                   ctml::linear<500, 300, ctml::tanh>,
                                   ctml::dense<10, ctml::softmax, ctml::zeros>>;
    ctml::network<net_t, double> net;
    net.initialize(7);
    auto moments = [](std::span<const double> v) {
        double s = 0, s2 = 0, m = 0;
        for (double x : v) {
            s += x;
            s2 += x * x;
            m = std::max(m, std::abs(x));
        }
        const double n = static_cast<double>(v.size());
        return std::array<double, 3>{s / n, std::sqrt(s2 / n - (s / n) * (s / n)), m};
    };
    // he_normal: stddev sqrt(2 / fan_in), truncated at two (unscaled) standard deviations.
    const auto he = moments(net.kernel(0));
    const double he_sd = std::sqrt(2.0 / 400);
    CHECK(std::abs(he[0]) < 0.01 * he_sd);
    CHECK(he[1] == doctest::Approx(he_sd).epsilon(0.02));
    CHECK(he[2] <= 2 * he_sd / 0.87962566103423978 + 1e-12);
    // lecun_normal (linear's default): N(0, 1 / fan_in), not truncated.
    const auto lc = moments(net.kernel(1));
    const double lc_sd = std::sqrt(1.0 / 500);
    CHECK(lc[1] == doctest::Approx(lc_sd).epsilon(0.02));
    CHECK(lc[2] > 3 * lc_sd);
    const auto z = net.kernel(2);
    CHECK(std::all_of(z.begin(), z.end(), [](double v) { return v == 0.0; }));
}

TEST_CASE("network: forward pass and predict agree with plain loops") {
    using net_t = ctml::sequential<ctml::input<9>, ctml::dense<ctml::dynamic, ctml::sigmoid>,
                                   ctml::linear<11, 6, ctml::relu>, ctml::dense<4, ctml::tanh>,
                                   ctml::dense<5, ctml::softmax>>;
    const auto seed = grad_check::fresh_seed();
    INFO("seed " << seed);
    ctml::rng r(seed);
    ctml::network<net_t, double> net(ctml::layer_widths<net_t>{}.set(0, 11));
    const std::size_t rows = 300; // more than predict's internal chunk of 256 rows
    const auto x = grad_check::randomize(net, r, rows, 0.0);
    const auto ref = grad_check::reference_forward(net, x, rows);
    std::vector<double> out(rows * 5);
    ctml::predict(net, std::span<const double>(x), rows, std::span<double>(out));
    double worst = 0;
    for (std::size_t i = 0; i < out.size(); ++i) {
        worst = std::max(worst, std::abs(out[i] - ref.out[i]));
    }
    CHECK(worst < 1e-12);
    for (std::size_t i = 0; i < rows; ++i) {
        double s = 0;
        for (std::size_t j = 0; j < 5; ++j) {
            s += out[i * 5 + j];
        }
        CHECK(s == doctest::Approx(1.0).epsilon(1e-12));
    }
    CHECK_THROWS_AS(ctml::predict(net, std::span<const double>(x.data(), x.size() - 1), rows,
                                  std::span<double>(out)),
                    ctml::data_error);
}

TEST_CASE_TEMPLATE("gradient check: hidden activation (sparse categorical cross-entropy)", Act,
                   ctml::identity, ctml::relu, ctml::tanh, ctml::sigmoid) {
    using net_t =
        ctml::sequential<ctml::input<5>, ctml::dense<7, Act>, ctml::dense<3, ctml::softmax>>;
    const auto seed = grad_check::fresh_seed();
    INFO("seed " << seed << " (replay with CTML_TEST_SEED=" << seed << ")");
    ctml::rng r(seed);
    ctml::network<net_t, double> net;
    const std::size_t rows = 5;
    const auto x = grad_check::randomize(net, r, rows);
    const auto t = grad_check::random_targets(r, rows, 3, grad_check::target_kind::labels);
    require_gradients_match(
        grad_check::check<net_t, ctml::sparse_categorical_crossentropy>(net, x, rows, t, true));
}

TEST_CASE_TEMPLATE("gradient check: output activation (mean squared error)", Act, ctml::identity,
                   ctml::relu, ctml::tanh, ctml::sigmoid, ctml::softmax) {
    using net_t = ctml::sequential<ctml::input<5>, ctml::dense<6, ctml::tanh>, ctml::dense<4, Act>>;
    const auto seed = grad_check::fresh_seed();
    INFO("seed " << seed << " (replay with CTML_TEST_SEED=" << seed << ")");
    ctml::rng r(seed);
    ctml::network<net_t, double> net;
    const std::size_t rows = 6;
    const auto x = grad_check::randomize(net, r, rows);
    const auto t = grad_check::random_targets(r, rows, 4, grad_check::target_kind::real);
    require_gradients_match(
        grad_check::check<net_t, ctml::mean_squared_error>(net, x, rows, t, false));
}

TEST_CASE("gradient check: deep network with linear<>, a dynamic width and every initializer") {
    using net_t = ctml::sequential<ctml::input<6>, ctml::linear<6, 9, ctml::tanh>,
                                   ctml::dense<ctml::dynamic, ctml::relu, ctml::he_normal>,
                                   ctml::dense<8, ctml::sigmoid, ctml::lecun_normal>,
                                   ctml::dense<5, ctml::identity, ctml::glorot_uniform>,
                                   ctml::linear<5, 4, ctml::softmax>>;
    const auto seed = grad_check::fresh_seed();
    INFO("seed " << seed << " (replay with CTML_TEST_SEED=" << seed << ")");
    ctml::rng r(seed);
    const std::size_t hidden = 3 + r.below(10);
    INFO("dynamic width " << hidden);
    ctml::network<net_t, double> net(ctml::layer_widths<net_t>{}.set(1, hidden, "--hidden"));
    const std::size_t rows = 7;
    const auto x = grad_check::randomize(net, r, rows);
    const auto t = grad_check::random_targets(r, rows, 4, grad_check::target_kind::probabilities);
    require_gradients_match(
        grad_check::check<net_t, ctml::categorical_crossentropy>(net, x, rows, t, false));
}

TEST_CASE("gradient check: one row, one hidden unit") {
    using net_t =
        ctml::sequential<ctml::input<1>, ctml::dense<1, ctml::tanh>, ctml::dense<2, ctml::softmax>>;
    const auto seed = grad_check::fresh_seed();
    INFO("seed " << seed << " (replay with CTML_TEST_SEED=" << seed << ")");
    ctml::rng r(seed);
    ctml::network<net_t, double> net;
    const auto x = grad_check::randomize(net, r, 1);
    const auto t = grad_check::random_targets(r, 1, 2, grad_check::target_kind::labels);
    require_gradients_match(
        grad_check::check<net_t, ctml::categorical_crossentropy>(net, x, 1, t, true));
}

// Layers this large are split into column blocks over the trainer's step threads (forward) and
// into kernel-row blocks (backward). Three threads give uneven blocks. A sample of parameters
// from every layer's kernel and bias is checked (all of them would take minutes).
TEST_CASE("gradient check: layers split over step threads") {
    using net_t = ctml::sequential<ctml::input<64>, ctml::dense<256, ctml::tanh>,
                                   ctml::dense<64, ctml::relu>, ctml::dense<10, ctml::softmax>>;
    const auto seed = grad_check::fresh_seed();
    INFO("seed " << seed << " (replay with CTML_TEST_SEED=" << seed << ")");
    ctml::rng r(seed);
    ctml::network<net_t, double> net;
    const std::size_t rows = 20; // 20 · 64 · 256 multiply-adds: above the trainer's threshold
    // 1280 relu units: a margin of 1e-2 from the kink is rarely drawn. A step of ±2h = 2e-4 in
    // one parameter moves a relu pre-activation by at most 2e-4 here (inputs and tanh outputs
    // are within ±1, kernels within ±0.14), so 5e-4 is enough.
    const auto x = grad_check::randomize(net, r, rows, 5e-4);
    const auto t = grad_check::random_targets(r, rows, 10, grad_check::target_kind::labels);
    std::vector<std::size_t> only;
    for (std::size_t l = 0; l < net_t::layer_count; ++l) {
        for (int i = 0; i < 60; ++i) {
            only.push_back(net.kernel_offset(l) + r.below(net.kernel(l).size()));
        }
        for (int i = 0; i < 20; ++i) {
            only.push_back(net.bias_offset(l) + r.below(net.bias(l).size()));
        }
    }
    for (const std::size_t threads : {1, 2, 3}) {
        CAPTURE(threads);
        require_gradients_match(grad_check::check<net_t, ctml::sparse_categorical_crossentropy>(
            net, x, rows, t, true, threads, only));
    }
}

// train_batch updates each layer inside its backward block, on the thread that computed the
// gradient; it must land where forward_backward followed by one optimizer pass lands.
TEST_CASE("cpu_engine: train_batch equals forward_backward + apply_gradients, any thread count") {
    using net_t = ctml::sequential<ctml::input<64>, ctml::dense<256, ctml::sigmoid>,
                                   ctml::dense<64, ctml::relu>, ctml::dense<10, ctml::softmax>>;
    using opt_t = ctml::sgd<0.05, 0.9, true>;
    const auto seed = grad_check::fresh_seed();
    INFO("seed " << seed << " (replay with CTML_TEST_SEED=" << seed << ")");
    ctml::rng r(seed);
    ctml::network<net_t, double> start;
    const std::size_t rows = 24;
    const auto x = grad_check::randomize(start, r, rows, 0.0);
    const auto t = grad_check::random_targets(r, rows, 10, grad_check::target_kind::labels);
    const ctml::target_view<double> tv{t.labels.data(), nullptr};

    using job = grad_check::test_job<net_t, ctml::sparse_categorical_crossentropy, opt_t>;
    ctml::network<net_t, double> ref = start;
    {
        ctml::cpu_engine<job> tr(ref, grad_check::engine_for<job>::settings(ref, 32, 1));
        for (int step = 0; step < 3; ++step) {
            std::copy(x.begin(), x.end(), tr.input());
            tr.forward_backward(tv, rows);
            tr.apply_gradients();
        }
    }
    for (const std::size_t threads : {1, 2, 3}) {
        CAPTURE(threads);
        ctml::network<net_t, double> net = start;
        ctml::cpu_engine<job> tr(net, grad_check::engine_for<job>::settings(net, 32, threads));
        for (int step = 0; step < 3; ++step) {
            std::copy(x.begin(), x.end(), tr.input());
            tr.train_batch(tv, rows);
        }
        CHECK(tr.iterations() == 3);
        double worst = 0;
        for (std::size_t i = 0; i < net.parameter_count(); ++i) {
            worst = std::max(worst, std::abs(net.parameters()[i] - ref.parameters()[i]));
        }
        CHECK(worst < 1e-12);
        CHECK(std::memcmp(net.parameters().data(), start.parameters().data(),
                          net.parameter_count() * sizeof(double)) != 0);
    }
}

// Defect 2 of issue 8: `--first-layer-neurons 23469140042887471 --second-layer-neurons 1` wrapped
// the parameter count to a 611-float buffer that initialize() overran. Widths are now bounded
// when set, and the whole network before its buffer is allocated, each naming who set them.
TEST_CASE("layer_widths and network: widths and the parameter count are bounded first") {
    using two_net = ctml::sequential<ctml::input<784>, ctml::dense<ctml::dynamic, ctml::relu>,
                                     ctml::dense<ctml::dynamic, ctml::relu>,
                                     ctml::dense<10, ctml::softmax>>;
    ctml::layer_widths<two_net> w;
    CHECK_THROWS_WITH_AS(w.set(0, 23469140042887471ULL, "--first-layer-neurons"),
                         "--first-layer-neurons: width 23469140042887471 for layer 0 is outside "
                         "[1, 1048576] (CTML_MAX_WIDTH)",
                         ctml::config_error);
    CHECK(w[0] == ctml::dynamic); // unchanged after the refusal
    CHECK_THROWS_AS(w.set(0, ctml::dynamic, "--first-layer-neurons"), ctml::config_error);
    // Each width within CTML_MAX_WIDTH, together past CTML_MAX_PARAMETERS.
    w.set(0, 1 << 20, "--first-layer-neurons").set(1, 1 << 20, "--second-layer-neurons");
    try {
        ctml::network<two_net> net(w);
        FAIL("expected ctml::config_error");
    } catch (const ctml::config_error& e) {
        const std::string m = e.what();
        INFO(m);
        CHECK(m.find("--first-layer-neurons = 1048576, --second-layer-neurons = 1048576") == 0);
        CHECK(m.find("CTML_MAX_PARAMETERS") != std::string::npos);
    }
    w.set(0, 23469).set(1, 1);
    const ctml::network<two_net> ok(w);
    CHECK(ok.parameter_count() == 784 * 23469 + 23469 + 23469 * 1 + 1 + 1 * 10 + 10);
    CHECK(ok.layout().parameter_count() == ok.parameter_count());
}

TEST_CASE("dropout: no parameters, its width is the one before it, static or dynamic") {
    using net_t = ctml::sequential<ctml::input<5>, ctml::dropout<0.1>,
                                   ctml::dense<ctml::dynamic, ctml::relu>, ctml::dropout<0.2>,
                                   ctml::dense<3, ctml::softmax>>;
    static_assert(net_t::static_widths[1] == 5);
    static_assert(net_t::static_widths[3] == ctml::dynamic);
    static_assert(!net_t::parametric[0] && net_t::parametric[1] && !net_t::parametric[2]);
    ctml::layer_widths<net_t> w;
    CHECK(w[0] == 5);
    CHECK(w[2] == ctml::dynamic);
    w.set(1, 8, "--hidden");
    CHECK(w[2] == 8); // follows the dense layer before it
    CHECK_NOTHROW(w.set(2, 8));
    CHECK_THROWS_WITH_AS(w.set(2, 9, "--dropout"), doctest::Contains("has no parameters"),
                         ctml::config_error);
    ctml::network<net_t> net(w);
    CHECK(net.widths() == std::array<std::size_t, 5>{5, 5, 8, 8, 3});
    CHECK(net.parameter_count() == 5 * 8 + 8 + 8 * 3 + 3);
    CHECK(net.kernel(0).empty());
    CHECK(net.bias(2).empty());
    CHECK(net.kernel_offset(1) == 0);
    CHECK(net.kernel_offset(3) == net.bias_offset(1) + 8);
    CHECK(net.configured_widths() == w);
    net.initialize(3);
    CHECK(std::any_of(net.kernel(3).begin(), net.kernel(3).end(), [](float v) { return v != 0; }));
}
