// SPDX-License-Identifier: MIT
// Model files: <dir>/model.json (format, library version, Keras-like architecture, optionally the
// training job) and <dir>/weights.npz (per dense layer "dense_<i>/kernel" in × out and
// "dense_<i>/bias", float32 or float64, numpy-readable; <i> counts dense layers only, dropout
// has no entries). load_model<Arch>() checks the architecture and every shape against the type
// and names the first difference.
//
// A model folder is untrusted input: load_model reads only regular files inside the folder
// (no absolute path, no "..", no symbolic link out of it), each with a size bound, and checks
// every width (CTML_MAX_WIDTH, CTML_MAX_PARAMETERS) and every array's header before it
// allocates the network, so what a hostile folder can make it allocate stays proportional to
// the size of its files.
#pragma once
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "ctml/config.hpp"
#include "ctml/core/error.hpp"
#include "ctml/core/layout.hpp"
#include "ctml/io/file.hpp"
#include "ctml/io/json.hpp"
#include "ctml/io/json_read.hpp"
#include "ctml/io/npy.hpp"
#include "ctml/io/npz.hpp"
#include "ctml/model/architecture.hpp"
#include "ctml/nn/network.hpp"
#include "ctml/nn/widths.hpp"

namespace ctml {

inline constexpr std::string_view model_format = "ctml.model/1";

namespace detail {

/// "dense_<i>/<what>" for layer l (0-based), <i> counting dense layers only.
template <class Arch>
std::string layer_key(std::size_t l, std::string_view what) {
    return "dense_" + std::to_string(layer_ordinal<Arch>(l)) + "/" + std::string(what);
}

/// The largest .npz that can hold `layout`'s parameters in `arrays` arrays: 8 bytes per
/// parameter (float64), 4 KiB of ZIP and .npy headers per array, 64 KiB for the archive (a
/// comment); never more than CTML_MAX_FILE_BYTES.
inline std::uint64_t weights_file_bound(const parameter_layout& layout, std::size_t arrays) {
    const std::uint64_t bound = std::uint64_t{layout.parameter_count()} * 8 +
                                std::uint64_t{arrays} * 4096 + 65536;
    return std::min<std::uint64_t>(bound, CTML_MAX_FILE_BYTES);
}

/// Checks entry `key` of `npz` from its header only: present, convertible to T, of shape
/// `expected`; the message names the file and the key.
template <class T>
void require_entry(const io::npz_archive& npz, const std::string& key,
                   const io::npy_shape& expected) {
    const io::npy_header h = npz.header(key);
    if (h.shape != expected) {
        throw format_error(npz.source() + ": " + key + " has shape " +
                           io::detail::npy_shape_text(h.shape) + ", expected " +
                           io::detail::npy_shape_text(expected));
    }
    if (!io::detail::npy_converts<T>(h.dtype)) {
        throw format_error(npz.source() + ": " + key + " is stored as " +
                           std::string(io::npy_descr(h.dtype)) + ", which does not convert to " +
                           std::string(io::npy_descr(io::npy_dtype_of<T>)));
    }
}

} // namespace detail

/// @brief Writes `net` to dir/model.json and dir/weights.npz (the folder is created; each file
/// is written to a temporary name and renamed into place). `write_training`, when given, writes
/// one JSON value stored under "training" (e.g. run_config::write_json). A folder that cannot be
/// created or a file that cannot be written throws ctml::file_error.
template <class Arch, class T>
void save_model(const network<Arch, T>& net, const std::filesystem::path& dir,
                const std::function<void(io::json_writer&)>& write_training = {}) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
        throw file_error(dir.string() + ": cannot create the model folder: " + ec.message(), ec);
    }
    static constexpr auto parametric = detail::parametric_layers<Arch>();
    io::npz_writer weights;
    for (std::size_t l = 0; l < Arch::layer_count; ++l) {
        if (!parametric[l]) {
            continue;
        }
        weights.add(detail::layer_key<Arch>(l, "kernel"), {net.width(l), net.width(l + 1)},
                    net.kernel(l).data());
        weights.add(detail::layer_key<Arch>(l, "bias"), {net.width(l + 1)}, net.bias(l).data());
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

/// @brief Reads a model written by save_model into a network<Arch, T>.
///
/// In this order, before the network is allocated: model.json (a regular file inside `dir`, at
/// most CTML_MAX_JSON_BYTES) must have the format "ctml.model/1" and an architecture that
/// read_architecture<Arch> accepts (layer classes, activations, dropout rates, widths against
/// the type, CTML_MAX_WIDTH and CTML_MAX_PARAMETERS); its "weights" field must name a regular
/// file inside `dir` (no absolute path, "..", or symbolic link out of the folder) of at most
/// 8 bytes per parameter plus 4 KiB per array plus 64 KiB; and that .npz's headers must give
/// every "dense_<i>/kernel" and "dense_<i>/bias" the shape the widths say. Only then are the
/// network and the arrays read.
///
/// Errors: ctml::format_error for content (naming the file and the field or array),
/// ctml::file_error for a file that is missing, outside the folder, not regular or too large.
template <class Arch, class T = float>
network<Arch, T> load_model(const std::filesystem::path& dir) {
    const auto json_path = io::resolve_inside(dir, "model.json", dir.string());
    const std::string json_name = (dir / "model.json").string();
    const auto doc = io::parse_json(io::read_file(json_path, CTML_MAX_JSON_BYTES), json_name);
    const auto root = doc.root().as_object();
    const std::string format = root.get_string("format");
    if (format != model_format) {
        throw format_error(json_name + ": field \"format\" is \"" + format + "\", expected \"" +
                           std::string(model_format) + "\"");
    }
    const layer_widths<Arch> widths =
        read_architecture<Arch>(root.get_object("architecture"), json_name);
    const parameter_layout layout = detail::layout_of(widths, json_name);

    static constexpr auto parametric = detail::parametric_layers<Arch>();
    const std::size_t arrays =
        2 * static_cast<std::size_t>(std::count(parametric.begin(), parametric.end(), true));
    const std::string weights_name = root.get_string("weights");
    const auto weights_path =
        io::resolve_inside(dir, weights_name, json_name + ": field \"weights\"");
    const io::npz_archive npz(
        io::read_file(weights_path, detail::weights_file_bound(layout, arrays)),
        (dir / weights_name).string());
    for (std::size_t l = 0; l < Arch::layer_count; ++l) {
        if (parametric[l]) {
            detail::require_entry<T>(npz, detail::layer_key<Arch>(l, "kernel"),
                                     {layout.width(l), layout.width(l + 1)});
            detail::require_entry<T>(npz, detail::layer_key<Arch>(l, "bias"),
                                     {layout.width(l + 1)});
        }
    }

    network<Arch, T> net(widths);
    for (std::size_t l = 0; l < Arch::layer_count; ++l) {
        if (parametric[l]) {
            npz.read(detail::layer_key<Arch>(l, "kernel")).copy_to(net.kernel(l));
            npz.read(detail::layer_key<Arch>(l, "bias")).copy_to(net.bias(l));
        }
    }
    return net;
}

} // namespace ctml
