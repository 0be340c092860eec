// SPDX-License-Identifier: MIT
// cpu_engine<Job>: the engine concept, two live engines, parameters in and out, and dropout
// (gradients with a fixed mask, the mask itself, seeding, off in evaluate and predict, and a
// Keras network with dropout on real MNIST).
#include "ctml/engine/cpu.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "../nn/grad_check.hpp"
#include "ctml/data/mnist.hpp"
#include "ctml/engine/inference.hpp"
#include "ctml/optim/rmsprop.hpp"
#include "ctml/optim/sgd.hpp"
#include "ctml/train/fit.hpp"
#include "ctml/train/run_config.hpp"

namespace {

using keras_net = ctml::sequential<ctml::input<784>, ctml::dense<300, ctml::relu>,
                                   ctml::dense<100, ctml::relu>, ctml::dense<10, ctml::softmax>>;
using keras_job = ctml::run_config<keras_net, ctml::categorical_crossentropy, ctml::rmsprop<>,
                                   ctml::batch_size<50>>;
using dropout_keras_net =
    ctml::sequential<ctml::input<784>, ctml::dense<ctml::dynamic, ctml::relu>, ctml::dropout<0.2>,
                     ctml::dense<ctml::dynamic, ctml::relu>, ctml::dropout<0.2>,
                     ctml::dense<10, ctml::softmax>>;
using dropout_keras_job =
    ctml::run_config<dropout_keras_net, ctml::categorical_crossentropy, ctml::rmsprop<>,
                     ctml::batch_size<50>, ctml::epochs<20>,
                     ctml::width_flag<0, "first-layer-neurons", 300>,
                     ctml::width_flag<2, "second-layer-neurons", 100>>;

static_assert(ctml::engine<ctml::cpu_engine<keras_job>>);
static_assert(ctml::engine<ctml::cpu_engine<dropout_keras_job>>);
static_assert(ctml::cpu_engine<keras_job>::device_kind == ctml::device::cpu);
static_assert(!ctml::engine<int>);
static_assert(!ctml::engine<keras_job>);

// Dropout as a layer: no parameters, width inferred, Keras' class name.
static_assert(ctml::layer<ctml::dropout<0.2>>);
static_assert(!ctml::dropout<0.2>::has_parameters && ctml::dropout<0.2>::rate == 0.2);
static_assert(ctml::dropout<0.5>::class_name == "Dropout");
static_assert(ctml::is_dropout_v<ctml::dropout<0.1>> && !ctml::is_dropout_v<ctml::dense<3>>);
using small_dropout_net =
    ctml::sequential<ctml::input<6>, ctml::dense<9, ctml::tanh>, ctml::dropout<0.3>,
                     ctml::dense<7, ctml::sigmoid>, ctml::dropout<0.5>,
                     ctml::dense<4, ctml::softmax>>;
static_assert(small_dropout_net::static_widths ==
              std::array<std::size_t, 6>{6, 9, 9, 7, 7, 4});
static_assert(small_dropout_net::parameter_count == 6 * 9 + 9 + 9 * 7 + 7 + 7 * 4 + 4);
static_assert(small_dropout_net::parametric_count == 3);
static_assert(!dropout_keras_net::all_static);
static_assert(dropout_keras_net::static_widths[2] == ctml::dynamic);

// Random MNIST-shaped data.
ctml::dataset<std::uint8_t> random_images(std::size_t n, std::uint64_t seed) {
    ctml::rng r(seed);
    ctml::dataset<std::uint8_t> d;
    d.dim = 784;
    d.scale = 1.0 / 255;
    d.classes = 10;
    for (std::size_t i = 0; i < n * 784; ++i) {
        d.features.push_back(static_cast<std::uint8_t>(r.uniform() < 0.2 ? r.below(256) : 0));
    }
    for (std::size_t i = 0; i < n; ++i) {
        d.labels.push_back(static_cast<std::int32_t>(r.below(10)));
    }
    return d;
}

std::vector<std::size_t> identity_order(std::size_t n) {
    std::vector<std::size_t> o(n);
    for (std::size_t i = 0; i < n; ++i) {
        o[i] = i;
    }
    return o;
}

template <class Job>
typename Job::settings_type settings(std::size_t threads, std::uint64_t seed = 0) {
    auto s = Job::defaults();
    s.threads = threads;
    s.seed = seed;
    return s;
}

void require_gradients_match(const grad_check::result& r) {
    INFO("parameters checked: " << r.checked << ", worst index " << r.worst << ": analytic "
                                << r.analytic << " vs numeric " << r.numeric);
    CHECK(r.checked > 0);
    CHECK(r.max_abs_grad > 1e-3);
    CHECK(r.max_rel < 1e-6);
}

} // namespace

TEST_CASE("two live engines: interleaved steps give what each gives alone") {
    const auto data = random_images(300, 5);
    const auto order = identity_order(data.size());
    keras_job::network_type alone;
    alone.initialize(1);
    {
        ctml::cpu_engine<keras_job> e(alone, settings<keras_job>(2));
        e.set_training_data(data);
        e.train_epoch(order);
        e.train_epoch(order);
    }
    keras_job::network_type a, b;
    a.initialize(1);
    b.initialize(1);
    ctml::kernels::cpu::set_blas_threads(2);
    ctml::cpu_engine<keras_job> ea(a, settings<keras_job>(2));
    {
        ctml::cpu_engine<keras_job> eb(b, settings<keras_job>(1));
        ea.set_training_data(data);
        eb.set_training_data(data);
        ea.train_epoch(order);
        eb.train_epoch(order);
        eb.train_epoch(order);
    }
    // The second engine's end changed nothing for the first.
    CHECK(ctml::kernels::cpu::blas_threads() == 1);
    ea.train_epoch(order);
    CHECK(ea.iterations() == 12);
    const auto pa = a.parameters(), pb = b.parameters(), p = alone.parameters();
    double worst_a = 0, worst_b = 0;
    for (std::size_t i = 0; i < p.size(); ++i) {
        worst_a = std::max(worst_a, static_cast<double>(std::abs(pa[i] - p[i])));
        worst_b = std::max(worst_b, static_cast<double>(std::abs(pb[i] - p[i])));
    }
    CHECK(worst_a < 1e-5); // thread splits sum in another order
    CHECK(worst_b < 1e-5);
    CHECK(std::memcmp(pa.data(), p.data(), p.size() * sizeof(float)) == 0); // same threads
}

TEST_CASE("read_parameters and write_parameters move the layout-ordered buffer") {
    keras_job::network_type net;
    net.initialize(3);
    ctml::cpu_engine<keras_job> e(net, settings<keras_job>(1));
    CHECK(e.layout() == net.layout());
    CHECK(e.layout().parameter_count() == 266610);
    std::vector<float> p(266610);
    e.read_parameters(p);
    CHECK(std::memcmp(p.data(), net.parameters().data(), p.size() * sizeof(float)) == 0);
    p[7] = 42.0f;
    e.write_parameters(p);
    CHECK(net.kernel(0)[7] == 42.0f);
    CHECK(e.gradients().size() == 266610);
    std::vector<float> shorter(10);
    CHECK_THROWS_WITH_AS(e.read_parameters(shorter), doctest::Contains("10 values for 266610"),
                         ctml::config_error);
    CHECK_THROWS_AS(e.train_epoch(std::span<const std::size_t>()), ctml::config_error);
}

TEST_CASE("dropout: gradient check with a fixed mask") {
    const auto seed = grad_check::fresh_seed();
    INFO("seed " << seed << " (replay with CTML_TEST_SEED=" << seed << ")");
    ctml::rng r(seed);
    SUBCASE("dropout after hidden layers") {
        ctml::network<small_dropout_net, double> net;
        const std::size_t rows = 6;
        const auto x = grad_check::randomize(net, r, rows, 0.0);
        const auto t = grad_check::random_targets(r, rows, 4, grad_check::target_kind::labels);
        require_gradients_match(grad_check::check<small_dropout_net,
                                                  ctml::categorical_crossentropy>(
            net, x, rows, t, true, 1, {}, 1e-4, true, r.next()));
    }
    SUBCASE("dropout of the input, then dropout twice in a row") {
        using net_t = ctml::sequential<ctml::input<5>, ctml::dropout<0.25>,
                                       ctml::dense<8, ctml::tanh>, ctml::dropout<0.4>,
                                       ctml::dropout<0.1>, ctml::dense<3, ctml::softmax>>;
        ctml::network<net_t, double> net;
        const std::size_t rows = 7;
        const auto x = grad_check::randomize(net, r, rows, 0.0);
        const auto t = grad_check::random_targets(r, rows, 3, grad_check::target_kind::labels);
        require_gradients_match(grad_check::check<net_t, ctml::sparse_categorical_crossentropy>(
            net, x, rows, t, true, 1, {}, 1e-4, true, r.next()));
    }
    SUBCASE("layers split over step threads") {
        using net_t = ctml::sequential<ctml::input<64>, ctml::dense<256, ctml::tanh>,
                                       ctml::dropout<0.3>, ctml::dense<64, ctml::sigmoid>,
                                       ctml::dense<10, ctml::softmax>>;
        ctml::network<net_t, double> net;
        const std::size_t rows = 20; // above the engine's threshold for the pool
        const auto x = grad_check::randomize(net, r, rows, 0.0);
        const auto t = grad_check::random_targets(r, rows, 10, grad_check::target_kind::labels);
        std::vector<std::size_t> only;
        for (std::size_t l : {0u, 2u, 3u}) {
            for (int i = 0; i < 40; ++i) {
                only.push_back(net.kernel_offset(l) + r.below(net.kernel(l).size()));
                only.push_back(net.bias_offset(l) + r.below(net.bias(l).size()));
            }
        }
        require_gradients_match(grad_check::check<net_t, ctml::sparse_categorical_crossentropy>(
            net, x, rows, t, true, 2, only, 1e-4, true, r.next()));
    }
}

TEST_CASE("dropout: the mask is inverted dropout, applied in training, seeded") {
    using job = grad_check::test_job<small_dropout_net, ctml::sparse_categorical_crossentropy>;
    ctml::rng r(11);
    ctml::network<small_dropout_net, double> net;
    const std::size_t rows = 200;
    const auto x = grad_check::randomize(net, r, rows, 0.0);
    const auto t = grad_check::random_targets(r, rows, 4, grad_check::target_kind::labels);
    const ctml::target_view<double> tv{t.labels.data(), nullptr};
    ctml::cpu_engine<job> e(net, grad_check::engine_for<job>::settings(net, rows, 1, 99));
    e.fix_dropout_masks(true);
    // Every entry is 0 or 1 / (1 - rate); about `rate` of them are 0.
    for (const auto& [l, rate] : {std::pair<std::size_t, double>{1, 0.3}, {3, 0.5}}) {
        const auto m = e.dropout_mask(l);
        REQUIRE(m.size() == rows * net.width(l));
        std::size_t zeros = 0;
        for (const double v : m) {
            CHECK((v == 0.0 || v == 1.0 / (1.0 - rate)));
            zeros += v == 0.0;
        }
        const double share = static_cast<double>(zeros) / static_cast<double>(m.size());
        CAPTURE(l);
        CHECK(std::abs(share - rate) < 0.03);
    }
    CHECK(e.dropout_mask(0).empty());
    // The training loss is the reference network's with those masks; evaluate's has none.
    std::vector<std::vector<double>> masks(small_dropout_net::layer_count);
    for (std::size_t l : {1u, 3u}) {
        masks[l].assign(e.dropout_mask(l).begin(), e.dropout_mask(l).end());
    }
    auto cross_entropy = [&](const std::vector<double>& out) {
        double s = 0;
        for (std::size_t i = 0; i < rows; ++i) {
            s -= std::log(out[i * 4 + static_cast<std::size_t>(t.labels[i])]);
        }
        return s;
    };
    std::copy(x.begin(), x.end(), e.input());
    const double trained = e.forward_backward(tv, rows).loss_sum;
    const double evaluated = e.evaluate_batch(tv, rows).loss_sum;
    CHECK(trained == doctest::Approx(cross_entropy(
                                         grad_check::reference_forward(net, x, rows, masks).out))
                         .epsilon(1e-12));
    CHECK(evaluated ==
          doctest::Approx(cross_entropy(grad_check::reference_forward(net, x, rows).out))
              .epsilon(1e-12));
    CHECK(trained != evaluated);
    // Another engine with the same seed draws the same masks; another seed other masks.
    ctml::cpu_engine<job> same(net, grad_check::engine_for<job>::settings(net, rows, 1, 99));
    ctml::cpu_engine<job> other(net, grad_check::engine_for<job>::settings(net, rows, 1, 100));
    same.fix_dropout_masks(true);
    other.fix_dropout_masks(true);
    const auto m = e.dropout_mask(1), ms = same.dropout_mask(1), mo = other.dropout_mask(1);
    CHECK(std::equal(m.begin(), m.end(), ms.begin()));
    CHECK_FALSE(std::equal(m.begin(), m.end(), mo.begin()));
    // Without fixed masks every step draws new ones.
    e.fix_dropout_masks(false);
    const std::vector<double> before(e.dropout_mask(1).begin(), e.dropout_mask(1).end());
    e.forward_backward(tv, rows);
    CHECK_FALSE(std::equal(before.begin(), before.end(), e.dropout_mask(1).begin()));
}

TEST_CASE("dropout: training is deterministic per seed; evaluate and predict leave it out") {
    const auto data = random_images(400, 9);
    auto train = [&](std::uint64_t seed) {
        auto s = dropout_keras_job::defaults();
        s.epochs = 2;
        s.seed = seed;
        s.threads = 2;
        auto net = dropout_keras_job::make_network(s);
        ctml::trainer<dropout_keras_job> t(net, s);
        t.fit(data);
        return std::vector<float>(net.parameters().begin(), net.parameters().end());
    };
    const auto a = train(4), b = train(4), c = train(5);
    CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(a.data(), c.data(), a.size() * sizeof(float)) != 0);

    // The same dense layers without the dropout layers: evaluate and predict agree exactly.
    using plain_net = ctml::sequential<ctml::input<784>, ctml::dense<300, ctml::relu>,
                                       ctml::dense<100, ctml::relu>,
                                       ctml::dense<10, ctml::softmax>>;
    auto s = dropout_keras_job::defaults();
    auto net = dropout_keras_job::make_network(s);
    std::copy(a.begin(), a.end(), net.parameters().begin());
    ctml::network<plain_net> plain;
    REQUIRE(plain.parameter_count() == net.parameter_count());
    std::copy(a.begin(), a.end(), plain.parameters().begin());
    const auto e1 = ctml::evaluate(net, ctml::categorical_crossentropy{}, data);
    const auto e2 = ctml::evaluate(net, ctml::categorical_crossentropy{}, data);
    const auto ep = ctml::evaluate(plain, ctml::categorical_crossentropy{}, data);
    CHECK(e1.loss == e2.loss);
    CHECK(e1.accuracy == e2.accuracy);
    CHECK(e1.loss == ep.loss);
    ctml::trainer<dropout_keras_job> t(net, s);
    CHECK(t.evaluate(data).loss == doctest::Approx(e1.loss).epsilon(1e-6)); // batch 50, not 256
    CHECK(ctml::predict(net, data) == ctml::predict(plain, data));
}

// A Keras network with dropout<0.2> after each hidden layer on real MNIST. The suite trains 2
// epochs (>= 96%); CTML_DROPOUT_EPOCHS=20 runs the 20 epochs (>= 97.8%).
TEST_CASE("dropout: Keras network with dropout<0.2> learns MNIST") {
    const char* dir = std::getenv("CTML_MNIST_DIR");
    if (dir == nullptr || !std::filesystem::is_directory(dir)) {
        MESSAGE("CTML_MNIST_DIR not set or missing: nothing to train on");
        return;
    }
    const char* e = std::getenv("CTML_DROPOUT_EPOCHS");
    const std::size_t epochs = e ? std::stoul(e) : 2;
    const auto mnist = ctml::load_mnist(dir);
    auto s = dropout_keras_job::defaults();
    s.epochs = epochs;
    auto net = dropout_keras_job::make_network(s);
    ctml::trainer<dropout_keras_job> t(net, s);
    const auto h = t.fit(mnist.train, {.validation = &mnist.test,
                                       .callbacks = {ctml::keras_progress()}});
    REQUIRE(h.epochs.size() == epochs);
    const double acc = *h.epochs.back().val_accuracy;
    MESSAGE("test accuracy after " << epochs << " epochs: " << acc);
    CHECK(acc >= (epochs >= 20 ? 0.978 : 0.96));
}

TEST_CASE("the first engine moves OpenBLAS off its SSE3 fallback on an AVX-512 CPU, and "
          "leaves the environment as it was") {
    // What OpenBLAS chose and what the user asked for, before any engine of this test exists
    // (an earlier test case may have made one: then the switch has already happened).
    const bool user_chose = std::getenv("OPENBLAS_CORETYPE") != nullptr ||
                            std::getenv("CTML_BLAS_KERNELS") != nullptr;
    ctml::network<keras_net, float> net;
    net.initialize(1);
    auto s = keras_job::defaults();
    s.threads = 1;
    ctml::cpu_engine<keras_job> e(net, s);
    const std::string kernels = ctml::kernels::cpu::blas_kernels();
    INFO("OpenBLAS kernels: " << kernels);
#if CTML_BLAS_OPENBLAS
    CHECK(!kernels.empty());
    __builtin_cpu_init();
    const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    if (avx512 && !user_chose) {
        CHECK(kernels != "Prescott");
    }
    if (ctml::kernels::cpu::select_blas_kernels()) {
        CHECK(kernels == "SkylakeX");
    }
#endif
    // The variable the switch sets for OpenBLAS is gone again (a child process sees the user's).
    if (!user_chose) {
        CHECK(std::getenv("OPENBLAS_CORETYPE") == nullptr);
    }
}

#if CTML_FLUSH_DENORMALS_X86
TEST_CASE("the engine flushes subnormals inside its calls only: the caller's MXCSR is restored") {
    ctml::network<keras_net, float> net;
    net.initialize(2);
    auto s = keras_job::defaults();
    s.threads = 2;
    ctml::cpu_engine<keras_job> e(net, s);
    const unsigned before = _mm_getcsr();
    REQUIRE((before & ctml::detail::mxcsr_ftz) == 0); // the test runs with IEEE subnormals
    std::vector<std::int32_t> labels(50, 3);
    std::fill_n(e.input(), 50 * 784, 0.5f);
    e.train_batch(ctml::target_view<float>{labels.data(), nullptr}, 50);
    CHECK(_mm_getcsr() == before);
    // Inside a scope (as in every engine call) a subnormal product is flushed to 0.
    volatile float small = 1e-20f; // small² = 1e-40: subnormal (FLT_MIN is 1.2e-38)
    volatile float sub = 1e-39f;   // a subnormal input
    {
        const ctml::detail::flush_denormals_scope flush;
        CHECK(small * small == 0.0f); // FTZ: a subnormal result becomes 0
        CHECK(sub * 1.0f == 0.0f);    // DAZ: a subnormal operand counts as 0
    }
    CHECK(small * small != 0.0f); // restored: IEEE subnormals again
    CHECK(sub * 1.0f != 0.0f);
}
#endif
