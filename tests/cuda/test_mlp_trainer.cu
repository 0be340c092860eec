// SPDX-License-Identifier: MIT
// ctml::cuda::mlp_trainer against a double-precision CPU reference written out here in naive
// loops: gradients, parameters after one and after several steps (partial last batch included),
// epoch metrics and evaluation, for every optimizer and activation; the graph replay against the
// eager path; and the configuration errors. doctest; without a GPU only the "host" suite runs
// (gpu_main.cu) and the program exits 77.
#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "ctml/core/error.hpp"
#include "ctml/core/layout.hpp"
#include "ctml/core/random.hpp"
#include "ctml/kernels/cuda/mlp_trainer.cuh"

namespace {

using ctml::cuda::activation;
using ctml::cuda::optimizer_config;
using ctml::cuda::optimizer_kind;

void expect(bool ok, const std::string& what) {
    CHECK_MESSAGE(ok, what);
}

// Means over a pass, as the engine adapter reports them (ctml::evaluation).
struct metrics {
    double loss = 0;
    double accuracy = 0;
    std::size_t samples = 0;
};

metrics means(const ctml::cuda::pass_sums& s) {
    const auto n = static_cast<double>(s.samples);
    return {s.loss / n, s.correct / n, s.samples};
}

// Relative error ||a - ref|| / ||ref||, the reference's own size when it is 0.
double rel_error(const std::vector<double>& a, const std::vector<double>& ref) {
    double num = 0;
    double den = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        num += (a[i] - ref[i]) * (a[i] - ref[i]);
        den += ref[i] * ref[i];
    }
    if (std::isnan(num)) {
        return INFINITY;
    }
    return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

double rel_error(double a, double ref) {
    return std::fabs(a - ref) / std::max(std::fabs(ref), 1e-30);
}

void expect_close(double err, double tol, const std::string& what) {
    expect(err < tol, what + ": relative error " + std::to_string(err) + " >= " +
                          std::to_string(tol));
}

struct labelled_bytes {
    std::vector<std::uint8_t> images;
    std::vector<std::int32_t> labels;
    std::size_t n = 0;
    std::size_t dim = 0;
    double scale = 1.0 / 255.0;
};

labelled_bytes random_data(ctml::rng& g, std::size_t n, std::size_t dim, std::size_t classes) {
    labelled_bytes d;
    d.n = n;
    d.dim = dim;
    d.images.resize(n * dim);
    d.labels.resize(n);
    for (auto& b : d.images) {
        b = static_cast<std::uint8_t>(g.below(256));
    }
    for (auto& l : d.labels) {
        l = static_cast<std::int32_t>(g.below(classes));
    }
    return d;
}

std::vector<std::size_t> permutation(ctml::rng& g, std::size_t n) {
    std::vector<std::size_t> p(n);
    std::iota(p.begin(), p.end(), std::size_t{0});
    for (std::size_t i = n; i > 1; --i) {
        std::swap(p[i - 1], p[g.below(i)]);
    }
    return p;
}

double act(activation a, double x) {
    switch (a) {
    case activation::relu: return x > 0 ? x : 0;
    case activation::tanh: return std::tanh(x);
    case activation::sigmoid: return 1 / (1 + std::exp(-x));
    default: return x;
    }
}

// f'(z), written from z itself (not from the output, as the GPU does): a second derivation.
double act_grad(activation a, double z) {
    switch (a) {
    case activation::relu: return z > 0 ? 1 : 0;
    case activation::tanh: return 1 - std::tanh(z) * std::tanh(z);
    case activation::sigmoid: {
        const double s = 1 / (1 + std::exp(-z));
        return s * (1 - s);
    }
    default: return 1;
    }
}

// The CPU reference: the same layout and semantics, double precision, naive loops.
struct reference {
    std::vector<std::size_t> w;
    std::vector<activation> acts;
    optimizer_config opt;
    std::vector<double> p, grad, s1, s2;
    std::vector<std::size_t> off;
    std::uint64_t t = 0;

    reference(std::vector<std::size_t> widths, std::vector<activation> a, optimizer_config o,
              const std::vector<double>& params)
        : w(std::move(widths)), acts(std::move(a)), opt(o), p(params) {
        std::size_t o_ = 0;
        for (std::size_t l = 0; l + 1 < w.size(); ++l) {
            off.push_back(o_);
            o_ += w[l] * w[l + 1] + w[l + 1];
        }
        grad.assign(p.size(), 0);
        s1.assign(p.size(), 0);
        s2.assign(p.size(), 0);
    }
    std::size_t layers() const { return w.size() - 1; }
    double W(std::size_t l, std::size_t i, std::size_t o) const { return p[off[l] + i * w[l + 1] + o]; }
    double B(std::size_t l, std::size_t o) const { return p[off[l] + w[l] * w[l + 1] + o]; }

    // Forward over the given rows; z[l] pre-activations, a[l] activations (a[0] the input).
    void forward(const labelled_bytes& d, const std::size_t* rows, std::size_t m,
                 std::vector<std::vector<double>>& z, std::vector<std::vector<double>>& a) const {
        a.assign(w.size(), {});
        z.assign(w.size(), {});
        a[0].resize(m * w[0]);
        for (std::size_t r = 0; r < m; ++r) {
            for (std::size_t j = 0; j < w[0]; ++j) {
                a[0][r * w[0] + j] = d.images[rows[r] * d.dim + j] * d.scale;
            }
        }
        for (std::size_t l = 0; l < layers(); ++l) {
            const std::size_t in = w[l];
            const std::size_t out = w[l + 1];
            z[l + 1].assign(m * out, 0);
            a[l + 1].assign(m * out, 0);
            for (std::size_t r = 0; r < m; ++r) {
                for (std::size_t o = 0; o < out; ++o) {
                    double s = B(l, o);
                    for (std::size_t i = 0; i < in; ++i) {
                        s += a[l][r * in + i] * W(l, i, o);
                    }
                    z[l + 1][r * out + o] = s;
                    a[l + 1][r * out + o] = l + 1 == layers() ? s : act(acts[l], s);
                }
            }
        }
    }

    // Loss sum and correct count over rows; dlogits = (softmax - onehot) / m when asked.
    void loss(const labelled_bytes& d, const std::size_t* rows, std::size_t m,
              const std::vector<double>& logits, double& loss_sum, double& correct,
              std::vector<double>* dlogits) const {
        const std::size_t k = w.back();
        if (dlogits) {
            dlogits->assign(m * k, 0);
        }
        for (std::size_t r = 0; r < m; ++r) {
            const double* zr = &logits[r * k];
            std::size_t arg = 0;
            for (std::size_t j = 1; j < k; ++j) {
                if (zr[j] > zr[arg]) {
                    arg = j;
                }
            }
            double s = 0;
            for (std::size_t j = 0; j < k; ++j) {
                s += std::exp(zr[j] - zr[arg]);
            }
            const auto label = static_cast<std::size_t>(d.labels[rows[r]]);
            const double lse = zr[arg] + std::log(s);
            loss_sum += lse - zr[label];
            correct += arg == label ? 1 : 0;
            if (dlogits) {
                for (std::size_t j = 0; j < k; ++j) {
                    (*dlogits)[r * k + j] = (std::exp(zr[j] - lse) - (j == label ? 1 : 0)) / m;
                }
            }
        }
    }

    void step(const labelled_bytes& d, const std::size_t* rows, std::size_t m, double& loss_sum,
              double& correct) {
        std::vector<std::vector<double>> z, a;
        forward(d, rows, m, z, a);
        std::vector<double> dz;
        loss(d, rows, m, a.back(), loss_sum, correct, &dz);
        for (std::size_t l = layers(); l-- > 0;) {
            const std::size_t in = w[l];
            const std::size_t out = w[l + 1];
            if (l + 1 != layers()) {
                for (std::size_t i = 0; i < m * out; ++i) {
                    dz[i] *= act_grad(acts[l], z[l + 1][i]);
                }
            }
            for (std::size_t o = 0; o < out; ++o) {
                double s = 0;
                for (std::size_t r = 0; r < m; ++r) {
                    s += dz[r * out + o];
                }
                grad[off[l] + in * out + o] = s;
            }
            for (std::size_t i = 0; i < in; ++i) {
                for (std::size_t o = 0; o < out; ++o) {
                    double s = 0;
                    for (std::size_t r = 0; r < m; ++r) {
                        s += a[l][r * in + i] * dz[r * out + o];
                    }
                    grad[off[l] + i * out + o] = s;
                }
            }
            if (l > 0) {
                std::vector<double> da(m * in, 0);
                for (std::size_t r = 0; r < m; ++r) {
                    for (std::size_t i = 0; i < in; ++i) {
                        double s = 0;
                        for (std::size_t o = 0; o < out; ++o) {
                            s += W(l, i, o) * dz[r * out + o];
                        }
                        da[r * in + i] = s;
                    }
                }
                dz.swap(da);
            }
        }
        update();
    }

    void update() {
        ++t;
        const double lr = opt.learning_rate;
        for (std::size_t i = 0; i < p.size(); ++i) {
            const double g = grad[i];
            switch (opt.kind) {
            case optimizer_kind::sgd: {
                s1[i] = opt.momentum * s1[i] - lr * g;
                p[i] += opt.nesterov ? opt.momentum * s1[i] - lr * g : s1[i];
                break;
            }
            case optimizer_kind::rmsprop: {
                s1[i] = opt.rho * s1[i] + (1 - opt.rho) * g * g;
                p[i] -= lr * g / (std::sqrt(s1[i]) + opt.epsilon);
                break;
            }
            case optimizer_kind::adam: {
                const double td = static_cast<double>(t);
                const double lr_t = lr * std::sqrt(1 - std::pow(opt.beta_2, td)) /
                                    (1 - std::pow(opt.beta_1, td));
                s1[i] = opt.beta_1 * s1[i] + (1 - opt.beta_1) * g;
                s2[i] = opt.beta_2 * s2[i] + (1 - opt.beta_2) * g * g;
                p[i] -= lr_t * s1[i] / (std::sqrt(s2[i]) + opt.epsilon);
                break;
            }
            }
        }
    }

    // One epoch over order[0..n) in batches of b (partial last batch), as train_epoch.
    metrics epoch(const labelled_bytes& d, const std::size_t* order,
                                    std::size_t n, std::size_t b) {
        double loss_sum = 0;
        double correct = 0;
        for (std::size_t first = 0; first < n; first += b) {
            step(d, order + first, std::min(b, n - first), loss_sum, correct);
        }
        return {loss_sum / n, correct / n, n};
    }

    metrics evaluate(const labelled_bytes& d) const {
        std::vector<std::size_t> rows(d.n);
        std::iota(rows.begin(), rows.end(), std::size_t{0});
        std::vector<std::vector<double>> z, a;
        forward(d, rows.data(), d.n, z, a);
        double loss_sum = 0;
        double correct = 0;
        loss(d, rows.data(), d.n, a.back(), loss_sum, correct, nullptr);
        return {loss_sum / d.n, correct / d.n, d.n};
    }
};

std::vector<double> init_params(ctml::rng& g, const std::vector<std::size_t>& w) {
    std::vector<double> p;
    for (std::size_t l = 0; l + 1 < w.size(); ++l) {
        const double limit = 1.5 * std::sqrt(6.0 / static_cast<double>(w[l] + w[l + 1]));
        for (std::size_t i = 0; i < w[l] * w[l + 1]; ++i) {
            p.push_back(g.uniform(-limit, limit));
        }
        for (std::size_t o = 0; o < w[l + 1]; ++o) {
            p.push_back(g.uniform(-0.1, 0.1));
        }
    }
    return p;
}

template <class T>
std::vector<double> to_double(const std::vector<T>& v) {
    return {v.begin(), v.end()};
}

std::string describe(const optimizer_config& o) {
    switch (o.kind) {
    case optimizer_kind::sgd: return o.nesterov ? "sgd-nesterov" : "sgd-momentum";
    case optimizer_kind::rmsprop: return "rmsprop";
    case optimizer_kind::adam: return "adam";
    }
    return "?";
}

std::vector<optimizer_config> optimizers() {
    // Learning rates large enough that one step moves parameters well above float rounding.
    return {optimizer_config::sgd(0.1, 0.9), optimizer_config::sgd(0.1, 0.9, true),
            optimizer_config::rmsprop(1e-2), optimizer_config::adam(1e-2)};
}

// One configuration: one step, then two epochs with a partial last batch, then evaluation,
// each compared with the reference. Returns the worst relative error seen.
template <class T>
double run_case(ctml::rng& g, std::vector<std::size_t> widths, std::vector<activation> acts,
                optimizer_config opt, std::size_t batch, std::size_t n, double tol,
                const std::string& name) {
    const auto train = random_data(g, n, widths[0], widths.back());
    const auto test = random_data(g, 29, widths[0], widths.back());
    const auto p0 = init_params(g, widths);

    // The GPU starts from p0 rounded to T; so does the reference.
    std::vector<T> host(p0.begin(), p0.end());
    const auto start = to_double(host);
    reference ref(widths, acts, opt, start);
    const ctml::parameter_layout layout(widths);
    ctml::cuda::mlp_trainer<T> gpu(layout, acts, opt, batch);
    expect(gpu.parameter_count() == start.size(), name + ": parameter count");
    expect(gpu.layout() == layout, name + ": layout");
    gpu.upload_parameters(host.data());
    gpu.set_dataset(train.images.data(), train.n, train.dim, train.scale, train.labels.data());
    gpu.set_test_set(test.images.data(), test.n, test.dim, test.scale, test.labels.data());
    double worst = 0;
    const auto track = [&](double err, const std::string& what) {
        worst = std::max(worst, err);
        expect_close(err, tol, name + ": " + what);
    };

    // One step: gradient, parameter change, loss.
    const auto order1 = permutation(g, n);
    const auto m1 = means(gpu.train_epoch(order1.data(), batch));
    const auto r1 = ref.epoch(train, order1.data(), batch, batch);
    gpu.download_gradients(host.data());
    track(rel_error(to_double(host), ref.grad), "one step: gradient");
    gpu.download_parameters(host.data());
    std::vector<double> delta_gpu(start.size()), delta_ref(start.size());
    for (std::size_t i = 0; i < start.size(); ++i) {
        delta_gpu[i] = static_cast<double>(host[i]) - start[i];
        delta_ref[i] = ref.p[i] - start[i];
    }
    track(rel_error(delta_gpu, delta_ref), "one step: parameter change");
    track(rel_error(m1.loss, r1.loss), "one step: loss");
    expect(m1.accuracy == r1.accuracy, name + ": one step: accuracy " +
                                           std::to_string(m1.accuracy) + " vs reference " +
                                           std::to_string(r1.accuracy));

    // Two epochs over all n rows (n % batch != 0: a partial step closes each).
    for (int e = 0; e < 2; ++e) {
        const auto order = permutation(g, n);
        const auto m = means(gpu.train_epoch(order.data(), n));
        const auto r = ref.epoch(train, order.data(), n, batch);
        track(rel_error(m.loss, r.loss), "epoch " + std::to_string(e) + ": loss");
        expect(m.samples == n, name + ": epoch samples");
        expect(std::fabs(m.accuracy - r.accuracy) <= 1.0 / n + 1e-12,
               name + ": epoch accuracy " + std::to_string(m.accuracy) + " vs reference " +
                   std::to_string(r.accuracy));
    }
    gpu.download_parameters(host.data());
    for (std::size_t i = 0; i < start.size(); ++i) {
        delta_gpu[i] = static_cast<double>(host[i]) - start[i];
        delta_ref[i] = ref.p[i] - start[i];
    }
    track(rel_error(delta_gpu, delta_ref), "several steps: parameter change");
    track(rel_error(to_double(host), ref.p), "several steps: parameters");
    gpu.download_gradients(host.data());
    track(rel_error(to_double(host), ref.grad), "several steps: last (partial batch) gradient");
    expect(gpu.iterations() == ref.t, name + ": iterations " + std::to_string(gpu.iterations()) +
                                          " vs " + std::to_string(ref.t));

    const auto ev = means(gpu.evaluate());
    const auto rev = ref.evaluate(test);
    track(rel_error(ev.loss, rev.loss), "evaluate: loss");
    expect(std::fabs(ev.accuracy - rev.accuracy) <= 1.0 / test.n + 1e-12,
           name + ": evaluate accuracy " + std::to_string(ev.accuracy) + " vs reference " +
               std::to_string(rev.accuracy));
    return worst;
}

template <class T>
void all_cases(double tol, const char* type) {
    ctml::rng g(20240501);
    const activation hidden[] = {activation::identity, activation::relu, activation::tanh,
                                 activation::sigmoid};
    const activation last[] = {activation::softmax, activation::identity};
    double worst = 0;
    int count = 0;
    for (const auto& opt : optimizers()) {
        for (const auto h : hidden) {
            for (const auto o : last) {
                // Odd and multiple-of-4 input widths take the gather kernel's two paths.
                const std::size_t dim = count % 2 == 0 ? 36 : 37;
                const std::string name = std::string(type) + " " + describe(opt) + " " +
                                         ctml::cuda::to_string(h) + "/" + ctml::cuda::to_string(o);
                const double w = run_case<T>(g, {dim, 24, 16, 10}, {h, h, o}, opt, 16, 53, tol,
                                             name);
                std::printf("  %-40s worst relative error %.3e\n", name.c_str(), w);
                worst = std::max(worst, w);
                ++count;
            }
        }
    }
    std::printf("%s: %d configurations, worst relative error %.3e (tolerance %.0e)\n", type, count,
                worst, tol);
}

// A Keras-sized network, so that cuBLAS runs its larger kernels too.
void keras_sized() {
    ctml::rng g(7);
    for (const auto& opt : {optimizer_config::rmsprop(1e-3), optimizer_config::sgd(0.1, 0.9)}) {
        const double w = run_case<float>(g, {784, 300, 100, 10},
                                         {activation::relu, activation::relu, activation::softmax},
                                         opt, 50, 130, 1e-4, "float 784-300-100-10 " + describe(opt));
        std::printf("float 784-300-100-10 %s: worst relative error %.3e\n", describe(opt).c_str(), w);
    }
}

// The graph replays (one step per graph, and several) must compute what eager launches compute.
void graph_matches_eager() {
    for (const auto& opt : optimizers()) {
        ctml::rng g(99);
        const std::vector<std::size_t> widths{40, 32, 10};
        const std::vector<activation> acts{activation::tanh, activation::softmax};
        const auto d = random_data(g, 70, 40, 10); // batch 8: 8 full steps and one of 6
        const auto p0 = init_params(g, widths);
        std::vector<float> host(p0.begin(), p0.end());
        const std::size_t steps_per_graph[] = {0, 1, 3}; // 0: eager
        std::vector<ctml::cuda::mlp_trainer<float>> trainers;
        for (const std::size_t k : steps_per_graph) {
            ctml::cuda::trainer_options o;
            o.use_graph = k != 0;
            o.steps_per_graph = k == 0 ? 1 : k;
            trainers.emplace_back(ctml::parameter_layout(widths), acts, opt, 8, o);
            trainers.back().upload_parameters(host.data());
            trainers.back().set_dataset(d.images.data(), d.n, d.dim, d.scale, d.labels.data());
        }
        std::vector<double> loss_diff(trainers.size(), 0);
        for (int e = 0; e < 3; ++e) {
            const auto order = permutation(g, d.n);
            const double eager_loss = means(trainers[0].train_epoch(order.data(), d.n)).loss;
            for (std::size_t i = 1; i < trainers.size(); ++i) {
                const double l = means(trainers[i].train_epoch(order.data(), d.n)).loss;
                loss_diff[i] = std::max(loss_diff[i], std::fabs(l - eager_loss));
            }
        }
        std::vector<float> eager(host.size()), other(host.size());
        trainers[0].download_parameters(eager.data());
        for (std::size_t i = 1; i < trainers.size(); ++i) {
            trainers[i].download_parameters(other.data());
            const bool identical =
                std::memcmp(eager.data(), other.data(), eager.size() * sizeof(float)) == 0;
            const double err = rel_error(to_double(other), to_double(eager));
            const std::string name = "graph (" + std::to_string(steps_per_graph[i]) +
                                     " steps per graph) vs eager, " + describe(opt);
            std::printf("%s: parameters %s (relative difference %.3e), loss difference %.3e, "
                        "steps %llu\n",
                        name.c_str(), identical ? "bitwise identical" : "differ", err,
                        loss_diff[i], static_cast<unsigned long long>(trainers[i].iterations()));
            expect(err <= 1e-6, name + ": relative difference " + std::to_string(err));
            expect(loss_diff[i] <= 1e-6, name + ": loss difference");
            expect(trainers[i].iterations() == 3 * 9 && trainers[0].iterations() == 3 * 9,
                   name + ": iterations");
        }
    }
}

template <class E, class F>
void expect_throw(F&& f, const std::string& needle, const std::string& what) {
    try {
        f();
        expect(false, what + ": no exception");
    } catch (const E& e) {
        expect(std::string(e.what()).find(needle) != std::string::npos,
               what + ": message '" + e.what() + "' lacks '" + needle + "'");
    } catch (const std::exception& e) {
        expect(false, what + ": wrong exception type: " + e.what());
    }
}

using trainer_f = ctml::cuda::mlp_trainer<float>;

trainer_f make(std::vector<std::size_t> widths, std::vector<activation> acts,
               optimizer_config opt, std::size_t batch) {
    return trainer_f(ctml::parameter_layout(widths), std::move(acts), opt, batch);
}

} // namespace

// Everything here is refused before the trainer touches the device: it runs without a GPU.
TEST_CASE("mlp_trainer refuses a configuration it cannot run" * doctest::test_suite("host")) {
    const auto sgd = optimizer_config::sgd(0.1);
    expect_throw<ctml::config_error>(
        [&] { make({4, 3, 2}, {activation::softmax, activation::softmax}, sgd, 2); },
        "only allowed on the last layer", "softmax on a hidden layer");
    expect_throw<ctml::config_error>(
        [&] { make({4, 3, 2}, {activation::relu, activation::relu}, sgd, 2); },
        "must be softmax or identity", "relu on the last layer");
    expect_throw<ctml::config_error>([&] { make({4, 3, 2}, {activation::relu}, sgd, 2); },
                                     "need as many activations", "activation count");
    expect_throw<ctml::config_error>(
        [&] { make({4, 0, 2}, {activation::relu, activation::softmax}, sgd, 2); },
        "width 0 of layer 0", "zero width (the layout refuses it)");
    expect_throw<ctml::config_error>(
        [&] { make({4, 3, 2}, {activation::relu, activation::softmax}, sgd, 0); },
        "batch size 0", "zero batch");
    expect_throw<ctml::config_error>(
        [&] { make({4, 3, 2}, {activation::relu, activation::softmax},
                   optimizer_config::rmsprop(1e-3, 1.5), 2); },
        "rho", "rho out of range");
    expect_throw<ctml::config_error>(
        [&] { make({4, 3, 2}, {activation::relu, activation::softmax},
                   optimizer_config::adam(1e-3, 0.9, 1.0), 2); },
        "beta_2", "beta_2 out of range");
    expect_throw<ctml::config_error>(
        [&] {
            const std::vector<std::size_t> widths{4, 4, 2};
            const bool parametric[] = {false, true};
            trainer_f(ctml::parameter_layout(widths, std::span<const bool>(parametric)),
                      {activation::identity, activation::softmax}, sgd, 2);
        },
        "has no parameters (dropout)", "a layer without parameters");
}

TEST_CASE("mlp_trainer refuses data that does not fit, and keeps working") {
    const auto sgd = optimizer_config::sgd(0.1);
    trainer_f t = make({4, 3, 2}, {activation::relu, activation::softmax}, sgd, 2);
    const std::vector<std::uint8_t> img(3 * 4, 7);
    const std::vector<std::int32_t> good{0, 1, 1};
    const std::vector<std::int32_t> bad{0, 2, 1};
    const std::size_t order[] = {0, 1, 3};
    expect_throw<ctml::config_error>([&] { t.train_epoch(order, 2); }, "set_dataset",
                                     "train before set_dataset");
    expect_throw<ctml::config_error>([&] { t.evaluate(); }, "set_test_set",
                                     "evaluate before set_test_set");
    expect_throw<ctml::data_error>([&] { t.set_dataset(img.data(), 4, 3, 1.0, good.data()); },
                                   "input width is 4", "feature width");
    expect_throw<ctml::data_error>([&] { t.set_dataset(img.data(), 3, 4, 1.0, bad.data()); },
                                   "label 2 at row 1", "label range");
    t.set_dataset(img.data(), 3, 4, 1.0, good.data());
    expect_throw<ctml::data_error>([&] { t.train_epoch(order, 3); }, "order[2] = 3",
                                   "order index range");
    const auto m = t.train_epoch(order, 2);
    expect(m.samples == 2 && std::isfinite(m.loss), "train after errors still works");
    CHECK(t.iterations() == 1);
}

TEST_CASE("float: every optimizer and activation against the double reference") {
    all_cases<float>(1e-4, "float");
}

TEST_CASE("double: every optimizer and activation against the double reference") {
    all_cases<double>(1e-10, "double");
}

TEST_CASE("a Keras-sized network against the double reference") {
    keras_sized();
}

TEST_CASE("graph replay computes what eager launches compute") {
    graph_matches_eager();
}
