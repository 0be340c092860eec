// SPDX-License-Identifier: MIT
// Trains the two reference MNIST networks with ctml::cuda::mlp_trainer on real MNIST and prints
// per-epoch times, their median, samples/s and the final test accuracy:
//   keras:   784-300-100-10, relu, relu, softmax; RMSprop lr 1e-3 (rho .9, eps 1e-7); batch 50;
//            Glorot-uniform weights, zero biases; 20 epochs.
//   chainer: 784-100-100-10, relu, relu, softmax; momentum SGD lr .01, m .9; batch 128;
//            LeCun-normal weights, zero biases; 10 epochs.
// Each epoch's time covers train_epoch (order upload, all steps, the one metrics read back);
// evaluation on the test set is timed apart. Each network runs with graph replay (the default
// steps per graph) and, for comparison, a few epochs with one step per graph and with eager
// launches (--eager-epochs; 0 skips them).
//
// usage: bench_cuda_mnist DATA_FOLDER [--keras-epochs N] [--chainer-epochs N]
//                                     [--eager-epochs N] [--seed S]
// DATA_FOLDER holds the four MNIST IDX files, gzipped (*.gz) or not.
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include "ctml/core/error.hpp"
#include "ctml/core/random.hpp"
#include "ctml/kernels/cuda/mlp_trainer.cuh"

namespace {

using ctml::cuda::activation;

struct idx_file {
    std::vector<std::uint32_t> dims;
    std::vector<std::uint8_t> bytes;
};

// IDX: magic (0, 0, 0x08 = unsigned byte, ndim), ndim big-endian uint32 sizes, then the data.
// zlib's gz reader also reads files that are not compressed.
idx_file read_idx(const std::filesystem::path& path) {
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f) {
        throw ctml::data_error(path.string() + ": cannot open");
    }
    auto read = [&](void* dst, std::size_t n) {
        auto* p = static_cast<unsigned char*>(dst);
        while (n > 0) {
            const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n, 1u << 30));
            const int got = gzread(f, p, chunk);
            if (got <= 0) {
                gzclose(f);
                throw ctml::format_error(path.string() + ": truncated IDX file");
            }
            p += got;
            n -= static_cast<std::size_t>(got);
        }
    };
    unsigned char magic[4];
    read(magic, 4);
    if (magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || magic[3] == 0) {
        gzclose(f);
        throw ctml::format_error(path.string() + ": not an unsigned-byte IDX file");
    }
    idx_file out;
    std::size_t count = 1;
    for (int i = 0; i < magic[3]; ++i) {
        unsigned char b[4];
        read(b, 4);
        out.dims.push_back((std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) |
                           (std::uint32_t{b[2]} << 8) | b[3]);
        count *= out.dims.back();
    }
    out.bytes.resize(count);
    read(out.bytes.data(), count);
    gzclose(f);
    return out;
}

std::filesystem::path find(const std::filesystem::path& dir, const std::string& stem) {
    for (const char* ext : {".gz", ""}) {
        const auto p = dir / (stem + ext);
        if (std::filesystem::exists(p)) {
            return p;
        }
    }
    throw ctml::data_error(dir.string() + ": no " + stem + "[.gz]");
}

struct split {
    std::vector<std::uint8_t> images;
    std::vector<std::int32_t> labels;
    std::size_t n = 0;
    std::size_t dim = 0;
};

split load(const std::filesystem::path& dir, const std::string& prefix) {
    auto images = read_idx(find(dir, prefix + "-images-idx3-ubyte"));
    const auto labels = read_idx(find(dir, prefix + "-labels-idx1-ubyte"));
    if (images.dims.size() != 3 || labels.dims.size() != 1 || images.dims[0] != labels.dims[0]) {
        throw ctml::format_error(dir.string() + ": " + prefix + " images and labels disagree");
    }
    split s;
    s.n = images.dims[0];
    s.dim = std::size_t{images.dims[1]} * images.dims[2];
    s.images = std::move(images.bytes);
    s.labels.assign(labels.bytes.begin(), labels.bytes.end());
    return s;
}

struct recipe {
    const char* name;
    std::vector<std::size_t> widths;
    ctml::cuda::optimizer_config optimizer;
    std::size_t batch;
    bool glorot; // else LeCun normal
    int epochs;
};

std::vector<float> init(const recipe& r, std::uint64_t seed) {
    ctml::rng g(seed);
    std::vector<float> p;
    for (std::size_t l = 0; l + 1 < r.widths.size(); ++l) {
        const double in = static_cast<double>(r.widths[l]);
        const double out = static_cast<double>(r.widths[l + 1]);
        const double limit = std::sqrt(6.0 / (in + out));
        const double sd = std::sqrt(1.0 / in);
        for (std::size_t i = 0; i < r.widths[l] * r.widths[l + 1]; ++i) {
            p.push_back(static_cast<float>(r.glorot ? g.uniform(-limit, limit) : sd * g.normal()));
        }
        p.insert(p.end(), r.widths[l + 1], 0.0f);
    }
    return p;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// steps_per_graph 0: eager launches.
void run(const recipe& r, const split& train, const split& test, int epochs,
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
    const std::vector<activation> acts{activation::relu, activation::relu, activation::softmax};
    ctml::cuda::mlp_trainer<float> t(r.widths, acts, r.optimizer, r.batch, opts);
    const auto p = init(r, seed);
    t.upload_parameters(p.data());
    t.set_dataset(train.images.data(), train.n, train.dim, 1.0 / 255.0, train.labels.data());
    t.set_test_set(test.images.data(), test.n, test.dim, 1.0 / 255.0, test.labels.data());

    std::printf("== %s (%s), batch %zu, %d epochs, %zu parameters\n", r.name, mode.c_str(),
                r.batch, epochs, t.parameter_count());
    ctml::rng shuffle(seed + 1);
    std::vector<std::size_t> order(train.n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::vector<double> train_s, eval_s;
    ctml::cuda::epoch_metrics val{};
    for (int e = 1; e <= epochs; ++e) {
        for (std::size_t i = order.size(); i > 1; --i) {
            std::swap(order[i - 1], order[shuffle.below(i)]);
        }
        const auto t0 = std::chrono::steady_clock::now();
        const auto m = t.train_epoch(order.data(), order.size());
        const auto t1 = std::chrono::steady_clock::now();
        val = t.evaluate();
        const auto t2 = std::chrono::steady_clock::now();
        train_s.push_back(std::chrono::duration<double>(t1 - t0).count());
        eval_s.push_back(std::chrono::duration<double>(t2 - t1).count());
        std::printf("Epoch %d/%d - %.1f ms (eval %.1f ms) - loss: %.4f - accuracy: %.4f - "
                    "val_loss: %.4f - val_accuracy: %.4f\n",
                    e, epochs, 1e3 * train_s.back(), 1e3 * eval_s.back(), m.loss, m.accuracy,
                    val.loss, val.accuracy);
    }
    const double med = median(train_s);
    const std::size_t steps = (train.n + r.batch - 1) / r.batch;
    std::printf("RESULT %s %s: median epoch %.2f ms (min %.2f, first %.2f), %.1f us/step, "
                "%.0f samples/s, eval median %.2f ms, final test loss %.4f, final test accuracy "
                "%.4f\n",
                r.name, mode.c_str(), 1e3 * med,
                1e3 * *std::min_element(train_s.begin(), train_s.end()), 1e3 * train_s.front(),
                1e6 * med / static_cast<double>(steps), static_cast<double>(train.n) / med,
                1e3 * median(eval_s), val.loss, val.accuracy);
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
        const std::filesystem::path dir = argv[1];
        const auto train = load(dir, "train");
        const auto test = load(dir, "t10k");
        std::printf("MNIST: %zu train, %zu test rows of %zu bytes\n", train.n, test.n, train.dim);
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

        const recipe keras{"keras 784-300-100-10 rmsprop", {784, 300, 100, 10},
                           ctml::cuda::optimizer_config::rmsprop(1e-3, 0.9, 1e-7), 50, true,
                           keras_epochs};
        const recipe chainer{"chainer 784-100-100-10 momentum-sgd", {784, 100, 100, 10},
                             ctml::cuda::optimizer_config::sgd(0.01, 0.9), 128, false,
                             chainer_epochs};
        for (const auto* r : {&keras, &chainer}) {
            run(*r, train, test, r->epochs, ctml::cuda::trainer_options{}.steps_per_graph, seed);
            run(*r, train, test, eager_epochs, 1, seed);
            run(*r, train, test, eager_epochs, 0, seed);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_cuda_mnist: %s\n", e.what());
        return 1;
    }
    return 0;
}
