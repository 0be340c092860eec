// SPDX-License-Identifier: MIT
// parameter_layout: where each layer's kernel and bias sit in the one parameter buffer that every
// engine uses (the CPU network, the CUDA engine, the model files, a communicator averaging
// gradients). Layer l occupies [W_l (in × out, row-major: y = x·W + b) | b_l (out)], layers in
// order; gradients and optimizer state use the same layout in buffers of their own.
//
// Widths come from types, flags and files, so the layout checks them before anything is
// allocated: each width is at most CTML_MAX_WIDTH and the parameter count at most
// CTML_MAX_PARAMETERS, computed without overflow.
#pragma once
#include <cstddef>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "ctml/config.hpp"
#include "ctml/core/error.hpp"

namespace ctml {

/// @brief The offsets of a dense network's parameters in one contiguous buffer.
class parameter_layout {
public:
    parameter_layout() = default;

    /// @param widths the input width, then each layer's output width (at least two entries)
    /// @param source who supplied the widths (a flag, a file and field), for the error message
    explicit parameter_layout(std::span<const std::size_t> widths, std::string_view source = {})
        : parameter_layout(widths, {}, source) {}

    /// @param parametric one entry per layer: false for a layer without parameters (dropout),
    ///        whose output width must equal its input width; empty: every layer is dense
    parameter_layout(std::span<const std::size_t> widths, std::span<const bool> parametric,
                     std::string_view source = {})
        : widths_(check(widths, parametric, source)) {
        const std::size_t layers = widths_.size() - 1;
        kernel_offset_.resize(layers);
        parametric_.assign(layers, true);
        std::size_t offset = 0;
        for (std::size_t l = 0; l < layers; ++l) {
            parametric_[l] = parametric.empty() || parametric[l];
            kernel_offset_[l] = offset;
            offset += kernel_size(l) + bias_size(l);
        }
        size_ = offset;
    }

    std::size_t layer_count() const noexcept { return kernel_offset_.size(); }
    /// Input width (i = 0), then layer i-1's output width.
    std::size_t width(std::size_t i) const noexcept { return widths_[i]; }
    std::span<const std::size_t> widths() const noexcept { return widths_; }
    std::size_t input_width() const noexcept { return widths_.front(); }
    std::size_t output_width() const noexcept { return widths_.back(); }
    /// Offset of layer l's kernel (in × out, row-major); its bias follows it.
    std::size_t kernel_offset(std::size_t l) const noexcept { return kernel_offset_[l]; }
    /// Whether layer l has a kernel and a bias (false for dropout: both sizes are 0).
    bool has_parameters(std::size_t l) const noexcept { return parametric_[l]; }
    std::size_t kernel_size(std::size_t l) const noexcept {
        return parametric_[l] ? widths_[l] * widths_[l + 1] : 0;
    }
    std::size_t bias_size(std::size_t l) const noexcept { return parametric_[l] ? widths_[l + 1] : 0; }
    std::size_t bias_offset(std::size_t l) const noexcept {
        return kernel_offset_[l] + kernel_size(l);
    }
    /// Total parameters: the size of the parameter, gradient and optimizer-state buffers.
    std::size_t parameter_count() const noexcept { return size_; }

    friend bool operator==(const parameter_layout& a, const parameter_layout& b) noexcept {
        return a.widths_ == b.widths_ && a.parametric_ == b.parametric_;
    }

    /// The widths as "784-300-100-10".
    std::string to_string() const {
        std::string s;
        for (std::size_t i = 0; i < widths_.size(); ++i) {
            // Appended piece by piece: GCC 12 -O3 flags `"-" + std::string&&` with a false
            // -Wrestrict (as in io/file.hpp).
            s += i ? "-" : "";
            s += std::to_string(widths_[i]);
        }
        return s;
    }

private:
    static std::vector<std::size_t> check(std::span<const std::size_t> widths,
                                          std::span<const bool> parametric,
                                          std::string_view source) {
        const std::string who = source.empty() ? std::string("parameter_layout")
                                               : std::string(source);
        if (widths.size() < 2) {
            throw config_error(who + ": a network needs an input width and at least one layer");
        }
        if (!parametric.empty() && parametric.size() + 1 != widths.size()) {
            throw config_error(who + ": " + std::to_string(parametric.size()) +
                               " parameter flags for " + std::to_string(widths.size() - 1) +
                               " layers");
        }
        std::size_t total = 0;
        for (std::size_t i = 0; i < widths.size(); ++i) {
            const std::size_t w = widths[i];
            if (w == 0 || w > CTML_MAX_WIDTH) {
                throw config_error(who + ": width " + std::to_string(w) + " of " +
                                   (i == 0 ? std::string("the input")
                                           : "layer " + std::to_string(i - 1)) +
                                   " is outside [1, " + std::to_string(CTML_MAX_WIDTH) +
                                   "] (CTML_MAX_WIDTH)");
            }
            if (i == 0) {
                continue;
            }
            if (!parametric.empty() && !parametric[i - 1]) {
                if (w != widths[i - 1]) {
                    throw config_error(who + ": layer " + std::to_string(i - 1) +
                                       " has no parameters, so its width " + std::to_string(w) +
                                       " must equal its input width " +
                                       std::to_string(widths[i - 1]));
                }
                continue;
            }
            // Both factors are at most CTML_MAX_WIDTH (< 2^32), so in*out+out cannot overflow.
            const std::size_t layer = widths[i - 1] * w + w;
            if (layer > CTML_MAX_PARAMETERS || total > CTML_MAX_PARAMETERS - layer) {
                throw config_error(who + ": the network would have more than " +
                                   std::to_string(CTML_MAX_PARAMETERS) +
                                   " parameters (CTML_MAX_PARAMETERS) at layer " +
                                   std::to_string(i - 1) + " (widths " + join(widths) + ")");
            }
            total += layer;
        }
        return {widths.begin(), widths.end()};
    }
    static std::string join(std::span<const std::size_t> w) {
        std::string s;
        for (std::size_t i = 0; i < w.size(); ++i) {
            s += i ? "-" : "";
            s += std::to_string(w[i]);
        }
        return s;
    }

    std::vector<std::size_t> widths_;
    std::vector<std::size_t> kernel_offset_;
    std::vector<bool> parametric_;
    std::size_t size_ = 0;
};

} // namespace ctml
