// SPDX-License-Identifier: MIT
// A fixed number of training steps of one recipe on real MNIST, for instruction-count profiles
// (valgrind --tool=callgrind) that stay repeatable on a loaded machine, where wall-clock times
// do not. The warm-up steps run uninstrumented; callgrind counts only the measured steps when
// started with --collect-atstart=no (the driver toggles collection around them):
//
//   valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file=keras.cg
//       build/benchmarks/step_profile_avx2 keras 200 1     (one command line)
//   callgrind_annotate keras.cg
//
// Arguments: recipe (keras: 784-300-100-10, batch 50, RMSprop; chainer: 784-100-100-10, batch
// 128, momentum SGD), measured steps (default 100), threads (default 1), warm-up steps (default
// 20), timed rounds of that many steps afterwards (default 0); step_profile_phases (built with
// CTML_PHASE_TIMING) also prints the mean wall time of each phase of the step over those rounds.
// MNIST from $CTML_MNIST_DIR, else /work/shared/data/mnist. CTML_BATCH_PREFETCH=0 switches off
// compressing the next batch on a worker during the step (cpu_engine::set_batch_prefetch).
// Prints a checksum of the weights so that two builds can be compared for identical results.
#include <ctml/ctml.hpp>
#include <valgrind/callgrind.h>

#include <cstdio>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <numeric>
#include <span>
#include <string>
#include <vector>

namespace {

double cpu_seconds(clockid_t clock) {
    timespec t{};
    clock_gettime(clock, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

using keras_net = ctml::sequential<ctml::input<784>, ctml::dense<300, ctml::relu>,
                                   ctml::dense<100, ctml::relu>, ctml::dense<10, ctml::softmax>>;
using keras_job = ctml::run_config<keras_net, ctml::categorical_crossentropy, ctml::rmsprop<>,
                                   ctml::batch_size<50>>;
using chainer_net = ctml::sequential<ctml::input<784>, ctml::linear<784, 100, ctml::relu>,
                                     ctml::linear<100, 100, ctml::relu>,
                                     ctml::linear<100, 10, ctml::softmax>>;
using chainer_job = ctml::run_config<chainer_net, ctml::sparse_categorical_crossentropy,
                                     ctml::momentum_sgd, ctml::batch_size<128>>;

template <class Job>
int run(const ctml::dataset<std::uint8_t>& train, std::size_t steps, std::size_t threads,
        std::size_t warm, std::size_t rounds) {
    auto s = Job::defaults();
    s.threads = threads;
    s.seed = 0;
    if constexpr (requires { s.optimizer.exact; }) {
        // CTML_EXACT_OPTIMIZER=1: the optimizer's exact square root and division (rmsprop, adam).
        const char* exact = std::getenv("CTML_EXACT_OPTIMIZER");
        s.optimizer.exact = exact != nullptr && std::strcmp(exact, "1") == 0;
    }
    typename Job::network_type net;
    net.initialize(0);
    ctml::cpu_engine<Job> e(net, s);
    e.set_training_data(train);
    std::vector<std::size_t> order(train.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    ctml::shuffle(order, 0);
    const std::size_t b = s.batch_size;
    const std::size_t per_epoch = order.size() / b;
    if (const char* p = std::getenv("CTML_BATCH_PREFETCH");
        p != nullptr && std::strcmp(p, "0") == 0) {
        e.set_batch_prefetch(false); // the next batch compressed between steps, not during
    }
    auto steps_from = [&](std::size_t first, std::size_t count) {
        // train_epoch over runs of whole batches, the same path as a real epoch (with two
        // threads the next batch is compressed during the step), wrapping at the epoch's end.
        while (count > 0) {
            const std::size_t k = first % per_epoch;
            const std::size_t n = std::min(count, per_epoch - k);
            e.train_epoch(std::span<const std::size_t>(order.data() + k * b, n * b));
            first += n;
            count -= n;
        }
    };
    steps_from(0, warm);
    CALLGRIND_ZERO_STATS;
    CALLGRIND_TOGGLE_COLLECT;
    steps_from(warm, steps);
    CALLGRIND_TOGGLE_COLLECT;
    // Optional timed rounds after the counted steps (none under callgrind): the fastest round's
    // time per step, wall and process CPU (a loaded machine inflates both; the minimum least).
    // CTML_EXACT_OPTIMIZER=ab alternates the rounds between the exact and the approximate
    // optimizer on the same engine (a slowly changing load then affects both alike).
    const char* ab_env = std::getenv("CTML_EXACT_OPTIMIZER");
    const bool ab = ab_env != nullptr && std::strcmp(ab_env, "ab") == 0;
    double best_wall[2] = {1e300, 1e300}, best_cpu[2] = {1e300, 1e300};
#if defined(CTML_PHASE_TIMING)
    ctml::detail::phase_totals() = {};
#endif
    for (std::size_t r = 0; r < rounds; ++r) {
        const std::size_t k = ab ? r % 2 : 0;
        if constexpr (requires { e.optimizer().exact; }) {
            if (ab) {
                e.optimizer().exact = k == 1;
            }
        }
        const double c0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID), w0 = cpu_seconds(CLOCK_MONOTONIC);
        steps_from(warm + steps + r * steps, steps);
        const double c1 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID), w1 = cpu_seconds(CLOCK_MONOTONIC);
        best_wall[k] = std::min(best_wall[k], w1 - w0);
        best_cpu[k] = std::min(best_cpu[k], c1 - c0);
    }
    const double n = static_cast<double>(steps == 0 ? 1 : steps);
    for (std::size_t k = 0; k < (ab ? 2u : 1u) && rounds > 0; ++k) {
        std::printf("%sfastest of %zu rounds, per step: %.1f us wall, %.1f us CPU (all threads)\n",
                    ab ? (k == 0 ? "approximate optimizer: " : "exact optimizer: ") : "",
                    ab ? rounds / 2 : rounds, best_wall[k] / n * 1e6, best_cpu[k] / n * 1e6);
    }
#if defined(CTML_PHASE_TIMING)
    // Mean wall time per step of each phase over all timed rounds (the caller's view: a phase
    // run on the pool counts once, from its start to the last thread's end).
    if (rounds > 0) {
        const double per = 1e-3 / (static_cast<double>(rounds) * n);
        double total = 0;
        for (const auto t : ctml::detail::phase_totals()) {
            total += static_cast<double>(t);
        }
        std::printf("phase                              us/step   share\n");
        for (std::size_t i = 0; i < ctml::detail::phase_totals().size(); ++i) {
            const double t = static_cast<double>(ctml::detail::phase_totals()[i]);
            if (t > 0) {
                std::printf("%-32s %9.1f %6.1f%%\n", ctml::detail::phase_names[i], t * per,
                            100.0 * t / total);
            }
        }
        std::printf("%-32s %9.1f\n", "sum of phases", total * per);
    }
#endif
    double sum = 0, abs_sum = 0;
    for (const float p : net.parameters()) {
        sum += p;
        abs_sum += std::abs(p);
    }
    std::printf("%zu warm-up + %zu steps, %zu threads: weight sum %.9g, |w| sum %.9g "
                "(%llu batches compressed ahead on a worker)\n",
                warm, steps, e.threads(), sum, abs_sum,
                static_cast<unsigned long long>(e.prefetched_batches()));
    return 0;
}

} // namespace

int main(int argc, char** argv) try {
    const std::string recipe = argc > 1 ? argv[1] : "keras";
    const std::size_t steps = argc > 2 ? std::stoul(argv[2]) : 100;
    const std::size_t threads = argc > 3 ? std::stoul(argv[3]) : 1;
    const std::size_t warm = argc > 4 ? std::stoul(argv[4]) : 20;
    const std::size_t rounds = argc > 5 ? std::stoul(argv[5]) : 0;
    const char* dir = std::getenv("CTML_MNIST_DIR");
    const auto data = ctml::load_mnist(dir != nullptr && *dir != 0 ? dir : "/work/shared/data/mnist");
    if (recipe == "keras") {
        return run<keras_job>(data.train, steps, threads, warm, rounds);
    }
    if (recipe == "chainer") {
        return run<chainer_job>(data.train, steps, threads, warm, rounds);
    }
    std::fprintf(stderr, "step_profile: recipe must be keras or chainer, got '%s'\n",
                 recipe.c_str());
    return 2;
} catch (const std::exception& e) {
    std::fprintf(stderr, "step_profile: error: %s\n", e.what());
    return 1;
}
