// SPDX-License-Identifier: MIT
// The supervisor of one submitted run: a program of its own (ctml-supervise, double-forked and
// exec'd by the submitter, in a new session, a child subreaper), so a run is carried to its end whatever happens to the
// program that submitted it. It takes the run through Preparing (datasets resolved to folders,
// the source folder built or its build reused), Running (the job's process group, or its Slurm
// job), Finalizing (outputs/ listed), and the final state with a reason, and writes
// compute/result.json. Cancel requests arrive as the file compute/cancel.
//
// State writes go straight to the store without ingesting the trainer's events first, and the
// final state is written before those events are ingested, so the history reads Running,
// Finalizing, Completed in time order (the trainer's own end event then changes nothing).
#pragma once
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctml/compute/detail/build.hpp"
#include "ctml/compute/detail/files.hpp"
#include "ctml/compute/detail/process.hpp"
#include "ctml/compute/detail/slurm.hpp"
#include "ctml/compute/job.hpp"
#include "ctml/compute/target.hpp"
#include "ctml/core/error.hpp"
#include "ctml/io/file.hpp"
#include "ctml/run/detail/process.hpp"
#include "ctml/run/names.hpp"
#include "ctml/run/state.hpp"
#include "ctml/run/workspace_config.hpp"
#include "ctml/workspace/workspace.hpp"

namespace ctml::compute::detail {

using run::run_state;

/// Seconds a canceled job's processes get between SIGTERM and SIGKILL.
inline constexpr std::chrono::milliseconds termination_grace{2000};
inline constexpr std::chrono::milliseconds poll_interval{20};

inline void log_line(const std::string& text) {
    std::fprintf(stderr, "[%lld] %s\n", static_cast<long long>(run::detail::now_ms()),
                 text.c_str());
    std::fflush(stderr);
}

/// @brief Moves the run to `s` when the store allows it (a terminal state reached through the
/// trainer's own events or a lazy check is left alone). Never ingests events first.
inline bool set_state_if_allowed(workspace::store& st, const std::string& id, run_state s,
                                 const std::string& reason) {
    try {
        const run_state now = st.get_run(id).info.state;
        if (!run::can_transition(now, s)) {
            return false;
        }
        st.set_run_state(id, s, reason);
        return true;
    } catch (const ::ctml::error& e) {
        log_line(std::string("state ") + std::string(run::to_string(s)) + ": " + e.what());
        return false;
    }
}

/// @brief Reaps every exited child (the supervisor is a subreaper: orphans come to it).
/// Returns the status of `watched` when it was among them.
inline std::optional<int> reap_children(pid_t watched) {
    std::optional<int> out;
    for (;;) {
        int st = 0;
        const pid_t p = ::waitpid(-1, &st, WNOHANG);
        if (p <= 0) {
            break;
        }
        if (p == watched) {
            out = st;
        }
    }
    return out;
}

/// @brief Live (non-zombie) processes of group `pgid` and below this process.
inline std::set<pid_t> job_processes(pid_t pgid) {
    std::set<pid_t> out;
    if (pgid > 0) {
        for (const pid_t p : group_members(pgid)) {
            out.insert(p);
        }
    }
    for (const pid_t p : descendants(::getpid())) {
        if (run::detail::process_start_ticks(p) != 0) { // 0: zombie or gone
            out.insert(p);
        }
    }
    return out;
}

/// @brief SIGTERM to every process of the job, SIGKILL to what is left after the grace period;
/// returns once none runs (or after a bounded wait). `leader_status` receives the leader's
/// wait status when it is reaped here.
inline void terminate_job(pid_t pgid, pid_t leader, std::optional<int>& leader_status,
                          std::chrono::milliseconds grace = termination_grace) {
    const auto signal_all = [&](int sig) {
        if (pgid > 0) {
            ::kill(-pgid, sig);
        }
        for (const pid_t p : job_processes(pgid)) {
            ::kill(p, sig);
        }
    };
    signal_all(SIGTERM);
    const auto until = std::chrono::steady_clock::now() + grace;
    while (std::chrono::steady_clock::now() < until) {
        if (auto s = reap_children(leader)) {
            leader_status = s;
        }
        if (job_processes(pgid).empty()) {
            return;
        }
        std::this_thread::sleep_for(poll_interval);
    }
    for (int round = 0; round < 100; ++round) {
        signal_all(SIGKILL);
        std::this_thread::sleep_for(poll_interval);
        if (auto s = reap_children(leader)) {
            leader_status = s;
        }
        if (job_processes(pgid).empty()) {
            return;
        }
    }
}

/// @brief Why the supervisor stopped waiting.
enum class wait_outcome { exited, canceled, timed_out };

class supervisor {
public:
    supervisor(::ctml::run::workspace_config config, std::string run_id,
               std::filesystem::path run_dir)
        : ws_(std::move(config)), id_(std::move(run_id)), paths_{std::move(run_dir)} {}

    /// Runs the job to its end; never throws (every failure becomes the run's Failed state).
    void run() {
        try {
            job_ = load_job(paths_.job());
            target_ = get_compute_target(ws_.root(), job_.compute_target);
            log_line("supervising run " + id_ + " on " + target_.name + " (" +
                     std::string(to_string(target_.kind)) + ")");
            if (!cancel_check() && set(run_state::preparing, "")) {
                prepare();
                if (!cancel_check()) {
                    if (target_.kind == target_kind::slurm) {
                        run_slurm();
                    } else {
                        run_local();
                    }
                }
            }
        } catch (const std::exception& e) {
            log_line(std::string("error: ") + e.what());
            result_.state = run_state::failed;
            result_.reason = e.what();
        }
        finish();
    }

private:
    bool set(run_state s, const std::string& reason) {
        return set_state_if_allowed(ws_.backend(), id_, s, reason);
    }

    /// A cancel request (its reason), checked before each stage and while waiting.
    std::optional<std::string> cancel_requested() {
        if (!file_exists(paths_.cancel())) {
            return std::nullopt;
        }
        std::string why;
        try {
            why = io::read_file(paths_.cancel(), 4096);
        } catch (const ::ctml::error&) {
        }
        while (!why.empty() && (why.back() == '\n' || why.back() == '\r')) {
            why.pop_back();
        }
        return why.empty() ? std::string("canceled on request") : why;
    }

    bool cancel_check() {
        if (auto why = cancel_requested()) {
            result_.state = run_state::canceled;
            result_.reason = *why;
            canceled_ = true;
            return true;
        }
        return false;
    }

    void prepare() {
        // Datasets: each reference becomes a folder of hard links to the store's objects.
        auto& st = ws_.backend();
        for (const auto& b : job_.datasets) {
            const workspace::dataset_version v = st.get_dataset_version(b.name, b.version);
            const auto dir = paths_.inputs() / (b.name + "-" + std::to_string(v.version));
            std::filesystem::create_directories(dir);
            for (const auto& f : v.files) {
                run::check_relative_path("dataset file", f.path);
                const auto to = dir / f.path;
                std::filesystem::create_directories(to.parent_path());
                std::error_code ec;
                if (std::filesystem::exists(to, ec)) {
                    continue;
                }
                const auto from = st.object_path(f.sha256);
                std::filesystem::create_hard_link(from, to, ec);
                if (ec) {
                    std::filesystem::copy_file(from, to, ec);
                    if (ec) {
                        throw compute_error("dataset " + b.name + ":" + std::to_string(v.version) +
                                            ": cannot place " + f.path + " in " + dir.string() +
                                            ": " + ec.message());
                    }
                }
            }
            job_.arguments.at(b.argument) = b.prefix + dir.string();
            log_line("dataset " + b.name + ":" + std::to_string(v.version) + " -> " + dir.string());
        }
        if (!job_.source_folder.empty()) {
            program_ = build();
        } else {
            program_ = job_.executable;
        }
    }

    std::filesystem::path build() {
        result_.built = true;
        const auto t0 = std::chrono::steady_clock::now();
        const std::string hash = build_hash(job_);
        result_.build_hash = hash;
        const auto cache = ws_.root() / "compute" / "builds";
        std::filesystem::create_directories(cache);
        const auto dir = cache / hash;
        const auto marker = dir / "program";
        std::ofstream log(paths_.build_log(), std::ios::app);
        const auto reuse = [&]() -> std::optional<std::filesystem::path> {
            if (!file_exists(marker)) {
                return std::nullopt;
            }
            std::filesystem::path prog(io::read_file(marker, 4096));
            if (::access(prog.c_str(), X_OK) != 0) {
                return std::nullopt;
            }
            return prog;
        };
        if (auto prog = reuse()) {
            result_.build_reused = true;
            log << "ctml: sources unchanged (hash " << hash << "): reusing the build of target "
                << job_.cmake_target << " in " << dir.string() << "\n";
            result_.build_seconds = seconds_since(t0);
            return *prog;
        }
        file_lock lock(cache / (hash + ".lock"));
        if (auto prog = reuse()) { // built by a concurrent submission meanwhile
            result_.build_reused = true;
            log << "ctml: reusing the build just made by another run (hash " << hash << ")\n";
            result_.build_seconds = seconds_since(t0);
            return *prog;
        }
        log << "ctml: building target " << job_.cmake_target << " of " << job_.source_folder
            << " (hash " << hash << ") in " << dir.string() << "\n";
        log.close();
        const auto build_dir = dir / "build";
        std::vector<std::string> configure{"cmake", "-S", job_.source_folder, "-B",
                                           build_dir.string(), "-DCMAKE_BUILD_TYPE=Release"};
        if (find_program("ninja")) {
            configure.insert(configure.begin() + 1, {"-G", "Ninja"});
        }
        for (const auto& a : job_.cmake_arguments) {
            configure.push_back(a);
        }
        run_step(configure, "CMake configure");
        run_step({"cmake", "--build", build_dir.string(), "--target", job_.cmake_target, "-j",
                  std::to_string(std::max(1u, std::thread::hardware_concurrency()))},
                 "CMake build");
        const auto prog = find_built_program(build_dir, job_.cmake_target);
        io::write_file_atomic(marker, prog.string());
        result_.build_seconds = seconds_since(t0);
        std::ofstream(paths_.build_log(), std::ios::app)
            << "ctml: built " << prog.string() << " in " << result_.build_seconds << " s\n";
        return prog;
    }

    static double seconds_since(std::chrono::steady_clock::time_point t0) {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }

    /// A build step, its output appended to logs/build.log; cancel stops it.
    void run_step(const std::vector<std::string>& argv, const std::string& what) {
        spawn_spec s;
        s.argv = argv;
        s.env = make_environment(job_.environment);
        s.output = paths_.build_log();
        const pid_t pid = spawn(s);
        std::optional<int> status;
        const auto outcome = wait_job(pid, pid, status, std::nullopt);
        if (outcome != wait_outcome::exited) {
            throw compute_error(what + " interrupted");
        }
        if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
            const auto lines = tail_lines(paths_.build_log(), 15);
            std::string last;
            for (const auto& l : lines) {
                last += "\n  " + l;
            }
            throw compute_error(what + " of " + job_.source_folder + " failed (see logs/build.log):" +
                                last);
        }
    }

    /// Waits for the leader `pid` to exit, a cancel request, or `deadline`.
    wait_outcome wait_job(pid_t pid, pid_t pgid, std::optional<int>& status,
                          std::optional<std::chrono::steady_clock::time_point> deadline) {
        for (;;) {
            if (auto s = reap_children(pid)) {
                status = s;
                return wait_outcome::exited;
            }
            if (cancel_check()) {
                terminate_job(pgid, pid, status);
                return wait_outcome::canceled;
            }
            if (deadline && std::chrono::steady_clock::now() >= *deadline) {
                terminate_job(pgid, pid, status);
                return wait_outcome::timed_out;
            }
            std::this_thread::sleep_for(poll_interval);
        }
    }

    std::map<std::string, std::string> trainer_environment() const {
        std::map<std::string, std::string> env = job_.environment;
        env["CTML_RUN_DIR"] = paths_.run_dir.string();
        env["CTML_RUN_ID"] = id_;
        env["CTML_EXPERIMENT"] = job_.experiment;
        env["CTML_COMPUTE_TARGET"] = target_.name;
        return env;
    }

    std::int64_t processes() const {
        return job_.processes > 0 ? job_.processes : target_.processes;
    }

    std::int64_t max_duration_s() const {
        if (job_.max_duration_s > 0) {
            return job_.max_duration_s;
        }
        return target_.time_limit.empty() ? 0 : parse_duration_hms(target_.time_limit, "time_limit");
    }

    std::vector<std::string> trainer_argv() const {
        std::vector<std::string> cmd;
        // Line-buffered stdout/stderr, so the output is streamed as it is written.
        if (find_program("stdbuf")) {
            cmd = {"stdbuf", "-oL", "-eL"};
        }
        cmd.push_back(program_.string());
        cmd.insert(cmd.end(), job_.arguments.begin(), job_.arguments.end());
        if (target_.kind != target_kind::mpi) {
            return cmd;
        }
        const bool as_root = ::geteuid() == 0;
        std::vector<std::string> argv;
        if (target_.loopback_only) {
            // A private network namespace with only loopback: mpirun's listeners stay local.
            argv = {"unshare", as_root ? "-n" : "-rn", "sh", "-c",
                    "ip link set lo up && exec \"$@\"", "ctml-netns"};
        }
        // Ranks may outnumber free cores: yield instead of spinning while waiting for a peer.
        argv.insert(argv.end(), {"mpirun", "-n", std::to_string(processes()), "--oversubscribe",
                                 "--bind-to", "none", "--mca", "mpi_yield_when_idle", "1"});
        if (as_root || target_.loopback_only) {
            argv.push_back("--allow-run-as-root");
        }
        // Only rank 0 reports into the run.
        argv.insert(argv.end(), {"sh", "-c",
                                 "[ \"${OMPI_COMM_WORLD_RANK:-0}\" = 0 ] || export "
                                 "CTML_TRACKING=off; exec \"$@\"",
                                 "ctml-rank"});
        argv.insert(argv.end(), cmd.begin(), cmd.end());
        return argv;
    }

    void run_local() {
        spawn_spec s;
        s.argv = trainer_argv();
        s.env = make_environment(trainer_environment(), {"CTML_WORKSPACE"});
        s.cwd = paths_.run_dir;
        s.output = paths_.output();
        log_line("starting: " + [&] {
            std::string c;
            for (const auto& a : s.argv) {
                c += (c.empty() ? "" : " ") + a;
            }
            return c;
        }());
        // The process record before Running: a run seen Running always has a process group to
        // check, so a supervisor killed from then on leaves a run the lazy check judges by its
        // processes (it was judged Failed while the trainer still ran when the kill came
        // between the two).
        // The child waits before exec until both are stored, so the trainer's first line is
        // never streamed while the run still reads Preparing.
        s.before_exec = [&](pid_t child) {
            result_.running_ms = run::detail::now_ms();
            write_process(paths_, {child, result_.running_ms});
            set(run_state::running, "");
        };
        const pid_t pid = spawn(s);
        const auto started = std::chrono::steady_clock::now();
        std::optional<std::chrono::steady_clock::time_point> deadline;
        if (const auto m = max_duration_s(); m > 0) {
            deadline = started + std::chrono::seconds(m);
        }
        std::optional<int> status;
        const wait_outcome out = wait_job(pid, pid, status, deadline);
        // Whatever the job left behind (background children) goes with it.
        if (!job_processes(pid).empty()) {
            std::optional<int> ignored;
            terminate_job(pid, pid, status.has_value() ? ignored : status,
                          std::chrono::milliseconds(500));
        }
        result_.finished_ms = run::detail::now_ms();
        if (status && WIFEXITED(*status)) {
            result_.exit_code = WEXITSTATUS(*status);
        } else if (status && WIFSIGNALED(*status)) {
            result_.signal = WTERMSIG(*status);
        }
        decide(out);
    }

    void decide(wait_outcome out) {
        if (out == wait_outcome::canceled) {
            return; // state and reason set by cancel_check
        }
        if (out == wait_outcome::timed_out) {
            result_.state = run_state::canceled;
            result_.reason = "exceeded its maximum duration of " +
                             std::to_string(max_duration_s()) + " s; canceled";
            return;
        }
        if (result_.exit_code == 0) {
            result_.state = run_state::completed;
        } else if (result_.exit_code > 0) {
            result_.state = run_state::failed;
            result_.reason = "the trainer exited with status " + std::to_string(result_.exit_code);
        } else {
            result_.state = run_state::failed;
            result_.reason = "the trainer was killed by " + signal_name(result_.signal);
        }
    }

    void run_slurm() {
        const std::int64_t nodes = job_.nodes > 0 ? job_.nodes : 1;
        if (nodes > target_.max_nodes) {
            throw compute_error("the job asks for " + std::to_string(nodes) + " nodes; target " +
                                target_.name + " allows " + std::to_string(target_.max_nodes));
        }
        std::vector<std::string> cmd;
        if (find_program("stdbuf")) {
            cmd = {"stdbuf", "-oL", "-eL"};
        }
        cmd.push_back(program_.string());
        cmd.insert(cmd.end(), job_.arguments.begin(), job_.arguments.end());
        const std::int64_t limit = max_duration_s();
        const auto script = paths_.compute() / "job.sbatch";
        io::write_file_atomic(script, slurm_batch_script(target_, id_, paths_.run_dir, cmd,
                                                         trainer_environment(), nodes,
                                                         processes(), limit));
        const auto r = slurm_command(target_, {"sbatch", "--parsable", script.string()});
        std::string job = r.output.substr(0, r.output.find_first_of(";\n"));
        if (job.empty() || job.find_first_not_of("0123456789") != std::string::npos) {
            throw compute_error("sbatch gave no job id: " + r.output);
        }
        result_.slurm_job = job;
        write_slurm_job(paths_, job);
        log_line("Slurm job " + job);
        std::optional<std::chrono::steady_clock::time_point> deadline;
        std::optional<std::chrono::steady_clock::time_point> unreachable_since;
        bool requested_stop = false;
        bool timed_out = false;
        slurm_job_state s;
        for (;;) {
            try {
                s = query_slurm_job(target_, job);
                unreachable_since.reset();
            } catch (const compute_error& e) {
                log_line(e.what());
                const auto now = std::chrono::steady_clock::now();
                if (!unreachable_since) {
                    unreachable_since = now;
                }
                if (now - *unreachable_since > std::chrono::seconds(10 * target_.controller_timeout_s)) {
                    throw compute_error("lost contact with the Slurm controller while job " + job +
                                        " was in the queue or running: " + e.what());
                }
                continue;
            }
            if (s.known && s.state == "RUNNING" && result_.running_ms == 0) {
                result_.running_ms = run::detail::now_ms();
                set(run_state::running, "");
                if (limit > 0) {
                    deadline = std::chrono::steady_clock::now() + std::chrono::seconds(limit);
                }
            }
            if (s.known && slurm_state_final(s.state)) {
                break;
            }
            if (!requested_stop) {
                if (cancel_check()) {
                    slurm_command(target_, {"scancel", job}, false);
                    requested_stop = true;
                } else if (deadline && std::chrono::steady_clock::now() >= *deadline) {
                    slurm_command(target_, {"scancel", job}, false);
                    requested_stop = true;
                    timed_out = true;
                }
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        result_.finished_ms = run::detail::now_ms();
        result_.exit_code = s.exit_code;
        result_.signal = s.signal;
        if (canceled_) {
            return;
        }
        if (timed_out || s.state == "TIMEOUT") {
            result_.state = run_state::canceled;
            result_.reason = "exceeded its maximum duration of " + std::to_string(limit) +
                             " s; canceled (Slurm job " + job + " " + s.state + ")";
        } else if (s.state == "COMPLETED" && s.exit_code == 0) {
            result_.state = run_state::completed;
        } else if (s.state == "CANCELLED") {
            result_.state = run_state::canceled;
            result_.reason = "Slurm job " + job + " was cancelled (scancel)";
        } else {
            result_.state = run_state::failed;
            result_.reason = "Slurm job " + job + " ended " + s.state +
                             (s.exit_code >= 0 ? " with exit code " + std::to_string(s.exit_code)
                                               : std::string()) +
                             (s.signal > 0 ? " (" + signal_name(s.signal) + ")" : std::string());
        }
    }

    void finish() {
        auto& st = ws_.backend();
        if (result_.running_ms != 0 || result_.state == run_state::completed) {
            set(run_state::finalizing, "");
        }
        // outputs/ is the run folder's own (the job ran there): list what it left.
        std::error_code ec;
        const auto outputs = paths_.run_dir / "outputs";
        for (auto it = std::filesystem::recursive_directory_iterator(outputs, ec);
             !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
            if (it->is_regular_file(ec)) {
                result_.outputs.push_back(
                    std::filesystem::relative(it->path(), paths_.run_dir).generic_string());
            }
        }
        std::sort(result_.outputs.begin(), result_.outputs.end());
        if (result_.state != run_state::completed) {
            for (const auto& l : tail_lines(paths_.output(), 20)) {
                result_.last_lines.push_back(utf8_clean(l));
            }
        }
        result_.reason = utf8_clean(result_.reason);
        set(result_.state, result_.reason);
        try {
            io::write_file_atomic(paths_.result(), to_json(result_));
        } catch (const std::exception& e) {
            log_line(std::string("cannot write the result: ") + e.what());
        }
        try {
            st.sync_run(id_); // the trainer's last metrics
        } catch (const std::exception& e) {
            log_line(std::string("sync: ") + e.what());
        }
        log_line("run " + id_ + " ended " + std::string(run::to_string(result_.state)) +
                 (result_.reason.empty() ? "" : ": " + result_.reason));
    }

    workspace::workspace ws_;
    std::string id_;
    run_paths paths_;
    script_run_config job_{};
    compute_target target_{};
    std::filesystem::path program_{};
    job_result result_{};
    bool canceled_ = false;
};

/// @brief The supervisor program (tools/ctml_supervise.cpp, installed as `ctml-supervise`):
/// CTML_SUPERVISOR when set, else the path this build recorded (CTML_SUPERVISOR_PROGRAM, set by
/// the ctml::compute target), else `ctml-supervise` on PATH. A fresh program, not a forked copy
/// of the submitter: SQLite (like most libraries holding files and locks) must not be used in a
/// child that inherited another process's open database.
inline std::filesystem::path supervisor_program() {
    if (const char* env = std::getenv("CTML_SUPERVISOR"); env != nullptr && *env != '\0') {
        if (auto p = find_program(env)) {
            return *p;
        }
        throw compute_error(std::string("CTML_SUPERVISOR=") + env + ": no such program");
    }
#ifdef CTML_SUPERVISOR_PROGRAM
    if (auto p = find_program(CTML_SUPERVISOR_PROGRAM)) {
        return *p;
    }
#endif
    if (auto p = find_program("ctml-supervise")) {
        return *p;
    }
    throw compute_error("cannot find the supervisor program ctml-supervise (installed with "
                        "ctml's tools; set CTML_SUPERVISOR to its path)");
}

/// @brief Entry point of the supervisor program: `ctml-supervise CONFIG_JSON RUN_ID`.
inline int supervisor_main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: ctml-supervise CONFIG_JSON RUN_ID (started by ctml's "
                             "submitter, not by hand)\n");
        return 2;
    }
    ::signal(SIGPIPE, SIG_IGN);
    ::signal(SIGHUP, SIG_IGN);
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    try {
        ::ctml::run::workspace_config config = ::ctml::run::load_workspace_config(argv[1]);
        const std::string id(argv[2]);
        ::ctml::run::check_entity_name("run id", id);
        const auto dir = config.runs_dir() / id;
        supervisor(std::move(config), id, dir).run();
    } catch (const std::exception& e) {
        log_line(std::string("ctml-supervise: ") + e.what());
        return 1;
    }
    return 0;
}

/// @brief Starts the supervisor of run `id` as a process of its own (fork, setsid, fork, exec:
/// the grandchild, adopted by init or the nearest subreaper, outlives the submitter). Returns
/// its identity; throws ctml::compute_error when it cannot be started.
inline run::detail::writer_identity launch_supervisor(const ::ctml::run::workspace_config& config,
                                                      const std::string& id,
                                                      const std::filesystem::path& run_dir) {
    const run_paths paths{run_dir};
    const std::string program = supervisor_program().string();
    const std::string config_path = config.config_path.string();
    const std::string log_path = paths.supervisor_log().string();
    const char* const argv[] = {"ctml-supervise", config_path.c_str(), id.c_str(), nullptr};
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        throw compute_error(std::string("pipe: ") + std::strerror(errno));
    }
    std::fflush(nullptr); // nothing buffered is written twice
    const pid_t child = ::fork();
    if (child < 0) {
        throw compute_error(std::string("fork: ") + std::strerror(errno));
    }
    if (child == 0) {
        // Only async-signal-safe calls until exec.
        ::setsid();
        const pid_t grandchild = ::fork();
        if (grandchild != 0) {
            ::_exit(grandchild < 0 ? 1 : 0);
        }
        const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        const int null = ::open("/dev/null", O_RDWR);
        ::dup2(null, 0);
        ::dup2(log >= 0 ? log : null, 1);
        ::dup2(log >= 0 ? log : null, 2);
        const int status_fd = fds[1];
        ::dup2(status_fd, 3); // kept open across exec only long enough to report the pid
        ::close_range(4, ~0U, 0);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        for (int s = 1; s < NSIG; ++s) {
            if (s != SIGKILL && s != SIGSTOP) {
                ::signal(s, SIG_DFL);
            }
        }
        const pid_t me = ::getpid();
        (void)!::write(3, &me, sizeof me);
        ::close(3);
        ::execv(program.c_str(), const_cast<char* const*>(argv));
        ::_exit(127);
    }
    ::close(fds[1]);
    pid_t sup = 0;
    ssize_t n = 0;
    do {
        n = ::read(fds[0], &sup, sizeof sup);
    } while (n < 0 && errno == EINTR);
    ::close(fds[0]);
    int st = 0;
    ::waitpid(child, &st, 0);
    if (n != static_cast<ssize_t>(sizeof sup) || sup <= 0) {
        throw compute_error("the supervisor of run " + id + " did not start");
    }
    run::detail::writer_identity w;
    w.host = run::detail::this_host();
    w.boot_id = run::detail::boot_id();
    w.pid = sup;
    // The start time is the process's, unchanged by exec.
    w.pid_start = run::detail::process_start_ticks(sup);
    return w;
}

} // namespace ctml::compute::detail
