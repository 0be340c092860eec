// SPDX-License-Identifier: MIT
// xtensor views of a network and its data: kernels and biases as xtensor adaptors over the
// parameter buffer (no copy), predictions on xt::xtensor batches, datasets from xtensor arrays.
// Opt-in (not in ctml.hpp): xtensor's headers cost compile time that a trainer may not need.
// In engine/ because predict runs the CPU forward pass.
#pragma once
#include <xtensor/xadapt.hpp>
#include <xtensor/xtensor.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "ctml/core/error.hpp"
#include "ctml/data/dataset.hpp"
#include "ctml/engine/inference.hpp"
#include "ctml/nn/network.hpp"

namespace ctml {

/// @brief Layer l's kernel as an in × out xtensor view into the network's parameter buffer.
template <class Arch, class T>
auto kernel_view(network<Arch, T>& net, std::size_t l) {
    const std::array<std::size_t, 2> shape{net.width(l), net.width(l + 1)};
    return xt::adapt(net.kernel(l).data(), net.kernel(l).size(), xt::no_ownership(), shape);
}

/// @brief Layer l's bias as an xtensor view into the network's parameter buffer.
template <class Arch, class T>
auto bias_view(network<Arch, T>& net, std::size_t l) {
    const std::array<std::size_t, 1> shape{net.width(l + 1)};
    return xt::adapt(net.bias(l).data(), net.bias(l).size(), xt::no_ownership(), shape);
}

/// @brief Outputs (rows × output width) for an xtensor batch (rows × input width).
template <class Arch, class T>
xt::xtensor<T, 2> predict(const network<Arch, T>& net, const xt::xtensor<T, 2>& x) {
    if (x.shape()[1] != net.input_width()) {
        throw data_error("predict: the batch has " + std::to_string(x.shape()[1]) +
                         " columns, the network's input is " + std::to_string(net.input_width()));
    }
    const std::size_t rows = x.shape()[0];
    xt::xtensor<T, 2> out = xt::zeros<T>({rows, net.output_width()});
    ctml::predict(net, std::span<const T>(x.data(), x.size()), rows,
                  std::span<T>(out.data(), out.size()));
    return out;
}

/// @brief A labelled dataset from an xtensor feature matrix (rows × features) and class labels.
template <class Feature>
dataset<Feature> make_dataset(const xt::xtensor<Feature, 2>& features,
                              const xt::xtensor<std::int32_t, 1>& labels, std::size_t classes,
                              double scale = 1.0) {
    dataset<Feature> d;
    d.dim = features.shape()[1];
    d.features.assign(features.begin(), features.end());
    d.labels.assign(labels.begin(), labels.end());
    d.classes = classes;
    d.scale = scale;
    d.validate("make_dataset");
    return d;
}

} // namespace ctml
