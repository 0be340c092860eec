// SPDX-License-Identifier: MIT
// network<Arch, T>: the parameters of an architecture, all in one contiguous, aligned buffer in
// the layout every engine shares (core/layout.hpp): layer l occupies [W_l (in × out, row-major)
// | b_l (out)], layers in order, nothing for a layer without parameters. The optimizer updates
// the whole buffer in one pass, saving is one copy, a GPU upload one transfer. The network holds
// data only; engines (engine/) compute with it.
#pragma once
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <utility>

#include "ctml/core/buffer.hpp"
#include "ctml/core/layout.hpp"
#include "ctml/core/random.hpp"
#include "ctml/nn/sequential.hpp"
#include "ctml/nn/widths.hpp"

namespace ctml {

/// @brief The parameters of a ctml::sequential architecture.
/// @tparam Arch a ctml::sequential<input<N>, layers...>
/// @tparam T    scalar type (float; double for gradient checks)
template <architecture Arch, class T = float>
class network {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "ctml::network<Arch, T>: T must be float or double");

public:
    using architecture_type = Arch;
    using scalar_type = T;
    static constexpr std::size_t layer_count = Arch::layer_count;

    /// Every width static: ready to use (call initialize() for random weights).
    network() requires(Arch::all_static) : network(layer_widths<Arch>{}) {}

    /// The widths are bounded (CTML_MAX_WIDTH, CTML_MAX_PARAMETERS) before the buffer is
    /// allocated; a config_error names who set them.
    explicit network(const layer_widths<Arch>& widths) : layout_(widths.layout()) {
        for (std::size_t l = 0; l <= layer_count; ++l) {
            widths_[l] = layout_.width(l);
        }
        for (std::size_t l = 0; l < layer_count; ++l) {
            w_offset_[l] = layout_.kernel_offset(l);
            b_offset_[l] = layout_.bias_offset(l);
            w_size_[l] = layout_.kernel_size(l);
            b_size_[l] = layout_.bias_size(l);
        }
        params_.resize(layout_.parameter_count());
    }

    /// Where every parameter sits: the layout all engines and the model files share.
    const parameter_layout& layout() const noexcept { return layout_; }
    /// The run-time widths, as flags or a model file would set them.
    layer_widths<Arch> configured_widths() const {
        layer_widths<Arch> w;
        for (std::size_t l = 0; l < layer_count; ++l) {
            w.set(l, widths_[l + 1]);
        }
        return w;
    }
    /// Input width, then each layer's output width.
    std::size_t width(std::size_t i) const noexcept { return widths_[i]; }
    const std::array<std::size_t, layer_count + 1>& widths() const noexcept { return widths_; }
    std::size_t input_width() const noexcept { return widths_[0]; }
    std::size_t output_width() const noexcept { return widths_[layer_count]; }
    std::size_t parameter_count() const noexcept { return params_.size(); }

    std::span<T> parameters() noexcept { return params_.span(); }
    std::span<const T> parameters() const noexcept { return params_.span(); }
    /// Layer l's kernel, in × out row-major (empty for a layer without parameters).
    std::span<T> kernel(std::size_t l) noexcept {
        return {params_.data() + w_offset_[l], w_size_[l]};
    }
    std::span<const T> kernel(std::size_t l) const noexcept {
        return {params_.data() + w_offset_[l], w_size_[l]};
    }
    /// Layer l's bias (empty for a layer without parameters).
    std::span<T> bias(std::size_t l) noexcept {
        return {params_.data() + b_offset_[l], b_size_[l]};
    }
    std::span<const T> bias(std::size_t l) const noexcept {
        return {params_.data() + b_offset_[l], b_size_[l]};
    }
    std::size_t kernel_offset(std::size_t l) const noexcept { return w_offset_[l]; }
    std::size_t bias_offset(std::size_t l) const noexcept { return b_offset_[l]; }

    /// Kernels from each layer's initializer, biases zero; the same seed gives the same bits.
    void initialize(std::uint64_t seed) {
        rng r(seed);
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (init_layer<I>(r), ...);
        }(std::make_index_sequence<layer_count>{});
    }

private:
    template <std::size_t I>
    void init_layer(rng& r) {
        using L = typename Arch::template layer_type<I>;
        if constexpr (L::has_parameters) {
            L::initializer_type::fill(kernel(I).data(), widths_[I], widths_[I + 1], r);
            std::fill(bias(I).begin(), bias(I).end(), T(0));
        }
    }

    parameter_layout layout_;
    // Copies of the layout's numbers in fixed arrays: the step reads them in its inner phases.
    std::array<std::size_t, layer_count + 1> widths_{};
    std::array<std::size_t, layer_count> w_offset_{};
    std::array<std::size_t, layer_count> b_offset_{};
    std::array<std::size_t, layer_count> w_size_{};
    std::array<std::size_t, layer_count> b_size_{};
    buffer<T> params_;
};

} // namespace ctml
