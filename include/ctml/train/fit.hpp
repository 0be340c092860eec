// SPDX-License-Identifier: MIT
// The training loop, once, over any ctml::engine: shuffling (ctml::rng, seed + epoch), epochs,
// validation, callbacks, early stopping, epoch times. trainer<Job> takes the network and the
// job's settings whole and builds the engine that settings.device names: the CPU engine
// (engine/cpu.hpp), or the CUDA engine (engine/cuda.cuh) in code compiled by nvcc with
// CTML_WITH_CUDA.
//
//     auto settings = keras_job::defaults();                    // or settings_from(flags)
//     auto net = keras_job::make_network(settings);
//     ctml::trainer<keras_job> trainer(net, settings);
//     const ctml::history h = trainer.fit(mnist.train, {.validation = &mnist.test,
//                                                       .callbacks = {ctml::keras_progress()}});
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "ctml/config.hpp"
#include "ctml/core/device.hpp"
#include "ctml/core/error.hpp"
#include "ctml/core/random.hpp"
#include "ctml/data/dataset.hpp"
#include "ctml/engine/cpu.hpp"
#include "ctml/engine/engine.hpp"
#include "ctml/train/callbacks.hpp"
#include "ctml/train/run_config.hpp"

#if CTML_WITH_CUDA && defined(__CUDACC__) && __has_include("ctml/engine/cuda.cuh")
#include "ctml/engine/cuda.cuh"
#define CTML_FIT_WITH_CUDA 1
#else
#define CTML_FIT_WITH_CUDA 0
#endif

namespace ctml {

/// @brief What fit() takes besides the training data (the job's settings give the epochs and
/// the seed): validation data, evaluated after every epoch, and the callbacks, called after
/// every epoch in order.
/// @tparam Feature the datasets' feature type (std::uint8_t for MNIST bytes)
template <class Feature = std::uint8_t>
struct fit_options {
    const dataset<Feature>* validation = nullptr;
    std::vector<epoch_callback> callbacks{};
    bool shuffle = true; ///< false: every epoch in the dataset's order
};

/// @brief Fisher-Yates with ctml::rng: the same seed gives the same order everywhere.
inline void shuffle(std::span<std::size_t> order, std::uint64_t seed) noexcept {
    rng r(seed);
    for (std::size_t i = order.size(); i > 1; --i) {
        std::swap(order[i - 1], order[r.below(i)]);
    }
}

/// @brief The loop over any engine: `epochs` epochs over `train`, shuffled with seed + epoch.
/// For an engine whose device is not the CPU, the parameters are read back into `parameters`
/// after every epoch, so that the callbacks and the caller see current weights.
template <engine E, class Feature>
history fit_engine(E& e, std::span<typename E::scalar_type> parameters, std::size_t epochs,
                   std::uint64_t seed, const dataset<Feature>& train,
                   const fit_options<Feature>& options) {
    e.set_training_data(train);
    history h;
    std::vector<std::size_t> order(train.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    for (std::size_t epoch = 1; epoch <= epochs; ++epoch) {
        if (options.shuffle) {
            shuffle(order, seed + epoch);
        }
        const auto t0 = std::chrono::steady_clock::now();
        const evaluation t = e.train_epoch(std::span<const std::size_t>(order));
        const auto t1 = std::chrono::steady_clock::now();
        if constexpr (E::device_kind != device::cpu) {
            e.read_parameters(parameters);
        }
        epoch_metrics m;
        m.epoch = epoch;
        m.epochs = epochs;
        m.seconds = std::chrono::duration<double>(t1 - t0).count();
        m.loss = t.loss;
        m.accuracy = t.accuracy;
        if (options.validation != nullptr) {
            const evaluation v = e.evaluate(*options.validation);
            m.val_loss = v.loss;
            m.val_accuracy = v.accuracy;
        }
        h.epochs.push_back(m);
        bool stop = false;
        for (const auto& cb : options.callbacks) {
            stop = (cb(m) == callback_action::stop) || stop;
        }
        if (stop) {
            h.stopped_early = epoch < epochs;
            break;
        }
    }
    return h;
}

// The engines a trainer can build differ between code compiled by nvcc with CUDA and other
// code, so each kind has a namespace of its own (no ODR clash when a program links both).
#if CTML_FIT_WITH_CUDA
inline namespace fit_with_cuda {
#else
inline namespace fit_host_only {
#endif

/// @brief Trains a network with a job's settings on the engine settings.device names.
/// @tparam Job a ctml::run_config<...>
template <class Job>
class trainer {
public:
    using job_type = Job;
    using network_type = typename Job::network_type;
    using settings_type = typename Job::settings_type;
    using scalar_type = typename network_type::scalar_type;

    /// Trains `net` (kept by reference; it must outlive the trainer) with `settings` (copied).
    /// A device this program cannot use is a config_error naming "device".
    trainer(network_type& net, const settings_type& settings) : net_(net), settings_(settings) {
        Job::require_device(settings_.device, "\"device\"");
        if (settings_.widths.all() != net.widths()) {
            throw config_error("trainer: the network's widths " + net.layout().to_string() +
                               " differ from the settings' widths");
        }
        if (settings_.device == device::cpu) {
            cpu_.emplace(net, settings_);
        } else {
#if CTML_FIT_WITH_CUDA
            if constexpr (cuda_capable) {
                cuda_.emplace(net, settings_);
            } else {
                throw config_error("\"device\" cuda: the CUDA engine cannot run this job (see "
                                   "ctml/engine/cuda_support.hpp); use cpu");
            }
#endif
        }
    }

    trainer(const trainer&) = delete;
    trainer& operator=(const trainer&) = delete;

    /// Trains for settings.epochs epochs; see fit_options. Returns every epoch's metrics.
    template <class Feature>
    history fit(const dataset<Feature>& train, const fit_options<Feature>& options = {}) {
        const auto& net = net_;
        detail::check_dataset<typename Job::loss_type>(train, net.input_width(),
                                                       net.output_width(), "training data");
        if (options.validation != nullptr) {
            detail::check_dataset<typename Job::loss_type>(
                *options.validation, net.input_width(), net.output_width(), "validation data");
        }
        return visit([&](auto& e) {
            return fit_engine(e, net_.parameters(), settings_.epochs, settings_.seed, train,
                              options);
        });
    }

    /// Mean loss and accuracy of the network on `data`, on the trainer's engine.
    template <class Feature>
    evaluation evaluate(const dataset<Feature>& data) {
        return visit([&](auto& e) { return e.evaluate(data); });
    }

    const settings_type& settings() const noexcept { return settings_; }
    network_type& net() noexcept { return net_; }
    device device_kind() const noexcept { return settings_.device; }
    /// Optimizer steps taken.
    std::uint64_t iterations() {
        return visit([](auto& e) { return static_cast<std::uint64_t>(e.iterations()); });
    }
    /// The CPU engine, when settings.device is cpu (tests, a communicator); else null.
    cpu_engine<Job>* cpu() noexcept { return cpu_ ? &*cpu_ : nullptr; }

private:
    template <class F>
    auto visit(F&& f) {
#if CTML_FIT_WITH_CUDA
        if constexpr (cuda_capable) {
            if (cuda_) {
                return f(*cuda_);
            }
        }
#endif
        return f(*cpu_);
    }

    network_type& net_;
    settings_type settings_;
    std::optional<cpu_engine<Job>> cpu_;
#if CTML_FIT_WITH_CUDA
    // The CUDA engine rejects at compile time what it cannot run (dropout, say: see
    // engine/cuda_support.hpp). Such a job names no CUDA engine, so that it still compiles for
    // the CPU, and asking for --device cuda is a config_error.
    static constexpr bool cuda_capable = cuda_supports_v<Job>;
    struct no_engine {};
    std::optional<std::conditional_t<cuda_capable, cuda_engine<Job>, no_engine>> cuda_;
#endif
};

} // inline namespace

} // namespace ctml
