// SPDX-License-Identifier: MIT
// What a trainer sees of its run: ctml::run::get_context(), then log / log_param / set_tag /
// log_image / upload_file. Header-only, no SQLite, no libcurl: the context appends JSON lines to
// `<workspace>/runs/<run id>/events.jsonl` (format in ctml/run/event.hpp), and the store ingests
// them (ctml/workspace). Only a shared folder is needed between a cluster node and the store.
//
// Which run (get_context, first call):
//   1. CTML_RUN_DIR set (a submitter did it): report into that run folder (its name is the run
//      id; CTML_RUN_ID, when also set, must match it).
//   2. Otherwise an *offline run* in the workspace found from the current folder
//      (CTML_WORKSPACE, else config.json / .ctml/config.json here or in a parent; see
//      ctml/run/workspace_config.hpp). The experiment is the argument, else CTML_EXPERIMENT,
//      else the program's name.
//   3. No workspace found: a local one is created in ./.ctml (named after the current folder)
//      and a one-line notice goes to stderr, so a run started by hand is always queryable
//      afterwards (`ctml run list` from the same folder finds it). If that folder cannot be
//      written, the context is inactive (every call is a no-op) and the notice says why.
//   CTML_TRACKING=off (or 0, false, no) makes the context inactive without a notice.
//
// Cost and durability: a log call appends to an in-memory buffer under a mutex (no I/O, no
// formatting); a background thread formats and appends the buffer to the event file at least
// every flush interval (1 s), so SIGKILL loses at most the last second. Nothing is capped but
// the disk: a failed write keeps the data buffered and is retried.
//
// How a run ends: end() or fail() by the trainer; otherwise, for the process-wide context,
// the process exiting (status 0: Completed, else Failed "exited with status N"), an uncaught
// exception (std::terminate: Failed with the exception's message), or a signal whose
// disposition was the default (SIGTERM, SIGINT, SIGHUP: Canceled; SIGSEGV, SIGBUS, SIGFPE,
// SIGILL, SIGABRT: Failed; the signal is then re-raised). A writer that cannot run any code
// (SIGKILL, power loss) is found dead by the store later: same host and boot, its pid is gone
// or has another start time; other host, no heartbeat (written every 5 s) for
// heartbeat_timeout_s. The run is then Failed with that reason.
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "ctml/run/state.hpp"

namespace ctml::run {

namespace detail {
class run_writer;
} // namespace detail

/// @brief How to start or find a run (context::start).
struct context_options {
    /// Experiment of an offline run; empty: CTML_EXPERIMENT, else the program name.
    std::string experiment{};
    /// Workspace folder (holding config.json or .ctml/config.json); empty: CTML_WORKSPACE, else
    /// the search from the current folder, else a local ./.ctml workspace.
    std::filesystem::path workspace{};
    /// Ignore CTML_RUN_DIR and always create a new offline run (tests, tools).
    bool ignore_environment = false;
    /// Create ./.ctml when no workspace is found (else the context is inactive).
    bool create_local_workspace = true;
    /// Buffer age after which the background thread writes it out.
    std::chrono::milliseconds flush_interval{1000};
    /// Interval of the heartbeat events that tell the store the writer lives.
    std::chrono::milliseconds heartbeat_interval{5000};
    /// The job description (run_config JSON, opaque here); may also be set later.
    std::string job_description{};
    /// Display name of the run (a tag "ctml.run_name"); empty: none.
    std::string display_name{};
};

/// @brief A handle to the run a process reports into. Copies share the run. Every member is
/// thread-safe. An inactive context (tracking off, no writable workspace) accepts every call and
/// records nothing.
class context {
public:
    /// An inactive context.
    context() = default;

    /// @brief The process-wide context (see the top of this file), created on the first call;
    /// `experiment` is used only by that first call. It ends itself when the process exits,
    /// terminates or gets a catchable fatal signal.
    static context& current(std::string_view experiment = {});

    /// @brief A new context (not the process-wide one; no exit or signal handlers): the run named
    /// by CTML_RUN_DIR unless options.ignore_environment, else a new offline run. Throws
    /// ctml::workspace_error / config_error / file_error when the run cannot be made.
    static context start(const context_options& options = {});

    /// @brief Reports into the existing run folder `run_dir` (what a submitter created).
    static context attach(const std::filesystem::path& run_dir, const context_options& options = {});

    bool active() const noexcept { return writer_ != nullptr; }
    explicit operator bool() const noexcept { return active(); }

    /// The run id (the run folder's name); empty when inactive.
    const std::string& id() const noexcept;
    const std::string& experiment() const noexcept;
    /// `<workspace root>/runs/<id>`.
    const std::filesystem::path& run_dir() const noexcept;
    /// The workspace's store folder (config's root).
    const std::filesystem::path& workspace_root() const noexcept;
    /// `<run_dir>/outputs`: write model files here; a registration can take them at once.
    std::filesystem::path outputs_dir() const;
    /// `<run_dir>/logs`: log files shown with the run.
    std::filesystem::path logs_dir() const;
    /// True for a run created by this process (not submitted).
    bool offline() const noexcept;

    /// @brief One metric point; repeated names make a series. Without a step, the step is the
    /// series' next index (0, 1, 2, ...). NaN and +-inf are kept.
    void log(std::string_view name, double value);
    void log(std::string_view name, double value, std::int64_t step);
    /// A parameter (string-valued, as MLflow's); logging one again replaces it.
    void log_param(std::string_view name, std::string_view value);
    void log_param(std::string_view name, double value);
    void log_param(std::string_view name, std::int64_t value);
    void log_param(std::string_view name, int value) { log_param(name, std::int64_t{value}); }
    /// A tag (mutable, replaced when set again).
    void set_tag(std::string_view name, std::string_view value);
    /// @brief An image file (PNG, ...) copied now into `<run_dir>/images/`, shown under `name`.
    void log_image(std::string_view name, const std::filesystem::path& file);
    /// @brief A file copied now into the run folder at `name_in_run` ("outputs/x.txt", relative,
    /// no `..`); returns its path there.
    std::filesystem::path upload_file(const std::filesystem::path& file, std::string_view name_in_run);
    /// The job description (run_config JSON), kept as the opaque string given.
    void set_job_description(std::string_view json);
    /// Threads the trainer uses (recorded with the environment).
    void record_threads(unsigned threads);
    /// A dataset version this run reads (lineage for models registered from it).
    void use_dataset(std::string_view name, std::int64_t version);
    /// A state change reported by the trainer (e.g. Finalizing); refused backwards moves are
    /// ignored by the store.
    void set_state(run_state state, std::string_view reason = {});

    /// @brief Blocks until everything logged so far is in the event file (and on disk).
    void flush();
    /// @brief Ends the run (Completed unless told otherwise) once; later calls do nothing and
    /// later log calls are dropped.
    void end(run_state final_state = run_state::completed, std::string_view reason = {});
    /// end(Failed, reason).
    void fail(std::string_view reason) { end(run_state::failed, reason); }
    /// True once end() ran (or a handler ended the run).
    bool ended() const noexcept;

private:
    explicit context(std::shared_ptr<detail::run_writer> w) : writer_(std::move(w)) {}
    std::shared_ptr<detail::run_writer> writer_{};
};

/// @brief context::current(experiment): the run this process reports into.
inline context& get_context(std::string_view experiment = {}) {
    return context::current(experiment);
}

} // namespace ctml::run

#include "ctml/run/detail/context_impl.hpp"
