// SPDX-License-Identifier: MIT
// What a submitted run keeps in `<run>/compute/` besides the store: who supervises it, its
// process group or Slurm job, a cancel request, and the result the supervisor records.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "ctml/io/file.hpp"
#include "ctml/io/json.hpp"
#include "ctml/io/json_read.hpp"
#include "ctml/run/detail/process.hpp"
#include "ctml/run/state.hpp"

namespace ctml::compute::detail {

/// @brief The paths of one submitted run.
struct run_paths {
    std::filesystem::path run_dir;
    std::filesystem::path compute() const { return run_dir / "compute"; }
    std::filesystem::path job() const { return run_dir / "job.json"; }
    std::filesystem::path output() const { return run_dir / "logs" / "output.log"; }
    std::filesystem::path build_log() const { return run_dir / "logs" / "build.log"; }
    std::filesystem::path supervisor() const { return compute() / "supervisor.json"; }
    std::filesystem::path process() const { return compute() / "process.json"; }
    std::filesystem::path slurm() const { return compute() / "slurm.json"; }
    std::filesystem::path cancel() const { return compute() / "cancel"; }
    std::filesystem::path result() const { return compute() / "result.json"; }
    std::filesystem::path supervisor_log() const { return compute() / "supervisor.log"; }
    std::filesystem::path inputs() const { return run_dir / "inputs"; }
};

inline bool file_exists(const std::filesystem::path& p) {
    std::error_code ec;
    return std::filesystem::exists(p, ec);
}

inline std::string identity_json(const run::detail::writer_identity& w) {
    io::json_writer j(io::json_style::compact);
    j.begin_object()
        .field("host", w.host)
        .field("boot_id", w.boot_id)
        .field("pid", w.pid)
        .field("pid_start", w.pid_start)
        .end_object();
    return j.take();
}

inline std::optional<run::detail::writer_identity> read_identity(const std::filesystem::path& p) {
    if (!file_exists(p)) {
        return std::nullopt;
    }
    try {
        const auto doc = io::load_json(p);
        const auto o = doc.root().as_object();
        run::detail::writer_identity w;
        w.host = o.get_string("host");
        w.boot_id = o.get_string("boot_id");
        w.pid = o.get_int("pid");
        w.pid_start = o.get_uint("pid_start");
        return w;
    } catch (const ::ctml::error&) {
        return std::nullopt;
    }
}

/// @brief The process group of a local or mpi job.
struct process_record {
    std::int64_t pgid = 0;
    std::int64_t started_ms = 0;
};

inline void write_process(const run_paths& p, const process_record& r) {
    io::json_writer j(io::json_style::compact);
    j.begin_object().field("pgid", r.pgid).field("started_ms", r.started_ms).end_object();
    io::write_file_atomic(p.process(), j.take());
}

inline std::optional<process_record> read_process(const run_paths& p) {
    if (!file_exists(p.process())) {
        return std::nullopt;
    }
    try {
        const auto doc = io::load_json(p.process());
        const auto o = doc.root().as_object();
        return process_record{o.get_int("pgid"), o.get_int("started_ms")};
    } catch (const ::ctml::error&) {
        return std::nullopt;
    }
}

inline void write_slurm_job(const run_paths& p, const std::string& job) {
    io::json_writer j(io::json_style::compact);
    j.begin_object().field("job_id", job).end_object();
    io::write_file_atomic(p.slurm(), j.take());
}

inline std::optional<std::string> read_slurm_job(const run_paths& p) {
    if (!file_exists(p.slurm())) {
        return std::nullopt;
    }
    try {
        return io::load_json(p.slurm()).root().as_object().get_string("job_id");
    } catch (const ::ctml::error&) {
        return std::nullopt;
    }
}

/// @brief What the supervisor records when the job is over.
struct job_result {
    run::run_state state = run::run_state::failed;
    std::string reason{};
    int exit_code = -1; ///< -1: none (killed by a signal, never started)
    int signal = 0;
    bool built = false;        ///< the job had a source folder
    bool build_reused = false; ///< ... and its build came from the cache
    std::string build_hash{};
    double build_seconds = 0;
    std::string slurm_job{};
    std::int64_t running_ms = 0;  ///< when Running began (0: never)
    std::int64_t finished_ms = 0; ///< when the job's processes were gone
    std::vector<std::string> outputs{}; ///< files under outputs/, relative
    std::vector<std::string> last_lines{};

    bool operator==(const job_result&) const = default;
};

inline std::string to_json(const job_result& r) {
    io::json_writer j(io::json_style::pretty);
    j.begin_object()
        .field("state", run::to_string(r.state))
        .field("reason", r.reason)
        .field("exit_code", r.exit_code)
        .field("signal", r.signal)
        .field("built", r.built)
        .field("build_reused", r.build_reused)
        .field("build_hash", r.build_hash)
        .field("build_seconds", r.build_seconds)
        .field("slurm_job", r.slurm_job)
        .field("running_ms", r.running_ms)
        .field("finished_ms", r.finished_ms);
    j.key("outputs").begin_array();
    for (const auto& o : r.outputs) {
        j.value(o);
    }
    j.end_array();
    j.key("last_lines").begin_array();
    for (const auto& l : r.last_lines) {
        j.value(l);
    }
    j.end_array();
    j.end_object();
    return j.take();
}

inline std::optional<job_result> read_result(const run_paths& p) {
    if (!file_exists(p.result())) {
        return std::nullopt;
    }
    const auto doc = io::load_json(p.result());
    const auto o = doc.root().as_object();
    job_result r;
    const auto st = run::parse_run_state(o.get_string("state"));
    if (!st) {
        o.at("state").fail("expected a run state");
    }
    r.state = *st;
    r.reason = o.get_string("reason");
    r.exit_code = static_cast<int>(o.get_int("exit_code", -1, 255));
    r.signal = static_cast<int>(o.get_int("signal", 0, 128));
    r.built = o.get_bool("built");
    r.build_reused = o.get_bool("build_reused");
    r.build_hash = o.get_string("build_hash");
    r.build_seconds = o.get_double("build_seconds", 0);
    r.slurm_job = o.get_string("slurm_job");
    r.running_ms = o.get_int("running_ms");
    r.finished_ms = o.get_int("finished_ms");
    for (const auto& v : o.get_array("outputs")) {
        r.outputs.push_back(v.as_string());
    }
    for (const auto& v : o.get_array("last_lines")) {
        r.last_lines.push_back(v.as_string());
    }
    return r;
}

/// @brief Text of valid UTF-8 for JSON: invalid bytes become '?'.
inline std::string utf8_clean(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t n = io::detail::utf8_sequence_length(s, i);
        if (n == 0) {
            out += '?';
            ++i;
        } else {
            const unsigned char c = static_cast<unsigned char>(s[i]);
            out += (n == 1 && c < 0x20 && c != '\t') ? std::string("?") : s.substr(i, n);
            i += n;
        }
    }
    return out;
}

} // namespace ctml::compute::detail
