// SPDX-License-Identifier: MIT
// The MLflow REST calls ctml makes, typed: experiments, runs (create, update, search, log-batch
// split at the server's limits), registered models, model versions, tags and aliases, and the
// artifact root of a run. Request bodies are built with the event format's JSON helpers, which
// spell NaN and +-inf as MLflow's protobuf JSON parser reads them ("NaN", "Infinity",
// "-Infinity").
#pragma once
#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "ctml/core/error.hpp"
#include "ctml/run/event.hpp"
#include "ctml/workspace/mlflow/client.hpp"
#include "ctml/workspace/types.hpp"

namespace ctml::workspace::mlflow {

/// MLflow's limits per log-batch request and per value (mlflow/utils/validation.py).
inline constexpr std::size_t max_metrics_per_batch = 1000;
inline constexpr std::size_t max_params_per_batch = 100;
inline constexpr std::size_t max_tags_per_batch = 100;
inline constexpr std::size_t max_param_value_chars = 6000;
inline constexpr std::size_t max_tag_value_chars = 8000;

/// @brief A run as created on the server.
struct remote_run {
    std::string id{};
    std::string artifact_uri{}; ///< "mlflow-artifacts:/1/<id>/artifacts"
};

/// @brief A model version on the server (only what sync needs).
struct remote_version {
    std::int64_t version = 0;
    std::map<std::string, std::string> tags{};
};

namespace detail {

using run::detail::append_json_int;
using run::detail::append_json_number;
using run::detail::append_json_string;

inline void field(std::string& out, std::string_view key, std::string_view value) {
    if (out.back() != '{') {
        out += ',';
    }
    append_json_string(out, key);
    out += ':';
    append_json_string(out, value);
}

inline void field_int(std::string& out, std::string_view key, std::int64_t value) {
    if (out.back() != '{') {
        out += ',';
    }
    append_json_string(out, key);
    out += ':';
    append_json_int(out, value);
}

inline void key_values(std::string& out, std::string_view key,
                       const std::vector<std::pair<std::string, std::string>>& kv) {
    if (out.back() != '{') {
        out += ',';
    }
    append_json_string(out, key);
    out += ":[";
    for (std::size_t i = 0; i < kv.size(); ++i) {
        out += i == 0 ? "{" : ",{";
        field(out, "key", kv[i].first);
        field(out, "value", kv[i].second);
        out += '}';
    }
    out += ']';
}

/// The first `n` characters (code points, as Python counts them) of UTF-8 text.
inline std::string_view utf8_prefix(std::string_view s, std::size_t n) {
    std::size_t chars = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
            if (chars == n) {
                return s.substr(0, i);
            }
            ++chars;
        }
    }
    return s;
}

inline std::size_t utf8_length(std::string_view s) {
    std::size_t chars = 0;
    for (const char c : s) {
        chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
    }
    return chars;
}

} // namespace detail

/// @brief The typed calls (see the top of this file) over one client.
class api {
public:
    explicit api(client& c) : c_(&c) {}
    client& raw() noexcept { return *c_; }

    /// The experiment's id, created when missing (a concurrent creator is tolerated).
    std::string ensure_experiment(std::string_view name) {
        if (auto id = experiment_id(name)) {
            return *id;
        }
        std::string body = "{";
        detail::field(body, "name", name);
        body += '}';
        try {
            json_answer a(c_->send_json("POST", "/api/2.0/mlflow/experiments/create", body));
            return a.string_at("experiment_id");
        } catch (const server_error& e) {
            if (e.mlflow_code() == "RESOURCE_ALREADY_EXISTS") {
                if (auto id = experiment_id(name)) {
                    return *id;
                }
            }
            throw;
        }
    }

    std::optional<std::string> experiment_id(std::string_view name) {
        try {
            json_answer a(c_->get("/api/2.0/mlflow/experiments/get-by-name",
                                  {{"experiment_name", std::string(name)}}));
            return a.string_at("experiment.experiment_id");
        } catch (const server_error& e) {
            if (e.mlflow_code() == "RESOURCE_DOES_NOT_EXIST" || e.status() == 404) {
                return std::nullopt;
            }
            throw;
        }
    }

    remote_run create_run(std::string_view experiment_id, std::string_view run_name,
                          timestamp_ms start_time,
                          const std::vector<std::pair<std::string, std::string>>& tags) {
        std::string body = "{";
        detail::field(body, "experiment_id", experiment_id);
        detail::field(body, "run_name", run_name);
        detail::field_int(body, "start_time", start_time);
        detail::key_values(body, "tags", tags);
        body += '}';
        json_answer a(c_->send_json("POST", "/api/2.0/mlflow/runs/create", body));
        return {a.string_at("run.info.run_id"), a.string_at("run.info.artifact_uri")};
    }

    /// The run with tag `key` = `value` in the experiment, if any (not deleted).
    std::optional<remote_run> find_run_by_tag(std::string_view experiment_id, std::string_view key,
                                              std::string_view value) {
        std::string filter = "tags.`" + std::string(key) + "` = '" + std::string(value) + "'";
        std::string body = "{\"experiment_ids\":[";
        detail::append_json_string(body, experiment_id);
        body += "]";
        detail::field(body, "filter", filter);
        body += ",\"max_results\":2,\"run_view_type\":\"ACTIVE_ONLY\"}";
        json_answer a(c_->send_json("POST", "/api/2.0/mlflow/runs/search", body));
        simdjson::dom::array runs;
        if (!a.array_at("runs", runs) || runs.size() == 0) {
            return std::nullopt;
        }
        remote_run r;
        std::string_view s;
        if (!runs.at(0).at_pointer("/info/run_id").get_string().get(s)) {
            r.id = std::string(s);
        }
        if (!runs.at(0).at_pointer("/info/artifact_uri").get_string().get(s)) {
            r.artifact_uri = std::string(s);
        }
        return r;
    }

    remote_run get_run(std::string_view run_id) {
        json_answer a(c_->get("/api/2.0/mlflow/runs/get", {{"run_id", std::string(run_id)}}));
        return {a.string_at("run.info.run_id"), a.string_at("run.info.artifact_uri")};
    }

    /// status: RUNNING, SCHEDULED, FINISHED, FAILED, KILLED; end_time 0: not sent.
    void update_run(std::string_view run_id, std::string_view status, timestamp_ms end_time) {
        std::string body = "{";
        detail::field(body, "run_id", run_id);
        detail::field(body, "status", status);
        if (end_time > 0) {
            detail::field_int(body, "end_time", end_time);
        }
        body += '}';
        c_->send_json("POST", "/api/2.0/mlflow/runs/update", body);
    }

    /// One log-batch request; the caller keeps within the limits (log_batch_split does).
    void log_batch(std::string_view run_id, const std::vector<metric_point>& metrics,
                   std::size_t from, std::size_t to,
                   const std::vector<std::pair<std::string, std::string>>& params,
                   const std::vector<std::pair<std::string, std::string>>& tags) {
        std::string body = "{";
        detail::field(body, "run_id", run_id);
        if (to > from) {
            body += ",\"metrics\":[";
            for (std::size_t i = from; i < to; ++i) {
                const metric_point& p = metrics[i];
                body += i == from ? "{" : ",{";
                detail::field(body, "key", p.name);
                body += ",\"value\":";
                detail::append_json_number(body, p.value);
                detail::field_int(body, "timestamp", p.timestamp);
                detail::field_int(body, "step", p.step);
                body += '}';
            }
            body += ']';
        }
        if (!params.empty()) {
            detail::key_values(body, "params", params);
        }
        if (!tags.empty()) {
            detail::key_values(body, "tags", tags);
        }
        body += '}';
        c_->send_json("POST", "/api/2.0/mlflow/runs/log-batch", body);
    }

    void delete_run_tag(std::string_view run_id, std::string_view key) {
        std::string body = "{";
        detail::field(body, "run_id", run_id);
        detail::field(body, "key", key);
        body += '}';
        c_->send_json("POST", "/api/2.0/mlflow/runs/delete-tag", body);
    }

    // --- registry ------------------------------------------------------------------------------

    void ensure_registered_model(std::string_view name, std::string_view description) {
        std::string body = "{";
        detail::field(body, "name", name);
        if (!description.empty()) {
            detail::field(body, "description", description);
        }
        body += '}';
        try {
            c_->send_json("POST", "/api/2.0/mlflow/registered-models/create", body);
        } catch (const server_error& e) {
            if (e.mlflow_code() != "RESOURCE_ALREADY_EXISTS") {
                throw;
            }
        }
    }

    /// Every version of `name` with its tags.
    std::vector<remote_version> model_versions(std::string_view name) {
        std::vector<remote_version> out;
        std::string token;
        for (;;) {
            std::string filter = "name = '" + std::string(name) + "'";
            std::vector<std::pair<std::string, std::string>> q{{"filter", filter},
                                                               {"max_results", "200"}};
            if (!token.empty()) {
                q.emplace_back("page_token", token);
            }
            json_answer a(c_->get("/api/2.0/mlflow/model-versions/search", q));
            simdjson::dom::array arr;
            if (a.array_at("model_versions", arr)) {
                for (simdjson::dom::element mv : arr) {
                    remote_version v;
                    std::string_view s;
                    if (!mv["version"].get_string().get(s)) {
                        v.version = std::stoll(std::string(s));
                    }
                    simdjson::dom::array tags;
                    if (!mv["tags"].get_array().get(tags)) {
                        for (simdjson::dom::element t : tags) {
                            std::string_view k, val;
                            if (!t["key"].get_string().get(k) && !t["value"].get_string().get(val)) {
                                v.tags.emplace(std::string(k), std::string(val));
                            }
                        }
                    }
                    out.push_back(std::move(v));
                }
            }
            token = a.string_at("next_page_token");
            if (token.empty()) {
                return out;
            }
        }
    }

    std::int64_t create_model_version(std::string_view name, std::string_view source,
                                      std::string_view run_id, std::string_view description,
                                      const std::vector<std::pair<std::string, std::string>>& tags) {
        std::string body = "{";
        detail::field(body, "name", name);
        detail::field(body, "source", source);
        if (!run_id.empty()) {
            detail::field(body, "run_id", run_id);
        }
        if (!description.empty()) {
            detail::field(body, "description", description);
        }
        detail::key_values(body, "tags", tags);
        body += '}';
        json_answer a(c_->send_json("POST", "/api/2.0/mlflow/model-versions/create", body));
        const std::string v = a.string_at("model_version.version");
        return v.empty() ? 0 : std::stoll(v);
    }

    void set_model_version_tag(std::string_view name, std::int64_t version, std::string_view key,
                               std::string_view value) {
        std::string body = "{";
        detail::field(body, "name", name);
        detail::field(body, "version", std::to_string(version));
        detail::field(body, "key", key);
        detail::field(body, "value", value);
        body += '}';
        c_->send_json("POST", "/api/2.0/mlflow/model-versions/set-tag", body);
    }

    void delete_model_version_tag(std::string_view name, std::int64_t version,
                                  std::string_view key) {
        std::string body = "{";
        detail::field(body, "name", name);
        detail::field(body, "version", std::to_string(version));
        detail::field(body, "key", key);
        body += '}';
        ignore_missing([&] {
            c_->send_json("DELETE", "/api/2.0/mlflow/model-versions/delete-tag", body);
        });
    }

    void set_alias(std::string_view name, std::string_view alias, std::int64_t version) {
        std::string body = "{";
        detail::field(body, "name", name);
        detail::field(body, "alias", alias);
        detail::field(body, "version", std::to_string(version));
        body += '}';
        c_->send_json("POST", "/api/2.0/mlflow/registered-models/alias", body);
    }

    void delete_alias(std::string_view name, std::string_view alias) {
        std::string body = "{";
        detail::field(body, "name", name);
        detail::field(body, "alias", alias);
        body += '}';
        ignore_missing(
            [&] { c_->send_json("DELETE", "/api/2.0/mlflow/registered-models/alias", body); });
    }

    void delete_model_version(std::string_view name, std::int64_t version) {
        std::string body = "{";
        detail::field(body, "name", name);
        detail::field(body, "version", std::to_string(version));
        body += '}';
        ignore_missing(
            [&] { c_->send_json("DELETE", "/api/2.0/mlflow/model-versions/delete", body); });
    }

private:
    template <class F>
    static void ignore_missing(F&& f) {
        try {
            f();
        } catch (const server_error& e) {
            if (e.mlflow_code() != "RESOURCE_DOES_NOT_EXIST" && e.status() != 404) {
                throw;
            }
        }
    }
    client* c_;
};

/// @brief The proxied-artifact path of an artifact URI: "mlflow-artifacts:/1/x/artifacts" and
/// "mlflow-artifacts://host:port/1/x/artifacts" give "1/x/artifacts". Any other scheme means
/// the server does not proxy artifacts, which ctml needs (it talks to no object store itself).
inline std::string artifact_root(std::string_view uri, std::string_view server,
                                 std::string_view what) {
    constexpr std::string_view scheme = "mlflow-artifacts:";
    if (uri.rfind(scheme, 0) != 0) {
        throw workspace_error("MLflow server " + std::string(server) + ": " + std::string(what) +
                              " has artifact location \"" + std::string(uri) +
                              "\", not served by the server: start it with "
                              "--artifacts-destination DIR (proxied artifacts, the default "
                              "since MLflow 2) so that ctml can upload through it");
    }
    std::string_view rest = uri.substr(scheme.size());
    if (rest.rfind("//", 0) == 0) {
        rest.remove_prefix(2);
        const auto slash = rest.find('/');
        rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
    }
    while (!rest.empty() && rest.front() == '/') {
        rest.remove_prefix(1);
    }
    return std::string(rest);
}

} // namespace ctml::workspace::mlflow
