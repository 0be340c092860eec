// SPDX-License-Identifier: MIT
// The compute verbs (tools/commands/compute.cpp): `ctml compute create|list`, `ctml submit`, and
// `ctml run wait|logs|cancel` added to the `run` group.
#pragma once
#include <CLI/CLI.hpp>

#include "cli/common.hpp"

namespace ctml::cli {

/// Adds `compute`, `submit`, and wait/logs/cancel under the existing `run` group (call after
/// add_run_commands).
void add_compute_commands(CLI::App& app, globals& g);

} // namespace ctml::cli
