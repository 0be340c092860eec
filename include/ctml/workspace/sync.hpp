// SPDX-License-Identifier: MIT
// Pushing a workspace's records to an MLflow tracking server (`ctml sync`, and the MLflow store
// and its forwarder, which push through the same code): experiments; runs with params, tags,
// every metric point with its step and timestamp, status and end time, and their files
// (outputs/, logs/, images/, files/, plus ctml/environment.json and ctml/job.json) as artifacts;
// registered models with their versions (files under the artifact path
// ctml-models/<name>/<ctml version>/), tags, properties (tags "ctml.property.<key>") and aliases.
//
// Idempotent and resumable: what was sent is recorded per request in the workspace's sync map
// (ctml/workspace/mlflow/sync_state.hpp), so a second push sends nothing and a push killed
// midway resumes without duplicates. A run's files are uploaded once it is terminal (a live
// run's outputs may be half-written), before its final status, so that a client that sees
// FINISHED finds the artifacts. ctml version numbers and MLflow's may differ (the server may
// already hold versions of the name): the map keeps both, and MLflow's version carries the tag
// ctml.version.
//
//   ctml::workspace::mlflow::client c("http://127.0.0.1:5000");
//   ctml::workspace::sqlite_store local(root);
//   ctml::workspace::pusher p(local, root, c, "workspace-name");
//   push_counts n = p.push({.experiment = "e"});   // or p.push_run(id), p.push_model(name)
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <sys/stat.h>

#include "ctml/core/error.hpp"
#include "ctml/io/file.hpp"
#include "ctml/run/event.hpp"
#include "ctml/run/state.hpp"
#include "ctml/workspace/mlflow/api.hpp"
#include "ctml/workspace/mlflow/client.hpp"
#include "ctml/workspace/mlflow/sync_state.hpp"
#include "ctml/workspace/store.hpp"
#include "ctml/workspace/types.hpp"

namespace ctml::workspace {

/// @brief What to push.
struct push_options {
    std::optional<std::string> experiment{}; ///< only this experiment's runs (models: all)
    bool dry_run = false;  ///< count what would be sent; no request is made
    bool models = true;    ///< also the model registry
};

/// @brief What a push sent (or, dry, would send).
struct push_counts {
    std::int64_t experiments_created = 0;
    std::int64_t runs_created = 0;
    std::int64_t runs_finalized = 0;  ///< terminal status + end time sent
    std::int64_t runs_pending = 0;    ///< still live (pushed so far; more later)
    std::int64_t metric_points = 0;
    std::int64_t params = 0;
    std::int64_t tags = 0;
    std::int64_t files = 0;
    std::int64_t bytes = 0;
    std::int64_t models_created = 0;
    std::int64_t versions_created = 0;
    std::int64_t version_tags = 0;
    std::int64_t aliases = 0;
    std::int64_t deleted = 0;         ///< versions, tags, aliases removed on the server
    std::int64_t requests = 0;        ///< write requests made (0 on a push with nothing new)

    std::int64_t changes() const {
        return experiments_created + runs_created + runs_finalized + metric_points + params +
               tags + files + models_created + versions_created + version_tags + aliases + deleted;
    }
    push_counts& operator+=(const push_counts& o) {
        experiments_created += o.experiments_created;
        runs_created += o.runs_created;
        runs_finalized += o.runs_finalized;
        runs_pending += o.runs_pending;
        metric_points += o.metric_points;
        params += o.params;
        tags += o.tags;
        files += o.files;
        bytes += o.bytes;
        models_created += o.models_created;
        versions_created += o.versions_created;
        version_tags += o.version_tags;
        aliases += o.aliases;
        deleted += o.deleted;
        requests += o.requests;
        return *this;
    }
};

/// MLflow's status for a ctml run state.
inline std::string_view mlflow_status(run_state s) {
    switch (s) {
    case run_state::completed: return "FINISHED";
    case run_state::failed: return "FAILED";
    case run_state::canceled: return "KILLED";
    case run_state::not_started:
    case run_state::queued: return "SCHEDULED";
    default: return "RUNNING";
    }
}

/// @brief Pushes one local store's records to one server (see the top of this file).
class pusher {
public:
    pusher(store& local, const std::filesystem::path& root, mlflow::client& c,
           std::string workspace_name)
        : local_(&local), root_(root), client_(&c), api_(c), state_(root, c.uri()),
          workspace_(std::move(workspace_name)) {}

    mlflow::client& client() noexcept { return *client_; }

    /// Everything (or one experiment's runs), then the registry. Holds the workspace's push lock.
    push_counts push(const push_options& o = {}) {
        mlflow::push_lock lock(root_);
        push_counts n;
        const std::int64_t before = client_->counts().writes;
        for (const run_info& r : local_->runs(run_filter{o.experiment, std::nullopt})) {
            n += push_run_unlocked(r.id, o.dry_run);
        }
        if (o.models) {
            for (const model_info& m : local_->models()) {
                n += push_model_unlocked(m.name, o.dry_run);
            }
        }
        n.requests = client_->counts().writes - before;
        return n;
    }

    push_counts push_run(std::string_view run_id, bool dry_run = false) {
        mlflow::push_lock lock(root_);
        const std::int64_t before = client_->counts().writes;
        push_counts n = push_run_unlocked(run_id, dry_run);
        n.requests = client_->counts().writes - before;
        return n;
    }

    push_counts push_model(std::string_view name, bool dry_run = false) {
        mlflow::push_lock lock(root_);
        const std::int64_t before = client_->counts().writes;
        push_counts n = push_model_unlocked(name, dry_run);
        n.requests = client_->counts().writes - before;
        return n;
    }

    /// The MLflow run id of a pushed run (empty when not pushed to this server yet).
    std::string remote_run_id(std::string_view run_id) {
        const auto r = state_.run(run_id);
        return r ? r->remote_id : std::string();
    }
    /// MLflow's version number of a pushed ctml version (0 when not pushed).
    std::int64_t remote_version(std::string_view name, std::int64_t version) {
        const auto m = state_.versions(name);
        const auto it = m.find(version);
        return it == m.end() ? 0 : it->second;
    }

private:
    // --- runs ----------------------------------------------------------------------------------

    push_counts push_run_unlocked(std::string_view run_id, bool dry) {
        push_counts n;
        const std::string id(run_id);
        auto row = state_.run(id);
        if (row && row->done) {
            return n; // terminal and everything sent
        }
        const run_details d = local_->get_run(id);
        const bool terminal = run::is_terminal(d.info.state);
        if (!row) {
            if (dry) {
                ++n.runs_created;
                count_dry_run(d, n);
                return n;
            }
            row = create_remote_run(d, n);
        }
        if (dry) {
            count_dry_run(d, n);
            return n;
        }
        push_values(d, row->remote_id, n);
        push_metrics(d, row->remote_id, n);
        if (terminal) {
            push_run_files(d, *row, n);
        }
        const std::string status(mlflow_status(d.info.state));
        const timestamp_ms end = terminal ? (d.info.ended > 0 ? d.info.ended : d.info.last_seen) : 0;
        if (status != row->status || end != row->end_time) {
            api_.update_run(row->remote_id, status, end);
            if (terminal) {
                ++n.runs_finalized;
            }
        }
        state_.set_run_status(id, status, end, terminal);
        if (!terminal) {
            ++n.runs_pending;
        }
        return n;
    }

    mlflow::sync_state::run_row create_remote_run(const run_details& d, push_counts& n) {
        std::string exp_id;
        if (auto e = state_.experiment(d.info.experiment)) {
            exp_id = *e;
        } else {
            const bool existed = api_.experiment_id(d.info.experiment).has_value();
            exp_id = api_.ensure_experiment(d.info.experiment);
            state_.set_experiment(d.info.experiment, exp_id);
            n.experiments_created += existed ? 0 : 1;
        }
        // A run created by a push that was killed before recording it is found by its tag.
        std::optional<mlflow::remote_run> r = api_.find_run_by_tag(exp_id, "ctml.run_id", d.info.id);
        if (!r) {
            const auto name = d.tags.find("ctml.run_name");
            const timestamp_ms start = d.info.started > 0 ? d.info.started : d.info.created;
            r = api_.create_run(exp_id, name != d.tags.end() ? name->second : d.info.id, start,
                                {{"ctml.run_id", d.info.id}, {"ctml.workspace", workspace_}});
            ++n.runs_created;
        }
        const std::string root = mlflow::artifact_root(r->artifact_uri, client_->uri(),
                                                       "run " + d.info.id);
        state_.set_run(d.info.id, r->id, root);
        return *state_.run(d.info.id);
    }

    /// The params and tags MLflow should show for the run, within its limits.
    std::pair<std::map<std::string, std::string>, std::map<std::string, std::string>>
    wanted_values(const run_details& d) const {
        std::map<std::string, std::string> params, tags;
        for (const auto& [k, v] : d.params) {
            params[k] = std::string(mlflow::detail::utf8_prefix(v, mlflow::max_param_value_chars));
        }
        for (const auto& [k, v] : d.tags) {
            tags[k] = std::string(mlflow::detail::utf8_prefix(v, mlflow::max_tag_value_chars));
        }
        tags["ctml.run_id"] = d.info.id;
        tags["ctml.workspace"] = workspace_;
        tags["ctml.experiment"] = d.info.experiment;
        tags["ctml.state"] = std::string(run::to_string(d.info.state));
        if (!d.info.reason.empty()) {
            tags["ctml.reason"] =
                std::string(mlflow::detail::utf8_prefix(d.info.reason, mlflow::max_tag_value_chars));
        }
        if (!d.info.host.empty()) {
            tags["ctml.host"] = d.info.host;
        }
        tags["ctml.offline"] = d.info.offline ? "true" : "false";
        if (const auto name = d.tags.find("ctml.run_name"); name != d.tags.end()) {
            tags["mlflow.runName"] = name->second;
        }
        for (const dataset_ref& ds : d.datasets) {
            tags["ctml.dataset." + ds.name] = std::to_string(ds.version);
        }
        return {params, tags};
    }

    void push_values(const run_details& d, const std::string& remote, push_counts& n) {
        auto [params, tags] = wanted_values(d);
        const auto sent_params = state_.run_values(d.info.id, "param");
        const auto sent_tags = state_.run_values(d.info.id, "tag");
        std::vector<std::pair<std::string, std::string>> new_params, new_tags;
        for (const auto& [k, v] : params) {
            if (auto it = sent_params.find(k); it == sent_params.end() || it->second != v) {
                new_params.emplace_back(k, v);
            }
        }
        for (const auto& [k, v] : tags) {
            if (auto it = sent_tags.find(k); it == sent_tags.end() || it->second != v) {
                new_tags.emplace_back(k, v);
            }
        }
        static const std::vector<metric_point> none;
        for (std::size_t i = 0; i < new_params.size(); i += mlflow::max_params_per_batch) {
            const std::size_t j = std::min(new_params.size(), i + mlflow::max_params_per_batch);
            std::vector<std::pair<std::string, std::string>> part(new_params.begin() + static_cast<std::ptrdiff_t>(i),
                                                                  new_params.begin() + static_cast<std::ptrdiff_t>(j));
            api_.log_batch(remote, none, 0, 0, part, {});
            for (const auto& [k, v] : part) {
                state_.set_run_value(d.info.id, "param", k, v);
            }
            n.params += static_cast<std::int64_t>(part.size());
        }
        for (std::size_t i = 0; i < new_tags.size(); i += mlflow::max_tags_per_batch) {
            const std::size_t j = std::min(new_tags.size(), i + mlflow::max_tags_per_batch);
            std::vector<std::pair<std::string, std::string>> part(new_tags.begin() + static_cast<std::ptrdiff_t>(i),
                                                                  new_tags.begin() + static_cast<std::ptrdiff_t>(j));
            api_.log_batch(remote, none, 0, 0, {}, part);
            for (const auto& [k, v] : part) {
                state_.set_run_value(d.info.id, "tag", k, v);
            }
            n.tags += static_cast<std::int64_t>(part.size());
        }
    }

    void push_metrics(const run_details& d, const std::string& remote, push_counts& n) {
        for (const std::string& key : d.metric_names) {
            const std::int64_t sent = state_.series_sent(d.info.id, key);
            const std::vector<metric_point> points = local_->metrics(d.info.id, key);
            for (std::size_t i = static_cast<std::size_t>(sent); i < points.size();
                 i += mlflow::max_metrics_per_batch) {
                const std::size_t j = std::min(points.size(), i + mlflow::max_metrics_per_batch);
                api_.log_batch(remote, points, i, j, {}, {});
                state_.set_series_sent(d.info.id, key, static_cast<std::int64_t>(j));
                n.metric_points += static_cast<std::int64_t>(j - i);
            }
        }
    }

    void count_dry_run(const run_details& d, push_counts& n) {
        auto [params, tags] = wanted_values(d);
        const auto sp = state_.run_values(d.info.id, "param");
        const auto st = state_.run_values(d.info.id, "tag");
        for (const auto& [k, v] : params) {
            n.params += (sp.count(k) == 0 || sp.at(k) != v) ? 1 : 0;
        }
        for (const auto& [k, v] : tags) {
            n.tags += (st.count(k) == 0 || st.at(k) != v) ? 1 : 0;
        }
        for (const std::string& key : d.metric_names) {
            const auto total = static_cast<std::int64_t>(local_->metrics(d.info.id, key).size());
            n.metric_points += total - state_.series_sent(d.info.id, key);
        }
        if (run::is_terminal(d.info.state)) {
            const auto sf = state_.run_values(d.info.id, "file");
            for (const auto& [path, file] : run_files_to_send(d)) {
                if (sf.count(path) == 0 || sf.at(path) != stamp(file)) {
                    ++n.files;
                    std::error_code ec;
                    n.bytes += static_cast<std::int64_t>(std::filesystem::file_size(file, ec));
                }
            }
            ++n.runs_finalized;
        } else {
            ++n.runs_pending;
        }
    }

    /// artifact path -> local file: the run's files plus its environment and job description.
    std::vector<std::pair<std::string, std::filesystem::path>> run_files_to_send(const run_details& d) {
        std::vector<std::pair<std::string, std::filesystem::path>> out;
        const std::filesystem::path dir = local_->run_dir(d.info.id);
        for (const file_info& f : d.files) {
            out.emplace_back(f.path, dir / f.path);
        }
        const std::filesystem::path meta = root_ / "mlflow-meta" / d.info.id;
        std::error_code ec;
        std::filesystem::create_directories(meta, ec);
        const auto put = [&](const char* name, const std::string& text) {
            const auto p = meta / name;
            std::error_code fe;
            if (!std::filesystem::is_regular_file(p, fe) || io::read_file(p) != text) {
                io::write_file_atomic(p, text);
            }
            out.emplace_back(std::string("ctml/") + name, p);
        };
        put("environment.json", d.environment_json.empty() ? "{}" : d.environment_json);
        if (!d.job_json.empty()) {
            put("job.json", d.job_json);
        }
        return out;
    }

    static std::string number_text(double v) {
        std::string s;
        run::detail::append_json_number(s, v);
        if (!s.empty() && s.front() == '"') {
            s = s.substr(1, s.size() - 2); // NaN, Infinity, -Infinity
        }
        return s;
    }

    static std::string stamp(const std::filesystem::path& file) {
        struct ::stat st {};
        if (::stat(file.c_str(), &st) != 0) {
            return {};
        }
        return std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
               std::to_string(st.st_mtim.tv_nsec);
    }

    void push_run_files(const run_details& d, const mlflow::sync_state::run_row& row, push_counts& n) {
        const auto sent = state_.run_values(d.info.id, "file");
        for (const auto& [path, file] : run_files_to_send(d)) {
            const std::string s = stamp(file);
            if (s.empty() || (sent.count(path) != 0 && sent.at(path) == s)) {
                continue;
            }
            client_->upload_artifact(row.artifact_root + "/" + path, file);
            state_.set_run_value(d.info.id, "file", path, s);
            ++n.files;
            std::error_code ec;
            n.bytes += static_cast<std::int64_t>(std::filesystem::file_size(file, ec));
        }
    }

    // --- models --------------------------------------------------------------------------------

    push_counts push_model_unlocked(std::string_view name, bool dry) {
        push_counts n;
        const std::string model(name);
        std::vector<model_version> versions;
        for (const model_version& v : local_->model_versions(model)) {
            versions.push_back(local_->get_model_version(model, v.version));
        }
        const std::string description = [&] {
            for (const model_info& m : local_->models()) {
                if (m.name == model) {
                    return m.description;
                }
            }
            return std::string();
        }();
        if (!state_.model(model)) {
            ++n.models_created;
            if (!dry) {
                api_.ensure_registered_model(model, description);
                state_.set_model(model);
            }
        }
        auto mapped = state_.versions(model);
        std::set<std::int64_t> local_numbers;
        std::optional<std::vector<mlflow::remote_version>> remote; // fetched once, when needed
        for (const model_version& v : versions) {
            local_numbers.insert(v.version);
            if (mapped.count(v.version) == 0) {
                ++n.versions_created;
                if (dry) {
                    n.version_tags += static_cast<std::int64_t>(v.tags.size() + v.properties.size());
                    continue;
                }
                if (!remote) {
                    remote = api_.model_versions(model);
                }
                mapped[v.version] = create_remote_version(v, *remote, n);
            }
            if (!dry) {
                push_version_tags(v, mapped[v.version], n);
            }
        }
        // Versions deleted locally (numbers are never reused) go on the server too.
        for (const auto& [v, remote_v] : mapped) {
            if (local_numbers.count(v) == 0) {
                ++n.deleted;
                if (!dry) {
                    api_.delete_model_version(model, remote_v);
                    state_.delete_version(model, v);
                }
            }
        }
        push_aliases(model, versions, mapped, dry, n);
        return n;
    }

    std::int64_t create_remote_version(const model_version& v,
                                       const std::vector<mlflow::remote_version>& remote,
                                       push_counts& n) {
        const std::string number = std::to_string(v.version);
        for (const auto& r : remote) {
            const auto ws = r.tags.find("ctml.workspace");
            const auto ver = r.tags.find("ctml.version");
            if (ver != r.tags.end() && ver->second == number && ws != r.tags.end() &&
                ws->second == workspace_) {
                state_.set_version(v.name, v.version, r.version);
                return r.version; // created by a push killed before it was recorded
            }
        }
        // MLflow wants a version's source inside its run's artifacts (when it has a run).
        std::string run_remote, dir = "ctml-models/" + v.name + "/" + number;
        if (!v.run_id.empty()) {
            if (auto r = state_.run(v.run_id)) {
                run_remote = r->remote_id;
                dir = r->artifact_root + "/" + dir;
            }
        }
        for (const file_info& f : v.files) {
            client_->upload_artifact(dir + "/" + f.path, local_->object_path(f.sha256));
            ++n.files;
            n.bytes += static_cast<std::int64_t>(f.size);
        }
        std::vector<std::pair<std::string, std::string>> tags{
            {"ctml.version", number},
            {"ctml.workspace", workspace_},
            {"ctml.content_sha256", v.content_sha256}};
        if (!v.run_id.empty()) {
            tags.emplace_back("ctml.run_id", v.run_id);
        }
        const std::int64_t remote_v = api_.create_model_version(
            v.name, "mlflow-artifacts:/" + dir, run_remote, v.description, tags);
        state_.set_version(v.name, v.version, remote_v);
        return remote_v;
    }

    void push_version_tags(const model_version& v, std::int64_t remote_v, push_counts& n) {
        std::map<std::string, std::string> wanted = v.tags;
        for (const auto& [k, val] : v.properties) {
            wanted["ctml.property." + k] = val;
        }
        for (const auto& [k, val] : v.metrics) {
            wanted["ctml.metric." + k] = number_text(val);
        }
        const auto sent = state_.version_values(v.name, v.version, "tag");
        for (const auto& [k, val] : wanted) {
            const std::string shown(mlflow::detail::utf8_prefix(val, mlflow::max_tag_value_chars));
            if (auto it = sent.find(k); it != sent.end() && it->second == shown) {
                continue;
            }
            api_.set_model_version_tag(v.name, remote_v, k, shown);
            state_.set_version_value(v.name, v.version, "tag", k, shown);
            ++n.version_tags;
        }
        for (const auto& [k, val] : sent) {
            if (wanted.count(k) == 0) {
                api_.delete_model_version_tag(v.name, remote_v, k);
                state_.delete_version_value(v.name, v.version, "tag", k);
                ++n.deleted;
            }
        }
    }

    void push_aliases(const std::string& model, const std::vector<model_version>& versions,
                      const std::map<std::int64_t, std::int64_t>& mapped, bool dry,
                      push_counts& n) {
        std::map<std::string, std::int64_t> wanted; // alias -> ctml version
        for (const model_version& v : versions) {
            for (const std::string& a : v.aliases) {
                wanted[a] = v.version;
            }
        }
        const auto sent = state_.aliases(model);
        for (const auto& [alias, v] : wanted) {
            if (auto it = sent.find(alias); it != sent.end() && it->second == v) {
                continue;
            }
            ++n.aliases;
            if (!dry) {
                api_.set_alias(model, alias, mapped.at(v));
                state_.set_alias(model, alias, v);
            }
        }
        for (const auto& [alias, v] : sent) {
            if (wanted.count(alias) == 0) {
                ++n.deleted;
                if (!dry) {
                    api_.delete_alias(model, alias);
                    state_.delete_alias(model, alias);
                }
            }
        }
    }

    store* local_;
    std::filesystem::path root_;
    mlflow::client* client_;
    mlflow::api api_;
    mlflow::sync_state state_;
    std::string workspace_;
};

} // namespace ctml::workspace
