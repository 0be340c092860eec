// SPDX-License-Identifier: MIT
// The engine concept: what the training loop (train/fit.hpp) needs from an engine, and all it
// may assume. An engine owns its buffers and kernels (the CPU step in engine/cpu.hpp, the CUDA
// step in engine/cuda.cuh); the loop owns the epochs, the shuffling, validation and callbacks.
//
// Contract (every engine E for a job Job):
//   E(typename Job::network_type& net, const typename Job::settings_type& s)
//                                               trains net's parameter buffer (the CPU engine in
//                                               place; a device engine uploads it and writes it
//                                               back only through read_parameters); batch size,
//                                               threads, seed and optimizer hyperparameters from s
//   typename E::scalar_type                     float or double
//   E::device_kind                              ctml::device::cpu or ::cuda (static constexpr)
//   e.layout() -> const parameter_layout&       the one parameter layout (core/layout.hpp)
//   e.set_training_data(const dataset<F>& d)    d must outlive the epochs that use it; an engine
//                                               may copy it (CUDA uploads it once); a dataset that
//                                               does not fit the network or loss: data_error
//   e.train_epoch(order) -> evaluation          one pass over the rows order[0..n) (indices into
//                                               the training data) in batches of the job's batch
//                                               size, the last one partial; the mean training
//                                               loss and accuracy measured during the pass
//   e.evaluate(const dataset<F>& d) -> evaluation   mean loss and accuracy, no parameter change,
//                                               no dropout
//   e.read_parameters(span<T> out)              the current parameters into out (layout order)
//   e.write_parameters(span<const T> in)        replaces the parameters (layout order)
//   e.gradients() -> span<T>                    the last step's gradient of the mean loss, in the
//                                               engine's memory (host for cpu, device for cuda),
//                                               layout order: what a communicator averages
//   e.iterations() -> std::uint64_t             optimizer steps taken (Adam's t)
// An engine allocates in its constructor and in set_training_data, never in a step.
//
// What an engine reads from Job (ctml::run_config<...> provides all of it):
//   Job::network_type   ctml::network<Arch, T>
//   Job::loss_type      a ctml::loss
//   Job::settings_type  s.batch_size, s.threads (0: ctml::num_threads()), s.seed (dropout
//                       masks), s.optimizer (a ctml::optimizer value), s.device
// The training loop (train/fit.hpp) builds the engine that settings.device names and calls, per
// epoch: train_epoch, evaluate (validation), and for an engine whose device_kind is not cpu,
// read_parameters into the network, so that callbacks and the caller see current weights.
#pragma once
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "ctml/core/device.hpp"
#include "ctml/core/error.hpp"
#include "ctml/core/layout.hpp"
#include "ctml/data/dataset.hpp"

namespace ctml {

/// @brief Loss and accuracy of a model over `samples` rows (an epoch's training pass, or an
/// evaluation).
struct evaluation {
    double loss = 0;
    double accuracy = 0;
    std::size_t samples = 0;
};

/// @brief What the training loop accepts as an engine (see the contract above).
template <class E>
concept engine = requires(E& e, const E& ce, std::span<const std::size_t> order,
                          const dataset<std::uint8_t>& d,
                          std::span<typename E::scalar_type> out,
                          std::span<const typename E::scalar_type> in) {
    typename E::scalar_type;
    { E::device_kind } -> std::convertible_to<device>;
    { ce.layout() } -> std::convertible_to<const parameter_layout&>;
    e.set_training_data(d);
    { e.train_epoch(order) } -> std::same_as<evaluation>;
    { e.evaluate(d) } -> std::same_as<evaluation>;
    e.read_parameters(out);
    e.write_parameters(in);
    { e.gradients() } -> std::same_as<std::span<typename E::scalar_type>>;
    { ce.iterations() } -> std::convertible_to<std::uint64_t>;
};

namespace detail {
/// Checks `data` against a network of `inputs` inputs and `outputs` outputs trained with `Loss`;
/// a data_error names `what` and the mismatch. Every engine and the loop use it.
template <class Loss, class Feature>
void check_dataset(const dataset<Feature>& data, std::size_t inputs, std::size_t outputs,
                   const std::string& what) {
    data.validate(what);
    if (data.dim != inputs) {
        throw data_error(what + ": rows have " + std::to_string(data.dim) +
                         " features but the network's input is " + std::to_string(inputs));
    }
    const std::size_t k = outputs;
    if (data.has_labels()) {
        if (!Loss::accepts_labels) {
            throw data_error(what + ": " + std::string(Loss::name) +
                             " needs dense targets, the data has class labels");
        }
        if (data.classes != k) {
            throw data_error(what + ": " + std::to_string(data.classes) +
                             " classes but the network has " + std::to_string(k) + " outputs");
        }
    } else {
        if (!Loss::accepts_dense) {
            throw data_error(what + ": " + std::string(Loss::name) +
                             " needs integer class labels, the data has dense targets");
        }
        if (data.target_dim != k) {
            throw data_error(what + ": targets have " + std::to_string(data.target_dim) +
                             " values per row but the network has " + std::to_string(k) +
                             " outputs");
        }
    }
}
} // namespace detail

} // namespace ctml
