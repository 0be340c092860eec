// SPDX-License-Identifier: MIT
// The element-wise work of one training step, at the reference networks' shapes: bias +
// activation and its backward (kernels/cpu/fused.hpp), the fused softmax–cross-entropy, the
// optimizer's update of every parameter, and the uint8 → float gather of a batch. Each is
// single-threaded, so each runs once (blas_threads = 1). step_non_gemm sums them in the order a
// step issues them; set beside step_gemms it shows what share of a step is not GEMM.
// The "bytes" counter is a rate of the bytes each call reads and writes (not counting cache
// reuse), to compare with memory bandwidth.
#include <benchmark/benchmark.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "ctml/core/buffer.hpp"
#include "ctml/data/dataset.hpp"
#include "ctml/kernels/cpu/fused.hpp"
#include "ctml/nn/activations.hpp"
#include "ctml/nn/losses.hpp"
#include "ctml/optim/rmsprop.hpp"
#include "ctml/optim/sgd.hpp"

#include "bench_shapes.hpp"

namespace ctml::bench {
namespace {

constexpr std::size_t train_rows = 60000; // gathers read random rows of a set of MNIST's size
constexpr std::size_t pixels = 784;
constexpr double bytes_per_float = sizeof(float);

void fill_uniform(buffer<float>& b, std::mt19937& rng, float scale) {
    std::uniform_real_distribution<float> u(-scale, scale);
    for (float& v : b) {
        v = u(rng);
    }
}

void set_bytes_counter(benchmark::State& state, double bytes_per_iteration) {
    state.counters["bytes"] =
        benchmark::Counter(bytes_per_iteration, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["blas_threads"] = 1;
}

std::size_t parameter_count(const network& net) {
    std::size_t n = 0;
    for (const auto& l : net.layers) {
        n += l.in * l.out + l.out;
    }
    return n;
}

// Buffers of one step's element-wise work: per layer the pre-activation / activation z (batch ×
// out), its gradient d, the bias b and its gradient db; the labels of the batch; every parameter
// with its gradient and one optimizer state slot; a uint8 training set to gather from.
struct step_buffers {
    const network& net;
    std::vector<buffer<float>> z, d, b, db;
    buffer<float> probabilities, x;
    std::vector<std::int32_t> labels;
    buffer<float> params, grads, state;
    dataset<std::uint8_t> train;
    std::vector<std::size_t> rows;

    explicit step_buffers(const network& shape_of) : net(shape_of) {
        std::mt19937 rng(42);
        for (const auto& l : net.layers) {
            z.emplace_back(net.batch * l.out);
            d.emplace_back(net.batch * l.out);
            b.emplace_back(l.out);
            db.emplace_back(l.out);
            fill_uniform(z.back(), rng, 1.0F);
            fill_uniform(d.back(), rng, 1.0F);
            // Small biases: bias_activation works in place, so z drifts by b every iteration.
            fill_uniform(b.back(), rng, 1e-3F);
        }
        probabilities.resize(net.batch * net.layers.back().out);
        x.resize(net.batch * pixels);
        std::uniform_int_distribution<std::int32_t> cls(
            0, static_cast<std::int32_t>(net.layers.back().out) - 1);
        labels.resize(net.batch);
        for (auto& c : labels) {
            c = cls(rng);
        }
        const std::size_t n = parameter_count(net);
        params.resize(n);
        grads.resize(n);
        state.resize(n);
        fill_uniform(params, rng, 0.1F);
        fill_uniform(grads, rng, 1e-2F);
        train.dim = pixels;
        train.scale = 1.0 / 255.0;
        train.features.resize(train_rows * pixels);
        std::uniform_int_distribution<int> byte(0, 255);
        for (auto& v : train.features) {
            v = static_cast<std::uint8_t>(byte(rng));
        }
        rows.resize(net.batch);
        std::uniform_int_distribution<std::size_t> row(0, train_rows - 1);
        for (auto& r : rows) {
            r = row(rng);
        }
    }

    std::size_t hidden() const { return net.layers.size() - 1; }
    std::size_t out(std::size_t i) const { return net.layers[i].out; }

    double bias_relu(std::size_t i) {
        kernels::cpu::bias_activation<relu>(z[i].data(), b[i].data(), net.batch, out(i));
        return bytes_per_float * (2.0 * static_cast<double>(net.batch * out(i)) +
                                  static_cast<double>(out(i)));
    }
    double bias_logits() {
        const std::size_t i = hidden();
        kernels::cpu::bias_activation<identity>(z[i].data(), b[i].data(), net.batch, out(i));
        return bytes_per_float * (2.0 * static_cast<double>(net.batch * out(i)) +
                                  static_cast<double>(out(i)));
    }
    double softmax_xent() {
        const std::size_t i = hidden();
        const target_view<float> t{labels.data(), nullptr};
        const auto r = categorical_crossentropy::fused(
            z[i].data(), t, net.batch, out(i), 1.0F / static_cast<float>(net.batch),
            probabilities.data(), d[i].data());
        benchmark::DoNotOptimize(r);
        return bytes_per_float * 3.0 * static_cast<double>(net.batch * out(i)) +
               4.0 * static_cast<double>(net.batch);
    }
    double logits_bias_grad() {
        const std::size_t i = hidden();
        kernels::cpu::column_sums(d[i].data(), net.batch, out(i), db[i].data());
        return bytes_per_float * static_cast<double>(net.batch * out(i) + out(i));
    }
    double relu_backward_bias(std::size_t i) {
        kernels::cpu::activation_backward_bias<relu>(z[i].data(), d[i].data(), net.batch,
                                                     out(i), db[i].data());
        return bytes_per_float * (3.0 * static_cast<double>(net.batch * out(i)) +
                                  static_cast<double>(out(i)));
    }
    // The recipe's optimizer: RMSprop for Keras, momentum SGD for Chainer.
    double optimizer_update(bool exact = false) {
        const std::size_t n = params.size();
        if (std::string(net.name) == "keras") {
            rmsprop<> o;
            o.exact = exact; // the default rsqrt/rcp path, or the exact sqrt and division
            o.update(params.data(), grads.data(), std::array{state.data()}, n, 0);
        } else {
            momentum_sgd{}.update(params.data(), grads.data(), std::array{state.data()}, n, 0);
        }
        return bytes_per_float * 5.0 * static_cast<double>(n); // read p, g, v; write p, v
    }
    double gather() {
        train.gather_features<float>(rows, x.data());
        return static_cast<double>(net.batch * pixels) * (1.0 + bytes_per_float);
    }

    // One step's element-wise work in the order the step issues it.
    double step() {
        double bytes = gather();
        for (std::size_t i = 0; i < hidden(); ++i) {
            bytes += bias_relu(i);
        }
        bytes += bias_logits() + softmax_xent() + logits_bias_grad();
        for (std::size_t i = hidden(); i-- > 0;) {
            bytes += relu_backward_bias(i);
        }
        return bytes + optimizer_update();
    }
};

template <class F>
void bm_step_part(benchmark::State& state, const network& net, F part) {
    step_buffers s(net);
    double bytes = 0;
    for (auto _ : state) {
        bytes = part(s);
        benchmark::ClobberMemory();
    }
    set_bytes_counter(state, bytes);
}

template <class F>
void add(const std::string& name, const network& net, F part) {
    benchmark::RegisterBenchmark(name.c_str(),
                                 [&net, part](benchmark::State& st) { bm_step_part(st, net, part); })
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
}

std::string shape(std::size_t rows, std::size_t cols) {
    return std::to_string(rows) + "x" + std::to_string(cols);
}

} // namespace

void register_fused_benchmarks() {
    for (const auto& net : networks()) {
        const std::string base = std::string("fused/") + net.name + "/";
        const std::size_t hidden = net.layers.size() - 1;
        add(base + "gather_u8/" + shape(net.batch, pixels), net,
            [](step_buffers& s) { return s.gather(); });
        for (std::size_t i = 0; i < hidden; ++i) {
            // Layers are numbered from 1 as Chainer names them (l1, l2, l3).
            // (Built by appending: GCC 12 -O3 warns falsely on "literal" + std::string, PR105329.)
            const std::string sh = std::string("l").append(std::to_string(i + 1)).append("/") +
                                   shape(net.batch, net.layers[i].out);
            add(base + "bias_relu/" + sh, net, [i](step_buffers& s) { return s.bias_relu(i); });
            add(base + "relu_backward_bias/" + sh, net,
                [i](step_buffers& s) { return s.relu_backward_bias(i); });
        }
        const std::string logits = shape(net.batch, net.layers.back().out);
        add(base + "bias_logits/" + logits, net, [](step_buffers& s) { return s.bias_logits(); });
        add(base + "softmax_xent/" + logits, net,
            [](step_buffers& s) { return s.softmax_xent(); });
        add(base + "logits_bias_grad/" + logits, net,
            [](step_buffers& s) { return s.logits_bias_grad(); });
        add(base + (std::string(net.name) == "keras" ? "rmsprop/" : "momentum_sgd/") +
                std::to_string(parameter_count(net)),
            net, [](step_buffers& s) { return s.optimizer_update(); });
        if (std::string(net.name) == "keras") {
            add(base + "rmsprop_exact/" + std::to_string(parameter_count(net)), net,
                [](step_buffers& s) { return s.optimizer_update(true); });
        }
        add(std::string("step_non_gemm/") + net.name, net,
            [](step_buffers& s) { return s.step(); });
    }
}

} // namespace ctml::bench
