// SPDX-License-Identifier: MIT
// The MLflow store: a workspace whose config.json names a tracking server
// ("tracking_uri": "http://127.0.0.1:5000") keeps every record on that server, through MLflow's
// REST API (ctml/workspace/mlflow/client.hpp), and keeps a local journal beside it: the
// workspace folder's SQLite store (ctml/workspace/sqlite_store.hpp), which ingests the run's
// event file exactly as without a server.
//
// Why a journal and not calls straight from the trainer: the trainer half has no libcurl (it
// writes its event file, ctml/run/context.hpp), the training step never waits on the network,
// and nothing is lost while the server is away. Who sends:
//   - the run's forwarder: a run started in such a workspace launches `ctml sync --follow RUN`
//     beside itself (ctml/run/detail/forwarder.hpp), which ingests the event file about once a
//     second and sends the new points in log-batch requests of up to 1000, retrying with backoff
//     (0.5 s doubling to 10 s) while the server is away; after the run ended it keeps trying
//     for CTML_MLFLOW_FINAL_RETRY_S seconds (default 300), then leaves the run for `ctml sync`;
//   - every write through this store (create_run, set_run_state, model registration, tags,
//     aliases) is made in the journal first and sent at once; sync() (which every `ctml` verb
//     runs first) sends whatever is pending. An unreachable server leaves the change pending
//     (`ctml sync` sends it); a refusal (401, 403, 404, a limit) is thrown by the writes and by
//     `ctml sync`, naming the server, the call and what to do (sync() only warns: reads work
//     without the server).
// Reads (runs, metrics, files, registry) are answered from the journal, so `ctml` works offline;
// MLflow's UI and clients read the server.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "ctml/core/error.hpp"
#include "ctml/run/state.hpp"
#include "ctml/run/workspace_config.hpp"
#include "ctml/workspace/mlflow/client.hpp"
#include "ctml/workspace/sqlite_store.hpp"
#include "ctml/workspace/store.hpp"
#include "ctml/workspace/sync.hpp"
#include "ctml/workspace/types.hpp"

namespace ctml::workspace {

/// @brief The store of a workspace with a tracking server (see the top of this file).
class mlflow_store final : public store {
public:
    mlflow_store(const ::ctml::run::workspace_config& c, sqlite_store_options o = {})
        : local_(c.root, o), root_(c.root), name_(c.name),
          uri_(mlflow::normalize_tracking_uri(c.tracking_uri, c.config_path.string())) {}

    std::string describe() const override {
        return "mlflow:" + uri_ + " (journal " + local_.describe() + ")";
    }
    const std::string& tracking_uri() const noexcept { return uri_; }
    sqlite_store& journal() noexcept { return local_; }
    /// Why the last send was deferred (server unreachable); empty when it went through.
    const std::string& pending_reason() const noexcept { return pending_; }

    /// The pusher of this workspace to its server (created on first use; no request before).
    pusher& to_server() {
        if (!pusher_) {
            client_ = std::make_unique<mlflow::client>(uri_);
            pusher_ = std::make_unique<pusher>(local_, root_, *client_, name_);
        }
        return *pusher_;
    }

    /// Ingests the event files, then sends what is pending. Reads must keep working without
    /// the server, so here even a refusal (401, 403, 404, a limit) only defers: it is printed
    /// once to stderr as a warning and kept in pending_reason(); `ctml sync` and the writes
    /// below throw it.
    sync_report sync() override {
        sync_report r = local_.sync();
        try {
            send([&] { to_server().push(); });
        } catch (const mlflow::server_error& e) {
            pending_ = e.what();
            std::fprintf(stderr, "ctml: warning: not sent to the tracking server: %s\n", e.what());
        }
        return r;
    }
    sync_report sync_run(std::string_view run_id) override { return local_.sync_run(run_id); }

    std::vector<experiment_info> experiments() override { return local_.experiments(); }
    experiment_info ensure_experiment(std::string_view name) override {
        return local_.ensure_experiment(name);
    }
    run_info create_run(std::string_view experiment, run_state state,
                        std::string_view job_json) override {
        run_info r = local_.create_run(experiment, state, job_json);
        send([&] { to_server().push_run(r.id); });
        return r;
    }
    std::vector<run_info> runs(const run_filter& filter) override { return local_.runs(filter); }
    run_details get_run(std::string_view run_id) override { return local_.get_run(run_id); }
    void set_run_state(std::string_view run_id, run_state state,
                       std::string_view reason) override {
        local_.set_run_state(run_id, state, reason);
        send([&] { to_server().push_run(run_id); });
    }
    std::vector<metric_point> metrics(std::string_view run_id,
                                      std::optional<std::string_view> name) override {
        return local_.metrics(run_id, name);
    }
    std::filesystem::path run_dir(std::string_view run_id) override {
        return local_.run_dir(run_id);
    }

    file_info put_object(const std::filesystem::path& file) override {
        return local_.put_object(file);
    }
    std::filesystem::path object_path(std::string_view sha256) override {
        return local_.object_path(sha256);
    }

    model_version add_model_version(const model_registration& reg,
                                    const std::vector<file_info>& files) override {
        model_version v = local_.add_model_version(reg, files);
        send([&] {
            if (reg.run_id && !reg.run_id->empty()) {
                to_server().push_run(*reg.run_id); // so the version links to the MLflow run
            }
            to_server().push_model(v.name);
        });
        return v;
    }
    std::vector<model_info> models() override { return local_.models(); }
    std::vector<model_version> model_versions(std::string_view name) override {
        return local_.model_versions(name);
    }
    model_version get_model_version(std::string_view name, std::int64_t version) override {
        return local_.get_model_version(name, version);
    }
    std::int64_t resolve_model_alias(std::string_view name, std::string_view alias) override {
        return local_.resolve_model_alias(name, alias);
    }
    void set_model_alias(std::string_view name, std::string_view alias,
                         std::int64_t version) override {
        local_.set_model_alias(name, alias, version);
        send([&] { to_server().push_model(name); });
    }
    void delete_model_alias(std::string_view name, std::string_view alias) override {
        local_.delete_model_alias(name, alias);
        send([&] { to_server().push_model(name); });
    }
    void set_model_tag(std::string_view name, std::int64_t version, std::string_view key,
                       std::string_view value) override {
        local_.set_model_tag(name, version, key, value);
        send([&] { to_server().push_model(name); });
    }
    void delete_model_tag(std::string_view name, std::int64_t version,
                          std::string_view key) override {
        local_.delete_model_tag(name, version, key);
        send([&] { to_server().push_model(name); });
    }
    void add_model_property(std::string_view name, std::int64_t version, std::string_view key,
                            std::string_view value) override {
        local_.add_model_property(name, version, key, value);
        send([&] { to_server().push_model(name); });
    }
    void delete_model_version(std::string_view name, std::int64_t version) override {
        local_.delete_model_version(name, version);
        send([&] { to_server().push_model(name); });
    }

    // Datasets stay in the journal: MLflow's REST API has no dataset registry with files.
    dataset_version add_dataset_version(std::string_view name, std::string_view description,
                                        const std::vector<dataset_file>& files,
                                        bool create_new_version) override {
        return local_.add_dataset_version(name, description, files, create_new_version);
    }
    std::vector<dataset_info> datasets() override { return local_.datasets(); }
    std::vector<dataset_version> dataset_versions(std::string_view name) override {
        return local_.dataset_versions(name);
    }
    dataset_version get_dataset_version(std::string_view name, std::int64_t version) override {
        return local_.get_dataset_version(name, version);
    }

private:
    /// Runs `f`; an unreachable server (or a 5xx) leaves the change pending in the journal,
    /// anything else is the caller's to see.
    template <class F>
    void send(F&& f) {
        try {
            f();
            pending_.clear();
        } catch (const mlflow::server_error& e) {
            if (!e.transient()) {
                throw;
            }
            pending_ = e.what();
        }
    }

    sqlite_store local_;
    std::filesystem::path root_;
    std::string name_;
    std::string uri_;
    std::string pending_{};
    std::unique_ptr<mlflow::client> client_{};
    std::unique_ptr<pusher> pusher_{};
};

/// @brief How a run's forwarder behaves (`ctml sync --follow RUN`).
struct follow_options {
    std::chrono::milliseconds poll{1000};        ///< how often the event file is ingested
    std::chrono::milliseconds backoff_min{500};  ///< first wait after a failed send
    std::chrono::milliseconds backoff_max{10000};
    /// After the run ended: how long to keep trying an unreachable server before leaving the
    /// rest to `ctml sync` (CTML_MLFLOW_FINAL_RETRY_S overrides it).
    std::chrono::seconds final_retry{300};
    std::FILE* log = nullptr;                    ///< one line per state change (no secrets)
};

/// @brief Follows run `run_id` of workspace `ws` (its store an mlflow_store) until it is
/// terminal and everything is on the server: returns 0; 75 when the server stayed away for
/// final_retry after the run ended (the run is left for `ctml sync`). A refusal (401, 403,
/// 404, a limit) is thrown.
inline int follow_run(mlflow_store& ws, std::string_view run_id, follow_options o = {}) {
    if (const char* env = std::getenv("CTML_MLFLOW_FINAL_RETRY_S"); env != nullptr && *env) {
        o.final_retry = std::chrono::seconds(std::strtol(env, nullptr, 10));
    }
    const auto say = [&](const std::string& line) {
        if (o.log != nullptr) {
            std::fprintf(o.log, "ctml sync --follow %s: %s\n", std::string(run_id).c_str(),
                         line.c_str());
            std::fflush(o.log);
        }
    };
    auto backoff = o.backoff_min;
    std::optional<std::chrono::steady_clock::time_point> ended_at;
    bool waiting = false;
    std::int64_t points = 0;
    for (;;) {
        ws.journal().sync_run(run_id);
        const bool terminal = run::is_terminal(ws.journal().get_run(run_id).info.state);
        if (terminal && !ended_at) {
            ended_at = std::chrono::steady_clock::now();
        }
        try {
            const push_counts n = ws.to_server().push_run(run_id);
            points += n.metric_points;
            if (waiting) {
                say("server " + ws.tracking_uri() + " answers again; sending");
                waiting = false;
            }
            backoff = o.backoff_min;
            if (terminal) {
                say("run finalized on " + ws.tracking_uri() + " (" + std::to_string(points) +
                    " metric points sent by this forwarder)");
                return 0;
            }
            std::this_thread::sleep_for(o.poll);
        } catch (const mlflow::server_error& e) {
            if (!e.transient()) {
                throw;
            }
            if (!waiting) {
                say(std::string(e.what()));
                waiting = true;
            }
            if (ended_at && std::chrono::steady_clock::now() - *ended_at > o.final_retry) {
                say("the run ended and the server stayed away for " +
                    std::to_string(o.final_retry.count()) +
                    " s; its points stay in the journal: run `ctml sync` once the server is back");
                return 75;
            }
            std::this_thread::sleep_for(backoff);
            backoff = std::min(backoff * 2, o.backoff_max);
        }
    }
}

} // namespace ctml::workspace
