// SPDX-License-Identifier: MIT
// The CPU forward pass of one dense layer, shared by the CPU engine's step and by predict().
#pragma once
#include <algorithm>
#include <array>
#include <cstddef>

#include "ctml/kernels/cpu/fused.hpp"
#include "ctml/kernels/cpu/gemm.hpp"
#include "ctml/nn/activations.hpp"
#include "ctml/nn/network.hpp"

namespace ctml::detail {

template <class Arch, class T>
using activation_pointers = std::array<T*, Arch::layer_count + 1>;

/// The part of a dense layer after the product: bias and activation on columns [c0, c1) of
/// acts[I+1], which already holds acts[I] · W_I there. Without FinalActivation the last layer's
/// activation is left out (its logits go to a fused loss).
template <bool FinalActivation, std::size_t I, class Arch, class T>
void forward_epilogue(const network<Arch, T>& net, const activation_pointers<Arch, T>& acts,
                      std::size_t rows, std::size_t c0, std::size_t c1) noexcept {
    using L = typename Arch::template layer_type<I>;
    const std::size_t out = net.width(I + 1);
    if constexpr (I + 1 == Arch::layer_count && !FinalActivation) {
        kernels::cpu::bias_activation<identity>(acts[I + 1] + c0, net.bias(I).data() + c0, rows,
                                                c1 - c0, out);
    } else {
        kernels::cpu::bias_activation<typename L::activation_type>(
            acts[I + 1] + c0, net.bias(I).data() + c0, rows, c1 - c0, out);
    }
}

/// Output columns [c0, c1) of dense layer I for `rows` rows: acts[I+1][:, c0:c1] =
/// f(acts[I] · W_I[:, c0:c1] + b_I[c0:c1]). Threads take disjoint column blocks; a softmax
/// layer (with FinalActivation) needs the whole row, c0 = 0 and c1 = width.
template <bool FinalActivation, std::size_t I, class Arch, class T>
void forward_layer(const network<Arch, T>& net, const activation_pointers<Arch, T>& acts,
                   std::size_t rows, std::size_t c0, std::size_t c1) noexcept {
    using kernels::cpu::trans;
    const std::size_t in = net.width(I), out = net.width(I + 1);
    if (c1 <= c0) {
        return;
    }
    kernels::cpu::gemm(trans::no, trans::no, rows, c1 - c0, in, T(1), acts[I], in,
                       net.kernel(I).data() + c0, out, T(0), acts[I + 1] + c0, out);
    forward_epilogue<FinalActivation, I>(net, acts, rows, c0, c1);
}

/// The whole forward pass in inference mode on the calling thread: a dropout layer passes its
/// input through.
template <class Arch, class T>
void forward_inference(const network<Arch, T>& net, const activation_pointers<Arch, T>& acts,
                       std::size_t rows) noexcept {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (
            [&] {
                if constexpr (Arch::template layer_type<I>::has_parameters) {
                    forward_layer<true, I>(net, acts, rows, 0, net.width(I + 1));
                } else {
                    std::copy_n(acts[I], rows * net.width(I), acts[I + 1]);
                }
            }(),
            ...);
    }(std::make_index_sequence<Arch::layer_count>{});
}

} // namespace ctml::detail
