// SPDX-License-Identifier: MIT
// cuda_engine<Job>: the ctml::engine (engine/engine.hpp) that trains a job on one CUDA GPU, an
// adapter over ctml::cuda::mlp_trainer (kernels/cuda/mlp_trainer.cuh). Everything it needs comes
// from the job: the layout from the network, the activations from the layer types, the
// optimizer's kind from its type and its hyperparameters from the settings' value (flags
// included), the batch size from the settings. A job it cannot run is one compile-time error
// (engine/cuda_support.hpp says which and what to write instead).
//
// Memory: the constructor uploads the network's parameters and allocates every device buffer;
// set_training_data uploads the features (as bytes) and labels once; evaluate(d) uploads d's
// rows into a buffer reused while the row count stays the same. The network on the host is not
// touched while training: read_parameters brings the weights back (the loop does, per epoch).
// Include from a .cu file built by nvcc, with CTML_WITH_CUDA=1 (CMake: link ctml::cuda).
#pragma once
#include "ctml/config.hpp"
#if !CTML_WITH_CUDA
#error "ctml/engine/cuda.cuh needs CTML_WITH_CUDA=1 (configure ctml with CUDA, or define it) and nvcc"
#endif
#ifndef __CUDACC__
#error "ctml/engine/cuda.cuh holds device code: include it from a .cu file built by nvcc"
#endif

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>

#include "ctml/core/device.hpp"
#include "ctml/core/error.hpp"
#include "ctml/core/layout.hpp"
#include "ctml/data/dataset.hpp"
#include "ctml/engine/cuda_support.hpp"
#include "ctml/engine/engine.hpp"
#include "ctml/kernels/cuda/mlp_trainer.cuh"

namespace ctml {

/// @brief Trains the job Job (a ctml::run_config) on the current CUDA device.
/// @tparam Job dense layers with ctml::identity/relu/tanh/sigmoid, softmax last; softmax
///         cross-entropy; ctml::sgd, rmsprop or adam; float or double (see cuda_support.hpp)
template <class Job>
class cuda_engine {
    static_assert(check_cuda_job<Job>());

public:
    using job_type = Job;
    using network_type = typename Job::network_type;
    using settings_type = typename Job::settings_type;
    using architecture_type = typename network_type::architecture_type;
    using scalar_type = typename network_type::scalar_type;
    using loss_type = typename Job::loss_type;
    static constexpr device device_kind = device::cuda;

    /// Uploads net's parameters; batch size and optimizer hyperparameters from s.
    cuda_engine(network_type& net, const settings_type& s,
                cuda::trainer_options options = cuda::trainer_options{})
        : trainer_(net.layout(), cuda_activations<architecture_type>(),
                   cuda_optimizer(s.optimizer), s.batch_size, options) {
        trainer_.upload_parameters(net.parameters().data());
    }

    const parameter_layout& layout() const noexcept { return trainer_.layout(); }

    /// Uploads the rows train_epoch reads (features stay bytes on the device; labels checked).
    void set_training_data(const dataset<std::uint8_t>& data) {
        check("training data", data);
        trainer_.set_dataset(data.features.data(), data.size(), data.dim, data.scale,
                             data.labels.data());
    }
    template <class Feature>
    void set_training_data(const dataset<Feature>&) {
        static_assert(std::is_same_v<Feature, std::uint8_t>,
                      "ctml::cuda_engine::set_training_data: the CUDA engine keeps features as "
                      "bytes on the device (dataset<std::uint8_t>, converted as value * scale "
                      "per batch); train float features on the CPU engine");
    }

    /// One pass over order (indices into the training data); the mean training loss and
    /// accuracy of the pass, read back once at its end.
    evaluation train_epoch(std::span<const std::size_t> order) {
        return summarize(trainer_.train_epoch(order.data(), order.size()));
    }

    /// Mean loss and accuracy on data; no parameter change.
    evaluation evaluate(const dataset<std::uint8_t>& data) {
        check("evaluate", data);
        return summarize(trainer_.evaluate(data.features.data(), data.size(), data.dim,
                                           data.scale, data.labels.data()));
    }
    template <class Feature>
    evaluation evaluate(const dataset<Feature>&) {
        static_assert(std::is_same_v<Feature, std::uint8_t>,
                      "ctml::cuda_engine::evaluate: the CUDA engine evaluates byte features "
                      "(dataset<std::uint8_t>); evaluate float features with ctml::evaluate on "
                      "the host");
        return {};
    }

    /// The current parameters (waits for the device), in the layout's order.
    void read_parameters(std::span<scalar_type> out) const {
        require_size(out.size(), "read_parameters");
        trainer_.download_parameters(out.data());
    }
    /// Replaces the parameters on the device (the optimizer state is kept).
    void write_parameters(std::span<const scalar_type> in) {
        require_size(in.size(), "write_parameters");
        trainer_.upload_parameters(in.data());
    }

    /// The last step's gradient of the batch-mean loss, in device memory, layout order.
    std::span<scalar_type> gradients() noexcept {
        return {trainer_.device_gradients(), trainer_.parameter_count()};
    }

    /// Optimizer steps taken (waits for the device).
    std::uint64_t iterations() const { return trainer_.iterations(); }

    /// The trainer underneath (graph replay options, the stream, device pointers).
    cuda::mlp_trainer<scalar_type>& trainer() noexcept { return trainer_; }

private:
    static evaluation summarize(const cuda::pass_sums& s) noexcept {
        evaluation e;
        e.samples = s.samples;
        const auto n = static_cast<double>(s.samples);
        e.loss = s.samples ? s.loss / n : 0.0;
        e.accuracy = s.samples ? s.correct / n : 0.0;
        return e;
    }

    void check(const std::string& what, const dataset<std::uint8_t>& data) const {
        detail::check_dataset<loss_type>(data, trainer_.input_width(), trainer_.output_width(),
                                         "cuda_engine: " + what);
        if (!data.has_labels()) {
            throw data_error("cuda_engine: " + what + ": the CUDA engine trains on class labels; "
                             "this data has dense targets (train it on the CPU engine)");
        }
    }

    void require_size(std::size_t n, const char* what) const {
        if (n != trainer_.parameter_count()) {
            throw config_error(std::string("cuda_engine::") + what + ": " + std::to_string(n) +
                               " values for " + std::to_string(trainer_.parameter_count()) +
                               " parameters (" + trainer_.layout().to_string() + ")");
        }
    }

    cuda::mlp_trainer<scalar_type> trainer_;
};

} // namespace ctml
