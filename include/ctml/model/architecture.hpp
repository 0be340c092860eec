// SPDX-License-Identifier: MIT
// A network's architecture as Keras-like JSON: {"class_name": "Sequential", "config": {"layers":
// [InputLayer, Dense, Dropout, ...]}}, the document model.json stores and run_config's JSON
// embeds. read_architecture() is the one reader: it checks a stored architecture against a
// network type and bounds every width (CTML_MAX_WIDTH, CTML_MAX_PARAMETERS) before anything is
// allocated, naming the file and field.
#pragma once
#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "ctml/config.hpp"
#include "ctml/core/error.hpp"
#include "ctml/core/extent.hpp"
#include "ctml/core/layout.hpp"
#include "ctml/io/json.hpp"
#include "ctml/io/json_read.hpp"
#include "ctml/nn/network.hpp"
#include "ctml/nn/sequential.hpp"
#include "ctml/nn/widths.hpp"

namespace ctml {

namespace detail {

// Whether layer type L has a kernel and a bias. Written against the `has_parameters` member so
// that layers declared before it existed count as dense.
template <class L>
constexpr bool layer_has_parameters() {
    if constexpr (requires { L::has_parameters; }) {
        return L::has_parameters;
    } else {
        return true;
    }
}

template <class L>
constexpr double layer_rate() {
    if constexpr (requires { L::rate; }) {
        return static_cast<double>(L::rate);
    } else {
        return 0.0;
    }
}

/// One entry per layer: whether it has parameters (false for dropout).
template <class Arch>
constexpr std::array<bool, Arch::layer_count> parametric_layers() {
    return []<std::size_t... I>(std::index_sequence<I...>) {
        return std::array<bool, Arch::layer_count>{
            layer_has_parameters<typename Arch::template layer_type<I>>()...};
    }(std::make_index_sequence<Arch::layer_count>{});
}

/// Keras numbers layers of each class separately ("dense_1", "dropout_1", "dense_2"): the
/// 1-based number of layer l among the layers of its kind (with or without parameters).
template <class Arch>
constexpr std::size_t layer_ordinal(std::size_t l) {
    constexpr auto p = parametric_layers<Arch>();
    std::size_t n = 0;
    for (std::size_t i = 0; i <= l; ++i) {
        n += p[i] == p[l] ? 1 : 0;
    }
    return n;
}

/// The input width, then each layer's output width.
template <class Arch>
std::array<std::size_t, Arch::layer_count + 1> all_widths(const layer_widths<Arch>& w) {
    std::array<std::size_t, Arch::layer_count + 1> out{};
    out[0] = Arch::input_width;
    for (std::size_t l = 0; l < Arch::layer_count; ++l) {
        out[l + 1] = w[l];
    }
    return out;
}

/// The parameter layout of `widths` (bounded: CTML_MAX_WIDTH, CTML_MAX_PARAMETERS, no
/// overflow); throws config_error naming `source`.
template <class Arch>
parameter_layout layout_of(const layer_widths<Arch>& widths, std::string_view source = {}) {
    const auto w = all_widths(widths);
    static constexpr auto p = parametric_layers<Arch>();
    return parameter_layout(std::span<const std::size_t>(w), std::span<const bool>(p), source);
}

template <class Arch, std::size_t I>
void write_layer_json(io::json_writer& w, const layer_widths<Arch>& widths) {
    using L = typename Arch::template layer_type<I>;
    const std::size_t in = I == 0 ? Arch::input_width : widths[I - 1];
    w.begin_object();
    if constexpr (!layer_has_parameters<L>()) {
        w.field("class_name", L::class_name);
        w.key("config").begin_object();
        w.field("name", "dropout_" + std::to_string(layer_ordinal<Arch>(I)));
        w.field("rate", layer_rate<L>());
        w.end_object();
    } else {
        w.field("class_name", L::class_name);
        w.key("config").begin_object();
        w.field("name", "dense_" + std::to_string(layer_ordinal<Arch>(I)));
        w.field("units", widths[I]);
        w.field("input_dim", in);
        w.field("activation", L::activation_type::name);
        w.field("use_bias", true);
        w.field("kernel_initializer", L::initializer_type::name);
        w.field("bias_initializer", "zeros");
        w.field("width_declared",
                L::width == dynamic ? std::string("dynamic") : std::string("static"));
        w.end_object();
    }
    w.end_object();
}

// "<where>: field "<path>": <what>", the message of every architecture check.
[[noreturn]] inline void architecture_fail(const std::string& where, const io::json_value& v,
                                           const std::string& what) {
    const std::string file = where.empty() ? v.source() : where;
    throw format_error(file + ": field \"" + v.path() + "\": " + what);
}

// A width stored in a file: an integer in [1, CTML_MAX_WIDTH], checked before it sizes anything.
inline std::size_t read_width(const std::string& where, const io::json_value& v) {
    std::uint64_t n = 0;
    if (v.element().get_uint64().get(n) != simdjson::SUCCESS || n == 0 || n > CTML_MAX_WIDTH) {
        architecture_fail(where, v,
                          "expected a width in [1, " + std::to_string(CTML_MAX_WIDTH) +
                              "] (CTML_MAX_WIDTH), got " + io::detail::json_describe(v.element()));
    }
    return static_cast<std::size_t>(n);
}

template <class Arch, std::size_t I>
void read_layer_json(const std::string& where, const io::json_array& layers,
                     layer_widths<Arch>& widths) {
    using L = typename Arch::template layer_type<I>;
    const auto entry = layers.at(I + 1).as_object();
    const std::string class_name = entry.get_string("class_name");
    if (class_name != L::class_name) {
        architecture_fail(where, entry.at("class_name"),
                          "layer " + std::to_string(I + 1) + " is \"" + class_name +
                              "\", the network type has \"" + std::string(L::class_name) + "\"");
    }
    const auto cfg = entry.get_object("config");
    const std::size_t in = I == 0 ? Arch::input_width : widths[I - 1];
    if constexpr (!layer_has_parameters<L>()) {
        const double rate = cfg.get_double("rate", 0.0, 1.0);
        if (rate != layer_rate<L>()) {
            architecture_fail(where, cfg.at("rate"),
                              "layer " + std::to_string(I + 1) + " has rate " +
                                  io::detail::json_number_text(rate) +
                                  ", the network type has " +
                                  io::detail::json_number_text(layer_rate<L>()));
        }
        // Its width is its input's; layer_widths may already know it (set() only if not).
        if (widths[I] != in) {
            widths.set(I, in, where);
        }
    } else {
        const std::string act = cfg.get_string("activation");
        if (act != L::activation_type::name) {
            architecture_fail(where, cfg.at("activation"),
                              "layer " + std::to_string(I + 1) + " uses activation \"" + act +
                                  "\", the network type has \"" +
                                  std::string(L::activation_type::name) + "\"");
        }
        const std::size_t units = read_width(where, cfg.at("units"));
        const std::size_t compiled = Arch::static_widths[I + 1];
        if (compiled != dynamic && compiled != units) {
            architecture_fail(where, cfg.at("units"),
                              "layer " + std::to_string(I + 1) + " has " + std::to_string(units) +
                                  " units, the network type has " + std::to_string(compiled));
        }
        if (const auto input_dim = cfg.find("input_dim")) {
            const std::size_t stored = read_width(where, *input_dim);
            if (stored != in) {
                architecture_fail(where, *input_dim,
                                  "layer " + std::to_string(I + 1) + " declares " +
                                      std::to_string(stored) + " inputs, the layer before it has " +
                                      std::to_string(in) + " outputs");
            }
        }
        widths.set(I, units, where);
    }
}

} // namespace detail

/// @brief Writes the architecture of `Arch` with the run-time `widths` as one JSON object; T
/// is the scalar type recorded as the input's dtype. Dense layers are written as Keras' Dense,
/// parameter-free layers (ctml::dropout) as Keras' Dropout {"name", "rate"}.
template <architecture Arch, class T = float>
void write_architecture(io::json_writer& w, const layer_widths<Arch>& widths) {
    widths.require_complete();
    const parameter_layout layout = detail::layout_of(widths, "write_architecture");
    w.begin_object();
    w.field("class_name", "Sequential");
    w.field("ctml_version", CTML_VERSION_STRING);
    w.key("config").begin_object();
    w.field("name", "sequential");
    w.key("layers").begin_array();
    w.begin_object();
    w.field("class_name", "InputLayer");
    w.key("config").begin_object();
    w.key("batch_input_shape").begin_array().null().value(Arch::input_width).end_array();
    w.field("dtype", sizeof(T) == 4 ? "float32" : "float64");
    w.end_object();
    w.end_object();
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (detail::write_layer_json<Arch, I>(w, widths), ...);
    }(std::make_index_sequence<Arch::layer_count>{});
    w.end_array();
    w.end_object();
    w.field("parameter_count", layout.parameter_count());
    w.end_object();
}

/// @brief Writes the architecture of `net` (run-time widths included) as one JSON object.
template <class Arch, class T>
void write_architecture(io::json_writer& w, const network<Arch, T>& net) {
    layer_widths<Arch> widths;
    for (std::size_t l = 0; l < Arch::layer_count; ++l) {
        widths.set(l, net.width(l + 1));
    }
    write_architecture<Arch, T>(w, widths);
}

/// @brief Reads an architecture written by write_architecture (or the same layer list from
/// Keras) and checks it against `Arch`: the layer count, each layer's class_name and activation
/// (Dense) or rate (Dropout), each "units" against the compiled width and against
/// CTML_MAX_WIDTH, and the parameter count against CTML_MAX_PARAMETERS, all before anything is
/// allocated. A ctml::dynamic width takes the stored value. Every difference is a
/// ctml::format_error "<where>: field "<path>": ..." (`where`: the file; empty: the document's
/// source).
template <architecture Arch>
layer_widths<Arch> read_architecture(const io::json_object& architecture,
                                     const std::string& where) {
    const std::string file = where.empty() ? architecture.source() : where;
    const std::string class_name = architecture.get_string("class_name");
    if (class_name != "Sequential") {
        detail::architecture_fail(file, architecture.at("class_name"),
                                  "is \"" + class_name + "\", expected \"Sequential\"");
    }
    const auto layers = architecture.get_object("config").get_array("layers");
    if (layers.size() != Arch::layer_count + 1) {
        detail::architecture_fail(
            file, layers,
            "holds " + std::to_string(layers.size()) + " entries, the network type has an "
                "InputLayer and " + std::to_string(Arch::layer_count) + " layers");
    }
    const auto input = layers.at(0).as_object();
    const std::string input_class = input.get_string("class_name");
    if (input_class != "InputLayer") {
        detail::architecture_fail(file, input.at("class_name"),
                                  "the first entry is \"" + input_class +
                                      "\", expected \"InputLayer\"");
    }
    const auto shape = input.get_object("config").get_array("batch_input_shape");
    shape.expect_size(2);
    const std::size_t stored_input = detail::read_width(file, shape.at(1));
    if (stored_input != Arch::input_width) {
        detail::architecture_fail(file, shape.at(1),
                                  "input width is " + std::to_string(stored_input) +
                                      ", the network type has input<" +
                                      std::to_string(Arch::input_width) + ">");
    }
    layer_widths<Arch> widths;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (detail::read_layer_json<Arch, I>(file, layers, widths), ...);
    }(std::make_index_sequence<Arch::layer_count>{});
    try {
        (void)detail::layout_of(widths, file + ": field \"" + layers.path() + "\"");
    } catch (const config_error& e) {
        throw format_error(e.what());
    }
    return widths;
}

} // namespace ctml
