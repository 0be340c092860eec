// SPDX-License-Identifier: MIT
// The values the store hands out: experiments, runs, metric points, files, registered models,
// datasets. Plain structs, the same for every store (SQLite now, MLflow's REST API later), so
// they follow MLflow's model: experiments, runs with params, tags and metrics (name, value,
// step, timestamp), artifacts, registered models with versions, tags and aliases.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ctml/run/state.hpp"

namespace ctml::workspace {

using run::run_state;

/// Milliseconds since the Unix epoch (UTC), as MLflow stores times.
using timestamp_ms = std::int64_t;

/// @brief An experiment: a named group of runs.
struct experiment_info {
    std::string name{};
    timestamp_ms created = 0;
    std::int64_t run_count = 0;
};

/// @brief One transition of a run's state machine.
struct state_change {
    run_state state = run_state::not_started;
    timestamp_ms time = 0;
    std::string reason{}; ///< why (empty for ordinary progress; set for Failed and Canceled)
};

/// @brief A run as listed.
struct run_info {
    std::string id{};
    std::string experiment{};
    run_state state = run_state::not_started;
    std::string reason{};         ///< the last transition's reason (why it Failed, ...)
    timestamp_ms created = 0;   ///< when the run was created
    timestamp_ms started = 0;   ///< when it entered Running (0: never)
    timestamp_ms ended = 0;     ///< when it entered a terminal state (0: not yet)
    timestamp_ms last_seen = 0; ///< the writer's last event (heartbeat or any other)
    bool offline = false;       ///< started by hand, not submitted
    std::string host{};           ///< the writer's host
    std::int64_t pid = 0;       ///< the writer's pid
};

/// @brief One metric point. NaN and +-inf are kept.
struct metric_point {
    std::string name{};
    double value = 0;
    std::int64_t step = 0;
    timestamp_ms timestamp = 0;
};

/// @brief A file of a run (under outputs/, logs/, images/ or files/) or of a model version.
struct file_info {
    std::string path{};   ///< relative, '/'-separated
    std::uint64_t size = 0;
    std::string sha256{}; ///< hex; empty where not computed (a live run's files)
};

/// @brief An image a run logged.
struct image_info {
    std::string name{}; ///< as logged ("Accuracy vs Loss")
    std::string path{}; ///< relative to the run folder ("images/Accuracy vs Loss.png")
    timestamp_ms timestamp = 0;
};

/// @brief A dataset version a run used or a model was trained on.
struct dataset_ref {
    std::string name{};
    std::int64_t version = 0;
};

/// @brief Everything about one run (`ctml run show`).
struct run_details {
    run_info info;
    std::vector<state_change> history{};           ///< in order
    std::map<std::string, std::string> params{};
    std::map<std::string, std::string> tags{};
    std::string environment_json{};                ///< object; "{}" when none yet
    std::string job_json{};                        ///< the job description as given ("" if none)
    std::vector<std::string> metric_names{};       ///< sorted
    std::vector<image_info> images{};
    std::vector<dataset_ref> datasets{};
    std::vector<file_info> files{};
};

/// @brief Filter for listing runs.
struct run_filter {
    std::optional<std::string> experiment{};
    std::optional<run_state> state{};
};

/// @brief A registered model (all its versions share the name).
struct model_info {
    std::string name{};
    std::string description{};
    timestamp_ms created = 0;
    std::int64_t latest_version = 0;     ///< 0 when every version was deleted
    std::map<std::string, std::int64_t> aliases{};
};

/// @brief One version of a registered model.
struct model_version {
    std::string name{};
    std::int64_t version = 0;
    std::string description{};
    timestamp_ms created = 0;
    std::map<std::string, std::string> tags{};       ///< mutable
    std::map<std::string, std::string> properties{}; ///< add-only
    std::vector<std::string> aliases{};              ///< aliases pointing here
    std::vector<file_info> files{};
    std::string content_sha256{}; ///< hash over the sorted (path, sha256, size) list
    // Lineage.
    std::string run_id{};                  ///< empty when registered from a plain path
    std::string experiment{};
    std::vector<dataset_ref> datasets{};
    std::string job_json{};
    std::map<std::string, double> metrics{}; ///< each metric's last value at registration
    /// "name:version", as register_model returns it.
    std::string id() const { return name + ":" + std::to_string(version); }
};

/// @brief What register_model takes.
struct model_registration {
    std::string name{};
    /// A file or folder; relative paths are taken inside the run folder when run_id is set
    /// ("outputs/model"), else from the current folder.
    std::string path{};
    std::optional<std::string> run_id{};
    std::map<std::string, std::string> tags{};
    std::map<std::string, std::string> properties{};
    std::string description{};
    std::vector<dataset_ref> datasets{}; ///< added to the run's own
};

/// @brief One file of a dataset version.
struct dataset_file {
    std::string path{};   ///< inside the dataset folder
    std::uint64_t size = 0;
    std::string sha256{};
    std::string source{}; ///< the path or URL it came from
};

/// @brief One version of a registered dataset.
struct dataset_version {
    std::string name{};
    std::int64_t version = 0;
    std::string description{};
    timestamp_ms created = 0;
    std::string content_sha256{};
    std::vector<dataset_file> files{};
    std::string id() const { return name + ":" + std::to_string(version); }
};

/// @brief A registered dataset.
struct dataset_info {
    std::string name{};
    std::string description{}; ///< the latest version's
    timestamp_ms created = 0;
    std::int64_t latest_version = 0;
};

} // namespace ctml::workspace
