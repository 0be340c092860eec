// SPDX-License-Identifier: MIT
// A thin RAII layer over SQLite's C API: a connection, prepared statements, transactions. Every
// failure throws ctml::workspace_error naming the database file and SQLite's message.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <sqlite3.h>

#include "ctml/core/error.hpp"

namespace ctml::workspace::detail {

class sqlite_db;

class sqlite_stmt {
public:
    sqlite_stmt(sqlite_db& db, std::string_view sql);
    sqlite_stmt(const sqlite_stmt&) = delete;
    sqlite_stmt& operator=(const sqlite_stmt&) = delete;
    sqlite_stmt(sqlite_stmt&& o) noexcept : db_(o.db_), s_(std::exchange(o.s_, nullptr)) {}
    ~sqlite_stmt() { sqlite3_finalize(s_); }

    sqlite_stmt& bind(int i, std::int64_t v) {
        check(sqlite3_bind_int64(s_, i, v));
        return *this;
    }
    sqlite_stmt& bind(int i, int v) { return bind(i, std::int64_t{v}); }
    sqlite_stmt& bind(int i, double v) {
        check(sqlite3_bind_double(s_, i, v));
        return *this;
    }
    sqlite_stmt& bind(int i, std::string_view v) {
        // An empty string_view may have no data pointer, which SQLite would bind as NULL.
        check(sqlite3_bind_text(s_, i, v.data() != nullptr ? v.data() : "",
                                static_cast<int>(v.size()), SQLITE_TRANSIENT));
        return *this;
    }
    sqlite_stmt& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
    sqlite_stmt& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
    sqlite_stmt& bind_blob(int i, std::string_view v) {
        check(sqlite3_bind_blob(s_, i, v.data() != nullptr ? v.data() : "",
                                static_cast<int>(v.size()), SQLITE_TRANSIENT));
        return *this;
    }
    sqlite_stmt& bind_null(int i) {
        check(sqlite3_bind_null(s_, i));
        return *this;
    }
    /// Binds 1..N in order.
    template <class... T>
    sqlite_stmt& bind_all(const T&... v) {
        int i = 0;
        (bind(++i, v), ...);
        return *this;
    }

    /// Steps once: true while a row is available.
    bool step();
    /// Steps to completion (statements without rows), then resets for reuse.
    void run() {
        while (step()) {
        }
        reset();
    }
    void reset() {
        sqlite3_reset(s_);
        sqlite3_clear_bindings(s_);
    }

    std::int64_t col_int(int i) const { return sqlite3_column_int64(s_, i); }
    double col_double(int i) const { return sqlite3_column_double(s_, i); }
    bool col_is_null(int i) const { return sqlite3_column_type(s_, i) == SQLITE_NULL; }
    /// The blob (or text) of column i; valid until the next step or reset.
    std::string_view col_blob(int i) const {
        const void* p = sqlite3_column_blob(s_, i);
        return p ? std::string_view(static_cast<const char*>(p),
                                    static_cast<std::size_t>(sqlite3_column_bytes(s_, i)))
                 : std::string_view();
    }
    std::string col_text(int i) const {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, i));
        return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, i)))
                 : std::string();
    }

private:
    void check(int rc);
    sqlite_db* db_;
    sqlite3_stmt* s_ = nullptr;
};

class sqlite_db {
public:
    explicit sqlite_db(const std::filesystem::path& path) : path_(path) {
        const int rc = sqlite3_open_v2(path.c_str(), &db_,
                                       SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                           SQLITE_OPEN_NOMUTEX,
                                       nullptr);
        if (rc != SQLITE_OK) {
            const std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
            sqlite3_close(db_);
            db_ = nullptr;
            throw workspace_error(path.string() + ": cannot open the database: " + msg);
        }
        sqlite3_extended_result_codes(db_, 1);
    }
    sqlite_db(const sqlite_db&) = delete;
    sqlite_db& operator=(const sqlite_db&) = delete;
    ~sqlite_db() { sqlite3_close_v2(db_); }

    sqlite3* get() const noexcept { return db_; }
    const std::filesystem::path& path() const noexcept { return path_; }

    /// Runs one or more statements without results.
    void exec(std::string_view sql) {
        char* err = nullptr;
        const std::string s(sql);
        const int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
        if (rc != SQLITE_OK) {
            std::string msg = err ? err : sqlite3_errstr(rc);
            sqlite3_free(err);
            fail(rc, msg);
        }
    }

    std::int64_t last_insert_id() const { return sqlite3_last_insert_rowid(db_); }
    int changes() const { return sqlite3_changes(db_); }

    [[noreturn]] void fail(int rc, const std::string& msg) const {
        const int primary = rc & 0xFF;
        if (primary == SQLITE_NOTADB) {
            throw workspace_error(path_.string() + ": not an SQLite database (" + msg +
                                  "); is this the workspace's ctml.db?");
        }
        if (primary == SQLITE_FULL) {
            throw file_error(path_.string() + ": disk full: " + msg,
                             std::make_error_code(std::errc::no_space_on_device));
        }
        if (primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN || primary == SQLITE_READONLY) {
            throw file_error(path_.string() + ": " + msg,
                             std::make_error_code(std::errc::io_error));
        }
        throw workspace_error(path_.string() + ": " + msg);
    }

private:
    std::filesystem::path path_;
    sqlite3* db_ = nullptr;
};

inline sqlite_stmt::sqlite_stmt(sqlite_db& db, std::string_view sql) : db_(&db) {
    const int rc = sqlite3_prepare_v2(db.get(), sql.data(), static_cast<int>(sql.size()), &s_,
                                      nullptr);
    if (rc != SQLITE_OK) {
        db.fail(rc, std::string(sqlite3_errmsg(db.get())) + " (in: " + std::string(sql) + ")");
    }
}

inline void sqlite_stmt::check(int rc) {
    if (rc != SQLITE_OK) {
        db_->fail(rc, sqlite3_errmsg(db_->get()));
    }
}

inline bool sqlite_stmt::step() {
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) {
        return true;
    }
    if (rc == SQLITE_DONE) {
        return false;
    }
    const std::string msg = sqlite3_errmsg(db_->get());
    sqlite3_reset(s_);
    db_->fail(rc, msg);
}

/// @brief A write transaction begun with BEGIN IMMEDIATE (the write lock is taken at once, so
/// two writers never both read a counter and then both increment it); rolled back unless
/// commit() ran.
class sqlite_transaction {
public:
    explicit sqlite_transaction(sqlite_db& db, bool immediate = true) : db_(db) {
        db_.exec(immediate ? "BEGIN IMMEDIATE" : "BEGIN");
        open_ = true;
    }
    sqlite_transaction(const sqlite_transaction&) = delete;
    sqlite_transaction& operator=(const sqlite_transaction&) = delete;
    ~sqlite_transaction() {
        if (open_) {
            sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
        }
    }
    void commit() {
        db_.exec("COMMIT");
        open_ = false;
    }

private:
    sqlite_db& db_;
    bool open_ = false;
};

} // namespace ctml::workspace::detail
