// SPDX-License-Identifier: MIT
// Kernel benchmarks for issue #5: every SGEMM of one training step of the two reference networks,
// the sum of them as one "step", and a large square SGEMM as the machine's ceiling. The trainers'
// whole-step throughput is judged against the step figure (same shapes), so it is measured here
// with the same calls the trainers make. The element-wise kernels are in bench_fused.cpp.
//
// Extra flag (before Google Benchmark's own): --blas_threads=1,2 (default: 1 and all cores).
// The FLOPS counter is a rate: FLOP per iteration (2·m·n·k per GEMM) over wall time.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ctml/core/buffer.hpp"
#include "ctml/core/error.hpp"
#include "ctml/kernels/cpu/gemm.hpp"

#include "bench_shapes.hpp"

namespace {

using ctml::kernels::cpu::gemm;
using ctml::kernels::cpu::trans;

using ctml::bench::layer_shape;
using ctml::bench::network;
using ctml::bench::networks;

enum class pass { forward, grad_weight, grad_input };

const char* pass_name(pass p) {
    switch (p) {
    case pass::forward: return "fwd";
    case pass::grad_weight: return "dW";
    case pass::grad_input: return "dX";
    }
    return "?";
}

double flops(std::size_t m, std::size_t n, std::size_t k) {
    return 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
}

void fill_uniform(ctml::buffer<float>& b, std::mt19937& rng) {
    std::uniform_real_distribution<float> u(-1.0F, 1.0F);
    for (float& v : b) {
        v = u(rng);
    }
}

// The operands of one dense layer in the trainers' row-major layout: activations X (batch×in),
// weights W (in×out), outputs Y and their gradient dY (batch×out), dW (in×out), dX (batch×in).
struct layer_buffers {
    std::size_t batch, in, out;
    ctml::buffer<float> x, w, y, dy, dw, dx;

    layer_buffers(std::size_t b, layer_shape s, std::mt19937& rng)
        : batch(b), in(s.in), out(s.out), x(b * s.in), w(s.in * s.out), y(b * s.out),
          dy(b * s.out), dw(s.in * s.out), dx(b * s.in) {
        fill_uniform(x, rng);
        fill_uniform(w, rng);
        fill_uniform(dy, rng);
    }

    // Y = X·W; dW = Xᵀ·dY (X read transposed, as stored); dX = dY·Wᵀ (W read transposed).
    double run(pass p) {
        switch (p) {
        case pass::forward:
            gemm(trans::no, trans::no, batch, out, in, 1.0F, x.data(), w.data(), 0.0F, y.data());
            return flops(batch, out, in);
        case pass::grad_weight:
            gemm(trans::yes, trans::no, in, out, batch, 1.0F, x.data(), dy.data(), 0.0F,
                 dw.data());
            return flops(in, out, batch);
        case pass::grad_input:
            gemm(trans::no, trans::yes, batch, in, out, 1.0F, dy.data(), w.data(), 0.0F,
                 dx.data());
            return flops(batch, in, out);
        }
        return 0.0;
    }
};

void set_flops_counter(benchmark::State& state, double flop_per_iteration, int threads) {
    state.counters["FLOPS"] =
        benchmark::Counter(flop_per_iteration, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["blas_threads"] = static_cast<double>(threads);
}

// One GEMM of one layer.
void bm_layer_gemm(benchmark::State& state, std::size_t batch, layer_shape shape, pass p,
                   int threads) {
    ctml::set_num_threads(threads);
    std::mt19937 rng(42);
    layer_buffers l(batch, shape, rng);
    double f = 0.0;
    for (auto _ : state) {
        f = l.run(p);
        benchmark::ClobberMemory();
    }
    set_flops_counter(state, f, threads);
}

// Every GEMM of one training step, in the order a trainer issues them: the forward pass through
// all layers, then backward from the last layer: dW for each layer and dX for every layer but the
// first (the input's gradient is never needed).
void bm_step_gemms(benchmark::State& state, const network& net, int threads) {
    ctml::set_num_threads(threads);
    std::mt19937 rng(42);
    std::vector<layer_buffers> layers;
    layers.reserve(net.layers.size());
    for (const auto& s : net.layers) {
        layers.emplace_back(net.batch, s, rng);
    }
    double f = 0.0;
    for (auto _ : state) {
        f = 0.0;
        for (auto& l : layers) {
            f += l.run(pass::forward);
        }
        for (std::size_t i = layers.size(); i-- > 0;) {
            f += layers[i].run(pass::grad_weight);
            if (i > 0) {
                f += layers[i].run(pass::grad_input);
            }
        }
        benchmark::ClobberMemory();
    }
    set_flops_counter(state, f, threads);
}

// A large square SGEMM: what the BLAS reaches when shapes do not limit it.
void bm_sgemm_ceiling(benchmark::State& state, std::size_t n, int threads) {
    ctml::set_num_threads(threads);
    std::mt19937 rng(42);
    ctml::buffer<float> a(n * n), b(n * n), c(n * n);
    fill_uniform(a, rng);
    fill_uniform(b, rng);
    for (auto _ : state) {
        gemm(trans::no, trans::no, n, n, n, 1.0F, a.data(), b.data(), 0.0F, c.data());
        benchmark::ClobberMemory();
    }
    set_flops_counter(state, flops(n, n, n), threads);
}

std::string suffix(int threads) { return "/blas_threads:" + std::to_string(threads); }

void register_ceiling_benchmarks(const std::vector<int>& threads) {
    for (int t : threads) {
        benchmark::RegisterBenchmark(("sgemm_ceiling/1024x1024x1024" + suffix(t)).c_str(),
                                     bm_sgemm_ceiling, std::size_t{1024}, t)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
    }
}

void register_layer_gemm_benchmarks(const std::vector<int>& threads) {
    for (const auto& net : networks()) {
        for (const auto& s : net.layers) {
            for (pass p : {pass::forward, pass::grad_weight, pass::grad_input}) {
                for (int t : threads) {
                    const std::string name = std::string("gemm/") + net.name + "/" + pass_name(p) +
                                             "/" + std::to_string(net.batch) + "x" +
                                             std::to_string(s.in) + "x" + std::to_string(s.out) +
                                             suffix(t);
                    benchmark::RegisterBenchmark(name.c_str(), bm_layer_gemm, net.batch, s, p, t)
                        ->Unit(benchmark::kMicrosecond)
                        ->UseRealTime();
                }
            }
        }
    }
}

void register_step_benchmarks(const std::vector<int>& threads) {
    for (const auto& net : networks()) {
        for (int t : threads) {
            const std::string name = std::string("step_gemms/") + net.name + suffix(t);
            benchmark::RegisterBenchmark(name.c_str(), bm_step_gemms, net, t)
                ->Unit(benchmark::kMicrosecond)
                ->UseRealTime();
        }
    }
}

std::vector<int> parse_threads(const char* list) {
    std::vector<int> out;
    std::string s(list);
    std::size_t pos = 0;
    while (pos <= s.size()) {
        const std::size_t comma = std::min(s.find(',', pos), s.size());
        const std::string item = s.substr(pos, comma - pos);
        std::size_t used = 0;
        int v = 0;
        try {
            v = std::stoi(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != item.size() || item.empty() || v < 1) {
            throw ctml::config_error("--blas_threads: expected a comma-separated list of "
                                     "positive integers, got '" + s + "'");
        }
        out.push_back(v);
        pos = comma + 1;
    }
    return out;
}

// Removes --blas_threads=LIST from argv (Google Benchmark rejects flags it does not know).
std::vector<int> take_threads_flag(int& argc, char** argv) {
    const unsigned hw = std::max(1U, std::thread::hardware_concurrency());
    std::vector<int> threads{1};
    if (hw > 1) {
        threads.push_back(static_cast<int>(hw));
    }
    constexpr const char* flag = "--blas_threads=";
    int kept = 1;
    for (int i = 1; i < argc; ++i) {
        if (std::strncmp(argv[i], flag, std::strlen(flag)) == 0) {
            threads = parse_threads(argv[i] + std::strlen(flag));
        } else {
            argv[kept++] = argv[i];
        }
    }
    argc = kept;
    return threads;
}

} // namespace

int main(int argc, char** argv) {
    std::vector<int> threads;
    try {
        threads = take_threads_flag(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "bench_kernels: " << e.what() << '\n';
        return 2;
    }
    register_ceiling_benchmarks(threads);
    register_layer_gemm_benchmarks(threads);
    register_step_benchmarks(threads);
    ctml::bench::register_fused_benchmarks();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 2;
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
