// SPDX-License-Identifier: MIT
// Trains the two reference MNIST networks with ctml::cuda_engine on real MNIST and prints
// per-epoch times, their median, samples/s and the final test accuracy:
//   keras:   784-300-100-10, relu, relu, softmax; RMSprop lr 1e-3 (rho .9, eps 1e-7); batch 50;
//            Glorot-uniform weights, zero biases; 20 epochs.
//   chainer: 784-100-100-10, relu, relu, softmax; momentum SGD lr .01, m .9; batch 128;
//            LeCun-normal weights, zero biases; 10 epochs.
// Everything but the engine is ctml's own: the IDX/MNIST reader (data/mnist.hpp), the layers'
// initializers (network::initialize) and the training loop with its shuffle (train/fit.hpp's
// fit_engine), so the figures are those of a trainer with --device cuda.
// Each epoch's time covers train_epoch (order upload, all steps, the one metrics read back), as
// the loop measures it; the validation pass after it is timed apart, once, at the end. Each network runs with graph replay (the default
// steps per graph) and, for comparison, a few epochs with one step per graph and with eager
// launches (--eager-epochs; 0 skips them).
//
// usage: bench_cuda_mnist DATA_FOLDER [--keras-epochs N] [--chainer-epochs N]
//                                     [--eager-epochs N] [--seed S]
// DATA_FOLDER holds the four MNIST IDX files, gzipped (*.gz) or not, anywhere below it
// (ctml::load_mnist).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "ctml/core/error.hpp"
#include "ctml/data/mnist.hpp"
#include "ctml/engine/cuda.cuh"
#include "ctml/nn/layers.hpp"
#include "ctml/nn/network.hpp"
#include "ctml/nn/sequential.hpp"
#include "ctml/optim/rmsprop.hpp"
#include "ctml/optim/sgd.hpp"
#include "ctml/train/fit.hpp"
#include "ctml/train/run_config.hpp"

namespace {

// The member types of a ctml::run_config<...> that the engine reads, spelled out: nvcc 13 cannot
// yet compile run_config's option slots (see tests/cuda/job.hpp).
template <class Arch, class Loss, class Optimizer>
struct job {
    using architecture_type = Arch;
    using loss_type = Loss;
    using optimizer_type = Optimizer;
    using scalar_type = float;
    using network_type = ctml::network<Arch, float>;
    using settings_type = ctml::run_settings<Arch, Optimizer>;
};

// keras:   Dense(300, relu), Dense(100, relu), Dense(10, softmax), glorot_uniform; RMSprop.
using keras_job = job<ctml::sequential<ctml::input<784>, ctml::dense<300, ctml::relu>,
                                       ctml::dense<100, ctml::relu>, ctml::dense<10, ctml::softmax>>,
                      ctml::categorical_crossentropy, ctml::rmsprop<>>;
// chainer: L.Linear(784, 100) relu, L.Linear(100, 100) relu, L.Linear(100, 10), LeCun normal;
//          MomentumSGD(lr 0.01, momentum 0.9).
using chainer_job =
    job<ctml::sequential<ctml::input<784>, ctml::linear<784, 100, ctml::relu>,
                         ctml::linear<100, 100, ctml::relu>, ctml::linear<100, 10, ctml::softmax>>,
        ctml::sparse_categorical_crossentropy, ctml::momentum_sgd>;

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// steps_per_graph 0: eager launches.
template <class Job>
void run(const char* name, std::size_t batch, const ctml::mnist& data, int epochs,
         std::size_t steps_per_graph, std::uint64_t seed) {
    if (epochs <= 0) {
        return;
    }
    ctml::cuda::trainer_options opts;
    opts.use_graph = steps_per_graph > 0;
    opts.steps_per_graph = std::max<std::size_t>(steps_per_graph, 1);
    const std::string mode = opts.use_graph
                                 ? "graph x" + std::to_string(steps_per_graph)
                                 : std::string("eager");
    typename Job::network_type net;
    net.initialize(seed);
    typename Job::settings_type settings;
    settings.batch_size = batch;
    settings.seed = seed;
    ctml::cuda_engine<Job> engine(net, settings, opts);
    std::printf("== %s (%s), batch %zu, %d epochs, %zu parameters\n", name, mode.c_str(), batch,
                epochs, net.parameter_count());

    ctml::fit_options<std::uint8_t> options;
    options.validation = &data.test;
    options.callbacks.push_back([](const ctml::epoch_metrics& m) {
        std::printf("Epoch %zu/%zu - %.1f ms - loss: %.4f - accuracy: %.4f - val_loss: %.4f - "
                    "val_accuracy: %.4f\n",
                    m.epoch, m.epochs, 1e3 * m.seconds, m.loss, m.accuracy, m.val_loss.value_or(0),
                    m.val_accuracy.value_or(0));
        return ctml::callback_action::proceed;
    });
    const ctml::history h =
        ctml::fit_engine(engine, net.parameters(), static_cast<std::size_t>(epochs), seed,
                         data.train, options);
    std::vector<double> train_s;
    for (const auto& m : h.epochs) {
        train_s.push_back(m.seconds);
    }
    const auto t0 = std::chrono::steady_clock::now();
    const ctml::evaluation val = engine.evaluate(data.test);
    const double eval_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double med = median(train_s);
    const std::size_t n = data.train.size();
    const std::size_t steps = (n + batch - 1) / batch;
    std::printf("RESULT %s %s: median epoch %.2f ms (min %.2f, first %.2f), %.1f us/step, "
                "%.0f samples/s, eval %.2f ms (upload included), final test loss %.4f, final "
                "test accuracy %.4f\n",
                name, mode.c_str(), 1e3 * med,
                1e3 * *std::min_element(train_s.begin(), train_s.end()), 1e3 * train_s.front(),
                1e6 * med / static_cast<double>(steps), static_cast<double>(n) / med,
                1e3 * eval_s, val.loss, val.accuracy);
}

int usage() {
    std::fprintf(stderr, "usage: bench_cuda_mnist DATA_FOLDER [--keras-epochs N] "
                         "[--chainer-epochs N] [--eager-epochs N] [--seed S]\n");
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        return usage();
    }
    int keras_epochs = 20;
    int chainer_epochs = 10;
    int eager_epochs = 3;
    std::uint64_t seed = 0;
    for (int i = 2; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 >= argc) {
            return usage();
        }
        const long v = std::strtol(argv[++i], nullptr, 10);
        if (a == "--keras-epochs") {
            keras_epochs = static_cast<int>(v);
        } else if (a == "--chainer-epochs") {
            chainer_epochs = static_cast<int>(v);
        } else if (a == "--eager-epochs") {
            eager_epochs = static_cast<int>(v);
        } else if (a == "--seed") {
            seed = static_cast<std::uint64_t>(v);
        } else {
            return usage();
        }
    }
    try {
        // The data first: a folder problem shows even on a machine without a GPU.
        const ctml::mnist data = ctml::load_mnist(argv[1]);
        std::printf("MNIST: %zu train, %zu test rows of %zu bytes\n", data.train.size(),
                    data.test.size(), data.train.dim);
        int devices = 0;
        if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
            std::printf("no CUDA device: skipped\n");
            return 77;
        }
        cudaDeviceProp prop{};
        CTML_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
        int driver = 0;
        int runtime = 0;
        CTML_CUDA_CHECK(cudaDriverGetVersion(&driver));
        CTML_CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
        char date[64];
        const std::time_t now = std::time(nullptr);
        std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&now));
        std::printf("device: %s, %d SMs, driver %d, runtime %d; %s\n", prop.name,
                    prop.multiProcessorCount, driver, runtime, date);

        const std::size_t graph = ctml::cuda::trainer_options{}.steps_per_graph;
        const char* keras = "keras 784-300-100-10 rmsprop";
        const char* chainer = "chainer 784-100-100-10 momentum-sgd";
        run<keras_job>(keras, 50, data, keras_epochs, graph, seed);
        run<keras_job>(keras, 50, data, eager_epochs, 1, seed);
        run<keras_job>(keras, 50, data, eager_epochs, 0, seed);
        run<chainer_job>(chainer, 128, data, chainer_epochs, graph, seed);
        run<chainer_job>(chainer, 128, data, eager_epochs, 1, seed);
        run<chainer_job>(chainer, 128, data, eager_epochs, 0, seed);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_cuda_mnist: %s\n", e.what());
        return 1;
    }
    return 0;
}
