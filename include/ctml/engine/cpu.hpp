// SPDX-License-Identifier: MIT
// cpu_engine<Job>: the training step on the host. Every buffer the step touches (activations,
// deltas, gradients, optimizer state, dropout masks, the batch) is allocated in the constructor,
// one aligned buffer per kind; a step allocates nothing.
//
// How the step is built: GEMMs go to OpenBLAS (single-threaded) on column blocks split across
// the engine's own thread pool; bias and activation are fused into one pass over each GEMM
// output, the activation derivative and bias gradient into one pass backward, softmax and
// cross-entropy into one; each layer's optimizer update runs right after its gradient, on the
// thread that computed it. When a batch's input is mostly zeros (MNIST: 19% non-zero) the first
// layer multiplies only the non-zeros. With two or more threads, train_epoch has a worker
// compress the next batch while the caller runs the step's serial layers (set_batch_prefetch).
//
// Subnormal floats: the step runs with FTZ/DAZ set (CTML_FLUSH_DENORMALS,
// engine/detail/denormals.hpp); RMSprop's decaying state otherwise slowed a Keras epoch twofold
// by the 20th.
//
// OpenBLAS: on a CPU that OpenBLAS 0.3.21 does not know but that has AVX-512, the first engine
// switches it from its SSE3 fallback to its SkylakeX kernels (kernels::cpu::select_blas_kernels;
// OPENBLAS_CORETYPE or CTML_BLAS_KERNELS=keep prevent it). The engine's pool is the step's
// parallelism, so OpenBLAS's own threads would oversubscribe the cores, and its threaded path
// mallocs on every call. The first cpu_engine sets OpenBLAS to one thread for the whole process
// and nothing sets it back (restoring it in a destructor broke a second engine still alive).
// ctml::set_num_threads() or kernels::cpu::set_blas_threads() change it again for BLAS calls
// made outside an engine.
#pragma once
#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "ctml/config.hpp"
#include "ctml/core/buffer.hpp"
#include "ctml/core/device.hpp"
#include "ctml/core/error.hpp"
#include "ctml/core/layout.hpp"
#include "ctml/core/random.hpp"
#include "ctml/core/thread_pool.hpp"
#include "ctml/data/dataset.hpp"
#include "ctml/engine/detail/cpu_forward.hpp"
#include "ctml/engine/detail/denormals.hpp"
#include "ctml/engine/detail/phase_timer.hpp"
#include "ctml/engine/engine.hpp"
#include "ctml/kernels/cpu/fused.hpp"
#include "ctml/kernels/cpu/gemm.hpp"
#include "ctml/kernels/cpu/sparse.hpp"
#include "ctml/nn/layers.hpp"
#include "ctml/nn/losses.hpp"
#include "ctml/nn/network.hpp"
#include "ctml/optim/optimizer.hpp"

namespace ctml {

namespace detail {
// The slots of the CPU engine, checked in order inside a function so that only the first broken
// rule is reported (the later checks and the members would otherwise add errors of their own).
template <class Arch, class Loss, class Optimizer>
constexpr bool check_cpu_engine() {
    constexpr bool known_layers = []<std::size_t... I>(std::index_sequence<I...>) {
        return ((Arch::template layer_type<I>::has_parameters ||
                 is_dropout_v<typename Arch::template layer_type<I>>) &&
                ...);
    }(std::make_index_sequence<Arch::layer_count>{});
    if constexpr (!loss<Loss>) {
        static_assert(dependent_false<Loss>,
                      "ctml::cpu_engine: the loss slot needs a loss such as "
                      "ctml::categorical_crossentropy, ctml::sparse_categorical_crossentropy or "
                      "ctml::mean_squared_error");
    } else if constexpr (!optimizer<Optimizer>) {
        static_assert(dependent_false<Optimizer>,
                      "ctml::cpu_engine: the optimizer slot needs an optimizer such as "
                      "ctml::rmsprop<>, ctml::sgd<> or ctml::adam<>");
    } else if constexpr (Loss::fuses_softmax &&
                         !std::is_same_v<typename Arch::output_activation, softmax>) {
        static_assert(dependent_false<Loss>,
                      "ctml: a cross-entropy loss needs softmax in the last layer: end the network "
                      "with ctml::dense<classes, ctml::softmax>");
    } else if constexpr (!known_layers) {
        static_assert(dependent_false<Loss>,
                      "ctml::cpu_engine: a layer without parameters that is not ctml::dropout: "
                      "the CPU engine knows no other parameter-free layer");
    }
    return true;
}

template <class O>
constexpr std::size_t optimizer_state_slots() noexcept {
    if constexpr (optimizer<O>) {
        return O::state_slots;
    } else {
        return 0;
    }
}

// The index of the last layer with parameters before layer L, or L when there is none.
template <class Arch, std::size_t L>
constexpr std::size_t previous_parametric() noexcept {
    for (std::size_t i = L; i-- > 0;) {
        if (Arch::parametric[i]) {
            return i;
        }
    }
    return L;
}
} // namespace detail

/// @brief The CPU engine for a job (a ctml::run_config, or any type with the members below).
/// Satisfies ctml::engine (engine/engine.hpp).
/// @tparam Job names network_type (a ctml::network<Arch, T>), loss_type and settings_type, whose
///         value carries batch_size, threads (0: ctml::num_threads()), seed (dropout masks) and
///         optimizer (the optimizer value with its hyperparameters)
namespace detail {
// An optimizer with a cheaper update for a zero gradient (rmsprop). A named concept, not a
// requires-expression in the `if constexpr`: nvcc 13's front end crashes on the latter.
template <class O, class T, std::size_t Slots>
concept has_zero_gradient_update = requires(const O& o, T* p, std::array<T*, Slots> st,
                                            std::size_t n) { o.update_zero_gradient(p, st, n, n); };
} // namespace detail

template <class Job>
class cpu_engine {
public:
    using job_type = Job;
    using network_type = typename Job::network_type;
    using settings_type = typename Job::settings_type;
    using architecture_type = typename network_type::architecture_type;
    using scalar_type = typename network_type::scalar_type;
    using loss_type = typename Job::loss_type;
    using optimizer_type = std::remove_cvref_t<decltype(std::declval<settings_type&>().optimizer)>;
    static constexpr device device_kind = device::cpu;

private:
    using Arch = architecture_type;
    using T = scalar_type;
    using Loss = loss_type;
    using Optimizer = optimizer_type;
    static_assert(detail::check_cpu_engine<Arch, Loss, Optimizer>());
    static constexpr std::size_t state_slots = detail::optimizer_state_slots<Optimizer>();
    static constexpr bool sparse_capable = Arch::parametric[0];

public:
    static constexpr std::size_t layer_count = Arch::layer_count;

    /// Trains `net`'s parameter buffer in place (kept by reference; it must outlive the engine).
    /// Batch size, threads, optimizer hyperparameters and the dropout seed come from `s`.
    cpu_engine(network_type& net, const settings_type& s)
        : net_(net), opt_(s.optimizer), batch_(s.batch_size),
          pool_(s.threads == 0 ? thread_count() : s.threads), dropout_rng_(dropout_seed(s.seed)) {
        kernels::cpu::select_blas_kernels(); // AVX-512 kernels where OpenBLAS fell back to SSE3
        kernels::cpu::set_blas_threads(1); // once for the process: see the top of this file
        if (batch_ == 0) {
            throw config_error("batch size must be at least 1, got 0");
        }
        for (std::size_t l = 0; l <= layer_count; ++l) {
            acts_[l].resize(batch_ * net_.width(l));
            act_ptrs_[l] = acts_[l].data();
            deltas_[l].resize(batch_ * net_.width(l));
        }
        for (std::size_t l = 0; l < layer_count; ++l) {
            if (!Arch::parametric[l]) {
                masks_[l].resize(batch_ * net_.width(l));
            }
        }
        grads_.resize(net_.parameter_count());
        for (auto& st : state_) {
            st.resize(net_.parameter_count());
        }
        for (std::size_t i = 0; i < state_slots; ++i) {
            state_ptrs_[i] = state_[i].data();
        }
        labels_.resize(batch_);
        dense_.resize(batch_ * net_.output_width());
        if constexpr (sparse_capable) {
            cur_.allocate(batch_, net_.input_width());
            if (pool_.size() > 1) {
                next_.data.allocate(batch_, net_.input_width());
            }
        }
        flush_denormals_on_pool();
        warm_up_blas();
    }

    cpu_engine(const cpu_engine&) = delete;
    cpu_engine& operator=(const cpu_engine&) = delete;
    ~cpu_engine() { pool_.wait(); } // no worker may still write next_ as it goes

    std::size_t batch_size() const noexcept { return batch_; }
    std::size_t threads() const noexcept { return pool_.size(); }
    Optimizer& optimizer() noexcept { return opt_; }
    const Optimizer& optimizer() const noexcept { return opt_; }
    network_type& net() noexcept { return net_; }
    const parameter_layout& layout() const noexcept { return net_.layout(); }
    /// The last step's gradient of the mean loss (layout order), for a communicator to average.
    std::span<T> gradients() noexcept { return grads_.span(); }
    std::uint64_t iterations() const noexcept { return iteration_; }

    /// The current parameters into `out` (the network's own buffer: a copy).
    void read_parameters(std::span<T> out) const {
        require_size(out.size(), "read_parameters");
        std::copy(net_.parameters().begin(), net_.parameters().end(), out.begin());
    }
    /// Replaces the parameters (layout order).
    void write_parameters(std::span<const T> in) {
        require_size(in.size(), "write_parameters");
        std::copy(in.begin(), in.end(), net_.parameters().begin());
    }

    /// The first layer multiplies a compressed input when at most `density` of the batch's input
    /// values are non-zero (0: never). Default CTML_SPARSE_INPUT_DENSITY.
    void set_sparse_input_density(double density) {
        if (!(density >= 0.0 && density <= 1.0)) {
            throw config_error("sparse input density " + std::to_string(density) +
                               " is outside [0, 1]");
        }
        sparse_density_ = density;
    }
    double sparse_input_density() const noexcept { return sparse_density_; }
    /// Whether the last step or evaluation multiplied the first layer sparsely.
    bool last_input_sparse() const noexcept { return sparse_; }

    /// With `fixed`, every training pass reuses the dropout masks drawn now (for a whole batch)
    /// instead of drawing new ones: the loss is then a fixed function of the parameters, as a
    /// gradient check needs. Without, each step draws its own (the default).
    void fix_dropout_masks(bool fixed) noexcept {
        masks_fixed_ = fixed;
        if (fixed) {
            [&]<std::size_t... I>(std::index_sequence<I...>) {
                (draw_mask<I>(batch_), ...);
            }(std::make_index_sequence<layer_count>{});
        }
    }
    /// Layer l's current dropout mask (batch size × width: 0 or 1 / (1 - rate)); empty for a
    /// layer with parameters.
    std::span<const T> dropout_mask(std::size_t l) const noexcept { return masks_[l].span(); }

    /// The batch input buffer (batch_size × input width): fill it, then call a *_batch step.
    /// train_epoch and evaluate load uint8 datasets straight into the compressed forms when the
    /// batch is sparse, and then leave this buffer as it was.
    T* input() noexcept { return acts_[0].data(); }

    /// Forward and backward pass over the first `rows` rows of input(): gradients of the mean
    /// loss into gradients(). Returns the batch's loss sum and correct count.
    batch_result<T> forward_backward(const target_view<T>& targets, std::size_t rows) noexcept {
        const detail::flush_denormals_scope flush;
        return step<false>(targets, rows);
    }

    /// One training step: forward, backward, and the optimizer over every parameter. Each
    /// layer's parameters are updated as soon as its gradient is complete, by the thread that
    /// computed it, while it is still in cache (the same update as one pass over the buffer).
    batch_result<T> train_batch(const target_view<T>& targets, std::size_t rows) noexcept {
        const detail::flush_denormals_scope flush;
        ++iteration_;
        return step<true>(targets, rows);
    }

    /// Applies the optimizer to gradients() in one pass over the whole parameter buffer (after
    /// forward_backward, for callers that inspect or change gradients first).
    void apply_gradients() noexcept {
        const detail::flush_denormals_scope flush;
        ++iteration_;
        opt_.update(net_.parameters().data(), grads_.data(), state_ptrs_, grads_.size(),
                    iteration_);
    }

    /// Loss sum and correct count of the first `rows` rows of input(), without gradients and
    /// without dropout.
    batch_result<T> evaluate_batch(const target_view<T>& targets, std::size_t rows) noexcept {
        const detail::flush_denormals_scope flush;
        compress_input(rows, false);
        return forward_loss<false>(targets, rows, T(0));
    }

    /// The rows train_epoch(order) reads; `data` must outlive the epochs that use it. Checks the
    /// data against the network and the loss (a data_error names the mismatch).
    template <class Feature>
    void set_training_data(const dataset<Feature>& data) {
        check_dataset(data, "training data");
        train_data_ = &data;
        train_loader_ = [](cpu_engine& e, const void* d, std::span<const std::size_t> idx,
                           bool by_feature, bool prefetched) {
            return e.load_batch(*static_cast<const dataset<Feature>*>(d), idx, by_feature,
                                prefetched);
        };
        train_prefetcher_ = nullptr;
        if constexpr (sparse_capable && std::is_same_v<Feature, std::uint8_t>) {
            if (pool_.size() > 1) {
                train_prefetcher_ = [](cpu_engine& e, const void* d,
                                       std::span<const std::size_t> idx) {
                    return e.prefetch_compress(*static_cast<const dataset<Feature>*>(d), idx);
                };
            }
        }
    }

    /// With two or more threads, train_epoch compresses each next batch (uint8 data, sparse
    /// first layer) on a worker thread while the caller runs the step's serial layers, layers
    /// whose split would cut at most 128 columns included (see narrow_split). On by default.
    /// Deterministic either way; the weights can differ in the last bits from a run without it,
    /// because those layers are then computed in one piece instead of two column blocks.
    void set_batch_prefetch(bool on) noexcept { prefetch_enabled_ = on; }
    bool batch_prefetch() const noexcept { return prefetch_enabled_; }
    /// Batches train_epoch has taken ready-compressed from a worker so far.
    std::uint64_t prefetched_batches() const noexcept { return prefetched_batches_; }

    /// Loads the rows `idx` (indices into the training data, at most batch_size()) as the next
    /// step's batch, input and targets, as train_epoch does before each step: for a caller that
    /// runs the steps itself (dist::data_parallel_engine). The targets point into the engine and
    /// hold until the next load.
    target_view<T> load_training_rows(std::span<const std::size_t> idx) {
        if (train_data_ == nullptr) {
            throw config_error("cpu_engine::load_training_rows: call set_training_data first");
        }
        if (idx.size() > batch_) {
            throw config_error("cpu_engine::load_training_rows: " + std::to_string(idx.size()) +
                               " rows for a batch of " + std::to_string(batch_));
        }
        return train_loader_(*this, train_data_, idx, true, false);
    }

    /// One epoch over the training data in the order `order` (indices into it): the mean loss
    /// and accuracy measured during the pass.
    evaluation train_epoch(std::span<const std::size_t> order) {
        if (train_data_ == nullptr) {
            throw config_error("cpu_engine::train_epoch: call set_training_data first");
        }
        double loss_sum = 0;
        std::size_t correct = 0;
        const bool prefetching = prefetch_enabled_ && train_prefetcher_ != nullptr;
        for (std::size_t begin = 0; begin < order.size(); begin += batch_) {
            const std::size_t rows = std::min(batch_, order.size() - begin);
            const auto idx = order.subspan(begin, rows);
            const bool prefetched = take_prefetched(idx);
            const auto t = train_loader_(*this, train_data_, idx, true, prefetched);
            if (const std::size_t next = begin + rows; prefetching && next < order.size()) {
                next_.idx = order.data() + next;
                next_.rows = std::min(batch_, order.size() - next);
                next_.state = prefetch::requested; // started at the step's first serial phase
            }
            const auto r = train_batch(t, rows);
            loss_sum += static_cast<double>(r.loss_sum);
            correct += r.correct;
        }
        take_prefetched({}); // nothing is left running into the next call
        return summarize(loss_sum, correct, order.size());
    }

    /// Mean loss and accuracy of the network on `data` (no dropout, no parameter change).
    template <class Feature>
    evaluation evaluate(const dataset<Feature>& data) {
        check_dataset(data, "evaluate");
        const std::size_t n = data.size();
        eval_order_.resize(std::min(n, batch_));
        double loss_sum = 0;
        std::size_t correct = 0;
        for (std::size_t begin = 0; begin < n; begin += batch_) {
            const std::size_t rows = std::min(batch_, n - begin);
            std::iota(eval_order_.begin(), eval_order_.begin() + static_cast<std::ptrdiff_t>(rows),
                      begin);
            const auto t =
                load_batch(data, std::span<const std::size_t>(eval_order_.data(), rows), false);
            const auto r = evaluate_batch(t, rows);
            loss_sum += static_cast<double>(r.loss_sum);
            correct += r.correct;
        }
        return summarize(loss_sum, correct, n);
    }

private:
    // A batch compressed by sample (CSR, the forward's input) and by feature (CSC, the kernel
    // gradient's), with the bit-mask scratch the CSC is built through.
    struct compressed_batch {
        buffer<std::uint32_t> csr_ptr, csr_col, csc_ptr, csc_row;
        buffer<std::uint64_t> csc_masks;
        buffer<T> csr_val, csc_val;
        void allocate(std::size_t batch, std::size_t in) {
            csr_ptr.resize(batch + 1);
            csr_col.resize(batch * in + 16); // compress_rows writes up to 16 past the end
            csr_val.resize(batch * in + 16);
            csc_ptr.resize(in + 1);
            csc_row.resize(batch * in);
            csc_val.resize(batch * in);
            csc_masks.resize(kernels::cpu::compress_columns_u8_scratch(in, batch));
        }
    };

    static std::uint64_t dropout_seed(std::uint64_t seed) noexcept {
        // A stream of its own: the same seed also initializes the weights and shuffles.
        return seed ^ 0xd1b54a32d192ed03ULL;
    }

    static evaluation summarize(double loss_sum, std::size_t correct, std::size_t n) noexcept {
        evaluation e;
        e.samples = n;
        e.loss = n ? loss_sum / static_cast<double>(n) : 0.0;
        e.accuracy = n ? static_cast<double>(correct) / static_cast<double>(n) : 0.0;
        return e;
    }

    void require_size(std::size_t n, const char* what) const {
        if (n != net_.parameter_count()) {
            throw config_error(std::string("cpu_engine::") + what + ": " + std::to_string(n) +
                               " values for " + std::to_string(net_.parameter_count()) +
                               " parameters (" + net_.layout().to_string() + ")");
        }
    }

    template <class Feature>
    void check_dataset(const dataset<Feature>& data, const std::string& what) const {
        detail::check_dataset<Loss>(data, net_.input_width(), net_.output_width(), what);
    }

    // The batch `idx` of `data` into the engine: its input (dense into input(), or for uint8
    // features and a sparse enough batch straight into the compressed forms the first layer
    // reads, by sample and, for a backward pass, by feature), and its targets. `prefetched`: the
    // compressed input is already in cur_ (take_prefetched); only the targets are loaded.
    template <class Feature>
    target_view<T> load_batch(const dataset<Feature>& data, std::span<const std::size_t> idx,
                              bool by_feature, bool prefetched = false) noexcept {
        if (!prefetched && !load_compressed(data, idx, by_feature)) {
            const detail::phase_scope timed(detail::phase::load_batch);
            data.gather_features(idx, acts_[0].data());
        }
        target_view<T> t;
        if (data.has_labels()) {
            for (std::size_t i = 0; i < idx.size(); ++i) {
                labels_[i] = data.labels[idx[i]];
            }
            t.labels = labels_.data();
        } else {
            const std::size_t k = data.target_dim;
            for (std::size_t i = 0; i < idx.size(); ++i) {
                for (std::size_t j = 0; j < k; ++j) {
                    dense_[i * k + j] = static_cast<T>(data.targets[idx[i] * k + j]);
                }
            }
            t.dense = dense_.data();
        }
        return t;
    }

    // Most non-zeros a batch of `rows` may have for the sparse first layer (0: never sparse).
    std::size_t max_nonzeros(std::size_t rows) const noexcept {
        return static_cast<std::size_t>(sparse_density_ *
                                        static_cast<double>(rows * net_.input_width()));
    }

    // The batch's CSR into `b` straight from the dataset's bytes; false when it has more than
    // max_nnz non-zeros (b's CSR is then garbage).
    bool compress_rows_into(const dataset<std::uint8_t>& data, std::span<const std::size_t> idx,
                            std::size_t max_nnz, compressed_batch& b) const noexcept {
        return kernels::cpu::compress_rows_u8(data.features.data(), net_.input_width(), idx.data(),
                                              idx.size(), static_cast<T>(data.scale), max_nnz,
                                              b.csr_ptr.data(), b.csr_col.data(), b.csr_val.data());
    }
    // The batch's CSC into `b` (through b's bit masks).
    void compress_features_into(const dataset<std::uint8_t>& data,
                                std::span<const std::size_t> idx,
                                compressed_batch& b) const noexcept {
        kernels::cpu::compress_columns_u8(data.features.data(), net_.input_width(), idx.data(),
                                          idx.size(), static_cast<T>(data.scale), b.csc_ptr.data(),
                                          b.csc_row.data(), b.csc_val.data(), b.csc_masks.data());
    }

    // For uint8 features: compresses the batch straight from the dataset's bytes (no dense float
    // copy; the same values as gather_features then compress_rows) and marks the input prepared,
    // so the step does not compress it again. False (nothing prepared) when the features are not
    // bytes, the sparse path is off or the batch is too dense; input() is then to be filled.
    template <class Feature>
    bool load_compressed(const dataset<Feature>& data, std::span<const std::size_t> idx,
                         bool by_feature) noexcept {
        if constexpr (!sparse_capable || !std::is_same_v<Feature, std::uint8_t>) {
            return false;
        } else {
            const std::size_t max_nnz = max_nonzeros(idx.size());
            if (max_nnz == 0) {
                return false;
            }
            if (by_feature && pool_.size() > 1) {
                // Both forms read only the dataset: the first two threads build one each.
                const detail::phase_scope timed(detail::phase::compress);
                bool sparse_enough = false;
                auto body = [&](std::size_t t, std::size_t) {
                    if (t == 0) {
                        sparse_enough = compress_rows_into(data, idx, max_nnz, cur_);
                    } else if (t == 1) {
                        compress_features_into(data, idx, cur_);
                    }
                };
                pool_.run(body);
                if (!sparse_enough) {
                    return false;
                }
            } else {
                {
                    const detail::phase_scope timed(detail::phase::compress);
                    if (!compress_rows_into(data, idx, max_nnz, cur_)) {
                        return false;
                    }
                }
                if (by_feature) {
                    const detail::phase_scope timed(detail::phase::transpose);
                    compress_features_into(data, idx, cur_);
                }
            }
            sparse_ = true;
            prepared_ = by_feature ? prepared::rows_and_features : prepared::rows;
            return true;
        }
    }

    // On worker 1, while the caller runs a step: train_epoch's next batch into next_.data, both
    // forms (the same values load_compressed would build). False when it is too dense.
    bool prefetch_compress(const dataset<std::uint8_t>& data,
                           std::span<const std::size_t> idx) noexcept {
        const std::size_t max_nnz = max_nonzeros(idx.size());
        if (max_nnz == 0 || !compress_rows_into(data, idx, max_nnz, next_.data)) {
            return false;
        }
        compress_features_into(data, idx, next_.data);
        return true;
    }

    // Called by the step where the caller alone works (a serial layer, a dropout, the loss):
    // hands a requested next batch to the workers. Any later pool_.run waits for them first.
    void start_prefetch() noexcept {
        if (next_.state == prefetch::requested) {
            next_.state = prefetch::started;
            pool_.start(prefetch_body_);
        }
    }

    // The next batch is `idx`: true when the workers compressed it (cur_ now holds it, prepared
    // for a step). False when it was not started (no serial phase in the step) or was too dense;
    // the caller then loads it as usual. Either way no prefetch is left pending.
    bool take_prefetched(std::span<const std::size_t> idx) noexcept {
        const bool started = next_.state == prefetch::started;
        next_.state = prefetch::none;
        if (!started) {
            return false;
        }
        {
            const detail::phase_scope timed(detail::phase::compress);
            pool_.wait();
        }
        if (!next_.sparse_enough || next_.idx != idx.data() || next_.rows != idx.size()) {
            return false;
        }
        std::swap(cur_, next_.data);
        ++prefetched_batches_;
        sparse_ = true;
        prepared_ = prepared::rows_and_features;
        return true;
    }

    // The pool's own threads run only this engine's work: FTZ/DAZ on them for good
    // (engine/detail/denormals.hpp); the caller's thread gets it per call.
    void flush_denormals_on_pool() noexcept {
        auto body = [](std::size_t t, std::size_t) {
            if (t != 0) {
                detail::flush_denormals_on_this_thread();
            }
        };
        pool_.run(body);
    }

    // OpenBLAS keeps a table of packing buffers and mmaps a new one the first time more of its
    // calls are in flight at once than ever before. Steps run GEMMs on every pool thread at once,
    // so the first step whose GEMMs happen to overlap would map memory. Each pool thread takes a
    // buffer from that table and holds it until all hold one, so the table has a buffer per
    // thread before the first step. (Overlapping warm-up GEMMs were not enough on a loaded
    // machine: time slicing can keep them apart.)
    void warm_up_blas() {
#if CTML_BLAS_OPENBLAS
        if (pool_.size() < 2) {
            return;
        }
        std::atomic<std::size_t> holding{0};
        auto body = [&](std::size_t, std::size_t count) {
            void* buffer = blas_memory_alloc(0);
            holding.fetch_add(1);
            while (holding.load() < count) {
                std::this_thread::yield();
            }
            blas_memory_free(buffer);
        };
        pool_.run(body);
#endif
    }

    // Work below this many multiply-adds per layer runs on the calling thread alone: waking the
    // pool costs more than it saves.
    static constexpr std::size_t parallel_work = std::size_t{1} << 20;
    // Gradient values per chunk of the first layer's fused sparse dW + update: with the kernel
    // and optimizer state rows of the chunk, a few times this many floats stay in L1.
    static constexpr std::size_t fused_update_floats = 2048;

    // While train_epoch's next batch is to be or is being compressed by a worker, a layer whose
    // split would cut at most this many columns in two stays on the caller (forward: the output
    // columns; backward: the input columns), and the worker compresses the batch meanwhile.
    // Splitting 100 columns in two gains little (Chainer's 100 × 100 backward: 71 → 50–70 µs on
    // two threads); compressing the batch on the worker takes all of its 66–72 µs off a Chainer
    // step. A wider split waits for the worker first. The choice depends only on the batch's
    // place in the epoch, never on timing, so a run stays deterministic.
    static constexpr std::size_t narrow_split = 128;

    // Whether a layer of rows × in × out multiply-adds is split across the pool, `split` being
    // the width its split divides (0: a split that is never kept on the caller for a prefetch).
    bool parallel(std::size_t rows, std::size_t in, std::size_t out,
                  std::size_t split) const noexcept {
        if (pool_.size() < 2 || rows * in * out < parallel_work || out < 32) {
            return false;
        }
        return next_.state == prefetch::none || split == 0 || split > narrow_split;
    }

    // Compresses the batch's input by sample (forward) and, for a backward pass, by feature
    // (kernel gradient) when it is sparse enough; sets sparse_.
    void compress_input(std::size_t rows, bool by_feature) noexcept {
        if constexpr (!sparse_capable) {
            return; // the first layer is a dropout: the product reads its output
        } else {
            const prepared p = std::exchange(prepared_, prepared::none);
            if (p == prepared::rows_and_features || (p == prepared::rows && !by_feature)) {
                return; // load_compressed did it from the dataset's bytes
            }
            const std::size_t in = net_.input_width();
            const std::size_t max_nnz = max_nonzeros(rows);
            {
                const detail::phase_scope timed(detail::phase::compress);
                sparse_ = max_nnz > 0 &&
                          kernels::cpu::compress_rows(acts_[0].data(), rows, in, max_nnz,
                                                      cur_.csr_ptr.data(), cur_.csr_col.data(),
                                                      cur_.csr_val.data());
            }
            if (sparse_ && by_feature) {
                const detail::phase_scope timed_transpose(detail::phase::transpose);
                kernels::cpu::transpose_compressed(rows, in, cur_.csr_ptr.data(),
                                                   cur_.csr_col.data(), cur_.csr_val.data(),
                                                   cur_.csc_ptr.data(), cur_.csc_row.data(),
                                                   cur_.csc_val.data());
            }
        }
    }

    template <bool Update>
    batch_result<T> step(const target_view<T>& targets, std::size_t rows) noexcept {
        compress_input(rows, true);
        const auto r = forward_loss<true>(targets, rows, T(1) / static_cast<T>(rows));
        backward_output<!Loss::fuses_softmax>(rows);
        backward_layers<Update>(rows, std::make_index_sequence<layer_count>{});
        return r;
    }

    // Forward pass and loss over `rows` rows; the loss gradient (times grad_scale) goes to
    // deltas_[L]. A fused loss takes the logits: the last activation is left to it.
    template <bool Training>
    batch_result<T> forward_loss(const target_view<T>& targets, std::size_t rows,
                                 T grad_scale) noexcept {
        const std::size_t k = net_.output_width();
        T* out = acts_[layer_count].data();
        T* dz = deltas_[layer_count].data();
        forward_pass<!Loss::fuses_softmax, Training>(rows);
        start_prefetch();
        const detail::phase_scope timed(detail::phase::loss);
        if constexpr (Loss::fuses_softmax) {
            return Loss::fused(out, targets, rows, k, grad_scale, out, dz);
        } else {
            return Loss::evaluate(out, targets, rows, k, grad_scale, dz);
        }
    }

    template <bool FinalActivation, bool Training>
    void forward_pass(std::size_t rows) noexcept {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (forward_phase<FinalActivation, Training, I>(rows), ...);
        }(std::make_index_sequence<layer_count>{});
    }

    template <bool FinalActivation, bool Training, std::size_t I>
    void forward_phase(std::size_t rows) noexcept {
        using L = typename Arch::template layer_type<I>;
        const detail::phase_scope timed(detail::layer_phase(true, I));
        if constexpr (!L::has_parameters) {
            start_prefetch();
            dropout_forward<Training, I>(rows);
        } else {
            using Act = typename L::activation_type;
            const std::size_t in = net_.width(I), out = net_.width(I + 1);
            const bool whole_rows = FinalActivation && !Act::elementwise;
            if constexpr (I == 0) {
                if (sparse_) {
                    sparse_forward<FinalActivation>(rows);
                    return;
                }
            }
            if (whole_rows || !parallel(rows, in, out, out)) {
                start_prefetch();
                detail::forward_layer<FinalActivation, I>(net_, act_ptrs_, rows, 0, out);
                return;
            }
            auto body = [&](std::size_t t, std::size_t n) {
                const auto [c0, c1] = split_range(out, t, n);
                detail::forward_layer<FinalActivation, I>(net_, act_ptrs_, rows, c0, c1);
            };
            pool_.run(body);
        }
    }

    // Layer I is a dropout: training multiplies by a fresh (or the fixed) mask, inference copies.
    template <bool Training, std::size_t I>
    void dropout_forward(std::size_t rows) noexcept {
        const std::size_t n = rows * net_.width(I);
        const T* x = acts_[I].data();
        T* y = acts_[I + 1].data();
        if constexpr (Training) {
            if (!masks_fixed_) {
                draw_mask<I>(rows);
            }
            const T* m = masks_[I].data();
            for (std::size_t i = 0; i < n; ++i) {
                y[i] = x[i] * m[i];
            }
        } else {
            std::copy_n(x, n, y);
        }
    }

    template <std::size_t I>
    void draw_mask(std::size_t rows) noexcept {
        using L = typename Arch::template layer_type<I>;
        if constexpr (!L::has_parameters) {
            const double rate = L::rate;
            const T keep = static_cast<T>(1.0 / (1.0 - rate));
            T* m = masks_[I].data();
            const std::size_t n = rows * net_.width(I);
            for (std::size_t i = 0; i < n; ++i) {
                m[i] = dropout_rng_.uniform() < rate ? T(0) : keep;
            }
        }
    }

    // The first layer on the compressed input: threads take sample ranges (whole rows, so a
    // softmax output layer works too).
    template <bool FinalActivation>
    void sparse_forward(std::size_t rows) noexcept {
        const std::size_t out = net_.width(1);
        auto block = [&](std::size_t r0, std::size_t r1) {
            if (r1 <= r0) {
                return;
            }
            kernels::cpu::sparse_gemm(r0, r1, cur_.csr_ptr.data(), cur_.csr_col.data(),
                                      cur_.csr_val.data(), net_.kernel(0).data(), out, out,
                                      acts_[1].data(), out);
            auto acts = act_ptrs_;
            acts[1] += r0 * out;
            detail::forward_epilogue<FinalActivation, 0>(net_, acts, r1 - r0, 0, out);
        };
        if (!parallel(rows, net_.input_width(), out, 0)) {
            block(0, rows);
            return;
        }
        auto body = [&](std::size_t t, std::size_t n) {
            const auto [r0, r1] = split_range(rows, t, n, 1);
            block(r0, r1);
        };
        pool_.run(body);
    }

    // Gradient of the last layer's pre-activation into deltas_[L], and its bias gradient.
    template <bool ApplyActivation>
    void backward_output(std::size_t rows) noexcept {
        constexpr std::size_t l = layer_count - 1;
        using Act = typename Arch::output_activation;
        const detail::phase_scope timed(detail::phase::output_bias);
        const std::size_t k = net_.output_width();
        T* db = grads_.data() + net_.bias_offset(l);
        if constexpr (ApplyActivation) {
            kernels::cpu::activation_backward_bias<Act>(acts_[layer_count].data(),
                                                        deltas_[layer_count].data(), rows, k, db);
        } else {
            kernels::cpu::column_sums(deltas_[layer_count].data(), rows, k, db);
        }
    }

    template <bool Update, std::size_t... I>
    void backward_layers(std::size_t rows, std::index_sequence<I...>) noexcept {
        (backward_phase<Update, layer_count - 1 - I>(rows), ...);
    }

    template <bool Update, std::size_t L>
    void backward_phase(std::size_t rows) noexcept {
        if constexpr (Arch::parametric[L]) { // a dropout's backward is part of the layer after it
            const detail::phase_scope timed(detail::layer_phase(false, L));
            const std::size_t in = net_.width(L), out = net_.width(L + 1);
            if (!parallel(rows, in, out, in)) {
                start_prefetch();
                backward_block<Update, L>(rows, 0, in, true);
                return;
            }
            auto body = [&](std::size_t t, std::size_t n) {
                const auto [r0, r1] = split_range(in, t, n);
                backward_block<Update, L>(rows, r0, r1, t == 0);
            };
            pool_.run(body);
        }
    }

    // deltas_[L+1] holds dL/dz of layer L, whose bias gradient is done. For kernel rows
    // [r0, r1) (= input columns [r0, r1)): the kernel gradient rows; dL/dz of the dense layer P
    // before it in those columns (through the masks of any dropout layers between, whose width
    // is the same), with P's activation derivative and bias gradient in one sweep; then, when
    // updating, the optimizer on those kernel rows. Only this block reads those rows of W_L, so
    // updating them here is safe. The thread with `owns_bias` also updates b_L.
    template <bool Update, std::size_t L>
    void backward_block(std::size_t rows, std::size_t r0, std::size_t r1, bool owns_bias) noexcept {
        using kernels::cpu::trans;
        constexpr std::size_t P = detail::previous_parametric<Arch, L>();
        const std::size_t in = net_.width(L), out = net_.width(L + 1);
        if (Update && owns_bias) {
            update_range(net_.bias_offset(L), out);
        }
        if (r1 <= r0) {
            return;
        }
        const std::size_t cols = r1 - r0;
        const T* d = deltas_[L + 1].data();
        T* dw = grads_.data() + net_.kernel_offset(L) + r0 * out;
        if (L == 0 && sparse_) {
            // A few kernel rows at a time, each chunk's optimizer update run while its gradient
            // rows are still in L1 (the same element-wise update, so the same result as one
            // call over the block). The first layer's kernel, gradient and optimizer state are
            // several times L2; updating after the whole block read the gradient back from L3.
            const std::size_t chunk = Update ? std::max<std::size_t>(1, fused_update_floats / out)
                                             : cols;
            for (std::size_t i = r0; i < r1; i += chunk) {
                const std::size_t i1 = std::min(r1, i + chunk);
                kernels::cpu::sparse_gemm_tn(i, i1, cur_.csc_ptr.data(), cur_.csc_row.data(),
                                             cur_.csc_val.data(), d, out, out,
                                             grads_.data() + net_.kernel_offset(L), out);
                if constexpr (Update) {
                    update_first_layer_rows(i, i1, out);
                }
            }
            return;
        } else {
            kernels::cpu::gemm(trans::yes, trans::no, cols, out, rows, T(1),
                               acts_[L].data() + r0, in, d, out, T(0), dw, out);
        }
        if constexpr (P < L) {
            using Prev = typename Arch::template layer_type<P>;
            T* dprev = deltas_[P + 1].data() + r0;
            kernels::cpu::gemm(trans::no, trans::yes, rows, cols, out, T(1), d, out,
                               net_.kernel(L).data() + r0 * out, out, T(0), dprev, in);
            if constexpr (P + 1 < L) {
                dropout_backward<P + 1, L>(dprev, rows, r0, cols, in);
            }
            kernels::cpu::activation_backward_bias<typename Prev::activation_type>(
                acts_[P + 1].data() + r0, dprev, rows, cols, in,
                grads_.data() + net_.bias_offset(P) + r0);
        }
        if constexpr (Update) {
            update_range(net_.kernel_offset(L) + r0 * out, cols * out);
        }
    }

    // d (columns [r0, r0 + cols) of rows `ld` apart) ⊙= the masks of dropout layers [D0, D1).
    template <std::size_t D0, std::size_t D1>
    void dropout_backward(T* d, std::size_t rows, std::size_t r0, std::size_t cols,
                          std::size_t ld) noexcept {
        for (std::size_t l = D0; l < D1; ++l) {
            const T* m = masks_[l].data() + r0;
            for (std::size_t i = 0; i < rows; ++i) {
                for (std::size_t j = 0; j < cols; ++j) {
                    d[i * ld + j] *= m[i * ld + j];
                }
            }
        }
    }

    // The optimizer on the first layer's kernel rows [f0, f1) after a sparse dW: rows of
    // features that are 0 in the whole batch have a zero gradient, and an optimizer that has a
    // cheaper update for that (rmsprop: v ← ρ·v, p untouched) gets those runs of rows.
    void update_first_layer_rows(std::size_t f0, std::size_t f1, std::size_t out) noexcept {
        const std::size_t base = net_.kernel_offset(0);
        if constexpr (detail::has_zero_gradient_update<Optimizer, T, state_slots>) {
            const std::uint32_t* cp = cur_.csc_ptr.data();
            for (std::size_t f = f0; f < f1;) {
                const bool zero = cp[f + 1] == cp[f];
                std::size_t e = f + 1;
                while (e < f1 && (cp[e + 1] == cp[e]) == zero) {
                    ++e;
                }
                if (zero) {
                    std::array<T*, state_slots> st{};
                    for (std::size_t k = 0; k < state_slots; ++k) {
                        st[k] = state_ptrs_[k] + base + f * out;
                    }
                    opt_.update_zero_gradient(net_.parameters().data() + base + f * out, st,
                                              (e - f) * out, iteration_);
                } else {
                    update_range(base + f * out, (e - f) * out);
                }
                f = e;
            }
        } else {
            update_range(base + f0 * out, (f1 - f0) * out);
        }
    }

    void update_range(std::size_t offset, std::size_t n) noexcept {
        std::array<T*, Optimizer::state_slots> s{};
        for (std::size_t i = 0; i < Optimizer::state_slots; ++i) {
            s[i] = state_ptrs_[i] + offset;
        }
        opt_.update(net_.parameters().data() + offset, grads_.data() + offset, s, n, iteration_);
    }

    network_type& net_;
    Optimizer opt_;
    std::size_t batch_;
    thread_pool pool_;
    std::uint64_t iteration_ = 0;
    std::array<buffer<T>, layer_count + 1> acts_;
    std::array<T*, layer_count + 1> act_ptrs_{};
    std::array<buffer<T>, layer_count + 1> deltas_;
    std::array<buffer<T>, layer_count> masks_;
    rng dropout_rng_;
    bool masks_fixed_ = false;
    buffer<T> grads_;
    std::array<buffer<T>, state_slots> state_;
    std::array<T*, state_slots> state_ptrs_{};
    buffer<std::int32_t> labels_;
    buffer<T> dense_;
    std::vector<std::size_t> eval_order_;
    const void* train_data_ = nullptr;
    target_view<T> (*train_loader_)(cpu_engine&, const void*, std::span<const std::size_t>,
                                    bool, bool) = nullptr;
    double sparse_density_ = CTML_SPARSE_INPUT_DENSITY;
    bool sparse_ = false;
    // What load_compressed left for the next step or evaluation (which then skips compressing).
    // train_epoch loads rows and features right before its step, evaluate rows only right before
    // evaluate_batch: a step never finds `rows` alone.
    enum class prepared : std::uint8_t { none, rows, rows_and_features };
    prepared prepared_ = prepared::none;
    compressed_batch cur_;
    // train_epoch's next batch, compressed by the pool's workers while the caller runs this
    // step's serial phases (start_prefetch), then swapped with cur_ by the next load.
    enum class prefetch : std::uint8_t { none, requested, started };
    struct next_batch {
        compressed_batch data;
        const std::size_t* idx = nullptr;
        std::size_t rows = 0;
        prefetch state = prefetch::none;
        bool sparse_enough = false;
    };
    next_batch next_;
    bool prefetch_enabled_ = true;
    std::uint64_t prefetched_batches_ = 0;
    // The workers' body: worker 1 compresses next_ (the other workers have nothing to do).
    struct prefetch_body {
        cpu_engine* engine;
        void operator()(std::size_t t, std::size_t) const noexcept {
            if (t == 1) {
                engine->next_.sparse_enough = engine->train_prefetcher_(
                    *engine, engine->train_data_,
                    std::span<const std::size_t>(engine->next_.idx, engine->next_.rows));
            }
        }
    };
    prefetch_body prefetch_body_{this};
    // Compresses rows of the training data into next_.data (true: sparse enough); set for uint8
    // training data on a sparse-capable network, else null (no prefetch).
    bool (*train_prefetcher_)(cpu_engine&, const void*, std::span<const std::size_t>) = nullptr;
};

} // namespace ctml
