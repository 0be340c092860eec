// SPDX-License-Identifier: MIT
#pragma once
#include <cstddef>
#include <limits>

namespace ctml {

/// @brief A layer width that is not known at compile time; it is set at run time
/// (for example from a trainer's `--first-layer-neurons`).
inline constexpr std::size_t dynamic = std::numeric_limits<std::size_t>::max();

/// true when N is a compile-time width.
template <std::size_t N>
inline constexpr bool is_static_extent = N != dynamic;

/// dependent_false<T...>: false, but only once T is known; for static_assert in templates.
template <class...>
inline constexpr bool dependent_false = false;

} // namespace ctml
