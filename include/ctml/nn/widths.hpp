// SPDX-License-Identifier: MIT
// layer_widths<Arch>: the run-time widths of an architecture's layers, the compiled ones plus the
// values chosen for layers declared ctml::dynamic (from flags or a model file). Every width is
// checked against CTML_MAX_WIDTH when it is set, and the whole network against
// CTML_MAX_PARAMETERS by layout(), before anything is allocated; errors name who set the width.
#pragma once
#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "ctml/config.hpp"
#include "ctml/core/error.hpp"
#include "ctml/core/extent.hpp"
#include "ctml/core/layout.hpp"
#include "ctml/nn/sequential.hpp"

namespace ctml {

/// @brief The run-time widths of an architecture's layers: the compiled ones, plus values for
/// the layers declared ctml::dynamic. Setting a compiled width to another value is an error that
/// names who asked (a flag, say) and the compiled constant. A layer without parameters
/// (ctml::dropout) has the width of the layer before it.
template <architecture Arch>
class layer_widths {
public:
    static constexpr std::size_t layer_count = Arch::layer_count;

    layer_widths() noexcept {
        for (std::size_t l = 0; l < layer_count; ++l) {
            w_[l] = Arch::static_widths[l + 1];
        }
    }

    /// Sets the output width of layer `layer` (0-based). `source` names who asked, for errors
    /// (and for the error of layout() when the network grows too large).
    layer_widths& set(std::size_t layer, std::size_t width, std::string_view source = {}) {
        const std::string who = source.empty() ? "width" : std::string(source);
        if (layer >= layer_count) {
            throw config_error(who + ": layer " + std::to_string(layer) +
                               " does not exist (the network has " +
                               std::to_string(layer_count) + " layers)");
        }
        if (width == 0 || width > CTML_MAX_WIDTH) {
            throw config_error(who + ": width " + std::to_string(width) + " for layer " +
                               std::to_string(layer) + " is outside [1, " +
                               std::to_string(CTML_MAX_WIDTH) + "] (CTML_MAX_WIDTH)");
        }
        if (!Arch::parametric[layer]) {
            const std::size_t in = (*this)[layer];
            if (width != in) {
                throw config_error(who + " = " + std::to_string(width) + ": layer " +
                                   std::to_string(layer) +
                                   " has no parameters, so its width is its input width " +
                                   (in == dynamic ? std::string("(not set yet)")
                                                  : std::to_string(in)));
            }
            return *this;
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
        if (compiled == dynamic) {
            source_[layer] = source.empty() ? std::string{} : who + " = " + std::to_string(width);
        }
        return *this;
    }

    /// Output width of layer `layer` (ctml::dynamic while a dynamic width is unset).
    std::size_t operator[](std::size_t layer) const noexcept {
        while (!Arch::parametric[layer]) {
            if (layer == 0) {
                return Arch::input_width;
            }
            --layer;
        }
        return w_[layer];
    }

    /// The input width, then each layer's output width.
    std::array<std::size_t, layer_count + 1> all() const noexcept {
        std::array<std::size_t, layer_count + 1> out{};
        out[0] = Arch::input_width;
        for (std::size_t l = 0; l < layer_count; ++l) {
            out[l + 1] = (*this)[l];
        }
        return out;
    }

    /// Throws if a dynamic layer has no width yet.
    void require_complete() const {
        for (std::size_t l = 0; l < layer_count; ++l) {
            if ((*this)[l] == dynamic) {
                throw config_error("layer " + std::to_string(l) +
                                   " is declared ctml::dynamic and has no width: set it with "
                                   "layer_widths::set(" + std::to_string(l) + ", width)");
            }
        }
    }

    /// The parameter layout of these widths; a network above CTML_MAX_PARAMETERS is a
    /// config_error naming `source`, or else who set the dynamic widths.
    parameter_layout layout(std::string_view source = {}) const {
        require_complete();
        std::string who(source);
        if (who.empty()) {
            for (const auto& s : source_) {
                if (!s.empty()) {
                    who += (who.empty() ? "" : ", ") + s;
                }
            }
        }
        const auto widths = all();
        static constexpr std::array<bool, layer_count> parametric = Arch::parametric;
        return parameter_layout(std::span<const std::size_t>(widths),
                                std::span<const bool>(parametric), who);
    }

    friend bool operator==(const layer_widths& a, const layer_widths& b) noexcept {
        return a.all() == b.all();
    }

private:
    std::array<std::size_t, layer_count> w_{};
    std::array<std::string, layer_count> source_{};
};

} // namespace ctml
