// SPDX-License-Identifier: MIT
// ctml dataset register | list | show | download
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <ctml/workspace/dataset.hpp>
#include <ctml/workspace/workspace.hpp>

#include "cli/common.hpp"
#include "cli/format.hpp"
#include "cli/json_out.hpp"

namespace ctml::cli {

namespace {

struct register_args {
    std::string name;
    std::vector<std::string> from;
    std::string description;
    bool new_version = false;
};

std::int64_t latest_dataset_version(workspace::workspace& ws, const std::string& name) {
    for (const auto& d : ws.backend().datasets()) {
        if (d.name == name) {
            return d.latest_version;
        }
    }
    return 0;
}

void dataset_register(const globals& g, const register_args& a) {
    std::vector<workspace::file_source> sources(a.from.begin(), a.from.end());
    workspace::workspace ws = open_workspace(g);
    const std::int64_t before = latest_dataset_version(ws, a.name);
    workspace::file_dataset ds = workspace::file_dataset::from_files(std::move(sources));
    const workspace::dataset_version v =
        ds.register_dataset(ws, a.name, a.description, a.new_version);
    const bool unchanged = v.version == before;
    if (g.json) {
        auto w = json_out();
        w.begin_object().field("id", v.id()).field("new", !unchanged).key("version");
        json_dataset_version(w, v);
        w.end_object();
        print_json(w);
        return;
    }
    std::cout << v.id() << '\n';
    if (unchanged) {
        std::cerr << "ctml: " << v.id() << " already holds these files; --new-version makes "
                  << "another version of the same content\n";
    }
}

void dataset_list(const globals& g) {
    workspace::workspace ws = open_workspace(g);
    const auto datasets = ws.backend().datasets();
    if (g.json) {
        auto w = json_out();
        w.begin_array();
        for (const auto& d : datasets) {
            w.begin_object()
                .field("name", d.name)
                .field("description", d.description)
                .field("latest_version", d.latest_version);
            json_time(w, "created", d.created);
            w.end_object();
        }
        w.end_array();
        print_json(w);
        return;
    }
    if (datasets.empty()) {
        std::cout << "No registered datasets in workspace " << ws.name() << ".\n";
        return;
    }
    table t({"DATASET", "LATEST", "CREATED", "DESCRIPTION"});
    for (const auto& d : datasets) {
        t.add({d.name, d.name + ":" + std::to_string(d.latest_version), format_time(d.created),
               d.description});
    }
    t.print(std::cout);
}

workspace::file_dataset dataset_by_ref(workspace::workspace& ws, const std::string& ref) {
    const workspace::dataset_ref_text r = workspace::parse_dataset_ref(ref);
    return workspace::file_dataset::get_by_name(ws, r.name, r.version);
}

void dataset_show(const globals& g, const std::string& ref) {
    workspace::workspace ws = open_workspace(g);
    const workspace::file_dataset ds = dataset_by_ref(ws, ref);
    const workspace::dataset_version& v = *ds.version();
    if (g.json) {
        auto w = json_out();
        json_dataset_version(w, v);
        print_json(w);
        return;
    }
    std::vector<std::string> versions;
    for (const auto& other : ws.backend().dataset_versions(v.name)) {
        versions.push_back(std::to_string(other.version));
    }
    std::uint64_t total = 0;
    for (const auto& f : v.files) {
        total += f.size;
    }
    print_fields(std::cout, {{"Dataset", v.id()},
                             {"Description", v.description.empty() ? "-" : v.description},
                             {"Created", format_time(v.created)},
                             {"Versions", join(versions)},
                             {"Content", v.content_sha256},
                             {"Size", format_size(total) + " in " +
                                          std::to_string(v.files.size()) + " file(s)"}});
    print_heading(std::cout, "Files");
    table t({"PATH", "SIZE", "SHA256", "SOURCE"});
    for (const auto& f : v.files) {
        t.add({f.path, std::to_string(f.size), f.sha256, f.source});
    }
    t.print(std::cout);
}

struct download_args {
    std::string ref;
    std::string to;
};

void dataset_download(const globals& g, const download_args& a) {
    workspace::workspace ws = open_workspace(g);
    const workspace::file_dataset ds = dataset_by_ref(ws, a.ref);
    const std::filesystem::path dir = ds.download(a.to);
    const workspace::dataset_version& v = *ds.version();
    if (g.json) {
        auto w = json_out();
        w.begin_object().field("id", v.id()).field("to", dir.string()).key("files").begin_array();
        for (const auto& f : v.files) {
            w.value((dir / f.path).string());
        }
        w.end_array().end_object();
        print_json(w);
        return;
    }
    std::cout << v.id() << " -> " << dir.string() << '\n';
    for (const auto& f : v.files) {
        std::cout << "  " << (dir / f.path).string() << '\n';
    }
}

} // namespace

void add_dataset_commands(CLI::App& app, globals& g) {
    CLI::App* dataset = app.add_subcommand("dataset", "Versioned file datasets");
    dataset->require_subcommand(1);
    const std::string ref_help = "NAME (the latest version) or NAME:VERSION";

    auto reg = std::make_shared<register_args>();
    CLI::App* r = dataset->add_subcommand(
        "register", "Register files (paths or http(s) URLs) as a version of NAME; prints "
                    "NAME:VERSION");
    r->add_option("NAME", reg->name, "Dataset name")->required();
    r->add_option("--from", reg->from, "Files, folders or URLs (repeatable, or several at once)")
        ->required();
    r->add_option("--description", reg->description, "Description");
    r->add_flag("--new-version", reg->new_version,
                "Make a new version even when the content equals the latest version's");
    r->callback([&g, reg] { dataset_register(g, *reg); });

    dataset->add_subcommand("list", "Registered datasets and their latest versions")
        ->callback([&g] { dataset_list(g); });

    auto show_ref = std::make_shared<std::string>();
    CLI::App* s = dataset->add_subcommand("show", "One dataset version: files, sizes, hashes");
    s->add_option("DATASET", *show_ref, ref_help)->required();
    s->callback([&g, show_ref] { dataset_show(g, *show_ref); });

    auto dl = std::make_shared<download_args>();
    CLI::App* d = dataset->add_subcommand("download", "Copy a dataset version's files into a folder");
    d->add_option("DATASET", dl->ref, ref_help)->required();
    d->add_option("--to", dl->to, "Destination folder (created if missing)")->required();
    d->callback([&g, dl] { dataset_download(g, *dl); });
}

} // namespace ctml::cli
