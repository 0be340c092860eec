// SPDX-License-Identifier: MIT
// ctml run list | show | metrics | files | download
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ctml/io/json_read.hpp>
#include <ctml/run/state.hpp>
#include <ctml/workspace/workspace.hpp>

#include "cli/common.hpp"
#include "cli/format.hpp"
#include "cli/json_out.hpp"

namespace ctml::cli {

namespace {

std::string all_state_names() {
    std::vector<std::string> names;
    for (const auto s : run::all_run_states) {
        names.emplace_back(run::to_string(s));
    }
    return join(names);
}

std::string state_text(const workspace::run_info& r) {
    std::string s(run::to_string(r.state));
    if (!r.reason.empty() && (r.state == run::run_state::failed ||
                              r.state == run::run_state::canceled)) {
        s += " (" + r.reason + ")";
    }
    return s;
}

std::int64_t duration_ms(const workspace::run_info& r) {
    if (r.started == 0) {
        return 0;
    }
    return (r.ended != 0 ? r.ended : r.last_seen) - r.started;
}

struct list_args {
    std::string experiment;
    std::string state;
};

void run_list(const globals& g, const list_args& a) {
    workspace::run_filter filter;
    if (!a.experiment.empty()) {
        filter.experiment = a.experiment;
    }
    if (!a.state.empty()) {
        filter.state = run::parse_run_state(a.state);
        if (!filter.state) {
            throw config_error("--state \"" + a.state + "\": expected one of " +
                               all_state_names());
        }
    }
    workspace::workspace ws = open_workspace(g);
    auto runs = ws.runs(filter);
    std::stable_sort(runs.begin(), runs.end(),
                     [](const auto& x, const auto& y) { return x.created < y.created; });
    if (g.json) {
        auto w = json_out();
        w.begin_array();
        for (const auto& r : runs) {
            w.begin_object();
            json_run_info_fields(w, r);
            w.end_object();
        }
        w.end_array();
        print_json(w);
        return;
    }
    if (runs.empty()) {
        std::cout << "No runs" << (a.experiment.empty() ? "" : " in experiment " + a.experiment)
                  << (a.state.empty() ? "" : " in state " + a.state) << ".\n";
        return;
    }
    // The reason goes last, shortened: a list is read across (`ctml run show` has it whole).
    table t({"RUN", "EXPERIMENT", "STATE", "CREATED", "DURATION", "HOST", "REASON"});
    for (const auto& r : runs) {
        std::string reason = r.reason;
        if (reason.size() > 48) {
            std::size_t cut = 45;
            while (cut > 0 && (static_cast<unsigned char>(reason[cut]) & 0xC0) == 0x80) {
                --cut; // not inside a UTF-8 sequence
            }
            reason = reason.substr(0, cut) + "...";
        }
        t.add({r.id, r.experiment, std::string(run::to_string(r.state)), format_time(r.created),
               format_duration(duration_ms(r)), r.host.empty() ? "-" : r.host, reason});
    }
    t.print(std::cout);
}

/// Flat "key: value" lines of the environment object (nested values as compact JSON).
std::vector<std::pair<std::string, std::string>> environment_fields(const std::string& json) {
    std::vector<std::pair<std::string, std::string>> out;
    if (json.empty()) {
        return out;
    }
    const io::json_document doc = io::parse_json(json, "environment");
    if (!doc.root().is_object()) {
        return out;
    }
    const simdjson::dom::object object = doc.root().element().get_object().value_unsafe();
    for (const auto field : object) {
        const auto& v = field.value;
        std::string text;
        if (v.is_string()) {
            text = std::string(v.get_string().value_unsafe());
        } else {
            text = simdjson::minify(v);
        }
        out.emplace_back(std::string(field.key), text);
    }
    return out;
}

void run_show(const globals& g, const std::string& id) {
    workspace::workspace ws = open_workspace(g);
    const workspace::run_details d = ws.get_run(id);
    const auto points = ws.metrics(id);
    if (g.json) {
        auto w = json_out();
        w.begin_object();
        json_run_info_fields(w, d.info);
        w.key("history").begin_array();
        for (const auto& h : d.history) {
            w.begin_object().field("state", std::string(run::to_string(h.state)));
            json_time(w, "time", h.time);
            w.field("time_ms", h.time);
            w.key("reason");
            if (h.reason.empty()) {
                w.null();
            } else {
                w.value(h.reason);
            }
            w.end_object();
        }
        w.end_array();
        json_string_map(w, "params", d.params);
        json_string_map(w, "tags", d.tags);
        w.key("environment");
        json_embed(w, d.environment_json, "run " + id + " environment");
        w.key("job");
        json_embed(w, d.job_json, "run " + id + " job description");
        json_metric_series(w, "metrics", points);
        w.key("images").begin_array();
        for (const auto& im : d.images) {
            w.begin_object().field("name", im.name).field("path", im.path);
            json_time(w, "time", im.timestamp);
            w.end_object();
        }
        w.end_array();
        json_datasets(w, "datasets", d.datasets);
        json_files(w, "files", d.files);
        w.end_object();
        print_json(w);
        return;
    }
    const auto& r = d.info;
    print_fields(std::cout, {{"Run", r.id},
                             {"Experiment", r.experiment},
                             {"State", state_text(r)},
                             {"Created", format_time(r.created)},
                             {"Started", format_time(r.started)},
                             {"Ended", format_time(r.ended)},
                             {"Duration", format_duration(duration_ms(r))},
                             {"Kind", r.offline ? "offline (started by hand)" : "submitted"},
                             {"Writer", (r.host.empty() ? "-" : r.host) +
                                            (r.pid ? " pid " + std::to_string(r.pid) : "")}});
    print_heading(std::cout, "State history (UTC)");
    table h({"STATE", "TIME", "REASON"});
    for (const auto& c : d.history) {
        h.add({std::string(run::to_string(c.state)), format_time(c.time),
               c.reason.empty() ? "" : c.reason});
    }
    h.print(std::cout);
    if (!d.params.empty()) {
        print_heading(std::cout, "Parameters");
        print_fields(std::cout, {d.params.begin(), d.params.end()});
    }
    if (!d.tags.empty()) {
        print_heading(std::cout, "Tags");
        print_fields(std::cout, {d.tags.begin(), d.tags.end()});
    }
    if (const auto env = environment_fields(d.environment_json); !env.empty()) {
        print_heading(std::cout, "Environment");
        print_fields(std::cout, env);
    }
    if (!points.empty()) {
        // One line per series: how many points, the last, and the range.
        struct summary {
            std::size_t count = 0;
            double last = 0, lo = 0, hi = 0;
            std::int64_t last_step = 0;
        };
        std::map<std::string, summary> series;
        for (const auto& p : points) {
            summary& s = series[p.name];
            if (s.count == 0 || p.value < s.lo) {
                s.lo = p.value;
            }
            if (s.count == 0 || p.value > s.hi) {
                s.hi = p.value;
            }
            s.last = p.value;
            s.last_step = p.step;
            ++s.count;
        }
        print_heading(std::cout, "Metrics");
        table m({"NAME", "POINTS", "LAST", "STEP", "MIN", "MAX"});
        for (const auto& [name, s] : series) {
            m.add({name, std::to_string(s.count), format_value(s.last),
                   std::to_string(s.last_step), format_value(s.lo), format_value(s.hi)});
        }
        m.print(std::cout);
    }
    if (!d.images.empty()) {
        print_heading(std::cout, "Images");
        table t({"NAME", "PATH"});
        for (const auto& im : d.images) {
            t.add({im.name, im.path});
        }
        t.print(std::cout);
    }
    if (!d.datasets.empty()) {
        print_heading(std::cout, "Datasets");
        std::vector<std::string> refs;
        for (const auto& ds : d.datasets) {
            refs.push_back(ds.name + ":" + std::to_string(ds.version));
        }
        std::cout << join(refs) << '\n';
    }
    print_heading(std::cout, "Files");
    if (d.files.empty()) {
        std::cout << "(none)\n";
    } else {
        table t({"PATH", "SIZE"});
        for (const auto& f : d.files) {
            t.add({f.path, format_size(f.size)});
        }
        t.print(std::cout);
    }
}

struct metrics_args {
    std::string run;
    std::string name;
};

void run_metrics(const globals& g, const metrics_args& a) {
    workspace::workspace ws = open_workspace(g);
    ws.get_run(a.run); // "no run <id>" before an empty answer
    const auto points = a.name.empty()
                            ? ws.metrics(a.run)
                            : ws.metrics(a.run, std::optional<std::string_view>(a.name));
    if (!a.name.empty() && points.empty()) {
        throw workspace_error("run " + a.run + " has no metric \"" + a.name + "\"");
    }
    if (g.json) {
        auto w = json_out();
        w.begin_object().field("run", a.run);
        json_metric_series(w, "metrics", points);
        w.end_object();
        print_json(w);
        return;
    }
    if (points.empty()) {
        std::cout << "Run " << a.run << " has no metrics.\n";
        return;
    }
    table t({"NAME", "STEP", "VALUE", "TIME"});
    for (const auto& p : points) {
        t.add({p.name, std::to_string(p.step), format_value(p.value), format_time(p.timestamp)});
    }
    t.print(std::cout);
}

void run_files(const globals& g, const std::string& id) {
    workspace::workspace ws = open_workspace(g);
    const auto files = ws.run_files(id);
    if (g.json) {
        auto w = json_out();
        w.begin_object().field("run", id);
        json_files(w, "files", files);
        w.end_object();
        print_json(w);
        return;
    }
    if (files.empty()) {
        std::cout << "Run " << id << " has no files.\n";
        return;
    }
    table t({"PATH", "SIZE", "SHA256"});
    for (const auto& f : files) {
        t.add({f.path, std::to_string(f.size), f.sha256.empty() ? "-" : f.sha256});
    }
    t.print(std::cout);
}

struct download_args {
    std::string run;
    std::vector<std::string> files;
    std::string to;
};

void run_download(const globals& g, const download_args& a) {
    workspace::workspace ws = open_workspace(g);
    ws.download_run_files(a.run, a.files, a.to);
    if (g.json) {
        auto w = json_out();
        w.begin_object().field("run", a.run).field("to", a.to).key("files").begin_array();
        for (const auto& f : a.files) {
            w.value((std::filesystem::path(a.to) / f).string());
        }
        w.end_array().end_object();
        print_json(w);
        return;
    }
    for (const auto& f : a.files) {
        std::cout << (std::filesystem::path(a.to) / f).string() << '\n';
    }
}

} // namespace

void add_run_commands(CLI::App& app, globals& g) {
    CLI::App* run = app.add_subcommand("run", "Runs: state, parameters, metrics, files");
    run->require_subcommand(1);

    auto list = std::make_shared<list_args>();
    CLI::App* l = run->add_subcommand("list", "Runs, oldest first (the newest is next to the prompt)");
    l->add_option("--experiment", list->experiment, "Only the runs of this experiment");
    l->add_option("--state", list->state, "Only runs in this state (" + all_state_names() + ")");
    l->callback([&g, list] { run_list(g, *list); });

    auto show_id = std::make_shared<std::string>();
    CLI::App* s = run->add_subcommand(
        "show", "Everything about a run: state history, params, tags, environment, metrics, files");
    s->add_option("RUN", *show_id, "Run id")->required();
    s->callback([&g, show_id] { run_show(g, *show_id); });

    auto metrics = std::make_shared<metrics_args>();
    CLI::App* m = run->add_subcommand("metrics", "Every metric point of a run, in logging order");
    m->add_option("RUN", metrics->run, "Run id")->required();
    m->add_option("--name", metrics->name, "Only this series (e.g. \"Accuracy\")");
    m->callback([&g, metrics] { run_metrics(g, *metrics); });

    auto files_id = std::make_shared<std::string>();
    CLI::App* f = run->add_subcommand("files", "Files of a run (outputs/, logs/, images/, files/)");
    f->add_option("RUN", *files_id, "Run id")->required();
    f->callback([&g, files_id] { run_files(g, *files_id); });

    auto dl = std::make_shared<download_args>();
    CLI::App* d = run->add_subcommand("download", "Copy files of a run into a folder");
    d->add_option("RUN", dl->run, "Run id")->required();
    d->add_option("FILE", dl->files, "Paths as `ctml run files` lists them (or their folders)")
        ->required();
    d->add_option("--to", dl->to, "Destination folder (created if missing)")->required();
    d->callback([&g, dl] { run_download(g, *dl); });
}

} // namespace ctml::cli
