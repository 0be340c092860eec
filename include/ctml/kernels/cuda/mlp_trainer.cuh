// SPDX-License-Identifier: MIT
// GPU training engine for ctml's dense networks: the whole step (gather, forward, softmax
// cross-entropy, backward, optimizer) on one stream, captured once as a CUDA graph and replayed.
// The batch cursor and the step count live on the device, so one graph can hold several
// consecutive steps: a replay then costs one host launch for all of them.
//
// Parameter layout: ctml::parameter_layout (core/layout.hpp), the one every engine and the model
// files use: layer by layer, each layer's W (in × out, row-major: y = x·W + b with x row-major
// batch × in) followed by its b (out). Gradients and optimizer state use the same layout in
// buffers of their own. Spellings are the CPU side's: kernel_offset, beta_1, iterations.
#pragma once
#include "ctml/config.hpp"
#if !CTML_WITH_CUDA
#error "ctml/kernels/cuda/*.cuh need CTML_WITH_CUDA=1 (configure ctml with CUDA, or define it) and nvcc"
#endif
#ifndef __CUDACC__
#error "ctml/kernels/cuda/mlp_trainer.cuh holds device code: include it from a .cu file built by nvcc"
#endif

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "ctml/core/error.hpp"
#include "ctml/core/layout.hpp"
#include "ctml/kernels/cuda/check.cuh"
#include "ctml/kernels/cuda/device_buffer.cuh"
#include "ctml/kernels/cuda/mlp_kernels.cuh"
#include "ctml/kernels/cuda/trainer_config.hpp"

namespace ctml::cuda {

namespace detail {

struct stream_deleter {
    void operator()(cudaStream_t s) const noexcept { cudaStreamDestroy(s); }
};
struct cublas_deleter {
    void operator()(cublasHandle_t h) const noexcept { cublasDestroy(h); }
};
struct graph_exec_deleter {
    void operator()(cudaGraphExec_t g) const noexcept { cudaGraphExecDestroy(g); }
};
using stream_ptr = std::unique_ptr<std::remove_pointer_t<cudaStream_t>, stream_deleter>;
using cublas_ptr = std::unique_ptr<std::remove_pointer_t<cublasHandle_t>, cublas_deleter>;
using graph_exec_ptr = std::unique_ptr<std::remove_pointer_t<cudaGraphExec_t>, graph_exec_deleter>;

// Column-major cuBLAS on row-major data: a row-major r × c matrix is a column-major c × r one.
inline cublasStatus_t gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                           int n, int k, float alpha, const float* a, int lda, const float* b,
                           int ldb, float beta, float* c, int ldc) {
    return cublasSgemm(h, ta, tb, m, n, k, &alpha, a, lda, b, ldb, &beta, c, ldc);
}
inline cublasStatus_t gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                           int n, int k, double alpha, const double* a, int lda, const double* b,
                           int ldb, double beta, double* c, int ldc) {
    return cublasDgemm(h, ta, tb, m, n, k, &alpha, a, lda, b, ldb, &beta, c, ldc);
}

// A dataset held on the device as bytes (converted per batch) plus validated labels.
struct device_dataset {
    device_buffer<std::uint8_t> images;
    device_buffer<std::int32_t> labels;
    std::size_t rows = 0;
    double scale = 1.0;
};

} // namespace detail

/// @brief Trains a dense network (softmax cross-entropy on integer labels) on one CUDA GPU.
/// @tparam T float (cuBLAS SGEMM) or double (DGEMM, for gradient checks).
///
/// Construct once; all device memory is allocated by the constructor and set_dataset /
/// set_test_set, none by a step. train_epoch runs the full batches as replays of captured
/// graphs of steps_per_graph steps, then of one step (unless trainer_options::use_graph is
/// false: then every step is launched eagerly), a partial last batch eagerly, and reads
/// the loss and accuracy totals back once at the end. Not thread-safe; one trainer per thread.
template <class T>
class mlp_trainer {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "ctml::cuda::mlp_trainer<T>: T must be float or double");

public:
    /// layout: the network's widths and offsets (every layer with parameters); activations: one
    /// per layer. The last layer's activation must be softmax or identity (its outputs are the
    /// logits either way).
    mlp_trainer(parameter_layout layout, std::vector<activation> activations,
                optimizer_config optimizer, std::size_t batch_size, trainer_options options = {})
        : layout_(std::move(layout)), activations_(std::move(activations)), opt_(optimizer),
          batch_(batch_size), options_(options) {
        validate();
        rows_max_ = std::max(batch_, options_.eval_batch_size);
        allocate();
    }

    mlp_trainer(const mlp_trainer&) = delete;
    mlp_trainer& operator=(const mlp_trainer&) = delete;
    mlp_trainer(mlp_trainer&&) noexcept = default;
    // Member-wise move assignment would free the old stream before the old graph and buffers.
    mlp_trainer& operator=(mlp_trainer&&) = delete;
    ~mlp_trainer() {
        if (stream_) {
            cudaStreamSynchronize(stream_.get()); // nothing may still write into freed buffers
        }
    }

    /// Where each layer's kernel and bias sit in the parameter, gradient and state buffers.
    const parameter_layout& layout() const noexcept { return layout_; }
    std::size_t layer_count() const noexcept { return layout_.layer_count(); }
    std::size_t input_width() const noexcept { return layout_.input_width(); }
    std::size_t output_width() const noexcept { return layout_.output_width(); }
    std::size_t batch_size() const noexcept { return batch_; }
    std::size_t parameter_count() const noexcept { return layout_.parameter_count(); }
    const std::vector<activation>& activations() const noexcept { return activations_; }
    const optimizer_config& optimizer() const noexcept { return opt_; }
    /// Optimizer steps taken so far (adam's t); waits for the stream.
    std::uint64_t iterations() const {
        unsigned long long c[2];
        counters_.download(c, 2, 0, stream_.get());
        return c[1];
    }

    void upload_parameters(const T* host) {
        params_.upload(host, parameter_count(), 0, stream_.get());
    }
    void download_parameters(T* host) const {
        params_.download(host, parameter_count(), 0, stream_.get());
    }
    /// The gradient of the last step (mean over its batch), in the parameter layout.
    void download_gradients(T* host) const {
        grads_.download(host, parameter_count(), 0, stream_.get());
    }
    /// Device pointers to the parameters and to the last step's gradient (parameter_count()
    /// elements each, the layout's order): what a device-side communicator averages.
    T* device_parameters() noexcept { return params_.data(); }
    T* device_gradients() noexcept { return grads_.data(); }
    /// The stream every step is enqueued on.
    cudaStream_t stream() const noexcept { return stream_.get(); }
    /// Zeroes the optimizer state and the step count (a fresh optimizer on the current weights).
    void reset_optimizer_state() {
        state1_.zero(stream_.get());
        state2_.zero(stream_.get());
        counters_.zero(stream_.get());
        sync();
    }
    /// Changes the learning rate for the next steps (recaptures the graph at the next epoch).
    void set_learning_rate(double lr) {
        if (!(lr >= 0)) {
            throw config_error("ctml::cuda::mlp_trainer::set_learning_rate: learning rate " +
                               std::to_string(lr) + " must be >= 0");
        }
        opt_.learning_rate = lr;
        drop_graphs();
    }

    /// Uploads the training set once: n rows of dim bytes (dim = the input width), converted to
    /// T as byte * scale per batch on the device, and n labels in [0, output width).
    void set_dataset(const std::uint8_t* images, std::size_t n, std::size_t dim, double scale,
                     const std::int32_t* labels) {
        load("set_dataset", train_, images, n, dim, scale, labels);
        drop_graphs(); // the captured gather reads the old buffers
    }
    /// Uploads a test set once, for evaluate().
    void set_test_set(const std::uint8_t* images, std::size_t n, std::size_t dim, double scale,
                      const std::int32_t* labels) {
        load("set_test_set", test_, images, n, dim, scale, labels);
    }

    /// One pass over the training rows order[0..n) (indices into the dataset, shuffled by the
    /// caller): n / batch full steps and, if n is not a multiple of the batch, one partial step.
    pass_sums train_epoch(const std::size_t* order, std::size_t n) {
        if (train_.rows == 0) {
            throw config_error("ctml::cuda::mlp_trainer::train_epoch: no training set; call "
                               "set_dataset first");
        }
        if (n == 0) {
            throw config_error("ctml::cuda::mlp_trainer::train_epoch: the order is empty");
        }
        upload_order(order, n);
        cudaStream_t s = stream_.get();
        totals_.zero(s);
        CTML_CUDA_CHECK(cudaMemsetAsync(counters_.data(), 0, sizeof(unsigned long long), s));
        const std::size_t full = n / batch_;
        const auto rest = static_cast<std::uint32_t>(n % batch_);
        std::size_t done = 0;
        if (options_.use_graph) {
            const std::size_t k = options_.steps_per_graph;
            for (; k > 1 && done + k <= full; done += k) {
                launch_graph(graph_k_, k);
            }
            for (; done < full; ++done) {
                launch_graph(graph_1_, 1);
            }
        }
        for (; done < full; ++done) {
            enqueue_step(static_cast<std::uint32_t>(batch_));
        }
        if (rest != 0) {
            enqueue_step(rest);
        }
        return read_totals(n);
    }

    /// Loss and accuracy on the test set (set_test_set), in forward passes of eval_batch_size rows.
    pass_sums evaluate() {
        if (test_.rows == 0) {
            throw config_error("ctml::cuda::mlp_trainer::evaluate: no test set; call set_test_set "
                               "first");
        }
        cudaStream_t s = stream_.get();
        totals_.zero(s);
        for (std::size_t first = 0; first < test_.rows; first += rows_max_) {
            const auto rows = static_cast<std::uint32_t>(std::min(rows_max_, test_.rows - first));
            detail::launch_gather<T>(s, test_.images.data(), test_.labels.data(), nullptr, nullptr,
                                     first, 0, rows, dim32(0), static_cast<T>(test_.scale),
                                     acts_[0].data(), batch_labels_.data());
            enqueue_forward(rows);
            detail::launch_softmax_cross_entropy<T>(s, acts_.back().data(), batch_labels_.data(),
                                                    rows, dim32(layer_count()), nullptr,
                                                    row_loss_.data(), row_correct_.data());
            detail::launch_accumulate_metrics<T>(s, row_loss_.data(), row_correct_.data(), rows,
                                                 totals_.data(), nullptr);
        }
        return read_totals(test_.rows);
    }

    /// Uploads n rows (as set_test_set) and evaluates them: what an engine's evaluate(dataset)
    /// does for data it has not seen. The device copy is reallocated only when n changes.
    pass_sums evaluate(const std::uint8_t* images, std::size_t n, std::size_t dim, double scale,
                       const std::int32_t* labels) {
        set_test_set(images, n, dim, scale, labels);
        return evaluate();
    }

    /// Waits for everything enqueued so far.
    void sync() const { CTML_CUDA_CHECK(cudaStreamSynchronize(stream_.get())); }

private:
    void validate() const {
        const std::string who = "ctml::cuda::mlp_trainer: ";
        if (layout_.layer_count() == 0) {
            throw config_error(who + "the layout has no layers (construct it from the network's "
                                     "widths)");
        }
        if (activations_.size() != layout_.layer_count()) {
            throw config_error(who + std::to_string(layout_.layer_count()) +
                               " layers need as many activations, got " +
                               std::to_string(activations_.size()));
        }
        for (std::size_t l = 0; l < layout_.layer_count(); ++l) {
            if (!layout_.has_parameters(l)) {
                throw config_error(who + "layer " + std::to_string(l) +
                                   " has no parameters (dropout): the CUDA engine runs dense "
                                   "layers only; train this network on the CPU engine");
            }
        }
        // cuBLAS takes int dimensions; a width past this is refused, not wrapped.
        for (std::size_t i = 0; i <= layout_.layer_count(); ++i) {
            if (layout_.width(i) > static_cast<std::size_t>(INT_MAX / 32)) {
                throw config_error(who + "width " + std::to_string(i) + " is " +
                                   std::to_string(layout_.width(i)) + "; the CUDA engine takes at "
                                   "most " + std::to_string(INT_MAX / 32));
            }
        }
        for (std::size_t l = 0; l + 1 < activations_.size(); ++l) {
            if (activations_[l] == activation::softmax) {
                throw config_error(who + "layer " + std::to_string(l) +
                                   " has softmax, which is only allowed on the last layer (fused "
                                   "with the cross-entropy loss)");
            }
        }
        const activation last = activations_.back();
        if (last != activation::softmax && last != activation::identity) {
            throw config_error(who + "the last layer's activation is " + to_string(last) +
                               "; the loss is softmax cross-entropy on the last layer's outputs, "
                               "so it must be softmax or identity (logits)");
        }
        if (batch_ == 0 || batch_ > static_cast<std::size_t>(INT_MAX / 32)) {
            throw config_error(who + "batch size " + std::to_string(batch_) + " must be 1 to " +
                               std::to_string(INT_MAX / 32));
        }
        if (options_.steps_per_graph == 0) {
            throw config_error(who + "steps per graph must be at least 1");
        }
        if (options_.eval_batch_size == 0 ||
            options_.eval_batch_size > static_cast<std::size_t>(INT_MAX / 32)) {
            throw config_error(who + "eval batch size " + std::to_string(options_.eval_batch_size) +
                               " must be 1 to " + std::to_string(INT_MAX / 32));
        }
        const auto& o = opt_;
        const auto unit = [&](double v, const char* name) {
            if (!(v >= 0 && v < 1)) {
                throw config_error(who + "optimizer " + name + " " + std::to_string(v) +
                                   " must be in [0, 1)");
            }
        };
        if (!(o.learning_rate >= 0)) {
            throw config_error(who + "learning rate " + std::to_string(o.learning_rate) +
                               " must be >= 0");
        }
        if (!(o.epsilon >= 0)) {
            throw config_error(who + "epsilon " + std::to_string(o.epsilon) + " must be >= 0");
        }
        unit(o.rho, "rho");
        unit(o.momentum, "momentum");
        unit(o.beta_1, "beta_1");
        unit(o.beta_2, "beta_2");
    }

    void allocate() {
        cudaStream_t s = nullptr;
        // A blocking stream: device_buffer's plain cudaMemset/cudaMemcpy on the legacy stream
        // then order themselves with the step's kernels.
        CTML_CUDA_CHECK(cudaStreamCreate(&s));
        stream_.reset(s);
        cublasHandle_t h = nullptr;
        CTML_CUDA_CHECK(cublasCreate(&h));
        cublas_.reset(h);
        // setStream resets the workspace to cuBLAS's pool: give ours afterwards, so that graph
        // capture never sees cuBLAS allocate.
        CTML_CUDA_CHECK(cublasSetStream(h, s));
        workspace_.resize(32u << 20);
        CTML_CUDA_CHECK(cublasSetWorkspace(h, workspace_.data(), workspace_.bytes()));
        CTML_CUDA_CHECK(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH)); // full fp32: no TF32

        const std::size_t n = parameter_count();
        params_.resize(n);
        grads_.resize(n);
        state1_.resize(n);
        if (opt_.kind == optimizer_kind::adam) {
            state2_.resize(n);
        }
        const std::size_t widths = layer_count() + 1;
        acts_.resize(widths);
        for (std::size_t i = 0; i < widths; ++i) {
            acts_[i].resize(rows_max_ * layout_.width(i));
        }
        dz_.resize(widths);
        for (std::size_t i = 1; i < widths; ++i) {
            dz_[i].resize(batch_ * layout_.width(i));
        }
        batch_labels_.resize(rows_max_);
        row_loss_.resize(rows_max_);
        row_correct_.resize(rows_max_);
        totals_.resize(2);
        counters_.resize(2);
    }

    int dim32(std::size_t i) const { return static_cast<int>(layout_.width(i)); }

    void load(const char* who, detail::device_dataset& d, const std::uint8_t* images, std::size_t n,
              std::size_t dim, double scale, const std::int32_t* labels) {
        const std::string where = std::string("ctml::cuda::mlp_trainer::") + who + ": ";
        if (dim != input_width()) {
            throw data_error(where + "rows have " + std::to_string(dim) +
                             " features but the network's input width is " +
                             std::to_string(input_width()));
        }
        if (n == 0 || n > UINT32_MAX) {
            throw data_error(where + std::to_string(n) + " rows; expected 1 to " +
                             std::to_string(UINT32_MAX));
        }
        if (!images || !labels) {
            throw data_error(where + "images and labels must not be null");
        }
        for (std::size_t i = 0; i < n; ++i) {
            if (labels[i] < 0 || static_cast<std::size_t>(labels[i]) >= output_width()) {
                throw data_error(where + "label " + std::to_string(labels[i]) + " at row " +
                                 std::to_string(i) + " is outside [0, " +
                                 std::to_string(output_width()) + ")");
            }
        }
        d.images.resize(n * dim);
        d.labels.resize(n);
        d.images.upload(images, n * dim, 0, stream_.get());
        d.labels.upload(labels, n, 0, stream_.get());
        d.rows = n;
        d.scale = scale;
    }

    void upload_order(const std::size_t* order, std::size_t n) {
        if (!order) {
            throw config_error("ctml::cuda::mlp_trainer::train_epoch: order is null");
        }
        order_host_.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
            if (order[i] >= train_.rows) {
                throw data_error("ctml::cuda::mlp_trainer::train_epoch: order[" +
                                 std::to_string(i) + "] = " + std::to_string(order[i]) +
                                 " is not a row of the " + std::to_string(train_.rows) +
                                 "-row training set");
            }
            order_host_[i] = static_cast<std::uint32_t>(order[i]);
        }
        if (order_.size() < n) {
            order_.resize(n);
            drop_graphs(); // the captured gather reads the old buffer
        }
        order_.upload(order_host_.data(), n, 0, stream_.get());
    }

    optimizer_coefficients<T> coefficients() const {
        const auto& o = opt_;
        const double decay = o.kind == optimizer_kind::sgd       ? o.momentum
                             : o.kind == optimizer_kind::rmsprop ? o.rho
                                                                 : o.beta_1;
        optimizer_coefficients<T> c{};
        c.learning_rate = static_cast<T>(o.learning_rate);
        c.decay = static_cast<T>(decay);
        c.one_minus_decay = static_cast<T>(1 - decay);
        c.decay_2 = static_cast<T>(o.beta_2);
        c.one_minus_decay_2 = static_cast<T>(1 - o.beta_2);
        c.epsilon = static_cast<T>(o.epsilon);
        c.learning_rate_d = o.learning_rate;
        c.beta_1_d = o.beta_1;
        c.beta_2_d = o.beta_2;
        c.nesterov = o.nesterov;
        return c;
    }

    // Forward over acts_[0] (rows × input) into acts_[l + 1]; the last holds the logits.
    void enqueue_forward(std::uint32_t rows) {
        cudaStream_t s = stream_.get();
        for (std::size_t l = 0; l < layer_count(); ++l) {
            const int in = dim32(l);
            const int out = dim32(l + 1);
            const T* w = params_.data() + layout_.kernel_offset(l);
            const T* b = params_.data() + layout_.bias_offset(l);
            // Y^T (out × rows) = W^T (out × in) · X^T (in × rows), all column-major views.
            CTML_CUDA_CHECK(detail::gemm(cublas_.get(), CUBLAS_OP_N, CUBLAS_OP_N, out,
                                         static_cast<int>(rows), in, T(1), w, out,
                                         acts_[l].data(), in, T(0), acts_[l + 1].data(), out));
            detail::launch_bias_activation<T>(s, activations_[l], acts_[l + 1].data(), b, rows,
                                              static_cast<std::uint32_t>(out));
        }
    }

    // dz_[L] = dL/dlogits from the loss kernel; each layer turns dz_[l+1] into dL/dz, its bias
    // and weight gradients, and dL/d(input) into dz_[l].
    void enqueue_backward(std::uint32_t rows) {
        cudaStream_t s = stream_.get();
        for (std::size_t l = layer_count(); l-- > 0;) {
            const int in = dim32(l);
            const int out = dim32(l + 1);
            T* dw = grads_.data() + layout_.kernel_offset(l);
            T* db = grads_.data() + layout_.bias_offset(l);
            T* dz = dz_[l + 1].data();
            detail::launch_activation_backward_bias_grad<T>(s, activations_[l], dz,
                                                            acts_[l + 1].data(), rows,
                                                            static_cast<std::uint32_t>(out), db);
            // dW^T (out × in) = dZ^T (out × rows) · X (rows × in).
            CTML_CUDA_CHECK(detail::gemm(cublas_.get(), CUBLAS_OP_N, CUBLAS_OP_T, out, in,
                                         static_cast<int>(rows), T(1), dz, out, acts_[l].data(),
                                         in, T(0), dw, out));
            if (l > 0) {
                // dX^T (in × rows) = W (in × out) · dZ^T (out × rows).
                const T* w = params_.data() + layout_.kernel_offset(l);
                CTML_CUDA_CHECK(detail::gemm(cublas_.get(), CUBLAS_OP_T, CUBLAS_OP_N, in,
                                             static_cast<int>(rows), out, T(1), w, out, dz, out,
                                             T(0), dz_[l].data(), in));
            }
        }
    }

    void enqueue_step(std::uint32_t rows) {
        cudaStream_t s = stream_.get();
        detail::launch_gather<T>(s, train_.images.data(), train_.labels.data(), order_.data(),
                                 counters_.data(), 0, static_cast<std::uint32_t>(batch_), rows,
                                 dim32(0), static_cast<T>(train_.scale), acts_[0].data(),
                                 batch_labels_.data());
        enqueue_forward(rows);
        detail::launch_softmax_cross_entropy<T>(s, acts_.back().data(), batch_labels_.data(), rows,
                                                dim32(layer_count()), dz_.back().data(),
                                                row_loss_.data(), row_correct_.data());
        detail::launch_accumulate_metrics<T>(s, row_loss_.data(), row_correct_.data(), rows,
                                             totals_.data(), counters_.data());
        enqueue_backward(rows);
        detail::launch_optimizer<T>(s, opt_.kind, params_.data(), grads_.data(), state1_.data(),
                                    state2_.data(), parameter_count(), coefficients(),
                                    counters_.data() + 1);
    }

    void drop_graphs() noexcept {
        graph_k_.reset();
        graph_1_.reset();
    }

    void launch_graph(detail::graph_exec_ptr& g, std::size_t steps) {
        if (!g) {
            g = capture(steps);
        }
        CTML_CUDA_CHECK(cudaGraphLaunch(g.get(), stream_.get()));
    }

    // Records `steps` full-batch steps without running them. Each step reads the cursor that
    // the previous one advanced, so the graph is valid from any batch position of an epoch.
    detail::graph_exec_ptr capture(std::size_t steps) {
        cudaStream_t s = stream_.get();
        CTML_CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
        try {
            for (std::size_t i = 0; i < steps; ++i) {
                enqueue_step(static_cast<std::uint32_t>(batch_));
            }
        } catch (...) {
            cudaGraph_t broken = nullptr;
            cudaStreamEndCapture(s, &broken); // leave the stream usable, then report
            if (broken) {
                cudaGraphDestroy(broken);
            }
            throw;
        }
        cudaGraph_t graph = nullptr;
        CTML_CUDA_CHECK(cudaStreamEndCapture(s, &graph));
        cudaGraphExec_t exec = nullptr;
        const cudaError_t status = cudaGraphInstantiate(&exec, graph, 0);
        cudaGraphDestroy(graph);
        CTML_CUDA_CHECK(status);
        return detail::graph_exec_ptr(exec);
    }

    pass_sums read_totals(std::size_t n) {
        double t[2];
        totals_.download(t, 2, 0, stream_.get()); // the one wait of the epoch
        return {t[0], t[1], n};
    }

    parameter_layout layout_;
    std::vector<activation> activations_;
    optimizer_config opt_;
    std::size_t batch_;
    trainer_options options_;
    std::size_t rows_max_ = 0;

    detail::stream_ptr stream_;
    detail::cublas_ptr cublas_;
    device_buffer<unsigned char> workspace_;
    device_buffer<T> params_, grads_, state1_, state2_;
    std::vector<device_buffer<T>> acts_; // acts_[0]: the batch input; acts_[l + 1]: layer l's output
    std::vector<device_buffer<T>> dz_;   // dz_[l + 1]: gradient at layer l's output, then its z
    device_buffer<std::int32_t> batch_labels_;
    device_buffer<T> row_loss_;
    device_buffer<std::int32_t> row_correct_;
    device_buffer<double> totals_;                // loss sum, correct count
    device_buffer<unsigned long long> counters_;  // batch cursor in the epoch, optimizer step
    detail::device_dataset train_, test_;
    device_buffer<std::uint32_t> order_;
    std::vector<std::uint32_t> order_host_;
    // Last: destroyed first, before the buffers they point into.
    detail::graph_exec_ptr graph_k_; // steps_per_graph steps
    detail::graph_exec_ptr graph_1_; // one step
};

} // namespace ctml::cuda
