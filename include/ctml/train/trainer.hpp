// SPDX-License-Identifier: MIT
// trainer<Arch, Loss, Optimizer, T>: the training step and loop for a ctml::network. Every buffer
// the step touches (activations, deltas, gradients, optimizer state, the batch) is allocated in
// the constructor; a step allocates nothing.
#pragma once
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
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
#include "ctml/core/error.hpp"
#include "ctml/core/random.hpp"
#include "ctml/core/thread_pool.hpp"
#include "ctml/data/dataset.hpp"
#include "ctml/kernels/cpu/fused.hpp"
#include "ctml/kernels/cpu/gemm.hpp"
#include "ctml/kernels/cpu/sparse.hpp"
#include "ctml/nn/losses.hpp"
#include "ctml/nn/network.hpp"
#include "ctml/optim/optimizer.hpp"
#include "ctml/train/callbacks.hpp"

namespace ctml {

/// @brief Settings of a fit() call; run_config supplies compiled defaults, flags override them.
template <class T>
struct fit_options {
    std::size_t epochs = 1;
    std::uint64_t seed = 0;     ///< shuffling seed (per epoch: seed + epoch)
    bool shuffle = true;
    std::vector<epoch_callback> callbacks;
};

namespace detail {
// The slots of trainer<>, checked in order inside a function so that only the first broken rule
// is reported (the later checks and the members would otherwise add errors of their own).
template <class Arch, class Loss, class Optimizer>
constexpr bool check_trainer() {
    if constexpr (!loss<Loss>) {
        static_assert(dependent_false<Loss>,
                      "ctml::trainer: the loss slot needs a loss such as "
                      "ctml::categorical_crossentropy, ctml::sparse_categorical_crossentropy or "
                      "ctml::mean_squared_error");
    } else if constexpr (!optimizer<Optimizer>) {
        static_assert(dependent_false<Optimizer>,
                      "ctml::trainer: the optimizer slot needs an optimizer such as "
                      "ctml::rmsprop<>, ctml::sgd<> or ctml::adam<>");
    } else if constexpr (Loss::fuses_softmax &&
                         !std::is_same_v<typename Arch::output_activation, softmax>) {
        static_assert(dependent_false<Loss>,
                      "ctml: a cross-entropy loss needs softmax in the last layer: end the network "
                      "with ctml::dense<classes, ctml::softmax>");
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
} // namespace detail

template <architecture Arch, class Loss, class Optimizer, class T = float>
class trainer {
    static_assert(detail::check_trainer<Arch, Loss, Optimizer>());
    static constexpr std::size_t state_slots = detail::optimizer_state_slots<Optimizer>();

public:
    static constexpr std::size_t layer_count = Arch::layer_count;
    using network_type = network<Arch, T>;
    using optimizer_type = Optimizer;

    /// @param net        the network to train (kept by reference; must outlive the trainer)
    /// @param batch_size rows per step (the last batch of an epoch may be smaller)
    /// @param threads    step threads including the caller (0: ctml::num_threads()). The BLAS
    ///                   runs single-threaded inside them while the trainer lives.
    trainer(network_type& net, std::size_t batch_size, Optimizer opt = {}, std::size_t threads = 0)
        : net_(net), opt_(opt), batch_(batch_size),
          pool_(threads == 0 ? thread_count() : threads), blas_threads_(kernels::cpu::blas_threads()) {
        // The pool is the step's parallelism; OpenBLAS's own threads would oversubscribe the
        // cores, and its threaded path mallocs on every call.
        kernels::cpu::set_blas_threads(1);
        if (batch_size == 0) {
            throw config_error("batch size must be at least 1, got 0");
        }
        for (std::size_t l = 0; l <= layer_count; ++l) {
            acts_[l].resize(batch_ * net_.width(l));
            act_ptrs_[l] = acts_[l].data();
            deltas_[l].resize(batch_ * net_.width(l));
        }
        grads_.resize(net_.parameter_count());
        for (auto& s : state_) {
            s.resize(net_.parameter_count());
        }
        for (std::size_t i = 0; i < state_slots; ++i) {
            state_ptrs_[i] = state_[i].data();
        }
        labels_.resize(batch_);
        dense_.resize(batch_ * net_.output_width());
        const std::size_t in = net_.input_width();
        csr_ptr_.resize(batch_ + 1);
        csr_col_.resize(batch_ * in + 16); // compress_rows writes up to 16 past the end
        csr_val_.resize(batch_ * in + 16);
        csc_ptr_.resize(in + 1);
        csc_row_.resize(batch_ * in);
        csc_val_.resize(batch_ * in);
        warm_up_blas();
    }

    trainer(const trainer&) = delete;
    trainer& operator=(const trainer&) = delete;
    ~trainer() { kernels::cpu::set_blas_threads(blas_threads_); }

    std::size_t batch_size() const noexcept { return batch_; }
    std::size_t threads() const noexcept { return pool_.size(); }
    Optimizer& optimizer() noexcept { return opt_; }
    const Optimizer& optimizer() const noexcept { return opt_; }
    network_type& net() noexcept { return net_; }
    std::span<const T> gradients() const noexcept { return grads_.span(); }
    std::size_t iterations() const noexcept { return iteration_; }

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

    /// The batch input buffer (batch_size × input width): fill it, then call a *_batch step.
    T* input() noexcept { return acts_[0].data(); }

    /// Forward and backward pass over the first `rows` rows of input(): gradients of the mean
    /// loss into gradients(). Returns the batch's loss sum and correct count.
    batch_result<T> forward_backward(const target_view<T>& targets, std::size_t rows) noexcept {
        return step<false>(targets, rows);
    }

    /// One training step: forward, backward, and the optimizer over every parameter. Each
    /// layer's parameters are updated as soon as its gradient is complete, by the thread that
    /// computed it, while it is still in cache (the same update as one pass over the buffer).
    batch_result<T> train_batch(const target_view<T>& targets, std::size_t rows) noexcept {
        ++iteration_;
        return step<true>(targets, rows);
    }

    /// Applies the optimizer to gradients() in one pass over the whole parameter buffer (after
    /// forward_backward, for callers that inspect or change gradients first).
    void apply_gradients() noexcept {
        ++iteration_;
        opt_.update(net_.parameters().data(), grads_.data(), state_ptrs_, grads_.size(),
                    iteration_);
    }

    /// Loss sum and correct count of the first `rows` rows of input(), without gradients.
    batch_result<T> evaluate_batch(const target_view<T>& targets, std::size_t rows) noexcept {
        compress_input(rows, false);
        return forward_loss(targets, rows, T(0));
    }

    /// One epoch over `data` in the order `order` (indices into data). Returns (mean loss,
    /// accuracy) over the epoch.
    template <class Feature>
    std::pair<double, double> train_epoch(const dataset<Feature>& data,
                                          std::span<const std::size_t> order) {
        double loss_sum = 0;
        std::size_t correct = 0;
        for (std::size_t begin = 0; begin < order.size(); begin += batch_) {
            const std::size_t rows = std::min(batch_, order.size() - begin);
            const auto idx = order.subspan(begin, rows);
            const auto t = load_batch(data, idx);
            const auto r = train_batch(t, rows);
            loss_sum += static_cast<double>(r.loss_sum);
            correct += r.correct;
        }
        const auto n = static_cast<double>(order.size());
        return {loss_sum / n, static_cast<double>(correct) / n};
    }

    /// Mean loss and accuracy of the network on `data`.
    template <class Feature>
    evaluation evaluate(const dataset<Feature>& data) {
        check_dataset(data, "evaluate");
        evaluation e;
        const std::size_t n = data.size();
        eval_order_.resize(std::min(n, batch_));
        double loss_sum = 0;
        std::size_t correct = 0;
        for (std::size_t begin = 0; begin < n; begin += batch_) {
            const std::size_t rows = std::min(batch_, n - begin);
            std::iota(eval_order_.begin(), eval_order_.begin() + static_cast<std::ptrdiff_t>(rows),
                      begin);
            const auto t = load_batch(data, std::span<const std::size_t>(eval_order_.data(), rows));
            const auto r = evaluate_batch(t, rows);
            loss_sum += static_cast<double>(r.loss_sum);
            correct += r.correct;
        }
        e.samples = n;
        e.loss = n ? loss_sum / static_cast<double>(n) : 0.0;
        e.accuracy = n ? static_cast<double>(correct) / static_cast<double>(n) : 0.0;
        return e;
    }

    /// Trains for options.epochs epochs, shuffling with options.seed, validating on
    /// `validation` (if not null) after each epoch, calling the callbacks after each epoch.
    template <class Feature>
    ctml::history fit(const dataset<Feature>& train, const fit_options<T>& options,
                      const dataset<Feature>* validation = nullptr) {
        check_dataset(train, "training data");
        if (validation) {
            check_dataset(*validation, "validation data");
        }
        ctml::history h;
        std::vector<std::size_t> order(train.size());
        std::iota(order.begin(), order.end(), std::size_t{0});
        for (std::size_t e = 1; e <= options.epochs; ++e) {
            if (options.shuffle) {
                shuffle(order, options.seed + e);
            }
            const auto t0 = std::chrono::steady_clock::now();
            const auto [loss, acc] = train_epoch(train, std::span<const std::size_t>(order));
            const auto t1 = std::chrono::steady_clock::now();
            epoch_metrics m;
            m.epoch = e;
            m.epochs = options.epochs;
            m.seconds = std::chrono::duration<double>(t1 - t0).count();
            m.loss = loss;
            m.accuracy = acc;
            if (validation) {
                const auto v = evaluate(*validation);
                m.val_loss = v.loss;
                m.val_accuracy = v.accuracy;
            }
            h.epochs.push_back(m);
            bool stop = false;
            for (const auto& cb : options.callbacks) {
                stop = (cb(m) == callback_action::stop) || stop;
            }
            if (stop) {
                h.stopped_early = e < options.epochs;
                break;
            }
        }
        return h;
    }

    /// Fisher-Yates with ctml::rng: the same seed gives the same order everywhere.
    static void shuffle(std::span<std::size_t> order, std::uint64_t seed) noexcept {
        rng r(seed);
        for (std::size_t i = order.size(); i > 1; --i) {
            std::swap(order[i - 1], order[r.below(i)]);
        }
    }

private:
    template <class Feature>
    void check_dataset(const dataset<Feature>& data, const std::string& what) const {
        data.validate(what);
        if (data.dim != net_.input_width()) {
            throw data_error(what + ": rows have " + std::to_string(data.dim) +
                             " features but the network's input is " +
                             std::to_string(net_.input_width()));
        }
        const std::size_t k = net_.output_width();
        if (data.has_labels()) {
            if (!Loss::accepts_labels) {
                throw data_error(what + ": " + std::string(Loss::name) +
                                 " needs dense targets, the data has class labels");
            }
            if (data.classes != k) {
                throw data_error(what + ": " + std::to_string(data.classes) +
                                 " classes but the network has " + std::to_string(k) +
                                 " outputs");
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

    template <class Feature>
    target_view<T> load_batch(const dataset<Feature>& data, std::span<const std::size_t> idx) noexcept {
        data.gather_features(idx, acts_[0].data());
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

    bool parallel(std::size_t rows, std::size_t in, std::size_t out) const noexcept {
        return pool_.size() > 1 && rows * in * out >= parallel_work && out >= 32;
    }

    // Compresses the batch's input by sample (forward) and, for a backward pass, by feature
    // (kernel gradient) when it is sparse enough; sets sparse_.
    void compress_input(std::size_t rows, bool by_feature) noexcept {
        const std::size_t in = net_.input_width();
        const auto max_nnz = static_cast<std::size_t>(sparse_density_ * static_cast<double>(rows * in));
        sparse_ = max_nnz > 0 &&
                  kernels::cpu::compress_rows(acts_[0].data(), rows, in, max_nnz, csr_ptr_.data(),
                                              csr_col_.data(), csr_val_.data());
        if (sparse_ && by_feature) {
            kernels::cpu::transpose_compressed(rows, in, csr_ptr_.data(), csr_col_.data(),
                                               csr_val_.data(), csc_ptr_.data(), csc_row_.data(),
                                               csc_val_.data());
        }
    }

    template <bool Update>
    batch_result<T> step(const target_view<T>& targets, std::size_t rows) noexcept {
        compress_input(rows, true);
        const auto r = forward_loss(targets, rows, T(1) / static_cast<T>(rows));
        backward_output<!Loss::fuses_softmax>(rows);
        backward_layers<Update>(rows, std::make_index_sequence<layer_count>{});
        return r;
    }

    // Forward pass and loss over `rows` rows; the loss gradient (times grad_scale) goes to
    // deltas_[L]. A fused loss takes the logits: the last activation is left to it.
    batch_result<T> forward_loss(const target_view<T>& targets, std::size_t rows,
                                 T grad_scale) noexcept {
        const std::size_t k = net_.output_width();
        T* out = acts_[layer_count].data();
        T* dz = deltas_[layer_count].data();
        forward_pass<!Loss::fuses_softmax>(rows);
        if constexpr (Loss::fuses_softmax) {
            return Loss::fused(out, targets, rows, k, grad_scale, out, dz);
        } else {
            return Loss::evaluate(out, targets, rows, k, grad_scale, dz);
        }
    }

    template <bool FinalActivation>
    void forward_pass(std::size_t rows) noexcept {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (forward_phase<FinalActivation, I>(rows), ...);
        }(std::make_index_sequence<layer_count>{});
    }

    template <bool FinalActivation, std::size_t I>
    void forward_phase(std::size_t rows) noexcept {
        using Act = typename Arch::template layer_type<I>::activation_type;
        const std::size_t in = net_.width(I), out = net_.width(I + 1);
        const bool whole_rows = FinalActivation && !Act::elementwise;
        if (I == 0 && sparse_) {
            sparse_forward<FinalActivation>(rows);
            return;
        }
        if (whole_rows || !parallel(rows, in, out)) {
            net_.template forward_layer<FinalActivation, I>(act_ptrs_, rows, 0, out);
            return;
        }
        auto body = [&](std::size_t t, std::size_t n) {
            const auto [c0, c1] = split_range(out, t, n);
            net_.template forward_layer<FinalActivation, I>(act_ptrs_, rows, c0, c1);
        };
        pool_.run(body);
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
            kernels::cpu::sparse_gemm(r0, r1, csr_ptr_.data(), csr_col_.data(), csr_val_.data(),
                                      net_.kernel(0).data(), out, out, acts_[1].data(), out);
            auto acts = act_ptrs_;
            acts[1] += r0 * out;
            net_.template forward_epilogue<FinalActivation, 0>(acts, r1 - r0, 0, out);
        };
        if (!parallel(rows, net_.input_width(), out)) {
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
        const std::size_t in = net_.width(L), out = net_.width(L + 1);
        if (!parallel(rows, in, out)) {
            backward_block<Update, L>(rows, 0, in, true);
            return;
        }
        auto body = [&](std::size_t t, std::size_t n) {
            const auto [r0, r1] = split_range(in, t, n);
            backward_block<Update, L>(rows, r0, r1, t == 0);
        };
        pool_.run(body);
    }

    // deltas_[L+1] holds dL/dz of layer L, whose bias gradient is done. For kernel rows
    // [r0, r1) (= input columns [r0, r1)): the kernel gradient rows; dL/dz of layer L-1 in those
    // columns, with its activation derivative and bias gradient in one sweep; then, when
    // updating, the optimizer on those kernel rows. Only this block reads those rows of W_L, so
    // updating them here is safe. The thread with `owns_bias` also updates b_L.
    template <bool Update, std::size_t L>
    void backward_block(std::size_t rows, std::size_t r0, std::size_t r1, bool owns_bias) noexcept {
        using kernels::cpu::trans;
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
            kernels::cpu::sparse_gemm_tn(r0, r1, csc_ptr_.data(), csc_row_.data(),
                                         csc_val_.data(), d, out, out,
                                         grads_.data() + net_.kernel_offset(L), out);
        } else {
            kernels::cpu::gemm(trans::yes, trans::no, cols, out, rows, T(1),
                               acts_[L].data() + r0, in, d, out, T(0), dw, out);
        }
        if constexpr (L > 0) {
            using Prev = typename Arch::template layer_type<L - 1>;
            T* dprev = deltas_[L].data() + r0;
            kernels::cpu::gemm(trans::no, trans::yes, rows, cols, out, T(1), d, out,
                               net_.kernel(L).data() + r0 * out, out, T(0), dprev, in);
            kernels::cpu::activation_backward_bias<typename Prev::activation_type>(
                acts_[L].data() + r0, dprev, rows, cols, in,
                grads_.data() + net_.bias_offset(L - 1) + r0);
        }
        if constexpr (Update) {
            update_range(net_.kernel_offset(L) + r0 * out, cols * out);
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
    int blas_threads_;
    std::size_t iteration_ = 0;
    std::array<buffer<T>, layer_count + 1> acts_;
    std::array<T*, layer_count + 1> act_ptrs_{};
    std::array<buffer<T>, layer_count + 1> deltas_;
    buffer<T> grads_;
    std::array<buffer<T>, state_slots> state_;
    std::array<T*, state_slots> state_ptrs_{};
    buffer<std::int32_t> labels_;
    buffer<T> dense_;
    std::vector<std::size_t> eval_order_;
    double sparse_density_ = CTML_SPARSE_INPUT_DENSITY;
    bool sparse_ = false;
    buffer<std::uint32_t> csr_ptr_, csr_col_, csc_ptr_, csc_row_;
    buffer<T> csr_val_, csc_val_;
};

} // namespace ctml
