// SPDX-License-Identifier: MIT
// What has been pushed to which MLflow server: `<workspace root>/mlflow-sync.db`, an SQLite file
// of its own beside the store's ctml.db (so the store's schema does not depend on this optional
// part), with forward migrations counted in PRAGMA user_version like the store's. Every row is
// keyed by the server URI, so one workspace can be synced to several servers.
//
// It maps ctml ids to MLflow ids (experiments, runs, model versions) and records progress: how
// many points of each metric series, which params, tags and files (size + mtime), which status,
// which model-version tags and aliases. Each record is written right after the request it
// describes succeeded, in its own transaction: a push killed at any point resumes where it
// stopped. The one request whose success may be lost that way is resent, and each is
// idempotent on the server: log-batch of an identical point is dropped by MLflow's primary key
// (key, timestamp, step, value), params and tags are set to the same value, an artifact PUT
// overwrites the same bytes, and a run or model version created but not recorded is found again
// by its tag (ctml.run_id, ctml.version) before a new one is made.
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "ctml/core/error.hpp"
#include "ctml/io/file.hpp"
#include "ctml/workspace/detail/sqlite.hpp"

namespace ctml::workspace::mlflow {

namespace detail {

inline constexpr std::array<std::string_view, 1> sync_migrations{R"sql(
CREATE TABLE experiments (server TEXT NOT NULL, name TEXT NOT NULL, remote_id TEXT NOT NULL,
                          PRIMARY KEY (server, name));
CREATE TABLE runs (server TEXT NOT NULL, run_id TEXT NOT NULL, remote_id TEXT NOT NULL,
                   artifact_root TEXT NOT NULL, status TEXT NOT NULL DEFAULT '',
                   end_time INTEGER NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0,
                   PRIMARY KEY (server, run_id));
CREATE TABLE run_series (server TEXT NOT NULL, run_id TEXT NOT NULL, key TEXT NOT NULL,
                         sent INTEGER NOT NULL, PRIMARY KEY (server, run_id, key));
CREATE TABLE run_values (server TEXT NOT NULL, run_id TEXT NOT NULL, kind TEXT NOT NULL,
                         key TEXT NOT NULL, value TEXT NOT NULL,
                         PRIMARY KEY (server, run_id, kind, key));
CREATE TABLE models (server TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (server, name));
CREATE TABLE versions (server TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL,
                       remote_version INTEGER NOT NULL, PRIMARY KEY (server, name, version));
CREATE TABLE version_values (server TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL,
                             kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
                             PRIMARY KEY (server, name, version, kind, key));
CREATE TABLE aliases (server TEXT NOT NULL, name TEXT NOT NULL, alias TEXT NOT NULL,
                      version INTEGER NOT NULL, PRIMARY KEY (server, name, alias));
)sql"};

} // namespace detail

/// @brief The sync map of one workspace for one server (see the top of this file).
class sync_state {
public:
    sync_state(const std::filesystem::path& root, std::string server)
        : db_(root / "mlflow-sync.db"), server_(std::move(server)) {
        sqlite3_busy_timeout(db_.get(), 120000);
        {
            ::ctml::workspace::detail::sqlite_stmt s(db_, "PRAGMA journal_mode = WAL");
            s.step();
        }
        ::ctml::workspace::detail::sqlite_transaction tx(db_);
        ::ctml::workspace::detail::sqlite_stmt v(db_, "PRAGMA user_version");
        v.step();
        const auto have = static_cast<std::size_t>(v.col_int(0));
        v.reset();
        if (have > detail::sync_migrations.size()) {
            throw workspace_error((root / "mlflow-sync.db").string() + ": written by a newer ctml "
                                  "(sync schema " + std::to_string(have) + ", this one knows " +
                                  std::to_string(detail::sync_migrations.size()) + ")");
        }
        for (std::size_t i = have; i < detail::sync_migrations.size(); ++i) {
            db_.exec(detail::sync_migrations[i]);
        }
        db_.exec("PRAGMA user_version = " + std::to_string(detail::sync_migrations.size()));
        tx.commit();
    }

    const std::string& server() const noexcept { return server_; }

    std::optional<std::string> experiment(std::string_view name) {
        return text("SELECT remote_id FROM experiments WHERE server = ?1 AND name = ?2", name);
    }
    void set_experiment(std::string_view name, std::string_view id) {
        exec("INSERT OR REPLACE INTO experiments VALUES (?1, ?2, ?3)", name, id);
    }

    struct run_row {
        std::string remote_id, artifact_root, status;
        std::int64_t end_time = 0;
        bool done = false;
    };
    std::optional<run_row> run(std::string_view id) {
        ::ctml::workspace::detail::sqlite_stmt s(
            db_, "SELECT remote_id, artifact_root, status, end_time, done FROM runs WHERE "
                 "server = ?1 AND run_id = ?2");
        s.bind_all(server_, id);
        if (!s.step()) {
            return std::nullopt;
        }
        return run_row{s.col_text(0), s.col_text(1), s.col_text(2), s.col_int(3), s.col_int(4) != 0};
    }
    void set_run(std::string_view id, std::string_view remote, std::string_view artifact_root) {
        exec("INSERT OR IGNORE INTO runs (server, run_id, remote_id, artifact_root) VALUES "
             "(?1, ?2, ?3, ?4)",
             id, remote, artifact_root);
    }
    void set_run_status(std::string_view id, std::string_view status, std::int64_t end_time,
                        bool done) {
        exec("UPDATE runs SET status = ?3, end_time = ?4, done = ?5 WHERE server = ?1 AND "
             "run_id = ?2",
             id, status, end_time, std::int64_t{done ? 1 : 0});
    }

    std::int64_t series_sent(std::string_view id, std::string_view key) {
        ::ctml::workspace::detail::sqlite_stmt s(
            db_, "SELECT sent FROM run_series WHERE server = ?1 AND run_id = ?2 AND key = ?3");
        s.bind_all(server_, id, key);
        return s.step() ? s.col_int(0) : 0;
    }
    void set_series_sent(std::string_view id, std::string_view key, std::int64_t sent) {
        exec("INSERT OR REPLACE INTO run_series VALUES (?1, ?2, ?3, ?4)", id, key, sent);
    }

    /// kind: "param", "tag", "file" (value: "size:mtime").
    std::map<std::string, std::string> run_values(std::string_view id, std::string_view kind) {
        ::ctml::workspace::detail::sqlite_stmt s(
            db_, "SELECT key, value FROM run_values WHERE server = ?1 AND run_id = ?2 AND kind = ?3");
        s.bind_all(server_, id, kind);
        std::map<std::string, std::string> out;
        while (s.step()) {
            out.emplace(s.col_text(0), s.col_text(1));
        }
        return out;
    }
    void set_run_value(std::string_view id, std::string_view kind, std::string_view key,
                       std::string_view value) {
        exec("INSERT OR REPLACE INTO run_values VALUES (?1, ?2, ?3, ?4, ?5)", id, kind, key, value);
    }
    void delete_run_value(std::string_view id, std::string_view kind, std::string_view key) {
        exec("DELETE FROM run_values WHERE server = ?1 AND run_id = ?2 AND kind = ?3 AND key = ?4",
             id, kind, key);
    }

    bool model(std::string_view name) {
        return text("SELECT name FROM models WHERE server = ?1 AND name = ?2", name).has_value();
    }
    void set_model(std::string_view name) {
        exec("INSERT OR IGNORE INTO models VALUES (?1, ?2)", name);
    }

    std::map<std::int64_t, std::int64_t> versions(std::string_view name) {
        ::ctml::workspace::detail::sqlite_stmt s(
            db_, "SELECT version, remote_version FROM versions WHERE server = ?1 AND name = ?2");
        s.bind_all(server_, name);
        std::map<std::int64_t, std::int64_t> out;
        while (s.step()) {
            out.emplace(s.col_int(0), s.col_int(1));
        }
        return out;
    }
    void set_version(std::string_view name, std::int64_t v, std::int64_t remote) {
        exec("INSERT OR REPLACE INTO versions VALUES (?1, ?2, ?3, ?4)", name, v, remote);
    }
    void delete_version(std::string_view name, std::int64_t v) {
        exec("DELETE FROM versions WHERE server = ?1 AND name = ?2 AND version = ?3", name, v);
        exec("DELETE FROM version_values WHERE server = ?1 AND name = ?2 AND version = ?3", name, v);
    }

    std::map<std::string, std::string> version_values(std::string_view name, std::int64_t v,
                                                      std::string_view kind) {
        ::ctml::workspace::detail::sqlite_stmt s(
            db_, "SELECT key, value FROM version_values WHERE server = ?1 AND name = ?2 AND "
                 "version = ?3 AND kind = ?4");
        s.bind_all(server_, name, v, kind);
        std::map<std::string, std::string> out;
        while (s.step()) {
            out.emplace(s.col_text(0), s.col_text(1));
        }
        return out;
    }
    void set_version_value(std::string_view name, std::int64_t v, std::string_view kind,
                           std::string_view key, std::string_view value) {
        exec("INSERT OR REPLACE INTO version_values VALUES (?1, ?2, ?3, ?4, ?5, ?6)", name, v, kind,
             key, value);
    }
    void delete_version_value(std::string_view name, std::int64_t v, std::string_view kind,
                              std::string_view key) {
        exec("DELETE FROM version_values WHERE server = ?1 AND name = ?2 AND version = ?3 AND "
             "kind = ?4 AND key = ?5",
             name, v, kind, key);
    }

    std::map<std::string, std::int64_t> aliases(std::string_view name) {
        ::ctml::workspace::detail::sqlite_stmt s(
            db_, "SELECT alias, version FROM aliases WHERE server = ?1 AND name = ?2");
        s.bind_all(server_, name);
        std::map<std::string, std::int64_t> out;
        while (s.step()) {
            out.emplace(s.col_text(0), s.col_int(1));
        }
        return out;
    }
    void set_alias(std::string_view name, std::string_view alias, std::int64_t v) {
        exec("INSERT OR REPLACE INTO aliases VALUES (?1, ?2, ?3, ?4)", name, alias, v);
    }
    void delete_alias(std::string_view name, std::string_view alias) {
        exec("DELETE FROM aliases WHERE server = ?1 AND name = ?2 AND alias = ?3", name, alias);
    }

private:
    template <class... T>
    void exec(std::string_view sql, const T&... v) {
        ::ctml::workspace::detail::sqlite_stmt s(db_, sql);
        s.bind_all(server_, v...);
        s.run();
    }
    std::optional<std::string> text(std::string_view sql, std::string_view key) {
        ::ctml::workspace::detail::sqlite_stmt s(db_, sql);
        s.bind_all(server_, key);
        if (!s.step()) {
            return std::nullopt;
        }
        return s.col_text(0);
    }

    ::ctml::workspace::detail::sqlite_db db_;
    std::string server_;
};

/// @brief An exclusive lock on `<root>/mlflow-sync.lock` (flock): one pusher per workspace at a
/// time, so a forwarder and a `ctml sync` never send the same thing twice at once. Released by
/// the kernel when the process dies.
class push_lock {
public:
    explicit push_lock(const std::filesystem::path& root) {
        const auto path = root / "mlflow-sync.lock";
        fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd_ < 0) {
            io::detail::throw_file_error(path, "open the sync lock", errno);
        }
        while (::flock(fd_, LOCK_EX) != 0) {
            if (errno != EINTR) {
                const int err = errno;
                ::close(fd_);
                io::detail::throw_file_error(path, "lock", err);
            }
        }
    }
    push_lock(const push_lock&) = delete;
    push_lock& operator=(const push_lock&) = delete;
    ~push_lock() { ::close(fd_); }

private:
    int fd_ = -1;
};

} // namespace ctml::workspace::mlflow
