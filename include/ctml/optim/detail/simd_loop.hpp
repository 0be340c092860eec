// SPDX-License-Identifier: MIT
// The element loop of the optimizers: every element goes through the same SIMD code, the last
// partial batch through zero-padded copies. With a scalar tail, an element's rounding depended
// on where a call's range ended (the compiler contracts the scalar and the vector expressions
// into different FMAs, and the rsqrt path has no scalar twin), so updating a layer chunk by
// chunk gave other weights than one call over it. The optimizer contract (optim/optimizer.hpp)
// asks for the same result on any split; this makes it hold bit for bit.
#pragma once
#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cstddef>
#include <type_traits>
#include <utility>

namespace ctml::detail {

/// body(ptrs + i...) for i = 0, W, 2W, ... (W = xsimd::batch<T>::size), each call reading and
/// writing W elements of every array; the last n mod W elements through padded copies (written
/// back to the arrays that are not const). n may be 0.
template <class T, class Body, class... P>
void for_each_batch(std::size_t n, Body&& body, P*... ptrs) noexcept {
    constexpr std::size_t w = xsimd::batch<T>::size;
    std::size_t i = 0;
    for (; i + w <= n; i += w) {
        body((ptrs + i)...);
    }
    if (i == n) {
        return;
    }
    const std::size_t left = n - i;
    alignas(64) T tmp[sizeof...(P)][w] = {};
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (std::copy_n(ptrs + i, left, tmp[I]), ...);
        body(static_cast<P*>(tmp[I])...);
        (
            [&] {
                if constexpr (!std::is_const_v<P>) {
                    std::copy_n(tmp[I], left, ptrs + i);
                }
            }(),
            ...);
    }(std::index_sequence_for<P...>{});
}

} // namespace ctml::detail
