// SPDX-License-Identifier: MIT
// layer_widths<Arch>: the run-time widths of an architecture's layers, the compiled ones plus the
// values chosen for layers declared ctml::dynamic (from flags or a model file).
#pragma once
#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "ctml/core/error.hpp"
#include "ctml/core/extent.hpp"
#include "ctml/nn/sequential.hpp"

namespace ctml {

/// @brief The run-time widths of an architecture's layers: the compiled ones, plus values for
/// the layers declared ctml::dynamic. Setting a compiled width to another value is an error that
/// names who asked (a flag, say) and the compiled constant.
template <architecture Arch>
class layer_widths {
public:
    static constexpr std::size_t layer_count = Arch::layer_count;

    layer_widths() noexcept {
        for (std::size_t l = 0; l < layer_count; ++l) {
            w_[l] = Arch::static_widths[l + 1];
        }
    }

    /// Sets the output width of layer `layer` (0-based). `source` names who asked, for errors.
    layer_widths& set(std::size_t layer, std::size_t width, std::string_view source = {}) {
        const std::string who = source.empty() ? "width" : std::string(source);
        if (layer >= layer_count) {
            throw config_error(who + ": layer " + std::to_string(layer) +
                               " does not exist (the network has " +
                               std::to_string(layer_count) + " layers)");
        }
        if (width == 0 || width == dynamic) {
            throw config_error(who + ": width " + std::to_string(width) + " for layer " +
                               std::to_string(layer) + " must be a positive number");
        }
        const std::size_t compiled = Arch::static_widths[layer + 1];
        if (compiled != dynamic && compiled != width) {
            throw config_error(who + " = " + std::to_string(width) +
                               " disagrees with the compiled width " + std::to_string(compiled) +
                               " of layer " + std::to_string(layer) +
                               "; declare that layer's width ctml::dynamic to choose it at run "
                               "time");
        }
        w_[layer] = width;
        return *this;
    }

    std::size_t operator[](std::size_t layer) const noexcept { return w_[layer]; }

    /// Throws if a dynamic layer has no width yet.
    void require_complete() const {
        for (std::size_t l = 0; l < layer_count; ++l) {
            if (w_[l] == dynamic) {
                throw config_error("layer " + std::to_string(l) +
                                   " is declared ctml::dynamic and has no width: set it with "
                                   "layer_widths::set(" + std::to_string(l) + ", width)");
            }
        }
    }

private:
    std::array<std::size_t, layer_count> w_{};
};

} // namespace ctml
