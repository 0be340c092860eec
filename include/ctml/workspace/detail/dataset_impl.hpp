// SPDX-License-Identifier: MIT
// Definitions of ctml/workspace/dataset.hpp.
#pragma once
#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include "ctml/core/error.hpp"
#include "ctml/io/file.hpp"
#include "ctml/run/names.hpp"
#include "ctml/workspace/dataset.hpp"
#include "ctml/workspace/detail/http.hpp"
#include "ctml/workspace/detail/objects.hpp"
#include "ctml/workspace/sqlite_store.hpp"

namespace ctml::workspace {

namespace detail {

inline bool is_url(std::string_view s) {
    const auto p = s.find("://");
    if (p == std::string_view::npos || p == 0) {
        return false;
    }
    return std::all_of(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(p), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '+';
    });
}

/// The file name a URL's path ends in ("https://h/x/train.gz?sig=1" -> "train.gz").
inline std::string url_file_name(std::string_view url) {
    std::string_view path = url.substr(url.find("://") + 3);
    path = path.substr(0, path.find_first_of("?#"));
    const auto slash = path.find('/');
    if (slash == std::string_view::npos) {
        return {};
    }
    path = path.substr(slash);
    while (!path.empty() && path.back() == '/') {
        path.remove_suffix(1);
    }
    const auto last = path.rfind('/');
    return std::string(path.substr(last + 1));
}

inline const object_store& objects_of(workspace& ws) {
    auto* sq = dynamic_cast<sqlite_store*>(&ws.backend());
    if (sq == nullptr) {
        throw workspace_error("datasets: this store keeps no local objects");
    }
    return sq->objects();
}

} // namespace detail

inline file_dataset file_dataset::from_files(std::vector<file_source> sources,
                                             download_options options) {
    if (sources.empty()) {
        throw data_error("file_dataset::from_files: no paths or URLs given");
    }
    for (const auto& s : sources) {
        if (s.location.empty()) {
            throw data_error("file_dataset::from_files: an empty path or URL");
        }
        if (!s.sha256.empty() && !detail::is_sha256_hex(s.sha256)) {
            throw data_error(s.location + ": expected SHA-256 \"" + s.sha256 +
                             "\" is not 64 lower-case hex digits");
        }
    }
    file_dataset d;
    d.sources_ = std::move(sources);
    d.options_ = options;
    return d;
}

inline dataset_version file_dataset::register_dataset(workspace& ws, std::string_view name,
                                                      std::string_view description,
                                                      bool create_new_version) {
    run::check_entity_name("dataset", name);
    const detail::object_store& objects = detail::objects_of(ws);
    std::vector<dataset_file> files;
    std::set<std::string> paths;
    const auto add = [&](std::string path, const file_info& info, const std::string& source) {
        run::check_relative_path("dataset file", path);
        if (!paths.insert(path).second) {
            throw data_error("dataset " + std::string(name) + ": two sources give the file \"" +
                             path + "\" (the second: " + source + ")");
        }
        files.push_back({std::move(path), info.size, info.sha256, source});
    };
    // Every source is fetched (and checked) before anything is recorded: a bad URL or a wrong
    // checksum leaves the registry as it was (unreferenced objects at most).
    for (const auto& src : sources_) {
        if (detail::is_url(src.location)) {
            const std::string base = detail::url_file_name(src.location);
            if (base.empty()) {
                throw data_error(src.location + ": the URL names no file (nothing after the last "
                                                "'/')");
            }
            const file_info info = detail::download_url(
                objects, src.location, src.sha256,
                {options_.attempts, options_.connect_timeout_s, options_.low_speed_time_s,
                 options_.progress});
            add(base, info, src.location);
            continue;
        }
        const std::filesystem::path p(src.location);
        std::error_code ec;
        if (std::filesystem::is_regular_file(p, ec)) {
            const file_info info = objects.put_file(p);
            if (!src.sha256.empty() && info.sha256 != src.sha256) {
                throw data_error(src.location + ": SHA-256 " + info.sha256 +
                                 " does not match the expected " + src.sha256);
            }
            add(p.filename().string(), info, src.location);
        } else if (std::filesystem::is_directory(p, ec)) {
            if (!src.sha256.empty()) {
                throw data_error(src.location + ": a folder has no single SHA-256 to check");
            }
            for (const auto& [rel, path] : detail::collect_files(p, "dataset folder")) {
                add(rel, objects.put_file(path), path.string());
            }
        } else {
            throw file_error(src.location + ": no such file or folder (a dataset source)",
                             std::make_error_code(std::errc::no_such_file_or_directory));
        }
    }
    version_ = ws.backend().add_dataset_version(name, description, files, create_new_version);
    ws_ = &ws;
    return *version_;
}

inline file_dataset file_dataset::get_by_name(workspace& ws, std::string_view name,
                                              std::int64_t version) {
    run::check_entity_name("dataset", name);
    if (version < 0) {
        throw workspace_error("dataset " + std::string(name) + ": version " +
                              std::to_string(version) + " (versions start at 1; 0 = latest)");
    }
    file_dataset d;
    d.version_ = ws.backend().get_dataset_version(name, version);
    d.ws_ = &ws;
    for (const auto& f : d.version_->files) {
        d.sources_.emplace_back(f.source, f.sha256);
    }
    return d;
}

inline std::filesystem::path file_dataset::download(const std::filesystem::path& to_dir) const {
    if (!version_ || ws_ == nullptr) {
        throw workspace_error("file_dataset::download: not a registered dataset (register it or "
                              "use get_by_name)");
    }
    const detail::object_store& objects = detail::objects_of(*ws_);
    for (const auto& f : version_->files) {
        run::check_relative_path("dataset file", f.path);
        objects.copy_out(f.sha256, to_dir / f.path);
    }
    return to_dir;
}

inline std::filesystem::path file_dataset::mount() const {
    if (!version_ || ws_ == nullptr) {
        throw workspace_error("file_dataset::mount: not a registered dataset");
    }
    const detail::object_store& objects = detail::objects_of(*ws_);
    const std::filesystem::path base = ws_->root() / "datasets" / version_->name;
    const std::filesystem::path final_dir = base / std::to_string(version_->version);
    std::error_code ec;
    if (std::filesystem::is_directory(final_dir, ec)) {
        return final_dir;
    }
    std::filesystem::create_directories(base, ec);
    // Built beside its final name, then renamed: a reader sees the whole folder or none.
    thread_local std::mt19937_64 gen{std::random_device{}()};
    const std::filesystem::path tmp = base / (".tmp." + std::to_string(::getpid()) + "." +
                                              std::to_string(gen() % 1000000007u));
    try {
        for (const auto& f : version_->files) {
            run::check_relative_path("dataset file", f.path);
            const std::filesystem::path to = tmp / f.path;
            std::filesystem::create_directories(to.parent_path());
            // Objects are read-only, so a hard link cannot be written through; copy where
            // links are refused (another filesystem).
            std::filesystem::create_hard_link(objects.path_of(f.sha256), to, ec);
            if (ec) {
                objects.copy_out(f.sha256, to);
                ec.clear();
            }
        }
        if (::rename(tmp.c_str(), final_dir.c_str()) != 0) {
            const int err = errno;
            std::filesystem::remove_all(tmp, ec);
            if ((err == EEXIST || err == ENOTEMPTY) &&
                std::filesystem::is_directory(final_dir, ec)) {
                return final_dir; // another process mounted it first
            }
            io::detail::throw_file_error(final_dir, "rename the dataset folder into place", err);
        }
    } catch (const std::filesystem::filesystem_error& e) {
        std::filesystem::remove_all(tmp, ec);
        throw file_error(final_dir.string() + ": cannot lay out the dataset: " + e.what(),
                         e.code());
    }
    return final_dir;
}

} // namespace ctml::workspace
