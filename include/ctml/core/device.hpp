// SPDX-License-Identifier: MIT
// Where a job runs: the value of a trainer's --device flag and of "device" in the job's JSON.
#pragma once
#include <optional>
#include <string_view>

namespace ctml {

/// @brief The device an engine computes on.
enum class device { cpu, cuda };

/// @brief "cpu" or "cuda".
constexpr std::string_view device_name(device d) noexcept {
    return d == device::cuda ? "cuda" : "cpu";
}

/// @brief The device named `name` ("cpu", "cuda"), or nothing.
constexpr std::optional<device> parse_device(std::string_view name) noexcept {
    if (name == "cpu") {
        return device::cpu;
    }
    if (name == "cuda") {
        return device::cuda;
    }
    return std::nullopt;
}

} // namespace ctml
