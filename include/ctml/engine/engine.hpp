// SPDX-License-Identifier: MIT
// The engine concept: what the training loop (train/fit.hpp) needs from an engine, and all it
// may assume. An engine owns its buffers and kernels (the CPU step in engine/cpu.hpp, the CUDA
// step in engine/cuda.cuh); the loop owns the epochs, the shuffling, validation and callbacks.
//
// Contract (every engine):
//   typename E::scalar_type                     float or double
//   E::device_kind                              ctml::device::cpu or ::cuda (static constexpr)
//   e.layout() -> const parameter_layout&       the one parameter layout (core/layout.hpp)
//   e.set_training_data(const dataset<F>& d)    d must outlive the epochs that use it; an engine
//                                               may copy it (CUDA uploads it once)
//   e.train_epoch(order) -> evaluation          one pass over the rows order[0..n) (indices into
//                                               the training data) in batches of the job's batch
//                                               size, the last one partial; the mean training
//                                               loss and accuracy measured during the pass
//   e.evaluate(const dataset<F>& d) -> evaluation   mean loss and accuracy, no parameter change
//   e.read_parameters(span<T> out)              the current parameters into out (layout order)
//   e.write_parameters(span<const T> in)        replaces the parameters (layout order)
//   e.gradients() -> span<T>                    the last step's gradient of the mean loss, in the
//                                               engine's memory (host for cpu, device for cuda),
//                                               layout order: what a communicator averages
//   e.iterations() -> std::uint64_t             optimizer steps taken (Adam's t)
// An engine allocates in its constructor and in set_training_data, never in a step.
#pragma once
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>

#include "ctml/core/device.hpp"
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

} // namespace ctml
