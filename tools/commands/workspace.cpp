// SPDX-License-Identifier: MIT
// ctml workspace init [DIR] [--name N] | ctml workspace show | ctml experiment list
#include <filesystem>
#include <iostream>
#include <map>
#include <string>

#include <ctml/run/names.hpp>
#include <ctml/run/state.hpp>
#include <ctml/workspace/workspace.hpp>

#include "cli/common.hpp"
#include "cli/format.hpp"
#include "cli/json_out.hpp"

namespace ctml::cli {

namespace {

struct init_args {
    std::string dir = ".";
    std::string name;
    std::string description;
};

void workspace_init(const globals& g, const init_args& a) {
    const std::filesystem::path dir = std::filesystem::absolute(a.dir).lexically_normal();
    std::string name = a.name;
    if (name.empty()) {
        // The folder's name, as the service names a workspace after its resource by default.
        name = (dir.has_filename() ? dir.filename() : dir.parent_path().filename()).string();
        try {
            run::check_entity_name("workspace", name);
        } catch (const workspace_error& e) {
            throw config_error(std::string(e.what()) + "; the name defaults to the folder's " +
                               "name: pass --name NAME");
        }
    }
    workspace::workspace ws = workspace::create(dir, name, a.description);
    if (g.json) {
        auto w = json_out();
        w.begin_object()
            .field("name", ws.name())
            .field("config", ws.config().config_path.string())
            .field("root", ws.root().string())
            .field("store", ws.backend().describe())
            .end_object();
        print_json(w);
        return;
    }
    std::cout << "Workspace " << ws.name() << " in " << ws.root().string() << " (config "
              << ws.config().config_path.string() << ")\n";
}

void workspace_show(const globals& g) {
    workspace::workspace ws = open_workspace(g);
    const auto experiments = ws.experiments();
    const auto runs = ws.runs();
    const auto models = ws.models();
    const auto datasets = ws.backend().datasets();
    std::map<std::string, std::int64_t> by_state;
    for (const auto& r : runs) {
        ++by_state[std::string(run::to_string(r.state))];
    }
    if (g.json) {
        auto w = json_out();
        w.begin_object()
            .field("name", ws.name())
            .field("description", ws.config().description)
            .field("config", ws.config().config_path.string())
            .field("root", ws.root().string())
            .field("store", ws.backend().describe())
            .field("experiments", experiments.size())
            .field("runs", runs.size());
        w.key("runs_by_state").begin_object();
        for (const auto& [state, n] : by_state) {
            w.field(state, n);
        }
        w.end_object().field("models", models.size()).field("datasets", datasets.size());
        w.end_object();
        print_json(w);
        return;
    }
    std::vector<std::string> states;
    for (const auto& [state, n] : by_state) {
        states.push_back(std::to_string(n) + " " + state);
    }
    print_fields(std::cout, {{"Workspace", ws.name()},
                             {"Description", ws.config().description.empty()
                                                 ? "-"
                                                 : ws.config().description},
                             {"Config", ws.config().config_path.string()},
                             {"Store", ws.backend().describe()},
                             {"Experiments", std::to_string(experiments.size())},
                             {"Runs", std::to_string(runs.size()) +
                                          (states.empty() ? "" : " (" + join(states) + ")")},
                             {"Models", std::to_string(models.size())},
                             {"Datasets", std::to_string(datasets.size())}});
}

void experiment_list(const globals& g) {
    workspace::workspace ws = open_workspace(g);
    const auto experiments = ws.experiments();
    if (g.json) {
        auto w = json_out();
        w.begin_array();
        for (const auto& e : experiments) {
            w.begin_object().field("name", e.name).field("runs", e.run_count);
            json_time(w, "created", e.created);
            w.end_object();
        }
        w.end_array();
        print_json(w);
        return;
    }
    if (experiments.empty()) {
        std::cout << "No experiments in workspace " << ws.name() << ".\n";
        return;
    }
    table t({"EXPERIMENT", "RUNS", "CREATED"});
    for (const auto& e : experiments) {
        t.add({e.name, std::to_string(e.run_count), format_time(e.created)});
    }
    t.print(std::cout);
}

} // namespace

void add_workspace_commands(CLI::App& app, globals& g) {
    CLI::App* ws = app.add_subcommand("workspace", "Create or describe the workspace");
    ws->require_subcommand(1);

    auto init = std::make_shared<init_args>();
    CLI::App* i = ws->add_subcommand("init", "Create a workspace (DIR/config.json and its store)");
    i->add_option("DIR", init->dir, "Folder of the workspace (created if missing)")
        ->capture_default_str();
    i->add_option("--name", init->name, "Workspace name (default: the folder's name)");
    i->add_option("--description", init->description, "A description kept in config.json");
    i->callback([&g, init] { workspace_init(g, *init); });

    ws->add_subcommand("show", "Name, config, store and counts of the workspace")
        ->callback([&g] { workspace_show(g); });
}

void add_experiment_commands(CLI::App& app, globals& g) {
    CLI::App* e = app.add_subcommand("experiment", "Experiments (named groups of runs)");
    e->require_subcommand(1);
    e->add_subcommand("list", "Experiments with their run counts")
        ->callback([&g] { experiment_list(g); });
}

} // namespace ctml::cli
