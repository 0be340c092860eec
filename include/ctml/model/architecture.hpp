// SPDX-License-Identifier: MIT
// A network's architecture as Keras-like JSON: {"class_name": "Sequential", "config": {"layers":
// [InputLayer, Dense, ...]}}, the same document model.json stores.
#pragma once
#include <cstddef>
#include <string>
#include <utility>

#include "ctml/config.hpp"
#include "ctml/io/json.hpp"
#include "ctml/nn/network.hpp"

namespace ctml {

namespace detail {
template <class Arch, std::size_t I, class Net>
void write_layer_json(io::json_writer& w, const Net& net) {
    using L = typename Arch::template layer_type<I>;
    w.begin_object();
    w.field("class_name", L::class_name);
    w.key("config").begin_object();
    w.field("name", "dense_" + std::to_string(I + 1));
    w.field("units", net.width(I + 1));
    w.field("input_dim", net.width(I));
    w.field("activation", L::activation_type::name);
    w.field("use_bias", true);
    w.field("kernel_initializer", L::initializer_type::name);
    w.field("bias_initializer", "zeros");
    w.field("width_declared", L::width == dynamic ? std::string("dynamic") : std::string("static"));
    w.end_object();
    w.end_object();
}
} // namespace detail

/// @brief Writes the architecture of `net` (run-time widths included) as one JSON object.
template <class Arch, class T>
void write_architecture(io::json_writer& w, const network<Arch, T>& net) {
    w.begin_object();
    w.field("class_name", "Sequential");
    w.field("ctml_version", CTML_VERSION_STRING);
    w.key("config").begin_object();
    w.field("name", "sequential");
    w.key("layers").begin_array();
    w.begin_object();
    w.field("class_name", "InputLayer");
    w.key("config").begin_object();
    w.key("batch_input_shape").begin_array().null().value(net.input_width()).end_array();
    w.field("dtype", sizeof(T) == 4 ? "float32" : "float64");
    w.end_object();
    w.end_object();
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (detail::write_layer_json<Arch, I>(w, net), ...);
    }(std::make_index_sequence<Arch::layer_count>{});
    w.end_array();
    w.end_object();
    w.field("parameter_count", net.parameter_count());
    w.end_object();
}

} // namespace ctml
