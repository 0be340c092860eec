// SPDX-License-Identifier: MIT
// One job on both engines: the Keras network (784-300-100-10, relu, relu, softmax), RMSprop with
// Keras' defaults, batch 50, trained for 100 steps from the same initial weights (seed 7) over
// the same order of rows, on ctml::cpu_engine and on ctml::cuda_engine. The parameters must agree
// to a relative L2 difference below 1e-4, the epoch's loss and accuracy and an evaluation too.
// Rows: the first 5000 of MNIST's training set (CTML_MNIST_DIR), or, where MNIST is not there,
// 5000 synthetic rows with the same shape (said in the output). Needs a GPU: skipped without one.
#include <ctml/ctml.hpp>

#include <ctml/engine/cpu.hpp>
#include <ctml/engine/cuda.cuh>

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "job.hpp"

namespace {

using keras_net = ctml::sequential<ctml::input<784>, ctml::dense<300, ctml::relu>,
                                   ctml::dense<100, ctml::relu>, ctml::dense<10, ctml::softmax>>;
using keras_job = ctml_test::job<keras_net, ctml::categorical_crossentropy, ctml::rmsprop<>>;

constexpr std::size_t batch = 50;
constexpr std::size_t steps = 100;
constexpr std::uint64_t seed = 7;

// The first n rows of d.
ctml::dataset<std::uint8_t> head(const ctml::dataset<std::uint8_t>& d, std::size_t n) {
    ctml::dataset<std::uint8_t> h;
    h.dim = d.dim;
    h.scale = d.scale;
    h.classes = d.classes;
    h.features.assign(d.features.begin(), d.features.begin() + static_cast<std::ptrdiff_t>(n * d.dim));
    h.labels.assign(d.labels.begin(), d.labels.begin() + static_cast<std::ptrdiff_t>(n));
    return h;
}

// MNIST-shaped rows: a sparse pattern of bytes whose position depends on the label, so that
// training has something to learn.
ctml::dataset<std::uint8_t> synthetic(std::size_t n) {
    ctml::rng g(seed + 1);
    ctml::dataset<std::uint8_t> d;
    d.dim = 784;
    d.scale = 1.0 / 255.0;
    d.classes = 10;
    d.features.assign(n * d.dim, 0);
    d.labels.resize(n);
    for (std::size_t r = 0; r < n; ++r) {
        const auto label = static_cast<std::int32_t>(g.below(10));
        d.labels[r] = label;
        for (std::size_t j = 0; j < d.dim; ++j) {
            if (g.below(5) == 0) {
                d.features[r * d.dim + j] = static_cast<std::uint8_t>(
                    (j % 10 == static_cast<std::size_t>(label) ? 128 : 0) + g.below(128));
            }
        }
    }
    return d;
}

std::pair<ctml::dataset<std::uint8_t>, ctml::dataset<std::uint8_t>> rows() {
    const char* dir = std::getenv("CTML_MNIST_DIR");
    if (dir && std::filesystem::exists(dir)) {
        try {
            const auto m = ctml::load_mnist(dir);
            std::printf("rows: MNIST from %s\n", dir);
            return {head(m.train, batch * steps), head(m.test, 2000)};
        } catch (const ctml::error& e) {
            std::printf("MNIST not readable (%s): synthetic rows\n", e.what());
        }
    } else {
        std::printf("CTML_MNIST_DIR not set or missing: synthetic rows\n");
    }
    return {synthetic(batch * steps), synthetic(2000)};
}

double relative_l2(const std::vector<float>& a, const std::vector<float>& ref) {
    double num = 0;
    double den = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const double d = static_cast<double>(a[i]) - static_cast<double>(ref[i]);
        num += d * d;
        den += static_cast<double>(ref[i]) * static_cast<double>(ref[i]);
    }
    return std::sqrt(num / den);
}

} // namespace

TEST_CASE("the CPU and CUDA engines train the same job to the same parameters") {
    const auto [train, test] = rows();
    auto settings = keras_job::settings(batch);
    settings.seed = seed;
    settings.threads = 1;

    keras_job::network_type cpu_net;
    cpu_net.initialize(seed);
    keras_job::network_type gpu_net = cpu_net;
    const std::vector<float> start(cpu_net.parameters().begin(), cpu_net.parameters().end());

    // The loop's order: one Fisher-Yates shuffle of the rows with ctml::rng.
    std::vector<std::size_t> order(train.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    ctml::rng shuffle(seed);
    for (std::size_t i = order.size(); i > 1; --i) {
        std::swap(order[i - 1], order[shuffle.below(i)]);
    }

    ctml::cpu_engine<keras_job> cpu(cpu_net, settings);
    ctml::cuda_engine<keras_job> gpu(gpu_net, settings);
    static_assert(ctml::engine<ctml::cpu_engine<keras_job>>);
    static_assert(ctml::engine<ctml::cuda_engine<keras_job>>);
    REQUIRE(cpu.layout() == gpu.layout());
    cpu.set_training_data(train);
    gpu.set_training_data(train);

    const auto cpu_epoch = cpu.train_epoch(order);
    const auto gpu_epoch = gpu.train_epoch(order);
    CHECK(cpu.iterations() == steps);
    CHECK(gpu.iterations() == steps);

    std::vector<float> cpu_p(cpu.layout().parameter_count()), gpu_p(cpu_p.size());
    cpu.read_parameters(cpu_p);
    gpu.read_parameters(gpu_p);
    const double moved = relative_l2(cpu_p, start);
    const double diff = relative_l2(gpu_p, cpu_p);
    std::printf("100 RMSprop steps, batch 50: parameters moved %.3e (relative L2), CUDA vs CPU "
                "relative L2 difference %.3e; epoch loss %.6f vs %.6f, accuracy %.4f vs %.4f\n",
                moved, diff, gpu_epoch.loss, cpu_epoch.loss, gpu_epoch.accuracy,
                cpu_epoch.accuracy);
    CHECK(moved > 1e-2); // the comparison means something only if training moved the weights
    CHECK(diff < 1e-4);
    CHECK(std::fabs(gpu_epoch.loss - cpu_epoch.loss) <= 1e-4 * cpu_epoch.loss);
    CHECK(std::fabs(gpu_epoch.accuracy - cpu_epoch.accuracy) <= 2.0 / static_cast<double>(train.size()));

    const auto cpu_eval = cpu.evaluate(test);
    const auto gpu_eval = gpu.evaluate(test);
    std::printf("evaluation on %zu rows: loss %.6f vs %.6f, accuracy %.4f vs %.4f\n",
                test.size(), gpu_eval.loss, cpu_eval.loss, gpu_eval.accuracy, cpu_eval.accuracy);
    CHECK(gpu_eval.samples == test.size());
    CHECK(std::fabs(gpu_eval.loss - cpu_eval.loss) <= 1e-4 * cpu_eval.loss);
    CHECK(std::fabs(gpu_eval.accuracy - cpu_eval.accuracy) <= 2.0 / static_cast<double>(test.size()));

    // Writing parameters back and forth keeps both engines on the same weights.
    gpu.write_parameters(cpu_p);
    gpu.read_parameters(gpu_p);
    CHECK(gpu_p == cpu_p);
    CHECK(gpu.gradients().size() == cpu_p.size());
}

TEST_CASE("the CUDA engine is an engine for this job" * doctest::test_suite("host")) {
    using E = ctml::cuda_engine<keras_job>;
    static_assert(E::device_kind == ctml::device::cuda);
    static_assert(std::is_same_v<E::scalar_type, float>);
    CHECK(ctml::cuda_supports_v<keras_job>);
}
