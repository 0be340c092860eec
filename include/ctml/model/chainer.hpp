// SPDX-License-Identifier: MIT
// Chainer's weight file: the .npz that serializers.save_npz(path, L.Classifier(net)) writes for
// an MLP of L.Linear links: "predictor/l<i>/W" (out × in, Chainer's Linear) and
// "predictor/l<i>/b", <i> counting the layers with parameters (dropout is a function in Chainer,
// with no link). The file stores no architecture, so the network type must have static widths.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "ctml/config.hpp"
#include "ctml/core/error.hpp"
#include "ctml/core/layout.hpp"
#include "ctml/io/npy.hpp"
#include "ctml/io/npz.hpp"
#include "ctml/model/architecture.hpp"
#include "ctml/model/model.hpp"
#include "ctml/nn/network.hpp"
#include "ctml/nn/widths.hpp"

namespace ctml {

namespace detail {
template <class Arch>
std::string chainer_prefix(std::size_t l) {
    return "predictor/l" + std::to_string(layer_ordinal<Arch>(l)) + "/";
}
} // namespace detail

/// @brief Writes the weights in Chainer's layout, as serializers.save_npz(path, L.Classifier(net))
/// names them: "predictor/l<i>/W" (out × in, Chainer's Linear) and "predictor/l<i>/b".
template <class Arch, class T>
void save_chainer_npz(const network<Arch, T>& net, const std::filesystem::path& path) {
    static constexpr auto parametric = detail::parametric_layers<Arch>();
    io::npz_writer w;
    std::vector<T> transposed;
    for (std::size_t l = 0; l < Arch::layer_count; ++l) {
        if (!parametric[l]) {
            continue;
        }
        const std::size_t in = net.width(l), out = net.width(l + 1);
        transposed.resize(in * out);
        const auto k = net.kernel(l);
        for (std::size_t i = 0; i < in; ++i) {
            for (std::size_t j = 0; j < out; ++j) {
                transposed[j * in + i] = k[i * out + j];
            }
        }
        const std::string prefix = detail::chainer_prefix<Arch>(l);
        w.add(prefix + "W", {out, in}, transposed.data());
        w.add(prefix + "b", {out}, net.bias(l).data());
    }
    w.save(path);
}

/// @brief Reads weights written by save_chainer_npz (or by Chainer for the same network) into a
/// network<Arch, T> whose widths are all static. The file must be a regular file of at most
/// 8 bytes per parameter plus 4 KiB per array plus 64 KiB (ctml::file_error otherwise), and
/// every array's header must give the shape the type has (ctml::format_error naming the file
/// and the array) before the network is allocated.
template <class Arch, class T = float>
network<Arch, T> load_chainer_npz(const std::filesystem::path& path) {
    static_assert(Arch::all_static,
                  "ctml::load_chainer_npz: the network type must have static widths (the npz "
                  "does not store an architecture)");
    static constexpr auto parametric = detail::parametric_layers<Arch>();
    const layer_widths<Arch> widths;
    const parameter_layout layout = detail::layout_of(widths, path.string());
    const std::size_t arrays =
        2 * static_cast<std::size_t>(std::count(parametric.begin(), parametric.end(), true));
    const io::npz_archive npz = io::open_npz(path, detail::weights_file_bound(layout, arrays));
    for (std::size_t l = 0; l < Arch::layer_count; ++l) {
        if (parametric[l]) {
            const std::string prefix = detail::chainer_prefix<Arch>(l);
            detail::require_entry<T>(npz, prefix + "W", {layout.width(l + 1), layout.width(l)});
            detail::require_entry<T>(npz, prefix + "b", {layout.width(l + 1)});
        }
    }
    network<Arch, T> net(widths);
    std::vector<T> w;
    for (std::size_t l = 0; l < Arch::layer_count; ++l) {
        if (!parametric[l]) {
            continue;
        }
        const std::size_t in = net.width(l), out = net.width(l + 1);
        const std::string prefix = detail::chainer_prefix<Arch>(l);
        w.resize(in * out);
        npz.read(prefix + "W").copy_to(std::span<T>(w));
        auto k = net.kernel(l);
        for (std::size_t i = 0; i < in; ++i) {
            for (std::size_t j = 0; j < out; ++j) {
                k[i * out + j] = w[j * in + i];
            }
        }
        npz.read(prefix + "b").copy_to(net.bias(l));
    }
    return net;
}

} // namespace ctml
