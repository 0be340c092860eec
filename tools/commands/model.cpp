// SPDX-License-Identifier: MIT
// ctml model register | list | show | alias | download
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <ctml/workspace/workspace.hpp>

#include "cli/common.hpp"
#include "cli/format.hpp"
#include "cli/json_out.hpp"

namespace ctml::cli {

namespace {

struct register_args {
    std::string name;
    std::string run;
    std::string path;
    std::vector<std::string> tags;
    std::vector<std::string> properties;
    std::string description;
};

void model_register(const globals& g, const register_args& a) {
    workspace::model_registration reg;
    reg.name = a.name;
    reg.path = a.path;
    if (!a.run.empty()) {
        reg.run_id = a.run;
    }
    reg.tags = parse_key_values(a.tags, "--tag");
    reg.properties = parse_key_values(a.properties, "--property");
    reg.description = a.description;
    workspace::workspace ws = open_workspace(g);
    const workspace::model_version v = ws.register_model(reg);
    if (g.json) {
        auto w = json_out();
        json_model_version(w, v);
        print_json(w);
        return;
    }
    std::cout << v.id() << '\n';
}

void model_list(const globals& g) {
    workspace::workspace ws = open_workspace(g);
    const auto models = ws.models();
    if (g.json) {
        auto w = json_out();
        w.begin_array();
        for (const auto& m : models) {
            w.begin_object()
                .field("name", m.name)
                .field("description", m.description)
                .field("latest_version", m.latest_version);
            json_time(w, "created", m.created);
            w.key("aliases").begin_object();
            for (const auto& [alias, version] : m.aliases) {
                w.field(alias, version);
            }
            w.end_object().end_object();
        }
        w.end_array();
        print_json(w);
        return;
    }
    if (models.empty()) {
        std::cout << "No registered models in workspace " << ws.name() << ".\n";
        return;
    }
    table t({"MODEL", "LATEST", "ALIASES", "CREATED", "DESCRIPTION"});
    for (const auto& m : models) {
        std::vector<std::string> aliases;
        for (const auto& [alias, version] : m.aliases) {
            aliases.push_back("@" + alias + "=" + std::to_string(version));
        }
        t.add({m.name, m.latest_version ? m.name + ":" + std::to_string(m.latest_version) : "-",
               join(aliases), format_time(m.created), m.description});
    }
    t.print(std::cout);
}

void print_version(const workspace::model_version& v,
                   const std::vector<workspace::model_version>& all) {
    std::vector<std::string> versions, aliases, datasets;
    for (const auto& other : all) {
        versions.push_back(std::to_string(other.version));
    }
    for (const auto& a : v.aliases) {
        aliases.push_back("@" + a);
    }
    for (const auto& d : v.datasets) {
        datasets.push_back(d.name + ":" + std::to_string(d.version));
    }
    print_fields(std::cout, {{"Model", v.id()},
                             {"Description", v.description.empty() ? "-" : v.description},
                             {"Created", format_time(v.created)},
                             {"Aliases", join(aliases)},
                             {"Versions", join(versions)},
                             {"Run", v.run_id.empty() ? "-" : v.run_id},
                             {"Experiment", v.experiment.empty() ? "-" : v.experiment},
                             {"Datasets", join(datasets)},
                             {"Content", v.content_sha256}});
    if (!v.tags.empty()) {
        print_heading(std::cout, "Tags");
        print_fields(std::cout, {v.tags.begin(), v.tags.end()});
    }
    if (!v.properties.empty()) {
        print_heading(std::cout, "Properties");
        print_fields(std::cout, {v.properties.begin(), v.properties.end()});
    }
    if (!v.metrics.empty()) {
        print_heading(std::cout, "Metrics at registration");
        std::vector<std::pair<std::string, std::string>> m;
        for (const auto& [k, value] : v.metrics) {
            m.emplace_back(k, format_value(value));
        }
        print_fields(std::cout, m);
    }
    print_heading(std::cout, "Files");
    table t({"PATH", "SIZE", "SHA256"});
    for (const auto& f : v.files) {
        t.add({f.path, std::to_string(f.size), f.sha256});
    }
    t.print(std::cout);
}

void model_show(const globals& g, const std::string& ref) {
    workspace::workspace ws = open_workspace(g);
    const workspace::model_version v = ws.get_model(ref);
    if (g.json) {
        auto w = json_out();
        json_model_version(w, v);
        print_json(w);
        return;
    }
    print_version(v, ws.model_versions(v.name));
}

struct alias_args {
    std::string ref;
    std::string alias;
};

void model_alias(const globals& g, const alias_args& a) {
    const workspace::model_ref r = workspace::parse_model_ref(a.ref);
    if (r.version <= 0 || !r.alias.empty()) {
        throw config_error("model alias: \"" + a.ref +
                           "\": give the version the alias points to, as NAME:VERSION (e.g. " +
                           r.name + ":1)");
    }
    workspace::workspace ws = open_workspace(g);
    ws.set_model_alias(r.name, a.alias, r.version);
    const std::string id = r.name + ":" + std::to_string(r.version);
    if (g.json) {
        auto w = json_out();
        w.begin_object()
            .field("alias", r.name + "@" + a.alias)
            .field("id", id)
            .field("version", r.version)
            .end_object();
        print_json(w);
        return;
    }
    std::cout << r.name << "@" << a.alias << " -> " << id << '\n';
}

struct download_args {
    std::string ref;
    std::string to;
};

void model_download(const globals& g, const download_args& a) {
    workspace::workspace ws = open_workspace(g);
    const workspace::model_version v = ws.download_model(a.ref, a.to);
    if (g.json) {
        auto w = json_out();
        w.begin_object().field("id", v.id()).field("to", a.to).key("files").begin_array();
        for (const auto& f : v.files) {
            w.value((std::filesystem::path(a.to) / f.path).string());
        }
        w.end_array().end_object();
        print_json(w);
        return;
    }
    std::cout << v.id() << " -> " << a.to << '\n';
    for (const auto& f : v.files) {
        std::cout << "  " << (std::filesystem::path(a.to) / f.path).string() << '\n';
    }
}

} // namespace

void add_model_commands(CLI::App& app, globals& g) {
    CLI::App* model = app.add_subcommand("model", "The model registry");
    model->require_subcommand(1);
    const std::string ref_help = "NAME (the latest version), NAME:VERSION or NAME@ALIAS";

    auto reg = std::make_shared<register_args>();
    CLI::App* r = model->add_subcommand(
        "register", "Register a file or folder as the next version of NAME; prints NAME:VERSION");
    r->add_option("NAME", reg->name, "Model name")->required();
    r->add_option("--run", reg->run,
                  "Run whose files are registered (PATH is then inside its folder, e.g. "
                  "outputs/model); the version records the run as its lineage");
    r->add_option("--path", reg->path, "File or folder to register")->required();
    r->add_option("--tag", reg->tags, "KEY=VALUE tag (mutable; repeatable)");
    r->add_option("--property", reg->properties, "KEY=VALUE property (add-only; repeatable)");
    r->add_option("--description", reg->description, "Description of the version");
    r->callback([&g, reg] { model_register(g, *reg); });

    model->add_subcommand("list", "Registered models, their latest versions and aliases")
        ->callback([&g] { model_list(g); });

    auto show_ref = std::make_shared<std::string>();
    CLI::App* s = model->add_subcommand("show", "One model version: lineage, tags, files");
    s->add_option("MODEL", *show_ref, ref_help)->required();
    s->callback([&g, show_ref] { model_show(g, *show_ref); });

    auto alias = std::make_shared<alias_args>();
    CLI::App* a = model->add_subcommand("alias", "Point ALIAS at NAME:VERSION (moved atomically)");
    a->add_option("MODEL", alias->ref, "NAME:VERSION")->required();
    a->add_option("ALIAS", alias->alias, "Alias name (e.g. champion)")->required();
    a->callback([&g, alias] { model_alias(g, *alias); });

    auto dl = std::make_shared<download_args>();
    CLI::App* d = model->add_subcommand("download", "Copy a model version's files into a folder");
    d->add_option("MODEL", dl->ref, ref_help)->required();
    d->add_option("--to", dl->to, "Destination folder (created if missing)")->required();
    d->callback([&g, dl] { model_download(g, *dl); });
}

} // namespace ctml::cli
