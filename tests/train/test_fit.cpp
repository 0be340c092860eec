// SPDX-License-Identifier: MIT
// The training loop (train/fit.hpp) through ctml::trainer<Job>: a 2-class problem trained to 100%
// accuracy end to end, bit-identical weights from the same seed, fit/evaluate/callbacks, early
// stopping, dataset errors, regression, the keras_progress line.
#include "ctml/train/fit.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "ctml/engine/inference.hpp"
#include "ctml/optim/adam.hpp"
#include "ctml/optim/rmsprop.hpp"
#include "ctml/optim/sgd.hpp"
#include "ctml/train/run_config.hpp"

namespace {

std::uint64_t fresh_seed() {
    if (const char* s = std::getenv("CTML_TEST_SEED")) {
        return std::stoull(s);
    }
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

// Two concentric rings: class 0 at radius 1, class 1 at radius 2, each ±0.15. Not linearly
// separable; a gap of 0.7 between the classes.
ctml::dataset<float> rings(std::size_t n, ctml::rng& r) {
    ctml::dataset<float> d;
    d.dim = 2;
    d.classes = 2;
    for (std::size_t i = 0; i < n; ++i) {
        const int c = static_cast<int>(i % 2);
        const double radius = 1.0 + c + r.uniform(-0.15, 0.15);
        const double angle = r.uniform(0, 2 * std::numbers::pi);
        d.features.push_back(static_cast<float>(radius * std::cos(angle)));
        d.features.push_back(static_cast<float>(radius * std::sin(angle)));
        d.labels.push_back(c);
    }
    return d;
}

using ring_net =
    ctml::sequential<ctml::input<2>, ctml::dense<16, ctml::tanh>, ctml::dense<2, ctml::softmax>>;
using ring_job = ctml::run_config<ring_net, ctml::sparse_categorical_crossentropy, ctml::adam<0.01>,
                                  ctml::batch_size<16>, ctml::epochs<150>>;

using keras_net = ctml::sequential<ctml::input<784>, ctml::dense<300, ctml::relu>,
                                   ctml::dense<100, ctml::relu>, ctml::dense<10, ctml::softmax>>;
using keras_job = ctml::run_config<keras_net, ctml::categorical_crossentropy, ctml::rmsprop<>,
                                   ctml::batch_size<50>, ctml::epochs<2>>;

// Random MNIST-shaped data (bytes scaled by 1/255, one-hot-free integer labels).
ctml::dataset<std::uint8_t> random_images(std::size_t n, std::uint64_t seed) {
    ctml::rng r(seed);
    ctml::dataset<std::uint8_t> d;
    d.dim = 784;
    d.scale = 1.0 / 255;
    d.classes = 10;
    for (std::size_t i = 0; i < n * 784; ++i) {
        d.features.push_back(static_cast<std::uint8_t>(r.below(256)));
    }
    for (std::size_t i = 0; i < n; ++i) {
        d.labels.push_back(static_cast<std::int32_t>(r.below(10)));
    }
    return d;
}

// Trains the Keras network from `init_seed` with shuffling seed `shuffle_seed`.
std::vector<float> train_keras(const ctml::dataset<std::uint8_t>& data, std::uint64_t init_seed,
                               std::uint64_t shuffle_seed) {
    keras_job::network_type net;
    net.initialize(init_seed);
    auto s = keras_job::defaults();
    s.seed = shuffle_seed;
    ctml::trainer<keras_job> t(net, s);
    t.fit(data);
    return {net.parameters().begin(), net.parameters().end()};
}

} // namespace

TEST_CASE("end to end: two rings train to 100% training accuracy") {
    const auto seed = fresh_seed();
    INFO("seed " << seed << " (replay with CTML_TEST_SEED=" << seed << ")");
    ctml::rng r(seed);
    const auto train = rings(410, r); // 25 batches of 16 and one of 10
    const auto test = rings(200, r);

    auto s = ring_job::defaults();
    CHECK(s.batch_size == 16);
    CHECK(s.epochs == 150);
    s.seed = r.next();
    auto net = ring_job::make_network(s);
    ctml::trainer<ring_job> t(net, s);
    const auto before = t.evaluate(train);
    const auto h = t.fit(train, {.validation = &test});

    REQUIRE(h.epochs.size() == 150);
    CHECK_FALSE(h.stopped_early);
    CHECK(h.epochs.front().epoch == 1);
    CHECK(h.epochs.back().epoch == 150);
    CHECK(h.epochs.back().epochs == 150);
    CHECK(h.epochs.back().loss < h.epochs.front().loss);
    REQUIRE(h.epochs.back().val_accuracy.has_value());
    const auto after = t.evaluate(train);
    INFO("accuracy before " << before.accuracy << ", after " << after.accuracy << "; loss "
                            << after.loss);
    CHECK(after.samples == 410);
    CHECK(after.accuracy == 1.0);
    CHECK(after.loss < 0.05);
    CHECK(*h.epochs.back().val_accuracy >= 0.98);
    CHECK(t.iterations() == 150 * 26);
    CHECK(h.seconds() > 0);
    // evaluate() needs no trainer and no optimizer.
    const auto again = ctml::evaluate(net, ctml::sparse_categorical_crossentropy{}, train);
    CHECK(again.accuracy == after.accuracy);
    CHECK(again.loss == doctest::Approx(after.loss).epsilon(1e-6));
}

TEST_CASE("determinism: the same seed gives bit-identical weights, another seed does not") {
    const auto data = random_images(600, 17); // 12 batches of 50 per epoch
    const auto a = train_keras(data, 1, 100);
    const auto b = train_keras(data, 1, 100);
    REQUIRE(a.size() == 266610);
    REQUIRE(b.size() == a.size());
    CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
    // The training moved the weights (so equality above is not two untouched copies).
    keras_job::network_type init;
    init.initialize(1);
    CHECK(std::memcmp(a.data(), init.parameters().data(), a.size() * sizeof(float)) != 0);

    const auto other_init = train_keras(data, 2, 100);
    CHECK(std::memcmp(a.data(), other_init.data(), a.size() * sizeof(float)) != 0);
    const auto other_order = train_keras(data, 1, 101);
    CHECK(std::memcmp(a.data(), other_order.data(), a.size() * sizeof(float)) != 0);
}

TEST_CASE("shuffle is a seeded permutation") {
    std::vector<std::size_t> a(1000), b(1000), c(1000);
    for (std::size_t i = 0; i < a.size(); ++i) {
        a[i] = b[i] = c[i] = i;
    }
    ctml::shuffle(a, 5);
    ctml::shuffle(b, 5);
    ctml::shuffle(c, 6);
    CHECK(a == b);
    CHECK(a != c);
    std::vector<std::size_t> sorted = a;
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t i = 0; i < sorted.size(); ++i) {
        REQUIRE(sorted[i] == i);
    }
    CHECK(std::count_if(a.begin(), a.end(), [&, i = std::size_t{0}](std::size_t v) mutable {
              return v == i++;
          }) < 20); // shuffled, not nearly the identity
}

TEST_CASE("fit: callbacks see every epoch and can stop early") {
    ctml::rng r(3);
    const auto train = rings(64, r);
    ring_job::network_type net;
    net.initialize(4);
    auto s = ring_job::defaults();
    s.epochs = 10;
    ctml::trainer<ring_job> t(net, s);
    ctml::fit_options<float> o;
    std::vector<std::size_t> seen;
    o.callbacks.push_back([&](const ctml::epoch_metrics& m) {
        seen.push_back(m.epoch);
        CHECK_FALSE(m.val_loss.has_value()); // no validation data given
        CHECK(m.seconds >= 0);
        return m.epoch == 3 ? ctml::callback_action::stop : ctml::callback_action::proceed;
    });
    const auto h = t.fit(train, o);
    CHECK(seen == std::vector<std::size_t>{1, 2, 3});
    CHECK(h.epochs.size() == 3);
    CHECK(h.stopped_early);
    CHECK(t.iterations() == 3 * 4);

    // A stop asked at the last epoch is not an early stop.
    o.callbacks.assign(1, [](const ctml::epoch_metrics& m) {
        return m.epoch == m.epochs ? ctml::callback_action::stop : ctml::callback_action::proceed;
    });
    const auto h2 = t.fit(train, o);
    CHECK(h2.epochs.size() == 10);
    CHECK_FALSE(h2.stopped_early);
}

// evaluate() against the definition: predict, then the mean cross-entropy and accuracy.
TEST_CASE("evaluate: mean loss and accuracy over the whole set, last batch partial") {
    ctml::rng r(8);
    auto data = rings(103, r);
    ring_job::network_type net;
    net.initialize(9);
    auto s = ring_job::defaults();
    s.batch_size = 10;
    ctml::trainer<ring_job> t(net, s);
    const auto e = t.evaluate(data);
    const std::vector<float> out = ctml::predict(net, data);
    REQUIRE(out.size() == 103 * 2);
    double loss = 0;
    std::size_t correct = 0;
    for (std::size_t i = 0; i < 103; ++i) {
        const auto c = static_cast<std::size_t>(data.labels[i]);
        loss -= std::log(static_cast<double>(out[i * 2 + c]));
        correct += (out[i * 2 + c] > out[i * 2 + (1 - c)]) ? 1 : 0;
    }
    CHECK(e.samples == 103);
    CHECK(e.loss == doctest::Approx(loss / 103).epsilon(1e-5));
    CHECK(e.accuracy == doctest::Approx(static_cast<double>(correct) / 103));
}

TEST_CASE("fit and evaluate: datasets that do not fit the network are errors naming them") {
    ctml::rng r(1);
    ring_job::network_type net;
    auto s = ring_job::defaults();
    s.batch_size = 8;
    ctml::trainer<ring_job> t(net, s);
    auto expect_error = [&](const ctml::dataset<float>& train, const ctml::dataset<float>* val,
                            std::initializer_list<const char*> words) {
        try {
            t.fit(train, {.validation = val});
            FAIL("expected ctml::data_error");
        } catch (const ctml::data_error& e) {
            const std::string m = e.what();
            INFO(m);
            for (const char* w : words) {
                CHECK(m.find(w) != std::string::npos);
            }
        }
    };
    const auto good = rings(16, r);
    auto wide = good;
    wide.dim = 4;
    wide.features.resize(16 * 4, 0.5f);
    expect_error(wide, nullptr, {"training data", "4 features", "input is 2"});
    auto three = good;
    three.classes = 3;
    expect_error(good, &three, {"validation data", "3 classes", "2 outputs"});
    auto bad_label = good;
    bad_label.labels[5] = 2;
    expect_error(bad_label, nullptr, {"training data", "label 2", "row 5"});
    auto dense = good;
    dense.labels.clear();
    dense.target_dim = 2;
    dense.targets.assign(16 * 2, 0.5);
    expect_error(dense, nullptr, {"sparse_categorical_crossentropy", "labels"});
    CHECK(t.iterations() == 0); // refused before any step
    s.batch_size = 0;
    CHECK_THROWS_AS(ctml::trainer<ring_job>(net, s), ctml::config_error);
    s.batch_size = 8;
    s.device = ctml::device::cuda; // this test is not CUDA code
    CHECK_THROWS_WITH_AS(ctml::trainer<ring_job>(net, s),
                         doctest::Contains("\"device\" cuda: this program was built without CUDA"),
                         ctml::config_error);
    s.device = ctml::device::cpu;
    ring_job::network_type other(ctml::layer_widths<ring_net>{});
    s.widths = ctml::layer_widths<ring_net>{};
    CHECK_NOTHROW(ctml::trainer<ring_job>(other, s));
}

TEST_CASE("fit: dense targets with mean squared error (regression)") {
    // y = (x₀ + x₁, x₀ - x₁): a linear layer learns it.
    using net_t = ctml::sequential<ctml::input<2>, ctml::dense<2>>;
    ctml::rng r(12);
    ctml::dataset<double> d;
    d.dim = 2;
    d.target_dim = 2;
    for (int i = 0; i < 64; ++i) {
        const double a = r.uniform(-1, 1), b = r.uniform(-1, 1);
        d.features.insert(d.features.end(), {a, b});
        d.targets.insert(d.targets.end(), {a + b, a - b});
    }
    using job = ctml::run_config<net_t, ctml::mean_squared_error, ctml::sgd<0.1, 0.9>,
                                 ctml::scalar<double>, ctml::batch_size<8>, ctml::epochs<200>>;
    auto net = job::make_network(job::defaults());
    ctml::trainer<job> t(net, job::defaults());
    t.fit(d);
    CHECK(t.evaluate(d).loss < 1e-10);
    CHECK(net.kernel(0)[0] == doctest::Approx(1.0).epsilon(1e-4));
    CHECK(net.kernel(0)[1] == doctest::Approx(1.0).epsilon(1e-4));
    CHECK(net.kernel(0)[2] == doctest::Approx(1.0).epsilon(1e-4));
    CHECK(net.kernel(0)[3] == doctest::Approx(-1.0).epsilon(1e-4));
}

TEST_CASE("keras_progress prints Keras' verbose=2 line, validation fields only when measured") {
    std::FILE* f = std::tmpfile();
    REQUIRE(f != nullptr);
    auto cb = ctml::keras_progress(f);
    ctml::epoch_metrics m;
    m.epoch = 3;
    m.epochs = 20;
    m.seconds = 0.474;
    m.loss = 0.06251;
    m.accuracy = 0.981;
    CHECK(cb(m) == ctml::callback_action::proceed);
    m.val_loss = 0.0807;
    m.val_accuracy = 0.97825;
    cb(m);
    std::rewind(f);
    char buf[512] = {};
    const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    CHECK(std::string(buf, n) ==
          "Epoch 3/20 - 0.47s - loss: 0.0625 - accuracy: 0.9810\n"
          "Epoch 3/20 - 0.47s - loss: 0.0625 - accuracy: 0.9810 - val_loss: 0.0807 - "
          "val_accuracy: 0.9782\n");
}
