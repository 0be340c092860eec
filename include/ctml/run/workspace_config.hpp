// SPDX-License-Identifier: MIT
// config.json: what names a workspace and where its store lives. It sits in run/ rather than in
// workspace/ because a trainer must find its workspace (to create an offline run there) without
// linking the store (SQLite, libcurl); workspace/config.hpp re-exports it.
//
// config.json keys (every other key is an error naming it):
//   "name"         string, required: the workspace name (letters, digits, '.', '_', '-').
//   "location"     string, optional, default ".": the folder holding the store (ctml.db,
//                  objects/, runs/, datasets/), relative to the folder that holds config.json.
//   "description"  string, optional.
//   "store"        string, optional, default "sqlite": the store kind; "sqlite" is the only one
//                  in this version (an MLflow tracking server is planned as the second).
//   "tracking_uri" string, optional: an MLflow tracking server ("http://127.0.0.1:5000"); then
//                  runs, metrics, artifacts and the model registry also go to that server, the
//                  workspace folder keeping a local journal (ctml/workspace/mlflow_store.hpp).
//                  Credentials come from MLFLOW_TRACKING_USERNAME/PASSWORD or
//                  MLFLOW_TRACKING_TOKEN, never from this file.
//   "heartbeat_timeout_s"  number > 0, optional, default 60: a run whose writer lives on another
//                  host (or another boot) is Failed after this long without a heartbeat; on the
//                  same host the writer's pid and start time decide at once.
//
// Search (from_config, locate_workspace): <dir>/config.json, then <dir>/.ctml/config.json, for
// <dir> = the start folder and each of its parents, as the service's SDK and git do.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "ctml/core/error.hpp"
#include "ctml/io/file.hpp"
#include "ctml/io/json.hpp"
#include "ctml/io/json_read.hpp"
#include "ctml/run/names.hpp"

namespace ctml::run {

/// @brief A parsed config.json.
struct workspace_config {
    std::string name{};                  ///< "name"
    std::string description{};           ///< "description" (empty when absent)
    std::string store = "sqlite";      ///< "store"
    std::string location = ".";        ///< "location", as written
    double heartbeat_timeout_s = 60.0; ///< "heartbeat_timeout_s"
    std::string tracking_uri{};          ///< "tracking_uri" (empty: no server)
    std::filesystem::path config_path{}; ///< the config.json this came from (absolute)
    std::filesystem::path root{};        ///< the store folder: config_path's folder / location

    /// The folder of the runs (`<root>/runs`); a run's folder is `<root>/runs/<run id>`.
    std::filesystem::path runs_dir() const { return root / "runs"; }
};

/// @brief Parses config.json text; `path` names the file in errors and anchors "location".
/// Bad JSON, an unknown key, a wrong type or a bad value throw ctml::config_error
/// "<path>: field "<key>": ...".
inline workspace_config parse_workspace_config(std::string_view text,
                                               const std::filesystem::path& path) {
    const std::filesystem::path abs = std::filesystem::absolute(path).lexically_normal();
    try {
        const io::json_document doc = io::parse_json(text, abs.string());
        const io::json_object o = doc.root().as_object();
        o.expect_only({"name", "location", "description", "store", "heartbeat_timeout_s",
                       "tracking_uri"});
        workspace_config c;
        c.name = o.get_string("name");
        try {
            check_entity_name("workspace", c.name);
        } catch (const workspace_error& e) {
            o.at("name").fail(e.what());
        }
        c.description = o.get_optional_string("description").value_or("");
        c.store = o.get_optional_string("store").value_or("sqlite");
        if (c.store != "sqlite") {
            o.at("store").fail("expected \"sqlite\" (the only store in this version), got \"" +
                               c.store + "\"");
        }
        c.location = o.get_optional_string("location").value_or(".");
        if (c.location.empty() || c.location.find('\0') != std::string::npos) {
            o.at("location").fail("expected a folder path, got an empty string");
        }
        if (const auto t = o.find("heartbeat_timeout_s")) {
            c.heartbeat_timeout_s = t->as_double(1e-3, 1e9);
        }
        c.tracking_uri = o.get_optional_string("tracking_uri").value_or("");
        if (const std::string& u = c.tracking_uri;
            !u.empty() && u.rfind("http://", 0) != 0 && u.rfind("https://", 0) != 0) {
            o.at("tracking_uri").fail("expected an http:// or https:// URI of an MLflow tracking "
                                      "server, got \"" + u + "\"");
        }
        c.config_path = abs;
        c.root = (abs.parent_path() / c.location).lexically_normal();
        if (!c.root.has_filename() && c.root.has_parent_path() && c.root != c.root.root_path()) {
            c.root = c.root.parent_path(); // "dir/." normalises to "dir/"
        }
        return c;
    } catch (const format_error& e) {
        // A config file is configuration: its mistakes are config errors (exit status 2).
        throw config_error(e.what());
    }
}

/// @brief Reads and parses `path` (see parse_workspace_config); a missing file is a
/// ctml::file_error naming it.
inline workspace_config load_workspace_config(const std::filesystem::path& path) {
    return parse_workspace_config(io::read_file(path), path);
}

/// @brief The first config.json on the search path from `start` (see the top of this file), or
/// std::nullopt when there is none up to the filesystem root.
inline std::optional<std::filesystem::path> find_workspace_config(
    const std::filesystem::path& start = std::filesystem::current_path()) {
    std::error_code ec{};
    std::filesystem::path dir = std::filesystem::absolute(start, ec).lexically_normal();
    if (ec) {
        return std::nullopt;
    }
    for (;;) {
        for (const auto& candidate : {dir / "config.json", dir / ".ctml" / "config.json"}) {
            if (std::filesystem::is_regular_file(candidate, ec)) {
                return candidate;
            }
        }
        if (!dir.has_parent_path() || dir.parent_path() == dir) {
            return std::nullopt;
        }
        dir = dir.parent_path();
    }
}

/// @brief The workspace to use from `start`: a folder given in the environment variable
/// CTML_WORKSPACE (its config.json or .ctml/config.json, or a config.json file itself) wins;
/// otherwise the search from `start`. std::nullopt when neither finds one.
inline std::optional<workspace_config> locate_workspace(
    const std::filesystem::path& start = std::filesystem::current_path()) {
    if (const char* env = std::getenv("CTML_WORKSPACE"); env != nullptr && *env != '\0') {
        const std::filesystem::path p(env);
        std::error_code ec;
        if (std::filesystem::is_regular_file(p, ec)) {
            return load_workspace_config(p);
        }
        for (const auto& candidate : {p / "config.json", p / ".ctml" / "config.json"}) {
            if (std::filesystem::is_regular_file(candidate, ec)) {
                return load_workspace_config(candidate);
            }
        }
        throw config_error("CTML_WORKSPACE=" + p.string() +
                           ": no config.json there (nor in its .ctml/)");
    }
    if (const auto path = find_workspace_config(start)) {
        return load_workspace_config(*path);
    }
    return std::nullopt;
}

/// @brief The text of a config.json naming workspace `name` with its store in `location`.
inline std::string workspace_config_text(std::string_view name, std::string_view location = ".",
                                         std::string_view description = "") {
    check_entity_name("workspace", name);
    io::json_writer w;
    w.begin_object().field("name", name);
    if (location != ".") {
        w.field("location", location);
    }
    if (!description.empty()) {
        w.field("description", description);
    }
    w.end_object();
    return w.take();
}

/// @brief Writes `<dir>/config.json` (atomically) for a new workspace named `name` whose store is
/// `dir` itself, creating `dir` and its `runs/` folder; refuses a `dir` that already holds a
/// config.json naming another workspace. Returns the parsed config. The database is created by
/// the store when it is first opened (workspace::create does that at once).
inline workspace_config create_workspace_folder(const std::filesystem::path& dir,
                                                std::string_view name,
                                                std::string_view description = "") {
    check_entity_name("workspace", name);
    std::error_code ec{};
    std::filesystem::create_directories(dir, ec);
    if (ec) {
        throw file_error(dir.string() + ": cannot create the workspace folder: " + ec.message(),
                         ec);
    }
    const std::filesystem::path cfg = dir / "config.json";
    if (std::filesystem::exists(cfg, ec)) {
        workspace_config existing = load_workspace_config(cfg);
        if (existing.name != name) {
            throw workspace_error(cfg.string() + ": already holds workspace \"" + existing.name +
                                  "\", not \"" + std::string(name) + "\"");
        }
        std::filesystem::create_directories(existing.runs_dir(), ec);
        return existing;
    }
    io::write_file_atomic(cfg, workspace_config_text(name, ".", description));
    workspace_config c = load_workspace_config(cfg);
    std::filesystem::create_directories(c.runs_dir(), ec);
    if (ec) {
        throw file_error(c.runs_dir().string() + ": cannot create: " + ec.message(), ec);
    }
    return c;
}

} // namespace ctml::run
