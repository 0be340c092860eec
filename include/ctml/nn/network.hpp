// SPDX-License-Identifier: MIT
// network<Arch, T>: the parameters of an architecture, all in one contiguous, aligned buffer.
// Layer l occupies [W_l (in × out, row-major) | b_l (out)], layers in order. The optimizer
// updates the whole buffer in one pass, saving is one copy, a GPU upload one transfer.
#pragma once
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "ctml/core/backend.hpp"
#include "ctml/core/buffer.hpp"
#include "ctml/core/error.hpp"
#include "ctml/core/random.hpp"
#include "ctml/kernels/cpu/fused.hpp"
#include "ctml/kernels/cpu/gemm.hpp"
#include "ctml/nn/sequential.hpp"
#include "ctml/nn/widths.hpp"

namespace ctml {

/// @brief The parameters of a ctml::sequential architecture.
/// @tparam Arch    a ctml::sequential<input<N>, layers...>
/// @tparam T       scalar type (float; double for gradient checks)
/// @tparam Backend ctml::cpu
template <architecture Arch, class T = float, backend Backend = cpu>
class network {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "ctml::network<Arch, T>: T must be float or double");
    static_assert(std::is_same_v<Backend, cpu>,
                  "ctml::network<Arch, T, Backend>: this network holds host memory; for the GPU "
                  "use the engine in <ctml/kernels/cuda/> (namespace ctml::cuda)");

public:
    using architecture_type = Arch;
    using scalar_type = T;
    static constexpr std::size_t layer_count = Arch::layer_count;

    /// Every width static: ready to use (call initialize() for random weights).
    network() requires(Arch::all_static) : network(layer_widths<Arch>{}) {}

    explicit network(const layer_widths<Arch>& widths) {
        widths.require_complete();
        widths_[0] = Arch::input_width;
        std::size_t offset = 0;
        for (std::size_t l = 0; l < layer_count; ++l) {
            widths_[l + 1] = widths[l];
            w_offset_[l] = offset;
            offset += widths_[l] * widths_[l + 1];
            b_offset_[l] = offset;
            offset += widths_[l + 1];
        }
        params_.resize(offset);
    }

    /// Input width, then each layer's output width.
    std::size_t width(std::size_t i) const noexcept { return widths_[i]; }
    const std::array<std::size_t, layer_count + 1>& widths() const noexcept { return widths_; }
    std::size_t input_width() const noexcept { return widths_[0]; }
    std::size_t output_width() const noexcept { return widths_[layer_count]; }
    std::size_t parameter_count() const noexcept { return params_.size(); }

    std::span<T> parameters() noexcept { return params_.span(); }
    std::span<const T> parameters() const noexcept { return params_.span(); }
    /// Layer l's kernel, in × out row-major.
    std::span<T> kernel(std::size_t l) noexcept {
        return {params_.data() + w_offset_[l], widths_[l] * widths_[l + 1]};
    }
    std::span<const T> kernel(std::size_t l) const noexcept {
        return {params_.data() + w_offset_[l], widths_[l] * widths_[l + 1]};
    }
    std::span<T> bias(std::size_t l) noexcept { return {params_.data() + b_offset_[l], widths_[l + 1]}; }
    std::span<const T> bias(std::size_t l) const noexcept {
        return {params_.data() + b_offset_[l], widths_[l + 1]};
    }
    std::size_t kernel_offset(std::size_t l) const noexcept { return w_offset_[l]; }
    std::size_t bias_offset(std::size_t l) const noexcept { return b_offset_[l]; }

    /// Kernels from each layer's initializer, biases zero; the same seed gives the same bits.
    void initialize(std::uint64_t seed) {
        rng r(seed);
        init_layers(r, std::make_index_sequence<layer_count>{});
    }

    /// One forward pass over `rows` rows. acts[0] holds the input (rows × input_width), acts[l+1]
    /// receives layer l's output. With final_activation = false the last layer's activation is
    /// not applied (its logits are left for a fused loss).
    template <bool FinalActivation = true>
    void forward(const std::array<T*, layer_count + 1>& acts, std::size_t rows) const noexcept {
        forward_layers<FinalActivation>(acts, rows, std::make_index_sequence<layer_count>{});
    }

    /// Outputs (rows × output_width) for rows × input_width inputs. Allocates its scratch space;
    /// the training step uses ctml::trainer's preallocated buffers instead.
    void predict(std::span<const T> x, std::size_t rows, std::span<T> out) const {
        if (x.size() != rows * input_width()) {
            throw data_error("predict: input holds " + std::to_string(x.size()) +
                             " values, expected rows × input width = " + std::to_string(rows) +
                             " × " + std::to_string(input_width()));
        }
        if (out.size() != rows * output_width()) {
            throw data_error("predict: output holds " + std::to_string(out.size()) +
                             " values, expected rows × output width = " + std::to_string(rows) +
                             " × " + std::to_string(output_width()));
        }
        constexpr std::size_t chunk = 256;
        std::array<buffer<T>, layer_count + 1> scratch;
        for (std::size_t l = 0; l <= layer_count; ++l) {
            scratch[l].resize(std::min(rows, chunk) * widths_[l]);
        }
        std::array<T*, layer_count + 1> acts{};
        for (std::size_t l = 0; l <= layer_count; ++l) {
            acts[l] = scratch[l].data();
        }
        for (std::size_t begin = 0; begin < rows; begin += chunk) {
            const std::size_t n = std::min(chunk, rows - begin);
            std::copy_n(x.data() + begin * input_width(), n * input_width(), acts[0]);
            forward<true>(acts, n);
            std::copy_n(acts[layer_count], n * output_width(), out.data() + begin * output_width());
        }
    }

private:
    template <std::size_t... I>
    void init_layers(rng& r, std::index_sequence<I...>) {
        (init_layer<I>(r), ...);
    }
    template <std::size_t I>
    void init_layer(rng& r) {
        using L = typename Arch::template layer_type<I>;
        L::initializer_type::fill(kernel(I).data(), widths_[I], widths_[I + 1], r);
        std::fill(bias(I).begin(), bias(I).end(), T(0));
    }

    template <bool FinalActivation, std::size_t... I>
    void forward_layers(const std::array<T*, layer_count + 1>& acts, std::size_t rows,
                        std::index_sequence<I...>) const noexcept {
        (forward_layer<FinalActivation, I>(acts, rows, 0, widths_[I + 1]), ...);
    }

public:
    /// Output columns [c0, c1) of layer I for `rows` rows: acts[I+1][:, c0:c1] =
    /// f(acts[I] · W_I[:, c0:c1] + b_I[c0:c1]). Threads take disjoint column blocks; a softmax
    /// layer (with FinalActivation) needs the whole row, c0 = 0 and c1 = width.
    template <bool FinalActivation, std::size_t I>
    void forward_layer(const std::array<T*, layer_count + 1>& acts, std::size_t rows,
                       std::size_t c0, std::size_t c1) const noexcept {
        using kernels::cpu::trans;
        const std::size_t in = widths_[I], out = widths_[I + 1];
        if (c1 <= c0) {
            return;
        }
        kernels::cpu::gemm(trans::no, trans::no, rows, c1 - c0, in, T(1), acts[I], in,
                           kernel(I).data() + c0, out, T(0), acts[I + 1] + c0, out);
        forward_epilogue<FinalActivation, I>(acts, rows, c0, c1);
    }

    /// The part of forward_layer after the product: bias and activation on columns [c0, c1) of
    /// acts[I+1], which already holds acts[I] · W_I there.
    template <bool FinalActivation, std::size_t I>
    void forward_epilogue(const std::array<T*, layer_count + 1>& acts, std::size_t rows,
                          std::size_t c0, std::size_t c1) const noexcept {
        using L = typename Arch::template layer_type<I>;
        const std::size_t out = widths_[I + 1];
        if constexpr (I + 1 == layer_count && !FinalActivation) {
            kernels::cpu::bias_activation<identity>(acts[I + 1] + c0, bias(I).data() + c0, rows,
                                                    c1 - c0, out);
        } else {
            kernels::cpu::bias_activation<typename L::activation_type>(
                acts[I + 1] + c0, bias(I).data() + c0, rows, c1 - c0, out);
        }
    }

private:
    std::array<std::size_t, layer_count + 1> widths_{};
    std::array<std::size_t, layer_count> w_offset_{};
    std::array<std::size_t, layer_count> b_offset_{};
    buffer<T> params_;
};

} // namespace ctml
