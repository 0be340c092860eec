// SPDX-License-Identifier: MIT
// The states a run goes through, with the service's spelling (NotStarted ... Canceled), which is
// what event files, the store and `ctml run show` use.
#pragma once
#include <array>
#include <cctype>
#include <optional>
#include <string_view>

namespace ctml::run {

/// @brief A run's state. Transitions only move forward (see can_transition); the three last
/// states are terminal.
enum class run_state {
    not_started, ///< created, nothing scheduled yet
    queued,      ///< waiting for compute
    preparing,   ///< environment being built, data mounted
    running,     ///< the trainer process is running
    finalizing,  ///< the trainer ended; outputs being recorded
    completed,   ///< terminal: ended normally
    failed,      ///< terminal: an error, a crash, a killed or vanished writer
    canceled,    ///< terminal: stopped on request (SIGTERM/SIGINT, scancel, `ctml run cancel`)
};

inline constexpr std::array<run_state, 8> all_run_states{
    run_state::not_started, run_state::queued,    run_state::preparing, run_state::running,
    run_state::finalizing,  run_state::completed, run_state::failed,    run_state::canceled};

/// @brief "NotStarted", "Queued", "Preparing", "Running", "Finalizing", "Completed", "Failed",
/// "Canceled".
constexpr std::string_view to_string(run_state s) noexcept {
    switch (s) {
    case run_state::not_started: return "NotStarted";
    case run_state::queued: return "Queued";
    case run_state::preparing: return "Preparing";
    case run_state::running: return "Running";
    case run_state::finalizing: return "Finalizing";
    case run_state::completed: return "Completed";
    case run_state::failed: return "Failed";
    case run_state::canceled: return "Canceled";
    }
    return "Failed";
}

/// @brief The state named `text`, compared without regard to case ("running" == "Running");
/// std::nullopt for anything else.
constexpr std::optional<run_state> parse_run_state(std::string_view text) noexcept {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
    for (const run_state s : all_run_states) {
        const std::string_view name = to_string(s);
        if (name.size() != text.size()) {
            continue;
        }
        bool same = true;
        for (std::size_t i = 0; i < name.size() && same; ++i) {
            same = lower(name[i]) == lower(text[i]);
        }
        if (same) {
            return s;
        }
    }
    return std::nullopt;
}

/// @brief Completed, Failed and Canceled: nothing follows them.
constexpr bool is_terminal(run_state s) noexcept {
    return s == run_state::completed || s == run_state::failed || s == run_state::canceled;
}

/// @brief Whether a run in `from` may move to `to`: forward only (a state may be skipped, e.g.
/// an offline run goes NotStarted -> Running), any non-terminal state may end (Failed,
/// Canceled), and nothing leaves a terminal state.
constexpr bool can_transition(run_state from, run_state to) noexcept {
    if (is_terminal(from)) {
        return false;
    }
    if (to == run_state::failed || to == run_state::canceled) {
        return true;
    }
    return static_cast<int>(to) > static_cast<int>(from);
}

} // namespace ctml::run
