// SPDX-License-Identifier: MIT
// The job description a submitter hands to a compute target: what to run (an executable, or a
// source folder and the CMake target to build in it), its arguments (which may name registered
// datasets: `--data-folder mnist-dataset:latest`), the target, the environment, limits. Written
// to `<run>/job.json` and read back with simdjson; the round trip is exact
// (from_json(to_json(c)) == c). The submitter never sees the trainer's C++ types: the trainer's
// own run_config JSON travels here as an opaque string.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ctml/core/error.hpp"
#include "ctml/io/json.hpp"
#include "ctml/io/json_read.hpp"
#include "ctml/run/names.hpp"

namespace ctml::compute {

/// @brief An argument that names a registered dataset, as it was resolved at submission.
/// `argument` indexes script_run_config::arguments; `prefix` is what precedes the reference in
/// that argument ("--data-folder=" for the `=` form, else empty).
struct dataset_binding {
    std::size_t argument = 0;
    std::string prefix{};
    std::string name{};
    std::int64_t version = 0; ///< the concrete version (`latest` is resolved at submission)
    bool operator==(const dataset_binding&) const = default;
};

/// @brief The job: what the service's ScriptRunConfig holds.
struct script_run_config {
    /// The trainer program (absolute after submission). Empty when source_folder is given.
    std::string executable{};
    /// A folder with a CMakeLists.txt; built (cached by a hash of its files and the
    /// environment) in Preparing. Empty when executable is given.
    std::string source_folder{};
    /// The CMake target whose program is run (source_folder only).
    std::string cmake_target{};
    /// Extra `-D...` arguments for the CMake configure step (source_folder only).
    std::vector<std::string> cmake_arguments{};
    /// Arguments of the trainer. `NAME:latest` or `NAME:<version>` (alone, or after `--flag=`)
    /// names a registered dataset and becomes its local folder when the job starts.
    std::vector<std::string> arguments{};
    /// The compute target's name (defined in the workspace; "local" always exists).
    std::string compute_target = "local";
    /// Extra environment variables of the trainer.
    std::map<std::string, std::string> environment{};
    /// Wall-clock limit of the Running stage in seconds; 0: none.
    std::int64_t max_duration_s = 0;
    /// Processes (MPI ranks, Slurm tasks); 0: the target's default.
    std::int64_t processes = 0;
    /// Nodes (Slurm); 0: the target's default.
    std::int64_t nodes = 0;
    /// The trainer's run_config JSON, opaque here; may be empty.
    std::string run_config{};
    /// Filled at submission.
    std::string experiment{};
    std::vector<dataset_binding> datasets{};

    bool operator==(const script_run_config&) const = default;
};

namespace detail {
inline void write_string_array(io::json_writer& w, std::string_view key,
                               const std::vector<std::string>& items) {
    w.key(key).begin_array();
    for (const auto& s : items) {
        w.value(s);
    }
    w.end_array();
}

inline std::vector<std::string> read_string_array(const io::json_object& o,
                                                  std::string_view key) {
    std::vector<std::string> out;
    if (auto a = o.get_optional_array(key)) {
        for (const auto& v : *a) {
            out.push_back(v.as_string());
        }
    }
    return out;
}
} // namespace detail

/// @brief job.json: one JSON object, every field always written (so a reader sees the whole
/// job), keys in a fixed order.
inline std::string to_json(const script_run_config& c) {
    io::json_writer w(io::json_style::pretty);
    w.begin_object();
    w.field("format", "ctml.job");
    w.field("version", 1);
    w.field("experiment", c.experiment);
    w.key("trainer").begin_object();
    w.field("executable", c.executable);
    w.field("source_folder", c.source_folder);
    w.field("cmake_target", c.cmake_target);
    detail::write_string_array(w, "cmake_arguments", c.cmake_arguments);
    w.end_object();
    detail::write_string_array(w, "arguments", c.arguments);
    w.field("compute_target", c.compute_target);
    w.key("environment").begin_object();
    for (const auto& [k, v] : c.environment) {
        w.field(k, v);
    }
    w.end_object();
    w.field("max_duration_s", c.max_duration_s);
    w.field("processes", c.processes);
    w.field("nodes", c.nodes);
    w.field("run_config", c.run_config);
    w.key("datasets").begin_array();
    for (const auto& d : c.datasets) {
        w.begin_object()
            .field("argument", static_cast<std::uint64_t>(d.argument))
            .field("prefix", d.prefix)
            .field("name", d.name)
            .field("version", d.version)
            .end_object();
    }
    w.end_array();
    w.end_object();
    return w.take();
}

/// @brief Reads job.json text; `source` names it in errors. Unknown fields, wrong types and
/// values out of range are ctml::format_error naming the field (`job.json: field
/// "trainer.executable": ...`); a job naming neither or both of executable and source folder is
/// a ctml::config_error.
inline script_run_config job_from_json(std::string_view text, std::string source = "job.json") {
    const io::json_document doc = io::parse_json(text, std::move(source));
    const io::json_object o = doc.root().as_object();
    o.expect_only({"format", "version", "experiment", "trainer", "arguments", "compute_target",
                   "environment", "max_duration_s", "processes", "nodes", "run_config",
                   "datasets"});
    if (auto f = o.get_optional_string("format"); f && *f != "ctml.job") {
        o.at("format").fail("expected \"ctml.job\"");
    }
    if (auto v = o.find("version")) {
        v->as_int(1, 1);
    }
    script_run_config c;
    c.experiment = o.get_optional_string("experiment").value_or("");
    const io::json_object t = o.get_object("trainer");
    t.expect_only({"executable", "source_folder", "cmake_target", "cmake_arguments"});
    c.executable = t.get_optional_string("executable").value_or("");
    c.source_folder = t.get_optional_string("source_folder").value_or("");
    c.cmake_target = t.get_optional_string("cmake_target").value_or("");
    c.cmake_arguments = detail::read_string_array(t, "cmake_arguments");
    c.arguments = detail::read_string_array(o, "arguments");
    c.compute_target = o.get_optional_string("compute_target").value_or("local");
    if (auto env = o.get_optional_object("environment")) {
        for (const auto& k : env->keys()) {
            c.environment[k] = env->get_string(k);
        }
    }
    c.max_duration_s = o.get_optional_int("max_duration_s", 0, 366LL * 24 * 3600).value_or(0);
    c.processes = o.get_optional_int("processes", 0, 1 << 20).value_or(0);
    c.nodes = o.get_optional_int("nodes", 0, 1 << 20).value_or(0);
    c.run_config = o.get_optional_string("run_config").value_or("");
    if (auto ds = o.get_optional_array("datasets")) {
        for (const auto& v : *ds) {
            const io::json_object d = v.as_object();
            d.expect_only({"argument", "prefix", "name", "version"});
            dataset_binding b;
            b.argument = static_cast<std::size_t>(d.get_uint("argument", 0, 1 << 20));
            b.prefix = d.get_optional_string("prefix").value_or("");
            b.name = d.get_string("name");
            b.version = d.get_int("version", 1);
            if (b.argument >= c.arguments.size()) {
                d.at("argument").fail("names argument " + std::to_string(b.argument) +
                                      " but there are " + std::to_string(c.arguments.size()));
            }
            c.datasets.push_back(std::move(b));
        }
    }
    if (c.executable.empty() == c.source_folder.empty()) {
        throw config_error(doc.source() + ": field \"trainer\": give exactly one of "
                                          "\"executable\" and \"source_folder\"");
    }
    if (!c.source_folder.empty() && c.cmake_target.empty()) {
        throw config_error(doc.source() + ": field \"trainer.cmake_target\": a source folder "
                                          "needs the CMake target to build");
    }
    return c;
}

/// @brief Reads `path` (job.json).
inline script_run_config load_job(const std::filesystem::path& path) {
    return job_from_json(io::read_file(path, CTML_MAX_JSON_BYTES), path.string());
}

/// @brief A dataset reference inside an argument: `NAME:latest` or `NAME:<n>`, alone or as the
/// value of `--flag=`. Returns {prefix, name, version (0: latest)}, or nothing when the
/// argument does not have that form (a plain value, a URL, a path).
struct argument_dataset_ref {
    std::string prefix;
    std::string name;
    std::int64_t version = 0;
};
inline std::optional<argument_dataset_ref> parse_argument_dataset(std::string_view arg) {
    argument_dataset_ref r;
    if (arg.rfind("--", 0) == 0) {
        const auto eq = arg.find('=');
        if (eq == std::string_view::npos) {
            return std::nullopt;
        }
        r.prefix = std::string(arg.substr(0, eq + 1));
        arg.remove_prefix(eq + 1);
    }
    const auto colon = arg.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
        return std::nullopt;
    }
    const std::string_view name = arg.substr(0, colon);
    const std::string_view ver = arg.substr(colon + 1);
    try {
        run::check_entity_name("dataset", name);
    } catch (const workspace_error&) {
        return std::nullopt; // "http://x", "a/b:c": not a dataset reference
    }
    if (ver == "latest") {
        r.version = 0;
    } else {
        if (ver.empty() || ver.size() > 18) {
            return std::nullopt;
        }
        std::int64_t v = 0;
        for (const char ch : ver) {
            if (ch < '0' || ch > '9') {
                return std::nullopt;
            }
            v = v * 10 + (ch - '0');
        }
        if (v < 1) {
            return std::nullopt;
        }
        r.version = v;
    }
    r.name = std::string(name);
    return r;
}

} // namespace ctml::compute
