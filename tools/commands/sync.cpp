// SPDX-License-Identifier: MIT
// ctml sync [--to URI] [--experiment E] [--dry-run]: pushes the workspace's experiments, runs
// (params, tags, every metric point, files) and registered models with their versions to an
// MLflow tracking server: --to, else the workspace's own tracking_uri. Idempotent and resumable
// (ctml/workspace/sync.hpp). `ctml sync --follow RUN` is the run's forwarder, which a run of an
// MLflow workspace starts by itself (ctml/run/detail/forwarder.hpp).
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <ctml/workspace/mlflow_store.hpp>
#include <ctml/workspace/sqlite_store.hpp>
#include <ctml/workspace/sync.hpp>
#include <ctml/workspace/workspace.hpp>

#include "cli/common.hpp"
#include "cli/format.hpp"

namespace ctml::cli {

namespace {

struct sync_args {
    std::string to;
    std::string experiment;
    std::string follow;
    bool dry_run = false;
};

void print_counts(const globals& g, const std::string& server, const workspace::push_counts& n,
                  bool dry) {
    if (g.json) {
        auto w = json_out();
        w.begin_object()
            .field("server", server)
            .field("dry_run", dry)
            .field("experiments_created", n.experiments_created)
            .field("runs_created", n.runs_created)
            .field("runs_finalized", n.runs_finalized)
            .field("runs_pending", n.runs_pending)
            .field("metric_points", n.metric_points)
            .field("params", n.params)
            .field("tags", n.tags)
            .field("files", n.files)
            .field("bytes", n.bytes)
            .field("models_created", n.models_created)
            .field("versions_created", n.versions_created)
            .field("version_tags", n.version_tags)
            .field("aliases", n.aliases)
            .field("deleted", n.deleted)
            .field("requests", n.requests)
            .end_object();
        print_json(w);
        return;
    }
    std::cout << (dry ? "Would send to " : "Sent to ") << server << ":\n";
    print_fields(std::cout, {{"experiments created", std::to_string(n.experiments_created)},
                             {"runs created", std::to_string(n.runs_created)},
                             {"runs finalized", std::to_string(n.runs_finalized)},
                             {"runs still live", std::to_string(n.runs_pending)},
                             {"metric points", std::to_string(n.metric_points)},
                             {"params", std::to_string(n.params)},
                             {"tags", std::to_string(n.tags)},
                             {"files", std::to_string(n.files) + " (" +
                                           format_size(static_cast<std::uint64_t>(n.bytes)) + ")"},
                             {"models created", std::to_string(n.models_created)},
                             {"versions created", std::to_string(n.versions_created)},
                             {"version tags", std::to_string(n.version_tags)},
                             {"aliases", std::to_string(n.aliases)},
                             {"deleted", std::to_string(n.deleted)},
                             {"write requests", std::to_string(n.requests)}});
}

void sync_command(const globals& g, const sync_args& a) {
    workspace::workspace ws = open_workspace(g, false);
    auto* remote = dynamic_cast<workspace::mlflow_store*>(&ws.backend());
    workspace::store* journal = remote != nullptr ? static_cast<workspace::store*>(&remote->journal())
                                                  : &ws.backend();
    journal->sync(); // ingest event files first (and fail runs whose writer died)
    if (!a.follow.empty()) {
        if (remote == nullptr || !a.to.empty()) {
            throw config_error("sync --follow: only for a workspace whose config.json names a "
                               "tracking_uri (and without --to)");
        }
        workspace::follow_options o;
        o.log = stdout;
        const int rc = workspace::follow_run(*remote, a.follow, o);
        std::fflush(stdout);
        std::exit(rc);
    }
    std::unique_ptr<workspace::mlflow::client> own_client;
    std::unique_ptr<workspace::pusher> own_pusher;
    workspace::pusher* p = nullptr;
    if (!a.to.empty()) {
        own_client = std::make_unique<workspace::mlflow::client>(
            workspace::mlflow::normalize_tracking_uri(a.to, "--to"));
        own_pusher = std::make_unique<workspace::pusher>(*journal, ws.root(), *own_client, ws.name());
        p = own_pusher.get();
    } else if (remote != nullptr) {
        p = &remote->to_server();
    } else {
        throw config_error("sync: workspace " + ws.name() + " names no tracking server: pass "
                           "--to http://HOST:PORT, or add \"tracking_uri\" to " +
                           ws.config().config_path.string());
    }
    workspace::push_options o;
    if (!a.experiment.empty()) {
        o.experiment = a.experiment;
    }
    o.dry_run = a.dry_run;
    const workspace::push_counts n = p->push(o);
    print_counts(g, p->client().uri(), n, a.dry_run);
}

} // namespace

void add_sync_commands(CLI::App& app, globals& g) {
    auto args = std::make_shared<sync_args>();
    CLI::App* sync = app.add_subcommand(
        "sync", "Push experiments, runs and registered models to an MLflow tracking server "
                "(idempotent: a second sync sends nothing new)");
    sync->add_option("--to", args->to,
                     "Tracking server URI (http://HOST:PORT); default: the workspace's "
                     "tracking_uri. Credentials: MLFLOW_TRACKING_USERNAME/PASSWORD or "
                     "MLFLOW_TRACKING_TOKEN")
        ->type_name("URI");
    sync->add_option("--experiment", args->experiment, "Only this experiment's runs")
        ->type_name("E");
    sync->add_flag("--dry-run", args->dry_run, "Count what would be sent; send nothing");
    sync->add_option("--follow", args->follow,
                     "Forward run RUN while it runs (started by the run itself)")
        ->type_name("RUN")
        ->group(""); // hidden: the forwarder's own entry point
    sync->callback([&g, args] { sync_command(g, *args); });
}

} // namespace ctml::cli
