// SPDX-License-Identifier: MIT
// Definitions of ctml/workspace/workspace.hpp.
#pragma once
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "ctml/core/error.hpp"
#include "ctml/run/context.hpp"
#include "ctml/run/names.hpp"
#include "ctml/run/workspace_config.hpp"
#include "ctml/workspace/mlflow_store.hpp"
#include "ctml/workspace/sqlite_store.hpp"
#include "ctml/workspace/workspace.hpp"

namespace ctml::workspace {

namespace detail {

inline std::int64_t parse_version(std::string_view text, std::string_view whole,
                                  std::string_view kind) {
    std::int64_t v = 0;
    const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || r.ec != std::errc() || r.ptr != text.data() + text.size() || v < 1) {
        throw workspace_error(std::string(kind) + " reference \"" +
                              run::detail::shown_name(whole) +
                              "\": the version must be a positive integer");
    }
    return v;
}

/// The regular files of `path` (a file: itself under its base name; a folder: every regular
/// file below it, relative paths), sorted. Symbolic links are followed to regular files only.
inline std::vector<std::pair<std::string, std::filesystem::path>>
collect_files(const std::filesystem::path& path, std::string_view what) {
    std::error_code ec;
    std::vector<std::pair<std::string, std::filesystem::path>> out;
    if (std::filesystem::is_regular_file(path, ec)) {
        out.emplace_back(path.filename().string(), path);
        return out;
    }
    if (!std::filesystem::is_directory(path, ec)) {
        throw workspace_error(std::string(what) + " \"" + path.string() +
                              "\" does not exist (or is neither a file nor a folder)");
    }
    for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file(ec)) {
            const std::string name = it->path().filename().string();
            if (name.rfind(".", 0) == 0 && name.find(".tmp.") != std::string::npos) {
                continue; // someone's atomic write in progress
            }
            out.emplace_back(std::filesystem::relative(it->path(), path).generic_string(),
                             it->path());
        }
    }
    if (ec) {
        throw file_error(path.string() + ": cannot list: " + ec.message(), ec);
    }
    if (out.empty()) {
        throw workspace_error(std::string(what) + " \"" + path.string() + "\" holds no files");
    }
    std::sort(out.begin(), out.end());
    return out;
}

inline std::unique_ptr<store> make_store(const ::ctml::run::workspace_config& c) {
    sqlite_store_options o;
    o.heartbeat_timeout_s = c.heartbeat_timeout_s;
    if (!c.tracking_uri.empty()) {
        return std::make_unique<mlflow_store>(c, o);
    }
    return std::make_unique<sqlite_store>(c.root, o);
}

} // namespace detail

inline model_ref parse_model_ref(std::string_view text) {
    model_ref r;
    const auto at = text.find('@');
    const auto colon = text.find(':');
    if (at != std::string_view::npos && colon != std::string_view::npos) {
        throw workspace_error("model reference \"" + run::detail::shown_name(text) +
                              "\": give a version (name:3) or an alias (name@champion), not both");
    }
    if (at != std::string_view::npos) {
        r.name = std::string(run::check_entity_name("model", text.substr(0, at)));
        r.alias = std::string(run::check_entity_name("alias", text.substr(at + 1)));
    } else if (colon != std::string_view::npos) {
        r.name = std::string(run::check_entity_name("model", text.substr(0, colon)));
        r.version = detail::parse_version(text.substr(colon + 1), text, "model");
    } else {
        r.name = std::string(run::check_entity_name("model", text));
    }
    return r;
}

inline dataset_ref_text parse_dataset_ref(std::string_view text) {
    dataset_ref_text r;
    const auto colon = text.find(':');
    if (colon != std::string_view::npos) {
        r.name = std::string(run::check_entity_name("dataset", text.substr(0, colon)));
        r.version = detail::parse_version(text.substr(colon + 1), text, "dataset");
    } else {
        r.name = std::string(run::check_entity_name("dataset", text));
    }
    return r;
}

inline workspace::workspace(::ctml::run::workspace_config config)
    : config_(std::move(config)), store_(detail::make_store(config_)) {}
inline workspace::workspace(workspace&&) noexcept = default;
inline workspace& workspace::operator=(workspace&&) noexcept = default;
inline workspace::~workspace() = default;

inline workspace workspace::from_config(const std::filesystem::path& start) {
    if (auto c = run::locate_workspace(start)) {
        return workspace(std::move(*c));
    }
    throw workspace_error("no workspace: no config.json (nor .ctml/config.json) in " +
                          std::filesystem::absolute(start).string() +
                          " or its parents; create one with `ctml workspace init`");
}

inline workspace workspace::open(const std::filesystem::path& dir_or_config) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(dir_or_config, ec)) {
        return workspace(run::load_workspace_config(dir_or_config));
    }
    for (const auto& c : {dir_or_config / "config.json", dir_or_config / ".ctml" / "config.json"}) {
        if (std::filesystem::is_regular_file(c, ec)) {
            return workspace(run::load_workspace_config(c));
        }
    }
    throw workspace_error("no workspace in " + dir_or_config.string() +
                          ": no config.json there (nor in its .ctml/)");
}

inline workspace workspace::create(const std::filesystem::path& dir, std::string_view name,
                                   std::string_view description) {
    return workspace(run::create_workspace_folder(dir, name, description));
}

inline workspace from_config(const std::filesystem::path& start) {
    return workspace::from_config(start);
}
inline workspace open(const std::filesystem::path& dir_or_config) {
    return workspace::open(dir_or_config);
}
inline workspace create(const std::filesystem::path& dir, std::string_view name,
                        std::string_view description) {
    return workspace::create(dir, name, description);
}

inline sync_report workspace::sync() { return store_->sync(); }

inline std::vector<experiment_info> workspace::experiments() {
    store_->sync();
    return store_->experiments();
}

inline std::vector<run_info> workspace::runs(const run_filter& filter) {
    store_->sync();
    return store_->runs(filter);
}

inline run_details workspace::get_run(std::string_view run_id) {
    run::check_entity_name("run id", run_id);
    store_->sync_run(run_id);
    return store_->get_run(run_id);
}

inline std::vector<metric_point> workspace::metrics(std::string_view run_id,
                                                    std::optional<std::string_view> name) {
    run::check_entity_name("run id", run_id);
    store_->sync_run(run_id);
    return store_->metrics(run_id, name);
}

inline std::vector<file_info> workspace::run_files(std::string_view run_id) {
    return get_run(run_id).files;
}

inline void workspace::download_run_files(std::string_view run_id,
                                          const std::vector<std::string>& files,
                                          const std::filesystem::path& to_dir) {
    const std::vector<file_info> all = run_files(run_id);
    const std::filesystem::path dir = store_->run_dir(run_id);
    // Check every name first: nothing is written when one is bad.
    std::vector<std::string> chosen;
    for (const std::string& f : files) {
        run::check_relative_path("run file", f);
        std::string prefix = f;
        if (!prefix.empty() && prefix.back() != '/') {
            prefix += '/';
        }
        bool found = false;
        for (const auto& info : all) {
            if (info.path == f || info.path.rfind(prefix, 0) == 0) {
                chosen.push_back(info.path);
                found = true;
            }
        }
        if (!found) {
            throw workspace_error("run " + std::string(run_id) + " has no file \"" + f +
                                  "\" (see `ctml run files " + std::string(run_id) + "`)");
        }
    }
    for (const std::string& p : chosen) {
        const std::filesystem::path to = to_dir / p;
        std::error_code ec;
        std::filesystem::create_directories(to.parent_path(), ec);
        if (ec) {
            throw file_error(to.parent_path().string() + ": cannot create folder: " + ec.message(),
                             ec);
        }
        io::write_file_atomic(to, io::read_file(dir / p));
    }
}

inline run_info workspace::create_run(std::string_view experiment, run_state state,
                                      std::string_view job_json) {
    return store_->create_run(experiment, state, job_json);
}

inline void workspace::set_run_state(std::string_view run_id, run_state state,
                                     std::string_view reason) {
    store_->sync_run(run_id);
    store_->set_run_state(run_id, state, reason);
}

inline run_handle workspace::run(std::string_view run_id) {
    get_run(run_id); // throws for an unknown run
    return run_handle(*this, std::string(run_id));
}

inline model_version workspace::register_model(const model_registration& reg) {
    run::check_entity_name("model", reg.name);
    if (reg.path.empty()) {
        throw workspace_error("model " + reg.name + ": no path given");
    }
    std::filesystem::path source;
    if (reg.run_id && !reg.run_id->empty()) {
        run::check_entity_name("run id", *reg.run_id);
        store_->sync_run(*reg.run_id);
        store_->get_run(*reg.run_id); // the run must exist
        std::string rel = reg.path;
        while (rel.size() > 1 && rel.back() == '/') {
            rel.pop_back();
        }
        run::check_relative_path("model path in the run", rel);
        source = store_->run_dir(*reg.run_id) / rel;
    } else {
        source = reg.path;
    }
    const auto files = detail::collect_files(source, "model path");
    // Objects first (durable), then one transaction: a crash in between leaves unreferenced
    // objects only, never a version whose files are missing.
    std::vector<file_info> infos;
    for (const auto& [rel, path] : files) {
        file_info f = store_->put_object(path);
        f.path = rel;
        infos.push_back(std::move(f));
    }
    return store_->add_model_version(reg, infos);
}

inline std::vector<model_info> workspace::models() { return store_->models(); }

inline std::vector<model_version> workspace::model_versions(std::string_view name) {
    run::check_entity_name("model", name);
    return store_->model_versions(name);
}

inline model_version workspace::get_model(std::string_view ref) {
    const model_ref r = parse_model_ref(ref);
    const std::int64_t v = r.alias.empty() ? r.version : store_->resolve_model_alias(r.name, r.alias);
    return store_->get_model_version(r.name, v);
}

inline model_version workspace::latest_model(std::string_view name) {
    run::check_entity_name("model", name);
    return store_->get_model_version(name, 0);
}

inline model_version workspace::download_model(std::string_view ref,
                                               const std::filesystem::path& to_dir) {
    const model_version mv = get_model(ref);
    auto* sq = dynamic_cast<sqlite_store*>(store_.get());
    for (const auto& f : mv.files) {
        run::check_relative_path("model file", f.path);
        if (sq != nullptr) {
            sq->objects().copy_out(f.sha256, to_dir / f.path);
        } else {
            std::error_code ec;
            std::filesystem::create_directories((to_dir / f.path).parent_path(), ec);
            io::write_file_atomic(to_dir / f.path, io::read_file(store_->object_path(f.sha256)));
        }
    }
    return mv;
}

inline void workspace::set_model_alias(std::string_view name, std::string_view alias,
                                       std::int64_t version) {
    run::check_entity_name("model", name);
    store_->set_model_alias(name, alias, version);
}

inline void workspace::delete_model_alias(std::string_view name, std::string_view alias) {
    run::check_entity_name("model", name);
    store_->delete_model_alias(name, alias);
}

namespace detail {
inline std::pair<std::string, std::int64_t> resolve_version(store& s, std::string_view ref) {
    const model_ref r = parse_model_ref(ref);
    std::int64_t v = r.version;
    if (!r.alias.empty()) {
        v = s.resolve_model_alias(r.name, r.alias);
    } else if (v == 0) {
        v = s.get_model_version(r.name, 0).version;
    }
    return {r.name, v};
}
} // namespace detail

inline void workspace::set_model_tag(std::string_view ref, std::string_view key,
                                     std::string_view value) {
    const auto [name, v] = detail::resolve_version(*store_, ref);
    store_->set_model_tag(name, v, key, value);
}

inline void workspace::delete_model_tag(std::string_view ref, std::string_view key) {
    const auto [name, v] = detail::resolve_version(*store_, ref);
    store_->delete_model_tag(name, v, key);
}

inline void workspace::add_model_property(std::string_view ref, std::string_view key,
                                          std::string_view value) {
    const auto [name, v] = detail::resolve_version(*store_, ref);
    store_->add_model_property(name, v, key, value);
}

inline void workspace::delete_model_version(std::string_view ref) {
    const model_ref r = parse_model_ref(ref);
    if (r.version == 0) {
        throw workspace_error("delete: give the version to delete (" + r.name + ":N)");
    }
    store_->delete_model_version(r.name, r.version);
}

// --- run_handle ----------------------------------------------------------------------------

inline run_handle run_handle::of(::ctml::run::context& ctx) {
    if (!ctx.active()) {
        throw workspace_error("run_handle::of: the run context is inactive (no workspace, or "
                              "CTML_TRACKING=off)");
    }
    ctx.flush();
    // The store folder is the context's; its config.json is there or (with a "location") in
    // a folder above it, whichever names this store.
    const std::filesystem::path root = ctx.workspace_root();
    std::optional<::ctml::run::workspace_config> config;
    std::error_code ec;
    for (std::filesystem::path dir = root.lexically_normal(); !config;
         dir = dir.parent_path()) {
        for (const auto& candidate : {dir / "config.json", dir / ".ctml" / "config.json"}) {
            if (!config && std::filesystem::is_regular_file(candidate, ec)) {
                auto c = ::ctml::run::load_workspace_config(candidate);
                if (c.root == root.lexically_normal()) {
                    config = std::move(c);
                }
            }
        }
        if (!dir.has_relative_path()) {
            break; // the filesystem root
        }
    }
    if (!config) {
        throw workspace_error("run " + ctx.id() + ": no config.json names the store " +
                              root.string());
    }
    auto ws = std::make_shared<workspace>(std::move(*config));
    run_handle h(*ws, ctx.id());
    h.owned_ = std::move(ws);
    h.ctx_ = ctx;
    return h;
}

inline run_details run_handle::details() {
    if (ctx_.active()) {
        ctx_.flush();
    }
    return ws_->get_run(id_);
}

inline std::vector<metric_point> run_handle::metrics(std::optional<std::string_view> name) {
    if (ctx_.active()) {
        ctx_.flush();
    }
    return ws_->metrics(id_, name);
}

inline std::map<std::string, double> run_handle::last_metrics() {
    std::map<std::string, double> out;
    for (const auto& p : metrics()) {
        out[p.name] = p.value;
    }
    return out;
}

inline std::vector<file_info> run_handle::files() { return ws_->run_files(id_); }

inline void run_handle::download_file(std::string_view file, const std::filesystem::path& to_dir) {
    ws_->download_run_files(id_, {std::string(file)}, to_dir);
}

inline model_version run_handle::register_model(std::string_view name, std::string_view path,
                                                const std::map<std::string, std::string>& tags,
                                                const std::map<std::string, std::string>& properties,
                                                std::string_view description) {
    if (ctx_.active()) {
        ctx_.flush();
    }
    model_registration reg;
    reg.name = std::string(name);
    reg.path = std::string(path);
    reg.run_id = id_;
    reg.tags = tags;
    reg.properties = properties;
    reg.description = std::string(description);
    return ws_->register_model(reg);
}

} // namespace ctml::workspace
