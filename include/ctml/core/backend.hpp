// SPDX-License-Identifier: MIT
#pragma once
#include <concepts>
#include <string_view>

namespace ctml {

/// @brief Run on the host: OpenBLAS GEMMs and vectorized fused element-wise kernels.
/// (The GPU engine lives in namespace ctml::cuda, <ctml/kernels/cuda/...>, behind CTML_WITH_CUDA.)
struct cpu {
    static constexpr std::string_view name = "cpu";
};

/// @brief What the backend slot of ctml::network accepts (ctml::cpu).
template <class B>
concept backend = std::same_as<B, cpu>;

} // namespace ctml
