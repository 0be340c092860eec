// SPDX-License-Identifier: MIT
// Compute targets, defined once in a workspace by name (`gpu-cluster`, as the tutorials'
// ComputeTarget) and kept as `<workspace root>/compute/targets/<name>.json` (atomic writes).
// Three kinds:
//   local  a child process in its own process group on this machine;
//   mpi    `mpirun -n <processes>` on this machine (inside a private network namespace with only
//          loopback by default: OpenMPI listens on every address otherwise);
//   slurm  `sbatch` of a generated batch script (nodes, tasks, CPUs, memory, partition, time
//          limit), watched with squeue/scontrol/sacct, cancelled with scancel.
// The target "local" exists without being defined.
#pragma once
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "ctml/core/error.hpp"
#include "ctml/io/file.hpp"
#include "ctml/io/json.hpp"
#include "ctml/io/json_read.hpp"
#include "ctml/run/names.hpp"

namespace ctml::compute {

enum class target_kind { local, mpi, slurm };

constexpr std::string_view to_string(target_kind k) noexcept {
    switch (k) {
    case target_kind::local: return "local";
    case target_kind::mpi: return "mpi";
    case target_kind::slurm: return "slurm";
    }
    return "local";
}

inline std::optional<target_kind> parse_target_kind(std::string_view s) noexcept {
    for (const auto k : {target_kind::local, target_kind::mpi, target_kind::slurm}) {
        if (s == to_string(k)) {
            return k;
        }
    }
    return std::nullopt;
}

/// @brief One compute target's definition.
struct compute_target {
    std::string name{};
    target_kind kind = target_kind::local;
    /// Processes per job (MPI ranks, Slurm tasks) unless the job says otherwise.
    std::int64_t processes = 1;
    /// Slurm: nodes per job at most (the job's `nodes`, default 1, may not exceed it).
    std::int64_t max_nodes = 1;
    /// Slurm: partition (empty: the cluster's default).
    std::string partition{};
    /// Slurm: time limit HH:MM:SS (empty: the partition's); also the default maximum duration.
    std::string time_limit{};
    /// Slurm: CPUs per task (0: Slurm's default).
    std::int64_t cpus_per_task = 0;
    /// Slurm: memory per node as sbatch takes it ("2G"; empty: Slurm's default).
    std::string memory{};
    /// Slurm: the slurm.conf to use (SLURM_CONF for every Slurm command; empty: the system's).
    std::string slurm_conf{};
    /// Slurm: how long a Slurm command may take before the controller counts as down.
    std::int64_t controller_timeout_s = 20;
    /// Slurm: launcher of multi-task jobs: "srun" (srun --mpi=pmix) or "mpirun".
    std::string launcher = "srun";
    /// mpi: run mpirun inside a private network namespace with only loopback (unshare -n).
    bool loopback_only = true;

    bool operator==(const compute_target&) const = default;
};

/// @brief "HH:MM:SS" (or "MM:SS", "SS") to seconds; throws config_error naming `what`.
inline std::int64_t parse_duration_hms(std::string_view text, std::string_view what) {
    std::int64_t total = 0;
    int parts = 0;
    std::int64_t cur = -1;
    for (std::size_t i = 0; i <= text.size(); ++i) {
        if (i == text.size() || text[i] == ':') {
            if (cur < 0 || ++parts > 3) {
                throw config_error(std::string(what) + " \"" + std::string(text) +
                                   "\": expected HH:MM:SS");
            }
            total = total * 60 + cur;
            cur = -1;
        } else if (text[i] >= '0' && text[i] <= '9' && cur < 100000) {
            cur = (cur < 0 ? 0 : cur * 10) + (text[i] - '0');
        } else {
            throw config_error(std::string(what) + " \"" + std::string(text) +
                               "\": expected HH:MM:SS");
        }
    }
    return total;
}

inline void validate(const compute_target& t) {
    run::check_entity_name("compute target", t.name);
    const auto positive = [&](std::int64_t v, const char* field) {
        if (v < 1 || v > (1 << 20)) {
            throw config_error("compute target " + t.name + ": " + field +
                               " must be in [1, 1048576], got " + std::to_string(v));
        }
    };
    positive(t.processes, "processes");
    positive(t.max_nodes, "max_nodes");
    if (t.cpus_per_task < 0) {
        throw config_error("compute target " + t.name + ": cpus_per_task must be >= 0");
    }
    if (!t.time_limit.empty()) {
        parse_duration_hms(t.time_limit, "compute target " + t.name + ": time_limit");
    }
    if (t.controller_timeout_s < 1 || t.controller_timeout_s > 3600) {
        throw config_error("compute target " + t.name +
                           ": controller_timeout_s must be in [1, 3600]");
    }
    if (t.launcher != "srun" && t.launcher != "mpirun") {
        throw config_error("compute target " + t.name + ": launcher \"" + t.launcher +
                           "\": expected srun or mpirun");
    }
    for (const char c : t.partition + t.memory) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
              c == ',')) {
            throw config_error("compute target " + t.name +
                               ": partition and memory may hold only letters, digits and _-.,");
        }
    }
}

inline std::string to_json(const compute_target& t) {
    io::json_writer w(io::json_style::pretty);
    w.begin_object()
        .field("format", "ctml.compute_target")
        .field("name", t.name)
        .field("type", to_string(t.kind))
        .field("processes", t.processes)
        .field("max_nodes", t.max_nodes)
        .field("partition", t.partition)
        .field("time_limit", t.time_limit)
        .field("cpus_per_task", t.cpus_per_task)
        .field("memory", t.memory)
        .field("slurm_conf", t.slurm_conf)
        .field("controller_timeout_s", t.controller_timeout_s)
        .field("launcher", t.launcher)
        .field("loopback_only", t.loopback_only)
        .end_object();
    return w.take();
}

inline compute_target target_from_json(std::string_view text, std::string source) {
    const io::json_document doc = io::parse_json(text, std::move(source));
    const io::json_object o = doc.root().as_object();
    o.expect_only({"format", "name", "type", "processes", "max_nodes", "partition", "time_limit",
                   "cpus_per_task", "memory", "slurm_conf", "controller_timeout_s", "launcher",
                   "loopback_only"});
    compute_target t;
    t.name = o.get_string("name");
    const std::string kind = o.get_string("type");
    const auto k = parse_target_kind(kind);
    if (!k) {
        o.at("type").fail("expected local, mpi or slurm");
    }
    t.kind = *k;
    t.processes = o.get_optional_int("processes", 1, 1 << 20).value_or(1);
    t.max_nodes = o.get_optional_int("max_nodes", 1, 1 << 20).value_or(1);
    t.partition = o.get_optional_string("partition").value_or("");
    t.time_limit = o.get_optional_string("time_limit").value_or("");
    t.cpus_per_task = o.get_optional_int("cpus_per_task", 0, 1 << 20).value_or(0);
    t.memory = o.get_optional_string("memory").value_or("");
    t.slurm_conf = o.get_optional_string("slurm_conf").value_or("");
    t.controller_timeout_s = o.get_optional_int("controller_timeout_s", 1, 3600).value_or(20);
    t.launcher = o.get_optional_string("launcher").value_or("srun");
    t.loopback_only = o.get_optional_bool("loopback_only").value_or(true);
    validate(t);
    return t;
}

/// @brief `<root>/compute/targets`.
inline std::filesystem::path targets_dir(const std::filesystem::path& workspace_root) {
    return workspace_root / "compute" / "targets";
}

/// @brief The definition of `name`; "local" without a file is the default local target.
/// Throws ctml::compute_error for an unknown name (listing the known ones).
inline compute_target get_compute_target(const std::filesystem::path& workspace_root,
                                         std::string_view name);

/// @brief Every defined target (plus the implicit "local"), sorted by name.
inline std::vector<compute_target> list_compute_targets(const std::filesystem::path& root) {
    std::vector<compute_target> out;
    std::error_code ec;
    const auto dir = targets_dir(root);
    bool have_local = false;
    for (auto it = std::filesystem::directory_iterator(dir, ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
        const auto p = it->path();
        if (p.extension() != ".json" || p.filename().string().front() == '.') {
            continue;
        }
        out.push_back(target_from_json(io::read_file(p, CTML_MAX_JSON_BYTES), p.string()));
        have_local = have_local || out.back().name == "local";
    }
    if (!have_local) {
        compute_target local;
        local.name = "local";
        out.push_back(local);
    }
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
    return out;
}

inline compute_target get_compute_target(const std::filesystem::path& root,
                                         std::string_view name) {
    run::check_entity_name("compute target", name);
    const auto p = targets_dir(root) / (std::string(name) + ".json");
    std::error_code ec;
    if (std::filesystem::is_regular_file(p, ec)) {
        return target_from_json(io::read_file(p, CTML_MAX_JSON_BYTES), p.string());
    }
    if (name == "local") {
        compute_target local;
        local.name = "local";
        return local;
    }
    std::string known;
    for (const auto& t : list_compute_targets(root)) {
        known += (known.empty() ? "" : ", ") + t.name;
    }
    throw compute_error("no compute target \"" + std::string(name) + "\" in this workspace (" +
                        known + "); define it with `ctml compute create " + std::string(name) +
                        " --type local|mpi|slurm`");
}

/// @brief Writes `t` as the definition of t.name (replacing an existing one only when
/// `replace`; otherwise an existing different definition is a ctml::compute_error).
inline compute_target create_compute_target(const std::filesystem::path& root,
                                            const compute_target& t, bool replace = false) {
    validate(t);
    const auto p = targets_dir(root) / (t.name + ".json");
    std::error_code ec;
    if (!replace && std::filesystem::is_regular_file(p, ec)) {
        const compute_target old =
            target_from_json(io::read_file(p, CTML_MAX_JSON_BYTES), p.string());
        if (old != t) {
            throw compute_error("compute target " + t.name +
                                " exists with another definition (" + p.string() +
                                "); delete it first or replace it");
        }
        return old;
    }
    std::filesystem::create_directories(p.parent_path(), ec);
    if (ec) {
        throw file_error(p.parent_path().string() + ": cannot create folder: " + ec.message(),
                         ec);
    }
    io::write_file_atomic(p, to_json(t));
    return t;
}

/// @brief The tutorial's "create if missing": the existing definition of t.name when there is
/// one (whatever it says), else `t`, written.
inline compute_target ensure_compute_target(const std::filesystem::path& root,
                                            const compute_target& t) {
    const auto p = targets_dir(root) / (t.name + ".json");
    std::error_code ec;
    if (std::filesystem::is_regular_file(p, ec)) {
        return target_from_json(io::read_file(p, CTML_MAX_JSON_BYTES), p.string());
    }
    return create_compute_target(root, t, false);
}

} // namespace ctml::compute
