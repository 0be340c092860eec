// SPDX-License-Identifier: MIT
// ctml::workspace: the workspace half's entry point. Link ctml::workspace (SQLite, libcurl,
// OpenSSL's libcrypto for SHA-256).
//
// API summary
//   Open / create (ctml/workspace/workspace.hpp)
//     workspace ws = ctml::workspace::from_config();         // search from the current folder
//     workspace ws = ctml::workspace::from_config(dir);      // search from dir
//     workspace ws = ctml::workspace::open(dir_or_config);   // exactly there (--workspace DIR)
//     workspace ws = ctml::workspace::create(dir, "name");   // dir/config.json + the store
//     ws.name(), ws.root(), ws.config(), ws.backend() (the ctml::workspace::store interface)
//   Runs
//     ws.sync()                          ingest event files, fail runs with dead writers
//     ws.experiments(), ws.runs({.experiment = "e", .state = run_state::failed})
//     ws.get_run(id) -> run_details      (info, state history, params, tags, environment, job,
//                                          metric names, images, datasets, files)
//     ws.metrics(id[, name]) -> vector<metric_point>
//     ws.run_files(id) -> vector<file_info>;   ws.download_run_files(id, {"outputs/x"}, to_dir)
//     ws.create_run(experiment, run_state::queued, job_json)   (for submitters)
//     ws.set_run_state(id, state, reason);  ws.run(id) -> run_handle
//     run_handle::of(ctml::run::context&)  the trainer's own run, from inside the trainer
//   Model registry
//     ws.register_model({.name, .path, .run_id, .tags, .properties, .description})
//         -> model_version (.id() == "name:version")
//     run_handle.register_model(name, path, tags, properties, description)
//     ws.models(), ws.model_versions(name), ws.get_model("name" | "name:3" | "name@alias"),
//     ws.latest_model(name), ws.download_model(ref, to_dir),
//     ws.set_model_alias(name, alias, version) (moves it atomically), ws.delete_model_alias,
//     ws.set_model_tag / delete_model_tag (mutable), ws.add_model_property (add-only),
//     ws.delete_model_version(ref)   (the number is never reused)
//   Datasets (ctml/workspace/dataset.hpp)
//     auto ds = file_dataset::from_files({"a/b.gz", "https://host/c.gz"});
//     dataset_version v = ds.register_dataset(ws, "mnist", "description", create_new_version);
//     auto got = file_dataset::get_by_name(ws, "mnist" [, version]);   got.download(dir) / got.mount()
//   References: parse_model_ref("name[:version|@alias]"), parse_dataset_ref("name[:version]").
// Errors: ctml::workspace_error (names, refs, refused changes), config_error (config.json),
// file_error, format_error, data_error (downloads, checksums).
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ctml/run/context.hpp"
#include "ctml/run/workspace_config.hpp"
#include "ctml/workspace/config.hpp"
#include "ctml/workspace/store.hpp"
#include "ctml/workspace/types.hpp"

namespace ctml::workspace {

/// @brief A parsed model reference: `name`, `name:3` or `name@alias`.
struct model_ref {
    std::string name;
    std::int64_t version = 0; ///< 0: latest (or the alias)
    std::string alias;        ///< empty unless `@alias`
};

/// @brief Parses "name", "name:3", "name@alias"; throws ctml::workspace_error naming the text.
model_ref parse_model_ref(std::string_view text);

/// @brief A parsed dataset reference: `name` or `name:3` (version 0: latest).
struct dataset_ref_text {
    std::string name;
    std::int64_t version = 0;
};
dataset_ref_text parse_dataset_ref(std::string_view text);

class run_handle;

/// @brief An open workspace: its config and its store. Movable, not copyable. Safe to use from
/// several processes at once (the store serialises writers); one object per thread.
class workspace {
public:
    /// Opens the workspace described by `config` (creating the database when missing).
    explicit workspace(::ctml::run::workspace_config config);
    workspace(workspace&&) noexcept;
    workspace& operator=(workspace&&) noexcept;
    ~workspace();

    static workspace from_config(const std::filesystem::path& start = std::filesystem::current_path());
    static workspace open(const std::filesystem::path& dir_or_config);
    static workspace create(const std::filesystem::path& dir, std::string_view name,
                            std::string_view description = {});

    const std::string& name() const noexcept { return config_.name; }
    /// The store folder.
    const std::filesystem::path& root() const noexcept { return config_.root; }
    const ::ctml::run::workspace_config& config() const noexcept { return config_; }
    store& backend() noexcept { return *store_; }

    // Runs.
    sync_report sync();
    std::vector<experiment_info> experiments();
    std::vector<run_info> runs(const run_filter& filter = {});
    run_details get_run(std::string_view run_id);
    std::vector<metric_point> metrics(std::string_view run_id,
                                      std::optional<std::string_view> name = std::nullopt);
    /// Files under the run's outputs/, logs/, images/ and files/, sorted by path.
    std::vector<file_info> run_files(std::string_view run_id);
    /// Copies `files` (paths as run_files lists them, or folders) into `to_dir`, keeping their
    /// relative paths; each written atomically. `..` and absolute paths are refused.
    void download_run_files(std::string_view run_id, const std::vector<std::string>& files,
                            const std::filesystem::path& to_dir);
    run_info create_run(std::string_view experiment, run_state state = run_state::not_started,
                        std::string_view job_json = {});
    void set_run_state(std::string_view run_id, run_state state, std::string_view reason = {});
    run_handle run(std::string_view run_id);

    // Model registry.
    model_version register_model(const model_registration& reg);
    std::vector<model_info> models();
    std::vector<model_version> model_versions(std::string_view name);
    model_version get_model(std::string_view ref);
    model_version latest_model(std::string_view name);
    /// Copies the version's files into `to_dir` (byte-identical, verified against their hash);
    /// returns the version.
    model_version download_model(std::string_view ref, const std::filesystem::path& to_dir);
    void set_model_alias(std::string_view name, std::string_view alias, std::int64_t version);
    void delete_model_alias(std::string_view name, std::string_view alias);
    void set_model_tag(std::string_view ref, std::string_view key, std::string_view value);
    void delete_model_tag(std::string_view ref, std::string_view key);
    void add_model_property(std::string_view ref, std::string_view key, std::string_view value);
    void delete_model_version(std::string_view ref);

private:
    ::ctml::run::workspace_config config_;
    std::unique_ptr<store> store_;
};

workspace from_config(const std::filesystem::path& start = std::filesystem::current_path());
workspace open(const std::filesystem::path& dir_or_config);
workspace create(const std::filesystem::path& dir, std::string_view name,
                 std::string_view description = {});

/// @brief One run of a workspace, as the service's `Run` object: details, metrics, files,
/// register_model. Holds a reference to the workspace, which must outlive it.
class run_handle {
public:
    run_handle(workspace& ws, std::string id) : ws_(&ws), id_(std::move(id)) {}

    /// @brief The trainer's own run, from inside the trainer: flushes `ctx` (so everything
    /// logged so far is ingested) and opens its workspace. Throws ctml::workspace_error for an
    /// inactive context. The returned handle owns its workspace.
    static run_handle of(::ctml::run::context& ctx);

    const std::string& id() const noexcept { return id_; }
    run_details details();
    std::vector<metric_point> metrics(std::optional<std::string_view> name = std::nullopt);
    /// name -> the last value of each series (the service's get_metrics() for one value).
    std::map<std::string, double> last_metrics();
    std::vector<file_info> files();
    void download_file(std::string_view file, const std::filesystem::path& to_dir);
    /// Registers `path` (relative to the run folder, e.g. "outputs/model") as a new version of
    /// `name`; works while the run is still running (its folder is the workspace's).
    model_version register_model(std::string_view name, std::string_view path,
                                 const std::map<std::string, std::string>& tags = {},
                                 const std::map<std::string, std::string>& properties = {},
                                 std::string_view description = {});

private:
    std::shared_ptr<workspace> owned_; // set by of()
    workspace* ws_;
    std::string id_;
    ::ctml::run::context ctx_; // set by of(): flushed before each read
};

} // namespace ctml::workspace

#include "ctml/workspace/detail/workspace_impl.hpp"
