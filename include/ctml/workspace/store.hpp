// SPDX-License-Identifier: MIT
// The store behind a workspace: an abstract interface, so that the default SQLite store
// (ctml/workspace/sqlite_store.hpp) and a later MLflow tracking-server store are
// interchangeable. Its vocabulary is MLflow's: experiments, runs (params, tags, metrics with step
// and timestamp, artifacts), registered models with versions, tags and aliases; plus datasets.
// Callers usually go through ctml::workspace::workspace, which adds reference parsing
// ("name:3", "name@alias") and the file handling of datasets.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ctml/workspace/types.hpp"

namespace ctml::workspace {

/// @brief Outcome of ingesting event files (sync).
struct sync_report {
    std::int64_t runs_seen = 0;      ///< run folders looked at
    std::int64_t events = 0;         ///< event lines ingested
    std::int64_t malformed = 0;      ///< complete lines skipped
    std::int64_t runs_failed_dead = 0; ///< runs found with a dead writer and marked Failed
};

/// @brief The operations every store provides. Every method throws ctml::workspace_error
/// (unknown names, refused changes), ctml::file_error or ctml::format_error; none leaves a
/// half-made record behind.
class store {
public:
    virtual ~store() = default;

    /// A short description ("sqlite:/path/ctml.db").
    virtual std::string describe() const = 0;

    // --- events -------------------------------------------------------------------------------
    /// Ingests new bytes of every run's event file and fails runs whose writer died.
    /// Idempotent and resumable: the ingested offset is kept per run, in the same transaction
    /// as the rows it produced.
    virtual sync_report sync() = 0;
    /// The same for one run (cheap: used before reading a run and before registering from it).
    virtual sync_report sync_run(std::string_view run_id) = 0;

    // --- experiments and runs ----------------------------------------------------------------
    virtual std::vector<experiment_info> experiments() = 0;
    /// Creates the experiment when missing; returns it.
    virtual experiment_info ensure_experiment(std::string_view name) = 0;
    /// A new run (folder + record) in `state` (NotStarted or Queued, usually), for submitters;
    /// the trainer then reports into `<runs>/<id>` (CTML_RUN_DIR).
    virtual run_info create_run(std::string_view experiment, run_state state,
                                std::string_view job_json) = 0;
    virtual std::vector<run_info> runs(const run_filter& filter) = 0;
    /// Throws ctml::workspace_error "no run <id>" when unknown.
    virtual run_details get_run(std::string_view run_id) = 0;
    /// Moves a run's state (only forward; see run::can_transition); refused moves throw.
    virtual void set_run_state(std::string_view run_id, run_state state,
                               std::string_view reason) = 0;
    /// Every point, in logging order; only series `name` when given.
    virtual std::vector<metric_point> metrics(std::string_view run_id,
                                              std::optional<std::string_view> name) = 0;
    /// The run folder `<runs>/<id>`; local for this store.
    virtual std::filesystem::path run_dir(std::string_view run_id) = 0;

    // --- content-addressed files -------------------------------------------------------------
    /// Copies `file` into the object store (hashing while copying, temp + fsync + rename);
    /// returns its SHA-256 (hex) and size.
    virtual file_info put_object(const std::filesystem::path& file) = 0;
    /// Where the object `sha256` lies (for reading); throws when absent.
    virtual std::filesystem::path object_path(std::string_view sha256) = 0;

    // --- model registry ----------------------------------------------------------------------
    /// Records a new version of `reg.name` whose files (already put with put_object) are
    /// `files`; allocates the version inside one write transaction. `run_id` may be empty.
    virtual model_version add_model_version(const model_registration& reg,
                                            const std::vector<file_info>& files) = 0;
    virtual std::vector<model_info> models() = 0;
    virtual std::vector<model_version> model_versions(std::string_view name) = 0;
    /// Version 0: the latest existing version.
    virtual model_version get_model_version(std::string_view name, std::int64_t version) = 0;
    virtual std::int64_t resolve_model_alias(std::string_view name, std::string_view alias) = 0;
    virtual void set_model_alias(std::string_view name, std::string_view alias,
                                 std::int64_t version) = 0;
    virtual void delete_model_alias(std::string_view name, std::string_view alias) = 0;
    virtual void set_model_tag(std::string_view name, std::int64_t version, std::string_view key,
                               std::string_view value) = 0;
    virtual void delete_model_tag(std::string_view name, std::int64_t version,
                                  std::string_view key) = 0;
    /// Add-only: a new key, or the same value again; another value for an existing key throws.
    virtual void add_model_property(std::string_view name, std::int64_t version,
                                    std::string_view key, std::string_view value) = 0;
    /// Removes a version (its number is never given out again) and the aliases pointing at it.
    virtual void delete_model_version(std::string_view name, std::int64_t version) = 0;

    // --- datasets ----------------------------------------------------------------------------
    /// Records a version of dataset `name` with `files` (objects already put), unless the
    /// latest version has the same content hash and !create_new_version: then that version is
    /// returned unchanged.
    virtual dataset_version add_dataset_version(std::string_view name,
                                                std::string_view description,
                                                const std::vector<dataset_file>& files,
                                                bool create_new_version) = 0;
    virtual std::vector<dataset_info> datasets() = 0;
    virtual std::vector<dataset_version> dataset_versions(std::string_view name) = 0;
    /// Version 0: the latest.
    virtual dataset_version get_dataset_version(std::string_view name, std::int64_t version) = 0;
};

} // namespace ctml::workspace
