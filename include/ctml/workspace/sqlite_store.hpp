// SPDX-License-Identifier: MIT
// The default store: `<root>/ctml.db` (SQLite, WAL journal, synchronous=FULL, a busy timeout so
// that concurrent processes wait for each other instead of failing) for records, and
// content-addressed files under `<root>/objects` for model and dataset files. Runs keep their
// own folder, `<root>/runs/<id>`, which the trainer writes into directly (events.jsonl,
// outputs/, logs/, images/): the store ingests the events (remembering the byte offset per run,
// in the same transaction as the rows) and reads the files in place.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctml/core/error.hpp"
#include "ctml/io/file.hpp"
#include "ctml/io/json.hpp"
#include "ctml/io/json_read.hpp"
#include "ctml/config.hpp"
#include "ctml/run/context.hpp"
#include "ctml/run/detail/process.hpp"
#include "ctml/run/event.hpp"
#include "ctml/run/names.hpp"
#include "ctml/run/state.hpp"
#include "ctml/workspace/detail/metric_chunks.hpp"
#include "ctml/workspace/detail/objects.hpp"
#include "ctml/workspace/detail/schema.hpp"
#include "ctml/workspace/detail/sqlite.hpp"
#include "ctml/workspace/store.hpp"
#include "ctml/workspace/types.hpp"

namespace ctml::workspace {

/// @brief Options of the SQLite store.
struct sqlite_store_options {
    /// How long a writer waits for another process' transaction before failing.
    int busy_timeout_ms = 120000;
    /// A run whose writer is on another host or boot is Failed after this long without events.
    double heartbeat_timeout_s = 60.0;
    /// Most bytes of one run's events ingested per transaction.
    std::size_t ingest_chunk = std::size_t{64} << 20;
};

/// @brief The SQLite + content-addressed-files store (see the top of this file).
class sqlite_store final : public store {
public:
    /// Opens (creating when missing) the store in folder `root`; migrates an older schema
    /// forward; refuses a file that is not SQLite or a schema newer than this ctml knows.
    explicit sqlite_store(const std::filesystem::path& root, sqlite_store_options options = {})
        : root_(root), options_(options), db_(open_db(root)), objects_(root) {
        migrate();
    }

    std::string describe() const override { return "sqlite:" + db_.path().string(); }
    const std::filesystem::path& root() const noexcept { return root_; }
    /// The schema version of the open database (after migration: detail::schema_version).
    int schema() {
        detail::sqlite_stmt s(db_, "SELECT version FROM schema_version");
        return s.step() ? static_cast<int>(s.col_int(0)) : 0;
    }

    // --- events -------------------------------------------------------------------------------

    sync_report sync() override {
        sync_report total;
        std::error_code ec;
        const std::filesystem::path runs = root_ / "runs";
        if (!std::filesystem::is_directory(runs, ec)) {
            return total;
        }
        // What is known already: skip finished runs whose file has not grown.
        std::map<std::string, std::pair<std::int64_t, bool>> known; // id -> (ingested, terminal)
        {
            detail::sqlite_stmt s(db_, "SELECT run_id, ingested, state FROM runs");
            while (s.step()) {
                const auto st = run::parse_run_state(s.col_text(2));
                known[s.col_text(0)] = {s.col_int(1), st && run::is_terminal(*st)};
            }
        }
        for (const auto& entry : std::filesystem::directory_iterator(runs, ec)) {
            if (!entry.is_directory(ec)) {
                continue;
            }
            const std::string id = entry.path().filename().string();
            struct ::stat st {};
            if (::stat((entry.path() / "events.jsonl").c_str(), &st) != 0) {
                continue;
            }
            const auto it = known.find(id);
            if (it != known.end() && it->second.second && st.st_size <= it->second.first) {
                continue;
            }
            const sync_report r = sync_run(id);
            total.runs_seen += r.runs_seen;
            total.events += r.events;
            total.malformed += r.malformed;
            total.runs_failed_dead += r.runs_failed_dead;
        }
        return total;
    }

    sync_report sync_run(std::string_view run_id) override {
        sync_report report;
        const std::string id(run_id);
        const std::filesystem::path events = root_ / "runs" / id / "events.jsonl";
        io::detail::fd_guard fd(::open(events.c_str(), O_RDONLY | O_CLOEXEC));
        if (fd.get() < 0) {
            return report; // a submitted run whose trainer has not started yet
        }
        report.runs_seen = 1;
        for (int round = 0; round < 1000; ++round) {
            ingest_available(fd.get(), events, id, report);
            // A dead writer writes no more: after the check, the file is final. Its size is
            // checked again after the liveness test, so an end line written just before the
            // process exited is never overtaken by "Failed: writer vanished".
            const std::optional<std::string> why = dead_writer_reason(id);
            if (!why) {
                break;
            }
            struct ::stat st {};
            ::fstat(fd.get(), &st);
            detail::sqlite_transaction tx(db_);
            const auto row = run_row(id);
            if (!row || row->ingested < st.st_size - trailing_partial(fd.get(), st.st_size)) {
                continue; // more to ingest first
            }
            if (!run::is_terminal(row->state)) {
                transition(row->key, row->state, run_state::failed, run::detail::now_ms(), *why);
                ++report.runs_failed_dead;
            }
            tx.commit();
            break;
        }
        return report;
    }

    // --- experiments and runs ----------------------------------------------------------------

    std::vector<experiment_info> experiments() override {
        std::vector<experiment_info> out;
        detail::sqlite_stmt s(db_, "SELECT e.name, e.created, (SELECT COUNT(*) FROM runs r "
                                   "WHERE r.experiment = e.id) FROM experiments e ORDER BY e.name");
        while (s.step()) {
            out.push_back({s.col_text(0), s.col_int(1), s.col_int(2)});
        }
        return out;
    }

    experiment_info ensure_experiment(std::string_view name) override {
        run::check_entity_name("experiment", name);
        detail::sqlite_transaction tx(db_);
        experiment_id(name, true);
        tx.commit();
        for (auto& e : experiments()) {
            if (e.name == name) {
                return e;
            }
        }
        throw workspace_error("experiment \"" + std::string(name) + "\" vanished");
    }

    run_info create_run(std::string_view experiment, run_state state,
                        std::string_view job_json) override {
        run::check_entity_name("experiment", experiment);
        if (run::is_terminal(state)) {
            throw workspace_error("create_run: a new run cannot start " +
                                  std::string(run::to_string(state)));
        }
        std::error_code ec;
        std::filesystem::create_directories(root_ / "runs", ec);
        std::string id;
        for (int attempt = 0;; ++attempt) {
            id = run::detail::new_run_id(experiment);
            if (::mkdir((root_ / "runs" / id).c_str(), 0777) == 0) {
                break;
            }
            if (errno != EEXIST || attempt > 100) {
                io::detail::throw_file_error(root_ / "runs" / id, "create the run folder", errno);
            }
        }
        for (const char* sub : {"outputs", "logs", "images"}) {
            std::filesystem::create_directories(root_ / "runs" / id / sub, ec);
        }
        const std::int64_t now = run::detail::now_ms();
        detail::sqlite_transaction tx(db_);
        const std::int64_t exp = experiment_id(experiment, true);
        detail::sqlite_stmt(db_, "INSERT INTO runs (run_id, experiment, state, created, job, "
                                 "last_seen) VALUES (?, ?, ?, ?, ?, ?)")
            .bind_all(id, exp, run::to_string(run_state::not_started), now, job_json, now)
            .run();
        const std::int64_t key = db_.last_insert_id();
        add_history(key, run_state::not_started, now, "");
        if (state != run_state::not_started) {
            transition(key, run_state::not_started, state, now, "");
        }
        tx.commit();
        return get_run(id).info;
    }

    std::vector<run_info> runs(const run_filter& filter) override {
        std::string sql = std::string(run_select) + " WHERE 1";
        if (filter.experiment) {
            sql += " AND e.name = ?1";
        }
        if (filter.state) {
            sql += " AND r.state = ?2";
        }
        sql += " ORDER BY r.created, r.id";
        detail::sqlite_stmt s(db_, sql);
        if (filter.experiment) {
            s.bind(1, *filter.experiment);
        }
        if (filter.state) {
            s.bind(2, run::to_string(*filter.state));
        }
        std::vector<run_info> out;
        while (s.step()) {
            out.push_back(read_run_info(s));
        }
        return out;
    }

    run_details get_run(std::string_view run_id) override {
        const auto row = run_row(run_id);
        if (!row) {
            throw workspace_error("no run \"" + std::string(run_id) + "\" in " + root_.string());
        }
        run_details d;
        {
            detail::sqlite_stmt s(db_, std::string(run_select) + " WHERE r.id = ?");
            s.bind(1, row->key);
            s.step();
            d.info = read_run_info(s);
        }
        {
            detail::sqlite_stmt s(db_, "SELECT state, time, reason FROM run_states WHERE run = ? "
                                       "ORDER BY seq");
            s.bind(1, row->key);
            while (s.step()) {
                d.history.push_back({run::parse_run_state(s.col_text(0)).value_or(
                                         run_state::failed),
                                     s.col_int(1), s.col_text(2)});
            }
        }
        for (const auto& [table, target] :
             {std::pair{"params", &d.params}, std::pair{"tags", &d.tags}}) {
            detail::sqlite_stmt s(db_, std::string("SELECT key, value FROM ") + table +
                                           " WHERE run = ?");
            s.bind(1, row->key);
            while (s.step()) {
                (*target)[s.col_text(0)] = s.col_text(1);
            }
        }
        {
            detail::sqlite_stmt s(db_, "SELECT environment, job FROM runs WHERE id = ?");
            s.bind(1, row->key);
            s.step();
            d.environment_json = s.col_text(0);
            d.job_json = s.col_text(1);
        }
        {
            detail::sqlite_stmt s(db_, "SELECT key FROM metric_series WHERE run = ? AND "
                                       "points > 0 ORDER BY key");
            s.bind(1, row->key);
            while (s.step()) {
                d.metric_names.push_back(s.col_text(0));
            }
        }
        {
            detail::sqlite_stmt s(db_, "SELECT name, path, ts FROM images WHERE run = ? "
                                       "ORDER BY rowid");
            s.bind(1, row->key);
            while (s.step()) {
                d.images.push_back({s.col_text(0), s.col_text(1), s.col_int(2)});
            }
        }
        {
            detail::sqlite_stmt s(db_, "SELECT name, version FROM run_datasets WHERE run = ? "
                                       "ORDER BY name, version");
            s.bind(1, row->key);
            while (s.step()) {
                d.datasets.push_back({s.col_text(0), s.col_int(1)});
            }
        }
        d.files = list_run_files(run_id);
        return d;
    }

    void set_run_state(std::string_view run_id, run_state state,
                       std::string_view reason) override {
        detail::sqlite_transaction tx(db_);
        const auto row = run_row(run_id);
        if (!row) {
            throw workspace_error("no run \"" + std::string(run_id) + "\"");
        }
        if (!run::can_transition(row->state, state)) {
            throw workspace_error("run " + std::string(run_id) + ": cannot go from " +
                                  std::string(run::to_string(row->state)) + " to " +
                                  std::string(run::to_string(state)));
        }
        transition(row->key, row->state, state, run::detail::now_ms(), reason);
        tx.commit();
    }

    std::vector<metric_point> metrics(std::string_view run_id,
                                      std::optional<std::string_view> name) override {
        const auto row = run_row(run_id);
        if (!row) {
            throw workspace_error("no run \"" + std::string(run_id) + "\"");
        }
        std::vector<std::pair<std::int64_t, std::string>> series;
        {
            detail::sqlite_stmt s(db_, name ? "SELECT id, key FROM metric_series WHERE run = ?1 "
                                              "AND key = ?2"
                                            : "SELECT id, key FROM metric_series WHERE run = ?1 "
                                              "ORDER BY key");
            s.bind(1, row->key);
            if (name) {
                s.bind(2, *name);
            }
            while (s.step()) {
                series.emplace_back(s.col_int(0), s.col_text(1));
            }
        }
        std::vector<metric_point> out;
        detail::sqlite_stmt c(db_, "SELECT data FROM metric_chunks WHERE series = ? ORDER BY first");
        for (const auto& [sid, key] : series) {
            c.bind(1, sid);
            while (c.step()) {
                detail::decode_points(c.col_blob(0), [&](double v, std::int64_t step,
                                                         std::int64_t ts) {
                    out.push_back({key, v, step, ts});
                });
            }
            c.reset();
        }
        return out;
    }

    std::filesystem::path run_dir(std::string_view run_id) override {
        run::check_entity_name("run id", run_id);
        return root_ / "runs" / std::string(run_id);
    }

    // --- objects -------------------------------------------------------------------------------

    file_info put_object(const std::filesystem::path& file) override {
        return objects_.put_file(file);
    }
    std::filesystem::path object_path(std::string_view sha256) override {
        if (!objects_.contains(sha256)) {
            throw workspace_error("object " + std::string(sha256) + " is not in " +
                                  objects_.dir().string());
        }
        return objects_.path_of(sha256);
    }
    const detail::object_store& objects() const noexcept { return objects_; }

    // --- model registry ----------------------------------------------------------------------

    model_version add_model_version(const model_registration& reg,
                                    const std::vector<file_info>& files) override {
        run::check_entity_name("model", reg.name);
        check_map("model tag", reg.tags);
        check_map("model property", reg.properties);
        if (files.empty()) {
            throw workspace_error("model " + reg.name + ": no files to register");
        }
        for (const auto& f : files) {
            if (!objects_.contains(f.sha256)) {
                throw workspace_error("model " + reg.name + ": file " + f.path +
                                      " is not in the object store");
            }
        }
        const std::int64_t now = run::detail::now_ms();
        // Everything from here to commit is one transaction taken with the write lock: the
        // version number is read and bumped by one writer at a time, and a crash leaves no
        // half-registered version (the objects are already durable).
        detail::sqlite_transaction tx(db_);
        std::string experiment, job, metrics_json = "{}";
        std::set<std::pair<std::string, std::int64_t>> datasets;
        for (const auto& d : reg.datasets) {
            run::check_entity_name("dataset", d.name);
            datasets.insert({d.name, d.version});
        }
        if (reg.run_id && !reg.run_id->empty()) {
            const auto row = run_row(*reg.run_id);
            if (!row) {
                throw workspace_error("model " + reg.name + ": no run \"" + *reg.run_id + "\"");
            }
            detail::sqlite_stmt s(db_, "SELECT e.name, r.job FROM runs r JOIN experiments e ON "
                                       "e.id = r.experiment WHERE r.id = ?");
            s.bind(1, row->key);
            s.step();
            experiment = s.col_text(0);
            job = s.col_text(1);
            metrics_json = last_metrics_json(row->key);
            detail::sqlite_stmt ds(db_, "SELECT name, version FROM run_datasets WHERE run = ?");
            ds.bind(1, row->key);
            while (ds.step()) {
                datasets.insert({ds.col_text(0), ds.col_int(1)});
            }
        }
        std::int64_t model = 0;
        {
            detail::sqlite_stmt s(db_, "SELECT id FROM models WHERE name = ?");
            s.bind(1, reg.name);
            if (s.step()) {
                model = s.col_int(0);
            } else {
                detail::sqlite_stmt(db_, "INSERT INTO models (name, description, created) "
                                         "VALUES (?, ?, ?)")
                    .bind_all(reg.name, reg.description, now)
                    .run();
                model = db_.last_insert_id();
            }
        }
        std::int64_t version = 0;
        {
            detail::sqlite_stmt s(db_, "SELECT next_version FROM models WHERE id = ?");
            s.bind(1, model);
            s.step();
            version = s.col_int(0);
        }
        detail::sqlite_stmt(db_, "UPDATE models SET next_version = ? WHERE id = ?")
            .bind_all(version + 1, model)
            .run();
        if (!reg.description.empty()) {
            detail::sqlite_stmt(db_, "UPDATE models SET description = ? WHERE id = ?")
                .bind_all(reg.description, model)
                .run();
        }
        std::vector<file_info> sorted = files;
        std::sort(sorted.begin(), sorted.end(),
                  [](const file_info& a, const file_info& b) { return a.path < b.path; });
        detail::sqlite_stmt(db_, "INSERT INTO model_versions (model, version, description, "
                                 "created, run_id, experiment, job, metrics, content_sha256) "
                                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
            .bind_all(model, version, reg.description, now, reg.run_id.value_or(""), experiment,
                      job, metrics_json, content_hash(sorted))
            .run();
        const std::int64_t mv = db_.last_insert_id();
        {
            detail::sqlite_stmt s(db_, "INSERT INTO model_files (mv, path, sha256, size) "
                                       "VALUES (?, ?, ?, ?)");
            for (const auto& f : sorted) {
                s.bind_all(mv, f.path, f.sha256, static_cast<std::int64_t>(f.size)).run();
            }
        }
        for (const auto& [table, m] : {std::pair{"model_tags", &reg.tags},
                                       std::pair{"model_properties", &reg.properties}}) {
            detail::sqlite_stmt s(db_, std::string("INSERT INTO ") + table +
                                           " (mv, key, value) VALUES (?, ?, ?)");
            for (const auto& [k, v] : *m) {
                s.bind_all(mv, k, v).run();
            }
        }
        {
            detail::sqlite_stmt s(db_, "INSERT INTO model_datasets (mv, name, version) "
                                       "VALUES (?, ?, ?)");
            for (const auto& [n, v] : datasets) {
                s.bind_all(mv, n, v).run();
            }
        }
        tx.commit();
        return get_model_version(reg.name, version);
    }

    std::vector<model_info> models() override {
        std::vector<model_info> out;
        detail::sqlite_stmt s(db_, "SELECT m.id, m.name, m.description, m.created, "
                                   "(SELECT MAX(version) FROM model_versions v WHERE v.model = "
                                   "m.id) FROM models m ORDER BY m.name");
        while (s.step()) {
            model_info m{s.col_text(1), s.col_text(2), s.col_int(3),
                         s.col_is_null(4) ? 0 : s.col_int(4), {}};
            detail::sqlite_stmt a(db_, "SELECT alias, version FROM model_aliases WHERE model = ?");
            a.bind(1, s.col_int(0));
            while (a.step()) {
                m.aliases[a.col_text(0)] = a.col_int(1);
            }
            out.push_back(std::move(m));
        }
        return out;
    }

    std::vector<model_version> model_versions(std::string_view name) override {
        const std::int64_t model = model_id(name);
        std::vector<std::int64_t> versions;
        detail::sqlite_stmt s(db_, "SELECT version FROM model_versions WHERE model = ? ORDER BY "
                                   "version");
        s.bind(1, model);
        while (s.step()) {
            versions.push_back(s.col_int(0));
        }
        std::vector<model_version> out;
        for (const auto v : versions) {
            out.push_back(get_model_version(name, v));
        }
        return out;
    }

    model_version get_model_version(std::string_view name, std::int64_t version) override {
        const std::int64_t model = model_id(name);
        if (version == 0) {
            detail::sqlite_stmt s(db_, "SELECT MAX(version) FROM model_versions WHERE model = ?");
            s.bind(1, model);
            if (!s.step() || s.col_is_null(0)) {
                throw workspace_error("model " + std::string(name) + " has no versions");
            }
            version = s.col_int(0);
        }
        detail::sqlite_stmt s(db_, "SELECT id, description, created, run_id, experiment, job, "
                                   "metrics, content_sha256 FROM model_versions WHERE model = ? "
                                   "AND version = ?");
        s.bind_all(model, version);
        if (!s.step()) {
            throw workspace_error("model " + std::string(name) + " has no version " +
                                  std::to_string(version));
        }
        model_version mv;
        mv.name = std::string(name);
        mv.version = version;
        const std::int64_t key = s.col_int(0);
        mv.description = s.col_text(1);
        mv.created = s.col_int(2);
        mv.run_id = s.col_text(3);
        mv.experiment = s.col_text(4);
        mv.job_json = s.col_text(5);
        mv.metrics = parse_metrics_json(s.col_text(6));
        mv.content_sha256 = s.col_text(7);
        for (const auto& [table, target] : {std::pair{"model_tags", &mv.tags},
                                            std::pair{"model_properties", &mv.properties}}) {
            detail::sqlite_stmt t(db_, std::string("SELECT key, value FROM ") + table +
                                           " WHERE mv = ?");
            t.bind(1, key);
            while (t.step()) {
                (*target)[t.col_text(0)] = t.col_text(1);
            }
        }
        {
            detail::sqlite_stmt t(db_, "SELECT alias FROM model_aliases WHERE model = ? AND "
                                       "version = ? ORDER BY alias");
            t.bind_all(model, version);
            while (t.step()) {
                mv.aliases.push_back(t.col_text(0));
            }
        }
        {
            detail::sqlite_stmt t(db_, "SELECT path, size, sha256 FROM model_files WHERE mv = ? "
                                       "ORDER BY path");
            t.bind(1, key);
            while (t.step()) {
                mv.files.push_back({t.col_text(0), static_cast<std::uint64_t>(t.col_int(1)),
                                    t.col_text(2)});
            }
        }
        {
            detail::sqlite_stmt t(db_, "SELECT name, version FROM model_datasets WHERE mv = ? "
                                       "ORDER BY name, version");
            t.bind(1, key);
            while (t.step()) {
                mv.datasets.push_back({t.col_text(0), t.col_int(1)});
            }
        }
        return mv;
    }

    std::int64_t resolve_model_alias(std::string_view name, std::string_view alias) override {
        const std::int64_t model = model_id(name);
        detail::sqlite_stmt s(db_, "SELECT version FROM model_aliases WHERE model = ? AND "
                                   "alias = ?");
        s.bind_all(model, alias);
        if (!s.step()) {
            throw workspace_error("model " + std::string(name) + " has no alias \"" +
                                  std::string(alias) + "\"");
        }
        return s.col_int(0);
    }

    void set_model_alias(std::string_view name, std::string_view alias,
                         std::int64_t version) override {
        run::check_entity_name("alias", alias);
        if (!alias.empty() && alias.front() >= '0' && alias.front() <= '9' &&
            std::all_of(alias.begin(), alias.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            throw workspace_error("alias \"" + std::string(alias) +
                                  "\": a number would read as a version; use a word");
        }
        detail::sqlite_transaction tx(db_);
        const std::int64_t model = model_id(name);
        require_version(name, model, version);
        // One statement: the alias moves from its old version to the new one atomically.
        detail::sqlite_stmt(db_, "INSERT INTO model_aliases (model, alias, version) VALUES "
                                 "(?, ?, ?) ON CONFLICT (model, alias) DO UPDATE SET version = "
                                 "excluded.version")
            .bind_all(model, alias, version)
            .run();
        tx.commit();
    }

    void delete_model_alias(std::string_view name, std::string_view alias) override {
        detail::sqlite_transaction tx(db_);
        const std::int64_t model = model_id(name);
        detail::sqlite_stmt(db_, "DELETE FROM model_aliases WHERE model = ? AND alias = ?")
            .bind_all(model, alias)
            .run();
        if (db_.changes() == 0) {
            throw workspace_error("model " + std::string(name) + " has no alias \"" +
                                  std::string(alias) + "\"");
        }
        tx.commit();
    }

    void set_model_tag(std::string_view name, std::int64_t version, std::string_view key,
                       std::string_view value) override {
        run::check_key_name("model tag", key);
        detail::sqlite_transaction tx(db_);
        const std::int64_t mv = version_key(name, version);
        detail::sqlite_stmt(db_, "INSERT INTO model_tags (mv, key, value) VALUES (?, ?, ?) ON "
                                 "CONFLICT (mv, key) DO UPDATE SET value = excluded.value")
            .bind_all(mv, key, value)
            .run();
        tx.commit();
    }

    void delete_model_tag(std::string_view name, std::int64_t version,
                          std::string_view key) override {
        detail::sqlite_transaction tx(db_);
        const std::int64_t mv = version_key(name, version);
        detail::sqlite_stmt(db_, "DELETE FROM model_tags WHERE mv = ? AND key = ?")
            .bind_all(mv, key)
            .run();
        if (db_.changes() == 0) {
            throw workspace_error("model " + std::string(name) + ":" + std::to_string(version) +
                                  " has no tag \"" + std::string(key) + "\"");
        }
        tx.commit();
    }

    void add_model_property(std::string_view name, std::int64_t version, std::string_view key,
                            std::string_view value) override {
        run::check_key_name("model property", key);
        detail::sqlite_transaction tx(db_);
        const std::int64_t mv = version_key(name, version);
        detail::sqlite_stmt s(db_, "SELECT value FROM model_properties WHERE mv = ? AND key = ?");
        s.bind_all(mv, key);
        if (s.step()) {
            if (s.col_text(0) != value) {
                throw workspace_error("model " + std::string(name) + ":" +
                                      std::to_string(version) + ": property \"" +
                                      std::string(key) + "\" is already \"" + s.col_text(0) +
                                      "\" (properties are add-only; use a tag for a value that "
                                      "changes)");
            }
            return;
        }
        detail::sqlite_stmt(db_, "INSERT INTO model_properties (mv, key, value) VALUES (?, ?, ?)")
            .bind_all(mv, key, value)
            .run();
        tx.commit();
    }

    void delete_model_version(std::string_view name, std::int64_t version) override {
        detail::sqlite_transaction tx(db_);
        const std::int64_t model = model_id(name);
        const std::int64_t mv = version_key(name, version);
        for (const char* table : {"model_files", "model_tags", "model_properties",
                                  "model_datasets"}) {
            detail::sqlite_stmt(db_, std::string("DELETE FROM ") + table + " WHERE mv = ?")
                .bind(1, mv)
                .run();
        }
        detail::sqlite_stmt(db_, "DELETE FROM model_aliases WHERE model = ? AND version = ?")
            .bind_all(model, version)
            .run();
        detail::sqlite_stmt(db_, "DELETE FROM model_versions WHERE id = ?").bind(1, mv).run();
        tx.commit();
    }

    // --- datasets ------------------------------------------------------------------------------

    dataset_version add_dataset_version(std::string_view name, std::string_view description,
                                        const std::vector<dataset_file>& files,
                                        bool create_new_version) override {
        run::check_entity_name("dataset", name);
        if (files.empty()) {
            throw workspace_error("dataset " + std::string(name) + ": no files");
        }
        std::vector<dataset_file> sorted = files;
        std::sort(sorted.begin(), sorted.end(),
                  [](const dataset_file& a, const dataset_file& b) { return a.path < b.path; });
        std::vector<file_info> infos;
        for (const auto& f : sorted) {
            run::check_relative_path("dataset file", f.path);
            if (!objects_.contains(f.sha256)) {
                throw workspace_error("dataset " + std::string(name) + ": file " + f.path +
                                      " is not in the object store");
            }
            infos.push_back({f.path, f.size, f.sha256});
        }
        const std::string hash = content_hash(infos);
        const std::int64_t now = run::detail::now_ms();
        detail::sqlite_transaction tx(db_);
        std::int64_t ds = 0;
        {
            detail::sqlite_stmt s(db_, "SELECT id FROM datasets WHERE name = ?");
            s.bind(1, name);
            if (s.step()) {
                ds = s.col_int(0);
            } else {
                detail::sqlite_stmt(db_, "INSERT INTO datasets (name, created) VALUES (?, ?)")
                    .bind_all(name, now)
                    .run();
                ds = db_.last_insert_id();
            }
        }
        if (!create_new_version) {
            detail::sqlite_stmt s(db_, "SELECT version, content_sha256 FROM dataset_versions "
                                       "WHERE dataset = ? ORDER BY version DESC LIMIT 1");
            s.bind(1, ds);
            if (s.step() && s.col_text(1) == hash) {
                const std::int64_t v = s.col_int(0);
                tx.commit();
                return get_dataset_version(name, v);
            }
        }
        std::int64_t version = 0;
        {
            detail::sqlite_stmt s(db_, "SELECT next_version FROM datasets WHERE id = ?");
            s.bind(1, ds);
            s.step();
            version = s.col_int(0);
        }
        detail::sqlite_stmt(db_, "UPDATE datasets SET next_version = ? WHERE id = ?")
            .bind_all(version + 1, ds)
            .run();
        detail::sqlite_stmt(db_, "INSERT INTO dataset_versions (dataset, version, description, "
                                 "created, content_sha256) VALUES (?, ?, ?, ?, ?)")
            .bind_all(ds, version, description, now, hash)
            .run();
        const std::int64_t dv = db_.last_insert_id();
        detail::sqlite_stmt s(db_, "INSERT INTO dataset_files (dv, path, sha256, size, source) "
                                   "VALUES (?, ?, ?, ?, ?)");
        for (const auto& f : sorted) {
            s.bind_all(dv, f.path, f.sha256, static_cast<std::int64_t>(f.size), f.source).run();
        }
        tx.commit();
        return get_dataset_version(name, version);
    }

    std::vector<dataset_info> datasets() override {
        std::vector<dataset_info> out;
        detail::sqlite_stmt s(db_, "SELECT d.name, d.created, (SELECT MAX(version) FROM "
                                   "dataset_versions v WHERE v.dataset = d.id), (SELECT "
                                   "description FROM dataset_versions v WHERE v.dataset = d.id "
                                   "ORDER BY version DESC LIMIT 1) FROM datasets d ORDER BY "
                                   "d.name");
        while (s.step()) {
            out.push_back({s.col_text(0), s.col_text(3), s.col_int(1),
                           s.col_is_null(2) ? 0 : s.col_int(2)});
        }
        return out;
    }

    std::vector<dataset_version> dataset_versions(std::string_view name) override {
        std::vector<std::int64_t> versions;
        {
            detail::sqlite_stmt s(db_, "SELECT v.version FROM dataset_versions v JOIN datasets d "
                                       "ON d.id = v.dataset WHERE d.name = ? ORDER BY v.version");
            s.bind(1, name);
            while (s.step()) {
                versions.push_back(s.col_int(0));
            }
        }
        if (versions.empty()) {
            throw workspace_error("no dataset \"" + std::string(name) + "\"");
        }
        std::vector<dataset_version> out;
        for (const auto v : versions) {
            out.push_back(get_dataset_version(name, v));
        }
        return out;
    }

    dataset_version get_dataset_version(std::string_view name, std::int64_t version) override {
        std::int64_t ds = 0;
        {
            detail::sqlite_stmt s(db_, "SELECT id FROM datasets WHERE name = ?");
            s.bind(1, name);
            if (!s.step()) {
                throw workspace_error("no dataset \"" + std::string(name) + "\"");
            }
            ds = s.col_int(0);
        }
        if (version == 0) {
            detail::sqlite_stmt s(db_, "SELECT MAX(version) FROM dataset_versions WHERE "
                                       "dataset = ?");
            s.bind(1, ds);
            if (!s.step() || s.col_is_null(0)) {
                throw workspace_error("dataset " + std::string(name) + " has no versions");
            }
            version = s.col_int(0);
        }
        detail::sqlite_stmt s(db_, "SELECT id, description, created, content_sha256 FROM "
                                   "dataset_versions WHERE dataset = ? AND version = ?");
        s.bind_all(ds, version);
        if (!s.step()) {
            throw workspace_error("dataset " + std::string(name) + " has no version " +
                                  std::to_string(version));
        }
        dataset_version v;
        v.name = std::string(name);
        v.version = version;
        const std::int64_t dv = s.col_int(0);
        v.description = s.col_text(1);
        v.created = s.col_int(2);
        v.content_sha256 = s.col_text(3);
        detail::sqlite_stmt f(db_, "SELECT path, size, sha256, source FROM dataset_files WHERE "
                                   "dv = ? ORDER BY path");
        f.bind(1, dv);
        while (f.step()) {
            v.files.push_back({f.col_text(0), static_cast<std::uint64_t>(f.col_int(1)),
                               f.col_text(2), f.col_text(3)});
        }
        return v;
    }

    /// The hash that identifies a set of files: SHA-256 over "path\0sha256\0size\n" of each,
    /// sorted by path (so neither order nor timestamps change it).
    static std::string content_hash(std::vector<file_info> files) {
        std::sort(files.begin(), files.end(),
                  [](const file_info& a, const file_info& b) { return a.path < b.path; });
        detail::sha256 h;
        for (const auto& f : files) {
            const std::string line = f.path + '\0' + f.sha256 + '\0' + std::to_string(f.size) +
                                     '\n';
            h.update(line);
        }
        return h.hex();
    }

    /// Files under the run's outputs/, logs/, images/ and files/ (and any uploaded by name),
    /// sorted; sizes from the folder (the folder is the truth while the run lives).
    std::vector<file_info> list_run_files(std::string_view run_id) {
        const std::filesystem::path dir = run_dir(run_id);
        std::vector<file_info> out;
        std::error_code ec;
        for (const char* sub : {"outputs", "logs", "images", "files"}) {
            const auto base = dir / sub;
            if (!std::filesystem::is_directory(base, ec)) {
                continue;
            }
            for (auto it = std::filesystem::recursive_directory_iterator(base, ec);
                 !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
                if (it->is_regular_file(ec) && !it->is_symlink(ec)) {
                    const std::string name = it->path().filename().string();
                    if (name.rfind(".", 0) == 0 && name.find(".tmp.") != std::string::npos) {
                        continue; // an atomic write in progress
                    }
                    out.push_back({std::filesystem::relative(it->path(), dir).generic_string(),
                                   static_cast<std::uint64_t>(it->file_size(ec)), {}});
                }
            }
        }
        // Files uploaded by name elsewhere in the run folder.
        if (const auto row = run_row(run_id)) {
            detail::sqlite_stmt s(db_, "SELECT path FROM run_files WHERE run = ?");
            s.bind(1, row->key);
            while (s.step()) {
                const std::string p = s.col_text(0);
                const bool listed = std::any_of(out.begin(), out.end(),
                                                [&](const file_info& f) { return f.path == p; });
                if (!listed && std::filesystem::is_regular_file(dir / p, ec)) {
                    out.push_back({p, static_cast<std::uint64_t>(
                                          std::filesystem::file_size(dir / p, ec)),
                                   {}});
                }
            }
        }
        std::sort(out.begin(), out.end(),
                  [](const file_info& a, const file_info& b) { return a.path < b.path; });
        return out;
    }

private:
    static constexpr std::string_view run_select =
        "SELECT r.run_id, e.name, r.state, r.reason, r.created, r.started, r.ended, "
        "r.last_seen, r.offline, r.host, r.pid FROM runs r JOIN experiments e ON "
        "e.id = r.experiment";

    static run_info read_run_info(const detail::sqlite_stmt& s) {
        run_info r;
        r.id = s.col_text(0);
        r.experiment = s.col_text(1);
        r.state = run::parse_run_state(s.col_text(2)).value_or(run_state::failed);
        r.reason = s.col_text(3);
        r.created = s.col_int(4);
        r.started = s.col_int(5);
        r.ended = s.col_int(6);
        r.last_seen = s.col_int(7);
        r.offline = s.col_int(8) != 0;
        r.host = s.col_text(9);
        r.pid = s.col_int(10);
        return r;
    }

    struct run_row_t {
        std::int64_t key = 0;
        run_state state = run_state::not_started;
        std::int64_t ingested = 0;
        std::int64_t last_seen = 0;
        run::detail::writer_identity writer;
    };

    static detail::sqlite_db open_db(const std::filesystem::path& root) {
        std::error_code ec;
        std::filesystem::create_directories(root, ec);
        if (ec) {
            throw file_error(root.string() + ": cannot create the store folder: " + ec.message(),
                             ec);
        }
        return detail::sqlite_db(root / "ctml.db");
    }

    void migrate() {
        sqlite3_busy_timeout(db_.get(), options_.busy_timeout_ms);
        // The first statement reads the header: a file that is not SQLite fails here.
        db_.exec("PRAGMA foreign_keys = ON");
        {
            detail::sqlite_stmt s(db_, "PRAGMA journal_mode = WAL");
            s.step();
        }
        db_.exec("PRAGMA synchronous = FULL");
        int version = current_version();
        if (version > detail::schema_version) {
            throw workspace_error(db_.path().string() + ": written by a newer ctml (schema " +
                                  std::to_string(version) + "; this ctml " CTML_VERSION_STRING
                                  " reads up to " + std::to_string(detail::schema_version) + ")");
        }
        while (version < detail::schema_version) {
            detail::sqlite_transaction tx(db_);
            // Another process may have migrated meanwhile: look again under the write lock.
            version = current_version();
            if (version >= detail::schema_version) {
                break;
            }
            db_.exec(detail::migrations[static_cast<std::size_t>(version)]);
            detail::sqlite_stmt(db_, "UPDATE schema_version SET version = ?")
                .bind(1, version + 1)
                .run();
            tx.commit();
            ++version;
        }
    }

    int current_version() {
        detail::sqlite_stmt t(db_, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND "
                                   "name = 'schema_version'");
        t.step();
        if (t.col_int(0) == 0) {
            detail::sqlite_stmt any(db_, "SELECT COUNT(*) FROM sqlite_master");
            any.step();
            if (any.col_int(0) != 0) {
                throw workspace_error(db_.path().string() +
                                      ": an SQLite database, but not a ctml store (no "
                                      "schema_version table)");
            }
            return 0;
        }
        detail::sqlite_stmt s(db_, "SELECT version FROM schema_version");
        if (!s.step()) {
            throw workspace_error(db_.path().string() + ": schema_version is empty");
        }
        return static_cast<int>(s.col_int(0));
    }

    std::int64_t experiment_id(std::string_view name, bool create) {
        detail::sqlite_stmt s(db_, "SELECT id FROM experiments WHERE name = ?");
        s.bind(1, name);
        if (s.step()) {
            return s.col_int(0);
        }
        if (!create) {
            throw workspace_error("no experiment \"" + std::string(name) + "\"");
        }
        detail::sqlite_stmt(db_, "INSERT INTO experiments (name, created) VALUES (?, ?)")
            .bind_all(name, run::detail::now_ms())
            .run();
        return db_.last_insert_id();
    }

    std::optional<run_row_t> run_row(std::string_view run_id) {
        detail::sqlite_stmt s(db_, "SELECT id, state, ingested, last_seen, host, boot_id, pid, "
                                   "pid_start FROM runs WHERE run_id = ?");
        s.bind(1, run_id);
        if (!s.step()) {
            return std::nullopt;
        }
        run_row_t r;
        r.key = s.col_int(0);
        r.state = run::parse_run_state(s.col_text(1)).value_or(run_state::failed);
        r.ingested = s.col_int(2);
        r.last_seen = s.col_int(3);
        r.writer.host = s.col_text(4);
        r.writer.boot_id = s.col_text(5);
        r.writer.pid = s.col_int(6);
        r.writer.pid_start = static_cast<std::uint64_t>(s.col_int(7));
        return r;
    }

    void add_history(std::int64_t run, run_state state, std::int64_t time,
                     std::string_view reason) {
        detail::sqlite_stmt(db_, "INSERT INTO run_states (run, seq, state, time, reason) VALUES "
                                 "(?1, (SELECT COUNT(*) FROM run_states WHERE run = ?1), ?2, ?3, "
                                 "?4)")
            .bind_all(run, run::to_string(state), time, reason)
            .run();
    }

    /// Moves `run` from `from` to `to` when allowed (else nothing): the state, its history row,
    /// and started/ended.
    bool transition(std::int64_t run, run_state from, run_state to, std::int64_t time,
                    std::string_view reason) {
        if (!run::can_transition(from, to)) {
            return false;
        }
        add_history(run, to, time, reason);
        detail::sqlite_stmt(db_, "UPDATE runs SET state = ?, reason = ?, "
                                 "started = CASE WHEN ? AND started = 0 THEN ? ELSE started END, "
                                 "ended = CASE WHEN ? THEN ? ELSE ended END WHERE id = ?")
            .bind_all(run::to_string(to), reason, to == run_state::running ? 1 : 0, time,
                      run::is_terminal(to) ? 1 : 0, time, run)
            .run();
        return true;
    }

    /// Bytes after the last newline (a line being written, or cut by a crash).
    static std::int64_t trailing_partial(int fd, std::int64_t size) {
        std::int64_t n = 0;
        char c = 0;
        for (std::int64_t pos = size - 1; pos >= 0; --pos, ++n) {
            if (::pread(fd, &c, 1, pos) != 1 || c == '\n') {
                break;
            }
            if (n > (1 << 20)) {
                break;
            }
        }
        return n;
    }

    void ingest_available(int fd, const std::filesystem::path& events, const std::string& id,
                          sync_report& report) {
        std::size_t chunk = options_.ingest_chunk;
        for (;;) {
            detail::sqlite_transaction tx(db_);
            const auto row = run_row(id);
            const std::int64_t offset = row ? row->ingested : 0;
            struct ::stat st {};
            if (::fstat(fd, &st) != 0) {
                io::detail::throw_file_error(events, "stat", errno);
            }
            if (st.st_size <= offset) {
                return;
            }
            const std::size_t available = static_cast<std::size_t>(st.st_size - offset);
            const std::size_t want = std::min(available, chunk);
            std::string bytes(want, '\0');
            std::size_t got = 0;
            while (got < want) {
                const ::ssize_t n = ::pread(fd, bytes.data() + got, want - got,
                                            static_cast<off_t>(offset) + static_cast<off_t>(got));
                if (n < 0 && errno == EINTR) {
                    continue;
                }
                if (n <= 0) {
                    break;
                }
                got += static_cast<std::size_t>(n);
            }
            bytes.resize(got);
            ingest_state state{row ? row->key : 0, row ? row->state : run_state::not_started,
                               row ? row->last_seen : 0, {}};
            prepared_ingest p(db_);
            const run::event_parse_result r = run::parse_events(
                bytes, [&](const run::event& e, std::size_t) { apply(p, state, id, e); },
                static_cast<std::size_t>(offset));
            if (r.consumed == 0) {
                if (want == available) {
                    return; // only a partial line so far
                }
                chunk *= 2; // one line longer than a chunk: read more at once
                continue;
            }
            if (state.key == 0) {
                // Events before any start event (a damaged file): record the run anyway.
                state.key = insert_run(id, "unknown", run::detail::now_ms(), false);
            }
            for (auto& [key, series] : state.series) {
                store_points(p, series);
            }
            detail::sqlite_stmt(db_, "UPDATE runs SET ingested = ?, last_seen = ? WHERE id = ?")
                .bind_all(offset + static_cast<std::int64_t>(r.consumed), state.last_seen,
                          state.key)
                .run();
            tx.commit();
            report.events += static_cast<std::int64_t>(r.events);
            report.malformed += static_cast<std::int64_t>(r.malformed);
            if (want == available && r.consumed < want) {
                return; // the rest is a line being written
            }
        }
    }

    struct series_buffer {
        std::int64_t id = 0;
        std::int64_t points = 0; ///< stored before this transaction
        std::int64_t pending = 0;
        std::string data;
    };

    struct ingest_state {
        std::int64_t key;
        run_state state;
        std::int64_t last_seen;
        /// metric name -> its series and the points of this transaction, encoded
        std::unordered_map<std::string, series_buffer> series;
    };

    /// Statements reused for every event of one ingest transaction.
    struct prepared_ingest {
        explicit prepared_ingest(detail::sqlite_db& db)
            : new_chunk(db, "INSERT INTO metric_chunks (series, first, count, data) VALUES "
                            "(?, ?, ?, ?)"),
              last_chunk(db, "SELECT data FROM metric_chunks WHERE series = ? AND first = ?"),
              update_chunk(db, "UPDATE metric_chunks SET count = ?, data = ? WHERE series = ? "
                               "AND first = ?"),
              find_series(db, "SELECT id, points FROM metric_series WHERE run = ? AND key = ?"),
              new_series(db, "INSERT INTO metric_series (run, key) VALUES (?, ?)"),
              series_points(db, "UPDATE metric_series SET points = ? WHERE id = ?"),
              param(db, "INSERT INTO params (run, key, value) VALUES (?, ?, ?) ON CONFLICT "
                        "(run, key) DO UPDATE SET value = excluded.value"),
              tag(db, "INSERT INTO tags (run, key, value) VALUES (?, ?, ?) ON CONFLICT (run, key) "
                      "DO UPDATE SET value = excluded.value") {}
        detail::sqlite_stmt new_chunk;
        detail::sqlite_stmt last_chunk;
        detail::sqlite_stmt update_chunk;
        detail::sqlite_stmt find_series;
        detail::sqlite_stmt new_series;
        detail::sqlite_stmt series_points;
        detail::sqlite_stmt param;
        detail::sqlite_stmt tag;
    };

    /// Appends a series' pending points: first into its last, partial chunk, then in new
    /// chunks that start at multiples of metric_chunk_points.
    static void store_points(prepared_ingest& p, series_buffer& b) {
        constexpr std::int64_t m = detail::metric_chunk_points;
        constexpr auto bytes = static_cast<std::int64_t>(detail::metric_point_bytes);
        std::int64_t done = 0; // pending points stored so far
        std::int64_t total = b.points;
        const std::string_view data(b.data);
        if (total % m != 0 && b.pending > 0) {
            const std::int64_t first = total - total % m;
            const std::int64_t take = std::min(m - total % m, b.pending);
            p.last_chunk.bind_all(b.id, first);
            std::string chunk;
            if (p.last_chunk.step()) {
                chunk.assign(p.last_chunk.col_blob(0));
            }
            p.last_chunk.reset();
            chunk.append(data.substr(0, static_cast<std::size_t>(take * bytes)));
            p.update_chunk.bind(1, static_cast<std::int64_t>(chunk.size()) / bytes)
                .bind_blob(2, chunk)
                .bind(3, b.id)
                .bind(4, first)
                .run();
            done += take;
            total += take;
        }
        while (done < b.pending) {
            const std::int64_t take = std::min(m, b.pending - done);
            p.new_chunk.bind(1, b.id)
                .bind(2, total)
                .bind(3, take)
                .bind_blob(4, data.substr(static_cast<std::size_t>(done * bytes),
                                          static_cast<std::size_t>(take * bytes)))
                .run();
            done += take;
            total += take;
        }
        p.series_points.bind_all(total, b.id).run();
        b.points = total;
        b.pending = 0;
        b.data.clear();
    }

    std::int64_t insert_run(const std::string& id, std::string_view experiment,
                            std::int64_t time, bool offline) {
        const std::string exp = experiment.empty() ? std::string("default")
                                                   : std::string(experiment);
        const std::int64_t e = experiment_id(exp, true);
        detail::sqlite_stmt(db_, "INSERT INTO runs (run_id, experiment, state, created, offline, "
                                 "last_seen) VALUES (?, ?, ?, ?, ?, ?)")
            .bind_all(id, e, run::to_string(run_state::not_started), time, offline ? 1 : 0, time)
            .run();
        const std::int64_t key = db_.last_insert_id();
        add_history(key, run_state::not_started, time, "");
        return key;
    }

    void apply(prepared_ingest& p, ingest_state& st, const std::string& id, const run::event& e) {
        using run::event_kind;
        st.last_seen = std::max(st.last_seen, e.time_ms);
        if (e.kind == event_kind::start) {
            if (st.key == 0) {
                std::string exp = e.experiment;
                if (!exp.empty()) {
                    try {
                        run::check_entity_name("experiment", exp);
                    } catch (const workspace_error&) {
                        exp = "default";
                    }
                }
                st.key = insert_run(id, exp, e.time_ms, e.offline);
            }
            detail::sqlite_stmt(db_, "UPDATE runs SET host = ?, boot_id = ?, pid = ?, "
                                     "pid_start = ? WHERE id = ?")
                .bind_all(e.host, e.boot_id, e.pid, static_cast<std::int64_t>(e.pid_start),
                          st.key)
                .run();
            return;
        }
        if (st.key == 0) {
            st.key = insert_run(id, "unknown", e.time_ms, false);
        }
        switch (e.kind) {
        case event_kind::metric: {
            auto it = st.series.find(e.key);
            if (it == st.series.end()) {
                series_buffer b;
                p.find_series.bind_all(st.key, e.key);
                if (p.find_series.step()) {
                    b.id = p.find_series.col_int(0);
                    b.points = p.find_series.col_int(1);
                    p.find_series.reset();
                } else {
                    p.find_series.reset();
                    p.new_series.bind_all(st.key, e.key).run();
                    b.id = db_.last_insert_id();
                }
                it = st.series.emplace(e.key, std::move(b)).first;
            }
            detail::encode_point(it->second.data, e.value, e.number, e.time_ms);
            ++it->second.pending;
            break;
        }
        case event_kind::param: p.param.bind_all(st.key, e.key, e.text).run(); break;
        case event_kind::tag: p.tag.bind_all(st.key, e.key, e.text).run(); break;
        case event_kind::environment:
            detail::sqlite_stmt(db_, "UPDATE runs SET environment = ? WHERE id = ?")
                .bind_all(e.text, st.key)
                .run();
            break;
        case event_kind::job:
            detail::sqlite_stmt(db_, "UPDATE runs SET job = ? WHERE id = ?")
                .bind_all(e.text, st.key)
                .run();
            break;
        case event_kind::image:
            detail::sqlite_stmt(db_, "INSERT INTO images (run, name, path, ts) VALUES (?, ?, ?, ?)")
                .bind_all(st.key, e.key, e.text, e.time_ms)
                .run();
            break;
        case event_kind::file:
            detail::sqlite_stmt(db_, "INSERT INTO run_files (run, path, ts) VALUES (?, ?, ?) ON "
                                     "CONFLICT (run, path) DO UPDATE SET ts = excluded.ts")
                .bind_all(st.key, e.text, e.time_ms)
                .run();
            break;
        case event_kind::dataset:
            detail::sqlite_stmt(db_, "INSERT OR IGNORE INTO run_datasets (run, name, version) "
                                     "VALUES (?, ?, ?)")
                .bind_all(st.key, e.key, e.number)
                .run();
            break;
        case event_kind::state:
        case event_kind::end:
            if (transition(st.key, st.state, e.state, e.time_ms, e.text)) {
                st.state = e.state;
            }
            break;
        case event_kind::heartbeat:
        case event_kind::start: break;
        }
    }

    /// Why the writer of run `id` is dead, or nothing when it lives, the run has ended, or it
    /// has no writer (a submitted run not started yet).
    std::optional<std::string> dead_writer_reason(const std::string& id) {
        const auto row = run_row(id);
        if (!row || run::is_terminal(row->state) || row->writer.pid == 0) {
            return std::nullopt;
        }
        const std::string who = "pid " + std::to_string(row->writer.pid) + " on host " +
                                row->writer.host;
        switch (run::detail::check_local(row->writer)) {
        case run::detail::liveness::alive: return std::nullopt;
        case run::detail::liveness::dead:
            return "the writer (" + who +
                   ") is gone without ending the run (killed, e.g. by SIGKILL or the OOM "
                   "killer, or crashed); events after its last write are lost";
        case run::detail::liveness::unknown: break;
        }
        const double age_s =
            static_cast<double>(run::detail::now_ms() - row->last_seen) / 1000.0;
        if (age_s > options_.heartbeat_timeout_s) {
            return "no heartbeat from the writer (" + who + ") for " +
                   std::to_string(static_cast<long long>(age_s)) + " s (timeout " +
                   std::to_string(static_cast<long long>(options_.heartbeat_timeout_s)) + " s)";
        }
        return std::nullopt;
    }

    std::string last_metrics_json(std::int64_t run) {
        io::json_writer w(io::json_style::compact);
        w.begin_object();
        detail::sqlite_stmt s(db_, "SELECT s.key, (SELECT data FROM metric_chunks c WHERE "
                                   "c.series = s.id ORDER BY c.first DESC LIMIT 1) FROM "
                                   "metric_series s WHERE s.run = ?1 AND s.points > 0 ORDER BY "
                                   "s.key");
        s.bind(1, run);
        while (s.step()) {
            double last = 0;
            bool any = false;
            detail::decode_points(s.col_blob(1), [&](double v, std::int64_t, std::int64_t) {
                last = v;
                any = true;
            });
            if (!any) {
                continue;
            }
            w.key(s.col_text(0));
            if (std::isnan(last)) {
                w.value("NaN");
            } else if (std::isinf(last)) {
                w.value(last > 0 ? "Infinity" : "-Infinity");
            } else {
                w.value(last);
            }
        }
        w.end_object();
        return w.take();
    }

    static std::map<std::string, double> parse_metrics_json(const std::string& text) {
        std::map<std::string, double> out;
        const io::json_document doc = io::parse_json(text, "model version metrics");
        const io::json_object o = doc.root().as_object();
        for (const std::string& k : o.keys()) {
            const io::json_value v = o.at(k);
            if (v.is_string()) {
                const std::string s = v.as_string();
                out[k] = s == "Infinity"    ? std::numeric_limits<double>::infinity()
                         : s == "-Infinity" ? -std::numeric_limits<double>::infinity()
                                            : std::numeric_limits<double>::quiet_NaN();
            } else {
                out[k] = v.as_double();
            }
        }
        return out;
    }

    std::int64_t model_id(std::string_view name) {
        detail::sqlite_stmt s(db_, "SELECT id FROM models WHERE name = ?");
        s.bind(1, name);
        if (!s.step()) {
            throw workspace_error("no model \"" + std::string(name) + "\"");
        }
        return s.col_int(0);
    }

    void require_version(std::string_view name, std::int64_t model, std::int64_t version) {
        detail::sqlite_stmt s(db_, "SELECT 1 FROM model_versions WHERE model = ? AND version = ?");
        s.bind_all(model, version);
        if (!s.step()) {
            throw workspace_error("model " + std::string(name) + " has no version " +
                                  std::to_string(version));
        }
    }

    std::int64_t version_key(std::string_view name, std::int64_t version) {
        const std::int64_t model = model_id(name);
        detail::sqlite_stmt s(db_, "SELECT id FROM model_versions WHERE model = ? AND version = ?");
        s.bind_all(model, version);
        if (!s.step()) {
            throw workspace_error("model " + std::string(name) + " has no version " +
                                  std::to_string(version));
        }
        return s.col_int(0);
    }

    static void check_map(std::string_view kind, const std::map<std::string, std::string>& m) {
        for (const auto& [k, v] : m) {
            run::check_key_name(kind, k);
        }
    }

    std::filesystem::path root_;
    sqlite_store_options options_;
    detail::sqlite_db db_;
    detail::object_store objects_;
};

} // namespace ctml::workspace
