// SPDX-License-Identifier: MIT
// What every `ctml` verb shares: the global options, finding the workspace, KEY=VALUE options.
#pragma once
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include <ctml/core/error.hpp>
#include <ctml/io/json.hpp>
#include <ctml/workspace/workspace.hpp>

namespace ctml::cli {

/// @brief Options of the `ctml` command itself, accepted before or after the verb.
struct globals {
    std::string workspace; ///< --workspace DIR (empty: CTML_WORKSPACE, else the search)
    bool json = false;     ///< --json: one JSON document on stdout instead of tables
};

/// @brief The workspace a verb works on: --workspace DIR exactly there, else CTML_WORKSPACE,
/// else config.json / .ctml/config.json in the current folder or a parent. Event files of runs
/// are ingested first (and runs whose writer died marked Failed), so what is shown is current.
inline workspace::workspace open_workspace(const globals& g, bool sync = true) {
    std::optional<workspace::workspace> ws;
    if (!g.workspace.empty()) {
        const std::filesystem::path dir(g.workspace);
        std::error_code ec;
        if (!std::filesystem::exists(dir, ec)) {
            throw workspace_error("--workspace " + g.workspace + ": no such folder");
        }
        ws.emplace(workspace::open(dir));
    } else {
        std::optional<run::workspace_config> found = run::locate_workspace();
        if (!found) {
            throw workspace_error("no workspace found: no config.json or .ctml/config.json in " +
                                  std::filesystem::current_path().string() +
                                  " or its parents; create one with `ctml workspace init` or "
                                  "pass --workspace DIR");
        }
        ws.emplace(std::move(*found));
    }
    if (sync) {
        ws->sync();
    }
    return std::move(*ws);
}

/// @brief Parses repeated `--tag k=v` values into a map; `option` names the flag in errors.
/// An empty key, a missing '=' or a key given twice is a ctml::config_error.
inline std::map<std::string, std::string> parse_key_values(const std::vector<std::string>& items,
                                                           std::string_view option) {
    std::map<std::string, std::string> out;
    for (const auto& item : items) {
        const auto eq = item.find('=');
        if (eq == std::string::npos || eq == 0) {
            throw config_error(std::string(option) + " \"" + item +
                               "\": expected KEY=VALUE with a non-empty KEY");
        }
        const std::string key = item.substr(0, eq);
        if (!out.emplace(key, item.substr(eq + 1)).second) {
            throw config_error(std::string(option) + " " + key + ": given twice");
        }
    }
    return out;
}

/// Writes a finished JSON document to stdout.
inline void print_json(io::json_writer& w) { std::cout << w.str(); }

/// A `--json`-aware writer: pretty, ending in a newline.
inline io::json_writer json_out() { return io::json_writer(io::json_style::pretty); }

// Verb groups (tools/commands/*.cpp).
void add_workspace_commands(CLI::App& app, globals& g);
void add_experiment_commands(CLI::App& app, globals& g);
void add_run_commands(CLI::App& app, globals& g);
void add_model_commands(CLI::App& app, globals& g);
void add_dataset_commands(CLI::App& app, globals& g);
void add_sync_commands(CLI::App& app, globals& g); // commands/sync.cpp (MLflow)

} // namespace ctml::cli
