// SPDX-License-Identifier: MIT
// Finding data files anywhere under a folder, as the reference trainers do with --data-folder
// (a mounted dataset may nest its files in subfolders the user does not control).
#pragma once
#include <cstddef>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <vector>

#include "ctml/core/error.hpp"

namespace ctml {

/// @brief Searches `folder` recursively, once, for each of `names` either as it is or with a
/// `.gz` suffix. Result i is the match for names[i], or empty when none exists.
/// When several files match one name the choice is deterministic: the shallowest, then the
/// `.gz` one, then the first path in lexicographic order. Unreadable subfolders are skipped;
/// symbolic links to folders are not followed (they can form cycles).
/// Throws ctml::data_error when `folder` is not a readable folder.
inline std::vector<std::optional<std::filesystem::path>> find_data_files(
    const std::filesystem::path& folder, std::span<const std::string_view> names) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_directory(folder, ec)) {
        throw data_error(folder.string() + ": data folder does not exist or is not a folder");
    }
    // Best match so far per name, ranked by (depth, 0 for .gz and 1 for raw, path).
    using rank = std::tuple<std::size_t, int, std::string>;
    std::vector<std::optional<rank>> best(names.size());
    std::vector<std::optional<fs::path>> found(names.size());

    fs::recursive_directory_iterator it(folder, fs::directory_options::skip_permission_denied, ec);
    if (ec) {
        throw data_error(folder.string() + ": cannot list the data folder (" + ec.message() + ")");
    }
    for (const fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
        if (ec) {
            // An entry that vanished or cannot be read: nothing under it can be a match.
            ec.clear();
            continue;
        }
        std::error_code type_ec;
        if (!it->is_regular_file(type_ec)) {
            continue;
        }
        const std::string file = it->path().filename().string();
        for (std::size_t i = 0; i < names.size(); ++i) {
            const bool raw = file == names[i];
            const bool gz = !raw && file.size() == names[i].size() + 3 &&
                            file.compare(0, names[i].size(), names[i]) == 0 &&
                            file.compare(names[i].size(), 3, ".gz") == 0;
            if (!raw && !gz) {
                continue;
            }
            rank r{static_cast<std::size_t>(it.depth()), gz ? 0 : 1, it->path().string()};
            if (!best[i] || r < *best[i]) {
                best[i] = std::move(r);
                found[i] = it->path();
            }
        }
    }
    return found;
}

/// @brief The file `name` (or `name.gz`) found anywhere under `folder`; throws ctml::data_error
/// naming the file and the folder searched when there is none.
inline std::filesystem::path find_data_file(const std::filesystem::path& folder,
                                            std::string_view name) {
    const std::string_view names[] = {name};
    auto found = find_data_files(folder, names);
    if (!found[0]) {
        throw data_error(std::string(name) + " (or " + std::string(name) +
                         ".gz) not found under " + folder.string() + " (searched recursively)");
    }
    return *found[0];
}

} // namespace ctml
