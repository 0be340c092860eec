// SPDX-License-Identifier: MIT
// Model files: <dir>/model.json (format, library version, Keras-like architecture, optionally the
// training job) and <dir>/weights.npz (per layer "dense_<i>/kernel" in × out and
// "dense_<i>/bias", float32 or float64, numpy-readable). load_model<Arch>() checks the
// architecture and every shape against the type and names the first difference.
#pragma once
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <span>
#include <system_error>
#include <vector>

#include "ctml/config.hpp"
#include "ctml/core/error.hpp"
#include "ctml/io/file.hpp"
#include "ctml/io/json.hpp"
#include "ctml/io/json_read.hpp"
#include "ctml/io/npz.hpp"
#include "ctml/model/architecture.hpp"
#include "ctml/nn/network.hpp"

namespace ctml {

inline constexpr std::string_view model_format = "ctml.model/1";

namespace detail {
inline std::string layer_key(std::size_t l, std::string_view what) {
    return "dense_" + std::to_string(l + 1) + "/" + std::string(what);
}

// Throws "<file>: <key> has shape (...), expected (...)" unless `a` has the expected shape.
inline void require_shape(const std::filesystem::path& file, const std::string& key,
                          const io::npy_array& a, const io::npy_shape& expected) {
    if (a.shape != expected) {
        throw format_error(file.string() + ": " + key + " has shape " +
                           io::detail::npy_shape_text(a.shape) + ", expected " +
                           io::detail::npy_shape_text(expected));
    }
}
} // namespace detail

/// @brief Writes `net` to dir/model.json and dir/weights.npz (the folder is created; each file
/// is written to a temporary name and renamed into place). `write_training`, when given, writes
/// one JSON value stored under "training" (e.g. run_config::write_json).
template <class Arch, class T>
void save_model(const network<Arch, T>& net, const std::filesystem::path& dir,
                const std::function<void(io::json_writer&)>& write_training = {}) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
        throw workspace_error(dir.string() + ": cannot create the model folder: " + ec.message());
    }
    io::npz_writer weights;
    for (std::size_t l = 0; l < Arch::layer_count; ++l) {
        weights.add(detail::layer_key(l, "kernel"), {net.width(l), net.width(l + 1)},
                    net.kernel(l).data());
        weights.add(detail::layer_key(l, "bias"), {net.width(l + 1)}, net.bias(l).data());
    }
    weights.save(dir / "weights.npz");

    io::json_writer w;
    w.begin_object();
    w.field("format", model_format);
    w.field("ctml_version", CTML_VERSION_STRING);
    w.field("weights", "weights.npz");
    w.key("architecture");
    write_architecture(w, net);
    if (write_training) {
        w.key("training");
        write_training(w);
    }
    w.end_object();
    io::write_file_atomic(dir / "model.json", w.take() + "\n");
}

/// @brief Reads a model written by save_model into a network<Arch, T>. Every layer's class,
/// activation and width must match Arch (a ctml::dynamic width takes the stored value), and
/// every array's shape the widths; the first difference is named in a ctml::format_error.
template <class Arch, class T = float>
network<Arch, T> load_model(const std::filesystem::path& dir) {
    const auto json_path = dir / "model.json";
    const auto doc = io::load_json(json_path);
    const auto root = doc.root().as_object();
    const std::string format = root.get_string("format");
    if (format != model_format) {
        throw format_error(json_path.string() + ": field \"format\" is \"" + format +
                           "\", expected \"" + std::string(model_format) + "\"");
    }
    const auto arch = root.get_object("architecture");
    const auto layers = arch.get_object("config").get_array("layers");
    if (layers.size() != Arch::layer_count + 1) {
        throw format_error(json_path.string() + ": the model has " +
                           std::to_string(layers.size() - (layers.size() > 0 ? 1 : 0)) +
                           " layers, the network type has " +
                           std::to_string(Arch::layer_count));
    }
    const auto input_shape = layers.at(0).as_object().get_object("config").get_array(
        "batch_input_shape");
    const std::size_t stored_input = input_shape.expect_size(2, 2).at(1).as_uint();
    if (stored_input != Arch::input_width) {
        throw format_error(json_path.string() + ": input width is " +
                           std::to_string(stored_input) + ", the network type has input<" +
                           std::to_string(Arch::input_width) + ">");
    }
    layer_widths<Arch> widths;
    std::array<std::string_view, Arch::layer_count> activations{};
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        ((activations[I] = Arch::template layer_type<I>::activation_type::name), ...);
    }(std::make_index_sequence<Arch::layer_count>{});
    for (std::size_t l = 0; l < Arch::layer_count; ++l) {
        const auto cfg = layers.at(l + 1).as_object().get_object("config");
        const std::string act = cfg.get_string("activation");
        const std::string where = json_path.string() + ": layer " + std::to_string(l + 1);
        if (act != activations[l]) {
            throw format_error(where + " uses activation \"" + act +
                               "\", the network type has \"" + std::string(activations[l]) + "\"");
        }
        const std::size_t units = cfg.get_uint("units", 1);
        const std::size_t compiled = Arch::static_widths[l + 1];
        if (compiled != dynamic && compiled != units) {
            throw format_error(where + " has " + std::to_string(units) +
                               " units, the network type has " + std::to_string(compiled));
        }
        widths.set(l, units, where);
    }
    network<Arch, T> net(widths);
    const auto weights_path = dir / root.get_string("weights");
    const auto npz = io::load_npz(weights_path);
    for (std::size_t l = 0; l < Arch::layer_count; ++l) {
        const auto& k = npz.at(detail::layer_key(l, "kernel"));
        const auto& b = npz.at(detail::layer_key(l, "bias"));
        detail::require_shape(weights_path, detail::layer_key(l, "kernel"), k,
                              {net.width(l), net.width(l + 1)});
        detail::require_shape(weights_path, detail::layer_key(l, "bias"), b, {net.width(l + 1)});
        k.copy_to(net.kernel(l));
        b.copy_to(net.bias(l));
    }
    return net;
}

/// @brief Writes the weights in Chainer's layout, as serializers.save_npz(path, L.Classifier(net))
/// names them: "predictor/l<i>/W" (out × in, Chainer's Linear) and "predictor/l<i>/b".
template <class Arch, class T>
void save_chainer_npz(const network<Arch, T>& net, const std::filesystem::path& path) {
    io::npz_writer w;
    std::vector<T> transposed;
    for (std::size_t l = 0; l < Arch::layer_count; ++l) {
        const std::size_t in = net.width(l), out = net.width(l + 1);
        transposed.resize(in * out);
        const auto k = net.kernel(l);
        for (std::size_t i = 0; i < in; ++i) {
            for (std::size_t j = 0; j < out; ++j) {
                transposed[j * in + i] = k[i * out + j];
            }
        }
        const std::string prefix = "predictor/l" + std::to_string(l + 1) + "/";
        w.add(prefix + "W", {out, in}, transposed.data());
        w.add(prefix + "b", {out}, net.bias(l).data());
    }
    w.save(path);
}

/// @brief Reads weights written by save_chainer_npz (or by Chainer for the same network) into a
/// network<Arch, T> whose widths are all static; shapes are checked and the first difference named.
template <class Arch, class T = float>
network<Arch, T> load_chainer_npz(const std::filesystem::path& path) {
    static_assert(Arch::all_static,
                  "ctml::load_chainer_npz: the network type must have static widths (the npz "
                  "does not store an architecture)");
    network<Arch, T> net;
    const auto npz = io::load_npz(path);
    std::vector<T> w;
    for (std::size_t l = 0; l < Arch::layer_count; ++l) {
        const std::size_t in = net.width(l), out = net.width(l + 1);
        const std::string prefix = "predictor/l" + std::to_string(l + 1) + "/";
        const auto& W = npz.at(prefix + "W");
        const auto& b = npz.at(prefix + "b");
        detail::require_shape(path, prefix + "W", W, {out, in});
        detail::require_shape(path, prefix + "b", b, {out});
        w.resize(in * out);
        W.copy_to(std::span<T>(w));
        auto k = net.kernel(l);
        for (std::size_t i = 0; i < in; ++i) {
            for (std::size_t j = 0; j < out; ++j) {
                k[i * out + j] = w[j * in + i];
            }
        }
        b.copy_to(net.bias(l));
    }
    return net;
}

} // namespace ctml
