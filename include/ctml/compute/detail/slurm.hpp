// SPDX-License-Identifier: MIT
// The Slurm commands a slurm target uses: sbatch (of a generated batch script), squeue and
// scontrol (live state), sacct -c (history from the completion log, for clusters without
// slurmdbd), scancel. Every command runs under the target's controller timeout, so a controller
// that is down is an error after that long, never a hang.
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "ctml/compute/detail/process.hpp"
#include "ctml/compute/job.hpp"
#include "ctml/compute/target.hpp"
#include "ctml/core/error.hpp"

namespace ctml::compute::detail {

inline std::vector<std::string> slurm_env(const compute_target& t) {
    std::map<std::string, std::string> over;
    if (!t.slurm_conf.empty()) {
        over["SLURM_CONF"] = t.slurm_conf;
    }
    return make_environment(over);
}

/// @brief Runs a Slurm command under the target's timeout; throws ctml::compute_error naming the
/// command when it times out (the controller is down or unreachable) or cannot start.
inline command_result slurm_command(const compute_target& t, std::vector<std::string> argv,
                                    bool throw_on_status = true) {
    const auto prog = find_program(argv.front());
    if (!prog) {
        throw compute_error("compute target " + t.name + ": " + argv.front() +
                            " not found on PATH (install slurm-client)");
    }
    command_result r = run_command(argv, slurm_env(t),
                                   std::chrono::seconds(t.controller_timeout_s));
    if (r.timed_out) {
        throw compute_error("compute target " + t.name + ": the Slurm controller did not answer `" +
                            argv.front() + "` within " + std::to_string(t.controller_timeout_s) +
                            " s (is slurmctld down?)");
    }
    if (throw_on_status && r.exit_code != 0) {
        std::string out = r.output;
        while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) {
            out.pop_back();
        }
        throw compute_error("compute target " + t.name + ": `" + argv.front() + "` failed (" +
                            (r.signal != 0 ? signal_name(r.signal)
                                           : "exit status " + std::to_string(r.exit_code)) +
                            "): " + out);
    }
    return r;
}

/// @brief Quotes `s` for bash (single quotes).
inline std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (const char c : s) {
        if (c == '\'') {
            out += "'\\''";
        } else {
            out += c;
        }
    }
    return out + "'";
}

/// @brief Checks that the controller answers (`scontrol ping`), within the timeout.
inline void slurm_ping(const compute_target& t) {
    const command_result r = slurm_command(t, {"scontrol", "ping"}, false);
    if (r.output.find("UP") == std::string::npos) {
        std::string out = r.output.substr(0, r.output.find('\n'));
        throw compute_error("compute target " + t.name + ": the Slurm controller is not up (`scontrol ping`: " +
                            out + ")");
    }
}

/// @brief A Slurm job's state as the commands report it.
struct slurm_job_state {
    std::string state;  ///< PENDING, RUNNING, COMPLETING, COMPLETED, FAILED, CANCELLED, TIMEOUT...
    int exit_code = -1; ///< from ExitCode a:b (a), when known
    int signal = 0;     ///< b
    std::string reason; ///< squeue's reason (Resources, Priority, ...)
    bool known = false;
};

inline void parse_exit_code(const std::string& text, slurm_job_state& s) {
    const auto colon = text.find(':');
    try {
        s.exit_code = std::stoi(text.substr(0, colon));
        if (colon != std::string::npos) {
            s.signal = std::stoi(text.substr(colon + 1));
        }
    } catch (...) {
    }
}

/// @brief The job's state: squeue while queued or running, then scontrol (for MinJobAge), then
/// sacct -c (the completion log). Throws only when the controller does not answer.
inline slurm_job_state query_slurm_job(const compute_target& t, const std::string& job) {
    slurm_job_state s;
    {
        const auto r = slurm_command(t, {"squeue", "-h", "-j", job, "-o", "%T|%r"}, false);
        if (r.exit_code == 0) {
            std::istringstream in(r.output);
            std::string line;
            if (std::getline(in, line) && !line.empty()) {
                const auto bar = line.find('|');
                s.state = line.substr(0, bar);
                s.reason = bar == std::string::npos ? "" : line.substr(bar + 1);
                s.known = true;
                if (s.state != "COMPLETED" && s.state != "FAILED" && s.state != "CANCELLED" &&
                    s.state != "TIMEOUT") {
                    return s;
                }
            }
        }
    }
    {
        const auto r = slurm_command(t, {"scontrol", "-o", "show", "job", job}, false);
        if (r.exit_code == 0) {
            std::istringstream in(r.output);
            std::string field;
            while (in >> field) {
                if (field.rfind("JobState=", 0) == 0) {
                    s.state = field.substr(9);
                    s.known = true;
                } else if (field.rfind("ExitCode=", 0) == 0) {
                    parse_exit_code(field.substr(9), s);
                }
            }
            if (s.known && s.exit_code >= 0) {
                return s;
            }
        }
    }
    {
        const auto r = slurm_command(
            t, {"sacct", "-c", "-n", "-P", "-j", job, "-o", "JobID,State,ExitCode"}, false);
        if (r.exit_code == 0) {
            std::istringstream in(r.output);
            std::string line;
            while (std::getline(in, line)) {
                std::vector<std::string> f;
                std::stringstream ls(line);
                std::string part;
                while (std::getline(ls, part, '|')) {
                    f.push_back(part);
                }
                if (f.size() >= 3 && f[0] == job) {
                    s.state = f[1].substr(0, f[1].find(' ')); // "CANCELLED by 0"
                    parse_exit_code(f[2], s);
                    s.known = true;
                }
            }
        }
    }
    return s;
}

inline bool slurm_state_final(const std::string& s) {
    return s == "COMPLETED" || s == "FAILED" || s == "CANCELLED" || s == "TIMEOUT" ||
           s == "NODE_FAIL" || s == "PREEMPTED" || s == "OUT_OF_MEMORY" || s == "BOOT_FAIL" ||
           s == "DEADLINE";
}

/// @brief The batch script for `argv` (the trainer's command line) in run folder `run_dir`.
inline std::string slurm_batch_script(const compute_target& t, const std::string& run_id,
                                      const std::filesystem::path& run_dir,
                                      const std::vector<std::string>& argv,
                                      const std::map<std::string, std::string>& env,
                                      std::int64_t nodes, std::int64_t tasks,
                                      std::int64_t time_limit_s) {
    std::string s = "#!/bin/bash\n";
    s += "#SBATCH --job-name=ctml-" + run_id + "\n";
    s += "#SBATCH --output=" + (run_dir / "logs" / "output.log").string() + "\n";
    s += "#SBATCH --open-mode=append\n";
    s += "#SBATCH --chdir=" + run_dir.string() + "\n";
    s += "#SBATCH --nodes=" + std::to_string(nodes) + "\n";
    s += "#SBATCH --ntasks=" + std::to_string(tasks) + "\n";
    if (t.cpus_per_task > 0) {
        s += "#SBATCH --cpus-per-task=" + std::to_string(t.cpus_per_task) + "\n";
    }
    if (!t.memory.empty()) {
        s += "#SBATCH --mem=" + t.memory + "\n";
    }
    if (!t.partition.empty()) {
        s += "#SBATCH --partition=" + t.partition + "\n";
    }
    if (time_limit_s > 0) {
        const std::int64_t minutes = (time_limit_s + 59) / 60; // Slurm counts whole minutes
        s += "#SBATCH --time=" + std::to_string(minutes) + "\n";
    }
    s += "# Generated by ctml for run " + run_id + ".\n";
    for (const auto& [k, v] : env) {
        s += "export " + k + "=" + shell_quote(v) + "\n";
    }
    std::string cmd;
    for (const auto& a : argv) {
        cmd += (cmd.empty() ? "" : " ") + shell_quote(a);
    }
    if (tasks > 1) {
        // Rank 0 reports into the run; the others train without writing to it.
        const std::string rank_wrap =
            "bash -c 'r=${SLURM_PROCID:-${OMPI_COMM_WORLD_RANK:-0}}; "
            "[ \"$r\" = 0 ] || export CTML_TRACKING=off; exec \"$@\"' ctml-rank ";
        if (t.launcher == "mpirun") {
            s += "exec mpirun -n " + std::to_string(tasks) +
                 (::geteuid() == 0 ? " --allow-run-as-root " : " ") + rank_wrap + cmd + "\n";
        } else {
            s += "exec srun --mpi=pmix " + rank_wrap + cmd + "\n";
        }
    } else {
        s += "exec " + cmd + "\n";
    }
    return s;
}

} // namespace ctml::compute::detail
