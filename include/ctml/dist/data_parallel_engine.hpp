// SPDX-License-Identifier: MIT
// ctml::dist::data_parallel_engine: an engine (the ctml::engine concept, engine/engine.hpp) that
// trains a CPU engine data-parallel over a communicator, so that the fit loop (train/fit.hpp,
// fit_engine) runs it unchanged on every rank:
//
//     ctml::dist::data_parallel_engine dp(trainer.cpu(), comm);   // rank 0's parameters everywhere
//     ctml::fit_engine(dp, net.parameters(), epochs, seed, mnist.train, options);
//
// Every rank walks the same global batches: the loop shuffles with the same seed on every rank,
// so `order` is the same everywhere. Of each global batch this rank loads its share_of into the
// inner engine (cpu_engine::load_training_rows) and runs data_parallel_step (gradients weighted n_r/N, summed by one
// all-reduce, the same optimizer step everywhere). The epoch's loss and accuracy are summed over
// ranks, so every rank reports the global figures. evaluate, parameters, gradients and
// iterations are the inner engine's (the parameters are the same on every rank).
//
// Dropout masks are drawn by each rank's inner engine for its own rows, so a network with
// dropout trains correctly but not bit-for-bit as one process would.
#pragma once
#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "ctml/core/device.hpp"
#include "ctml/core/error.hpp"
#include "ctml/core/layout.hpp"
#include "ctml/data/dataset.hpp"
#include "ctml/dist/communicator.hpp"
#include "ctml/dist/data_parallel.hpp"
#include "ctml/engine/engine.hpp"
#include "ctml/nn/losses.hpp"

namespace ctml::dist {

/// @brief What data_parallel_engine needs of the engine it wraps (ctml::cpu_engine has it): an
/// engine on the CPU that loads given rows of its training data as its next batch
/// (load_training_rows, at most batch_size() rows), and the split step of data_parallel_step.
template <class E>
concept shard_engine =
    engine<E> && E::device_kind == device::cpu &&
    gradient_engine<E, target_view<typename E::scalar_type>> &&
    requires(E& e, const E& ce, std::span<const std::size_t> idx) {
        { e.load_training_rows(idx) } -> std::same_as<target_view<typename E::scalar_type>>;
        { ce.batch_size() } -> std::convertible_to<std::size_t>;
    };

namespace detail {
/// The element-wise sum over ranks of a few doubles: in double where the communicator has
/// sum(double) (mpi_communicator), else through its float all-reduce.
template <communicator Comm, std::size_t N>
void sum_over_ranks(Comm& comm, std::array<double, N>& v) {
    if constexpr (requires { { comm.sum(0.0) } -> std::convertible_to<double>; }) {
        for (double& x : v) {
            x = comm.sum(x);
        }
    } else {
        std::array<float, N> f{};
        std::copy(v.begin(), v.end(), f.begin());
        comm.all_reduce_sum(std::span<float>(f));
        std::copy(f.begin(), f.end(), v.begin());
    }
}
} // namespace detail

/// @brief The engine `Engine` trained data-parallel over `Comm` (see the top of this file).
/// @tparam Engine a shard_engine (ctml::cpu_engine<Job>); kept by reference
/// @tparam Comm a communicator (mpi_communicator, self_communicator); kept by reference
template <shard_engine Engine, communicator Comm>
class data_parallel_engine {
public:
    using inner_type = Engine;
    using scalar_type = typename Engine::scalar_type;
    static constexpr device device_kind = device::cpu;
    static_assert(std::same_as<scalar_type, float>,
                  "ctml::dist::data_parallel_engine: communicators reduce float; train a float "
                  "network (ctml::network<Arch, float>, the default)");

    /// Wraps `inner` (it and `comm` must outlive this object). Collective: every rank constructs
    /// one, and all then hold rank 0's parameters.
    data_parallel_engine(Engine& inner, Comm& comm)
        : inner_(inner), comm_(comm), batch_(inner.batch_size()) {
        std::vector<scalar_type> p(inner_.gradients().size());
        inner_.read_parameters(std::span<scalar_type>(p));
        comm_.broadcast(std::span<float>(p), 0);
        inner_.write_parameters(std::span<const scalar_type>(p));
    }

    /// As above, from a pointer that may be null (ctml::trainer::cpu() on another device):
    /// a config_error then.
    data_parallel_engine(Engine* inner, Comm& comm) : data_parallel_engine(checked(inner), comm) {}

    data_parallel_engine(const data_parallel_engine&) = delete;
    data_parallel_engine& operator=(const data_parallel_engine&) = delete;

    Engine& inner() noexcept { return inner_; }
    Comm& comm() noexcept { return comm_; }
    std::size_t batch_size() const noexcept { return batch_; }
    const parameter_layout& layout() const noexcept { return inner_.layout(); }

    /// The rows train_epoch reads (every rank's whole training set; each reads its shares).
    template <class Feature>
    void set_training_data(const dataset<Feature>& data) {
        inner_.set_training_data(data); // checks the data against the network and the loss
        has_data_ = true;
    }

    /// One epoch over `order` (the same on every rank) in global batches of batch_size():
    /// the loss and accuracy over all ranks' rows.
    evaluation train_epoch(std::span<const std::size_t> order) {
        if (!has_data_) {
            throw config_error("data_parallel_engine::train_epoch: call set_training_data first");
        }
        const int rank = comm_.rank();
        const int size = comm_.size();
        std::array<double, 2> sums{}; // loss sum, correct rows
        for (std::size_t begin = 0; begin < order.size(); begin += batch_) {
            const std::size_t global = std::min(batch_, order.size() - begin);
            const share sh = share_of(global, rank, size);
            const auto t = inner_.load_training_rows(order.subspan(begin + sh.begin, sh.size()));
            const auto r = data_parallel_step(inner_, comm_, t, sh.size(), global);
            sums[0] += static_cast<double>(r.loss_sum);
            sums[1] += static_cast<double>(r.correct);
        }
        detail::sum_over_ranks(comm_, sums);
        evaluation e;
        e.samples = order.size();
        if (!order.empty()) {
            e.loss = sums[0] / static_cast<double>(order.size());
            e.accuracy = sums[1] / static_cast<double>(order.size());
        }
        return e;
    }

    /// The inner engine's evaluation (the parameters are the same on every rank).
    template <class Feature>
    evaluation evaluate(const dataset<Feature>& data) {
        return inner_.evaluate(data);
    }

    void read_parameters(std::span<scalar_type> out) const { inner_.read_parameters(out); }
    /// Replaces this rank's parameters; give every rank the same values.
    void write_parameters(std::span<const scalar_type> in) { inner_.write_parameters(in); }
    /// The last step's gradient: the all-reduced mean over the whole global batch.
    std::span<scalar_type> gradients() noexcept { return inner_.gradients(); }
    std::uint64_t iterations() const noexcept {
        return static_cast<std::uint64_t>(inner_.iterations());
    }

private:
    static Engine& checked(Engine* inner) {
        if (inner == nullptr) {
            throw config_error("data_parallel_engine: no CPU engine (a trainer on --device cuda "
                               "has none); data-parallel training runs on --device cpu");
        }
        return *inner;
    }

    Engine& inner_;
    Comm& comm_;
    std::size_t batch_;
    bool has_data_ = false;
};

} // namespace ctml::dist
