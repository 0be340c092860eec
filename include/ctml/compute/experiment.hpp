// SPDX-License-Identifier: MIT
// Submitting runs, as the tutorials' `Experiment(ws, name).submit(config)`:
//
//     ctml::workspace::workspace ws = ctml::workspace::from_config();
//     ctml::compute::script_run_config job;
//     job.executable = "build/examples/keras_mnist";
//     job.arguments = {"--data-folder", "mnist-dataset:latest", "--first-layer-neurons", "300"};
//     job.compute_target = "local";                  // or an mpi / slurm target of the workspace
//     ctml::compute::submitted_run run = ctml::compute::experiment(ws, "keras-mnist").submit(job);
//     run.wait_for_completion(true);                  // streams the output, prints a summary
//     run.register_model("keras-mnist", "outputs/model");
//
// submit() checks the job (target, program or source folder, datasets: errors at once, nothing
// recorded), creates the run (Queued) with the job description, writes `<run>/job.json` and
// starts the run's supervisor, a process of its own (ctml/compute/detail/supervisor.hpp) that
// outlives the submitter. States: Queued → Preparing (datasets, build; for Slurm also the wait in
// Slurm's queue) → Running → Finalizing → Completed | Failed | Canceled, each with its time.
//
// A run never stays non-final after its processes are gone: the supervisor records the end;
// when the supervisor itself was killed, the next get_status() / wait_for_completion() /
// cancel() finds it dead (pid + start time, as the workspace checks trainers) and ends the run:
// from the Slurm job's final state, or Failed "the supervisor ... is gone" once the job's
// processes are gone too; a ctml trainer's own run context and the store's dead-writer check
// cover the trainer itself (SIGKILL included).
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <csignal>
#include <unistd.h>

#include "ctml/compute/detail/files.hpp"
#include "ctml/compute/detail/process.hpp"
#include "ctml/compute/detail/slurm.hpp"
#include "ctml/compute/detail/supervisor.hpp"
#include "ctml/compute/job.hpp"
#include "ctml/compute/target.hpp"
#include "ctml/core/error.hpp"
#include "ctml/io/file.hpp"
#include "ctml/run/detail/process.hpp"
#include "ctml/run/names.hpp"
#include "ctml/run/state.hpp"
#include "ctml/workspace/workspace.hpp"

namespace ctml::compute {

using run::run_state;

/// @brief What wait_for_completion ends with (the service's execution summary).
struct execution_summary {
    std::string run_id{};
    std::string experiment{};
    std::string target{};
    target_kind kind = target_kind::local;
    run_state state = run_state::queued;
    std::string reason{};
    std::int64_t duration_ms = 0; ///< from Queued to the final state
    std::optional<int> exit_code{};
    int signal = 0;
    bool built = false;
    bool build_reused = false;
    double build_seconds = 0;
    std::string slurm_job{};
    std::vector<workspace::state_change> history{};
    std::vector<std::string> outputs{};
    std::vector<std::string> last_lines{};

    /// The summary as printed: run, target, state, duration, exit code, build, stages with
    /// times, and, when it did not complete, the error and the last output lines.
    std::string text() const;
};

namespace detail {
inline std::string clock_text(workspace::timestamp_ms t) {
    const std::time_t s = static_cast<std::time_t>(t / 1000);
    std::tm tm{};
    ::localtime_r(&s, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
    char ms[8];
    std::snprintf(ms, sizeof ms, ".%03d", static_cast<int>(t % 1000));
    return std::string(buf) + ms;
}
inline std::string seconds_text(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f s", s);
    return buf;
}
} // namespace detail

inline std::string execution_summary::text() const {
    std::string s = "Execution summary\n";
    s += "  run:        " + run_id + " (experiment " + experiment + ")\n";
    s += "  target:     " + target + " (" + std::string(to_string(kind)) + ")" +
         (slurm_job.empty() ? "" : ", Slurm job " + slurm_job) + "\n";
    s += "  state:      " + std::string(run::to_string(state)) +
         (reason.empty() ? "" : " (" + reason + ")") + "\n";
    s += "  duration:   " + detail::seconds_text(static_cast<double>(duration_ms) / 1000.0) + "\n";
    s += "  exit code:  " + (exit_code ? std::to_string(*exit_code)
                                      : signal != 0 ? "none (" + detail::signal_name(signal) + ")"
                                                    : std::string("none")) +
         "\n";
    if (built) {
        s += "  build:      " +
             std::string(build_reused ? "reused (sources unchanged), " : "built, ") +
             detail::seconds_text(build_seconds) + "\n";
    }
    s += "  stages:    ";
    workspace::timestamp_ms first = history.empty() ? 0 : history.front().time;
    for (const auto& h : history) {
        s += " " + std::string(run::to_string(h.state)) + " " + detail::clock_text(h.time);
        if (&h != &history.front()) {
            s += " (+" + detail::seconds_text(static_cast<double>(h.time - first) / 1000.0) + ")";
        }
        s += ";";
    }
    s += "\n";
    if (!outputs.empty()) {
        s += "  outputs:    " + std::to_string(outputs.size()) + " file(s) under outputs/\n";
    }
    if (state != run_state::completed && !last_lines.empty()) {
        s += "  last output lines:\n";
        for (const auto& l : last_lines) {
            s += "    | " + l + "\n";
        }
    }
    return s;
}

/// @brief A run submitted to a compute target (the service's ScriptRun). Holds a reference to
/// the workspace, which must outlive it.
class submitted_run {
public:
    submitted_run(workspace::workspace& ws, std::string id)
        : ws_(&ws), id_(std::move(id)),
          paths_{ws.backend().run_dir(id_)} {}

    const std::string& id() const noexcept { return id_; }
    const std::filesystem::path& run_dir() const noexcept { return paths_.run_dir; }

    /// @brief The run's state now (ending it first when its supervisor is found dead).
    run_state get_status() {
        reconcile();
        return ws_->backend().get_run(id_).info.state;
    }

    /// @brief Everything the workspace knows (state history, params, metrics, files, job).
    workspace::run_details get_details() {
        reconcile();
        return ws_->get_run(id_);
    }

    /// @brief Streams the job's output (stdout and stderr, as written) to `out` while the run
    /// goes on, when `show_output`; then prints the execution summary there and returns it.
    /// `timeout` 0: no limit; past it, throws ctml::compute_error (the run goes on).
    execution_summary wait_for_completion(bool show_output = true,
                                          std::chrono::milliseconds timeout = {},
                                          std::ostream& out = std::cout) {
        const auto start = std::chrono::steady_clock::now();
        std::uint64_t offset = 0;
        std::optional<std::chrono::steady_clock::time_point> final_seen;
        for (;;) {
            if (show_output) {
                offset = stream_output(offset, out);
            }
            const run_state s = get_status();
            if (run::is_terminal(s)) {
                // The supervisor writes result.json right after the final state.
                const auto now = std::chrono::steady_clock::now();
                if (!final_seen) {
                    final_seen = now;
                }
                if (detail::file_exists(paths_.result()) || !supervisor_alive() ||
                    now - *final_seen > std::chrono::seconds(5)) {
                    break;
                }
            }
            if (timeout.count() > 0 && std::chrono::steady_clock::now() - start > timeout) {
                throw compute_error("run " + id_ + " did not finish within " +
                                    std::to_string(timeout.count()) + " ms (it is " +
                                    std::string(run::to_string(s)) + ")");
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        if (show_output) {
            stream_output(offset, out);
        }
        execution_summary sum = summary();
        if (show_output) {
            out << sum.text();
            out.flush();
        }
        return sum;
    }

    /// @brief The summary as of now (final once the run ended).
    execution_summary summary() {
        execution_summary s;
        const workspace::run_details d = ws_->get_run(id_);
        s.run_id = id_;
        s.experiment = d.info.experiment;
        s.state = d.info.state;
        s.reason = d.info.reason;
        s.history = d.history;
        if (!s.history.empty()) {
            const auto end = run::is_terminal(s.state) ? d.info.ended : run::detail::now_ms();
            s.duration_ms = end - s.history.front().time;
        }
        try {
            const script_run_config job = load_job(paths_.job());
            s.target = job.compute_target;
            s.kind = get_compute_target(ws_->root(), job.compute_target).kind;
        } catch (const ::ctml::error&) {
        }
        if (auto r = detail::read_result(paths_)) {
            if (r->exit_code >= 0) {
                s.exit_code = r->exit_code;
            }
            s.signal = r->signal;
            s.built = r->built;
            s.build_reused = r->build_reused;
            s.build_seconds = r->build_seconds;
            s.slurm_job = r->slurm_job;
            s.outputs = r->outputs;
            s.last_lines = r->last_lines;
        } else if (s.state != run_state::completed) {
            s.last_lines = detail::tail_lines(paths_.output(), 20);
        }
        return s;
    }

    /// @brief Cancels the run: its processes get SIGTERM, then SIGKILL after 2 s (the Slurm
    /// job: scancel). Returns once the run is final (at most about 10 s), with its state; a
    /// run already final is left as it is.
    run_state cancel(std::string_view reason = "canceled on request") {
        run_state s = get_status();
        if (run::is_terminal(s)) {
            return s;
        }
        io::write_file_atomic(paths_.cancel(), std::string(reason) + "\n");
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::chrono::steady_clock::now() < until) {
            if (!supervisor_alive()) {
                cancel_without_supervisor(reason);
            }
            s = get_status();
            if (run::is_terminal(s) && (detail::file_exists(paths_.result()) || !supervisor_alive())) {
                return s;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return get_status();
    }

    /// @brief The run's handle in the workspace (metrics, files, register_model).
    workspace::run_handle handle() { return ws_->run(id_); }

    workspace::model_version register_model(std::string_view name, std::string_view path,
                                            const std::map<std::string, std::string>& tags = {},
                                            const std::map<std::string, std::string>& properties = {},
                                            std::string_view description = {}) {
        return handle().register_model(name, path, tags, properties, description);
    }
    std::vector<workspace::file_info> get_file_names() { return ws_->run_files(id_); }
    void download_file(std::string_view file, const std::filesystem::path& to_dir) {
        ws_->download_run_files(id_, {std::string(file)}, to_dir);
    }

    /// @brief Whether the run's supervisor process still runs (false when it never had one).
    bool supervisor_alive() const {
        const auto w = detail::read_identity(paths_.supervisor());
        return w && run::detail::check_local(*w) != run::detail::liveness::dead;
    }

private:
    std::uint64_t stream_output(std::uint64_t offset, std::ostream& out) {
        const auto p = paths_.output();
        const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            return offset;
        }
        char buf[65536];
        for (;;) {
            const ssize_t n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(offset));
            if (n <= 0) {
                break;
            }
            out.write(buf, n);
            offset += static_cast<std::uint64_t>(n);
        }
        ::close(fd);
        out.flush();
        return offset;
    }

    /// A run whose supervisor is gone: end it from what is left (see the top of this file).
    void reconcile() {
        // While the supervisor lives, it alone moves the run (the trainer's events are not
        // ingested here, so its end event cannot overtake Finalizing).
        if (supervisor_alive() || !detail::file_exists(paths_.supervisor())) {
            return;
        }
        auto& st = ws_->backend();
        st.sync_run(id_);
        if (run::is_terminal(st.get_run(id_).info.state)) {
            return;
        }
        const std::string why = "the supervisor of the run is gone (killed?)";
        if (const auto job = detail::read_slurm_job(paths_)) {
            const compute_target t = target();
            const auto s = detail::query_slurm_job(t, *job);
            if (!s.known || !detail::slurm_state_final(s.state)) {
                return; // the Slurm job goes on; its trainer reports into the run
            }
            const run_state end = s.state == "COMPLETED" && s.exit_code == 0 ? run_state::completed
                                  : s.state == "CANCELLED"                  ? run_state::canceled
                                                                            : run_state::failed;
            detail::set_state_if_allowed(st, id_, end,
                                         end == run_state::completed
                                             ? std::string()
                                             : why + "; Slurm job " + *job + " ended " + s.state);
            return;
        }
        if (const auto p = detail::read_process(paths_)) {
            if (!detail::group_members(static_cast<pid_t>(p->pgid)).empty()) {
                return; // the job still runs; its run context reports into the run
            }
        }
        detail::set_state_if_allowed(st, id_, run_state::failed,
                                     why + ", and no process of the job is left");
    }

    compute_target target() {
        const script_run_config job = load_job(paths_.job());
        return get_compute_target(ws_->root(), job.compute_target);
    }

    void cancel_without_supervisor(std::string_view reason) {
        if (const auto job = detail::read_slurm_job(paths_)) {
            detail::slurm_command(target(), {"scancel", *job}, false);
        } else if (const auto p = detail::read_process(paths_)) {
            const auto pgid = static_cast<pid_t>(p->pgid);
            ::kill(-pgid, SIGTERM);
            for (int i = 0; i < 100 && !detail::group_members(pgid).empty(); ++i) {
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
            ::kill(-pgid, SIGKILL);
        }
        detail::set_state_if_allowed(ws_->backend(), id_, run_state::canceled,
                                     std::string(reason));
    }

    workspace::workspace* ws_;
    std::string id_;
    detail::run_paths paths_;
};

/// @brief An experiment of a workspace: submits jobs as its runs.
class experiment {
public:
    experiment(workspace::workspace& ws, std::string name) : ws_(&ws), name_(std::move(name)) {
        run::check_entity_name("experiment", name_);
    }
    const std::string& name() const noexcept { return name_; }

    /// @brief Checks `job` and starts it (see the top of this file). Errors (unknown target,
    /// missing program, source folder without CMakeLists.txt, unknown dataset or version, a
    /// Slurm controller that does not answer) are thrown here, before any run is recorded.
    submitted_run submit(script_run_config job) {
        const compute_target target = get_compute_target(ws_->root(), job.compute_target);
        job.experiment = name_;
        check_program(job);
        bind_datasets(job);
        if (job.processes < 0 || job.nodes < 0 || job.max_duration_s < 0) {
            throw config_error("job: processes, nodes and max_duration_s must not be negative");
        }
        if (target.kind == target_kind::local && job.processes > 1) {
            throw config_error("job: the local target runs one process; use an mpi or slurm "
                               "target for " + std::to_string(job.processes));
        }
        if (target.kind == target_kind::mpi && !detail::find_program("mpirun")) {
            throw compute_error("compute target " + target.name +
                                ": mpirun not found on PATH (install openmpi-bin)");
        }
        if (target.kind == target_kind::slurm) {
            detail::slurm_ping(target);
        }
        const std::string json = to_json(job);
        const workspace::run_info info = ws_->create_run(name_, run_state::queued, json);
        const detail::run_paths paths{ws_->backend().run_dir(info.id)};
        for (const char* sub : {"compute", "logs", "outputs"}) {
            std::filesystem::create_directories(paths.run_dir / sub);
        }
        io::write_file_atomic(paths.job(), json);
        try {
            const auto w = detail::launch_supervisor(ws_->config(), info.id, paths.run_dir);
            io::write_file_atomic(paths.supervisor(), detail::identity_json(w));
        } catch (const ::ctml::error& e) {
            detail::set_state_if_allowed(ws_->backend(), info.id, run_state::failed, e.what());
            throw;
        }
        return submitted_run(*ws_, info.id);
    }

private:
    static void check_program(script_run_config& job) {
        if (job.executable.empty() == job.source_folder.empty()) {
            throw config_error("job: give exactly one of executable and source_folder");
        }
        if (!job.executable.empty()) {
            const auto p = detail::find_program(job.executable);
            if (!p) {
                throw compute_error("job: the trainer executable \"" + job.executable +
                                    "\" does not exist or is not executable");
            }
            job.executable = p->string();
            return;
        }
        std::error_code ec;
        const auto dir = std::filesystem::absolute(job.source_folder, ec).lexically_normal();
        if (!std::filesystem::is_regular_file(dir / "CMakeLists.txt", ec)) {
            throw compute_error("job: source folder \"" + job.source_folder +
                                "\" has no CMakeLists.txt");
        }
        if (job.cmake_target.empty()) {
            throw config_error("job: a source folder needs cmake_target (the program to build)");
        }
        job.source_folder = dir.string();
    }

    void bind_datasets(script_run_config& job) {
        job.datasets.clear();
        for (std::size_t i = 0; i < job.arguments.size(); ++i) {
            const auto ref = parse_argument_dataset(job.arguments[i]);
            if (!ref) {
                continue;
            }
            workspace::dataset_version v;
            try {
                v = ws_->backend().get_dataset_version(ref->name, ref->version);
            } catch (const ::ctml::error& e) {
                throw compute_error("job: argument \"" + job.arguments[i] +
                                    "\" names dataset " + ref->name +
                                    (ref->version == 0 ? std::string(":latest")
                                                       : ":" + std::to_string(ref->version)) +
                                    ", which this workspace does not have (" + e.what() + ")");
            }
            job.datasets.push_back({i, ref->prefix, ref->name, v.version});
        }
    }

    workspace::workspace* ws_;
    std::string name_;
};

} // namespace ctml::compute
