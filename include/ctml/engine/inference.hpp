// SPDX-License-Identifier: MIT
// evaluate() and predict() for a trained or reloaded network: no optimizer, no job, no dropout.
#pragma once
#include <algorithm>
#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "ctml/core/buffer.hpp"
#include "ctml/core/error.hpp"
#include "ctml/data/dataset.hpp"
#include "ctml/engine/cpu.hpp"
#include "ctml/engine/detail/cpu_forward.hpp"
#include "ctml/engine/engine.hpp"
#include "ctml/nn/network.hpp"
#include "ctml/optim/optimizer.hpp"

namespace ctml {

namespace detail {
// The smallest job the CPU engine accepts: a network, a loss, and settings without an optimizer.
template <class Net, class Loss>
struct inference_job {
    using network_type = Net;
    using loss_type = Loss;
    struct settings_type {
        std::size_t batch_size = 256;
        std::size_t threads = 0;
        std::uint64_t seed = 0;
        no_optimizer optimizer{};
    };
};
} // namespace detail

/// @brief Mean loss and accuracy of `net` on `data` under the loss `Loss`, in batches of
/// `batch_size` rows on `threads` threads (0: ctml::num_threads()). Dropout is off.
/// A dataset that does not fit the network or the loss is a ctml::data_error naming it.
template <class Loss, class Arch, class T, class Feature>
evaluation evaluate(const network<Arch, T>& net, const Loss&, const dataset<Feature>& data,
                    std::size_t batch_size = 256, std::size_t threads = 0) {
    using job = detail::inference_job<network<Arch, T>, Loss>;
    typename job::settings_type s;
    s.batch_size = batch_size;
    s.threads = threads;
    // The engine trains a network in place, so it holds a mutable reference; evaluate() only
    // reads the parameters.
    cpu_engine<job> e(const_cast<network<Arch, T>&>(net), s);
    return e.evaluate(data);
}

/// @brief Outputs (rows × output width, row-major) of `net` for `rows` rows of inputs
/// (rows × input width), on the calling thread. Dropout is off. Allocates its scratch space.
template <class Arch, class T>
void predict(const network<Arch, T>& net, std::span<const T> x, std::size_t rows,
             std::span<T> out) {
    if (x.size() != rows * net.input_width()) {
        throw data_error("predict: input holds " + std::to_string(x.size()) +
                         " values, expected rows × input width = " + std::to_string(rows) +
                         " × " + std::to_string(net.input_width()));
    }
    if (out.size() != rows * net.output_width()) {
        throw data_error("predict: output holds " + std::to_string(out.size()) +
                         " values, expected rows × output width = " + std::to_string(rows) +
                         " × " + std::to_string(net.output_width()));
    }
    constexpr std::size_t chunk = 256;
    constexpr std::size_t layers = Arch::layer_count;
    std::array<buffer<T>, layers + 1> scratch;
    detail::activation_pointers<Arch, T> acts{};
    for (std::size_t l = 0; l <= layers; ++l) {
        scratch[l].resize(std::min(rows, chunk) * net.width(l));
        acts[l] = scratch[l].data();
    }
    for (std::size_t begin = 0; begin < rows; begin += chunk) {
        const std::size_t n = std::min(chunk, rows - begin);
        std::copy_n(x.data() + begin * net.input_width(), n * net.input_width(), acts[0]);
        detail::forward_inference(net, acts, n);
        std::copy_n(acts[layers], n * net.output_width(),
                    out.data() + begin * net.output_width());
    }
}

/// @brief Outputs (data.size() × output width, row-major) of `net` for every row of `data`
/// (features converted and scaled as in training).
template <class Arch, class T, class Feature>
std::vector<T> predict(const network<Arch, T>& net, const dataset<Feature>& data) {
    if (data.dim == 0 || data.features.size() % data.dim != 0) {
        throw data_error("predict: " + std::to_string(data.features.size()) +
                         " feature values are not whole rows of " + std::to_string(data.dim));
    }
    if (data.dim != net.input_width()) {
        throw data_error("predict: rows have " + std::to_string(data.dim) +
                         " features but the network's input is " +
                         std::to_string(net.input_width()));
    }
    const std::size_t n = data.size();
    std::vector<T> x(n * data.dim);
    std::vector<std::size_t> rows(n);
    for (std::size_t i = 0; i < n; ++i) {
        rows[i] = i;
    }
    data.gather_features(std::span<const std::size_t>(rows), x.data());
    std::vector<T> out(n * net.output_width());
    predict(net, std::span<const T>(x), n, std::span<T>(out));
    return out;
}

} // namespace ctml
