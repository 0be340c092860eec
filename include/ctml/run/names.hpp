// SPDX-License-Identifier: MIT
// What a name may be. Entity names (workspace, experiment, model, dataset, alias) become folder
// names and appear in references such as `keras-mnist:3` and `keras-mnist@champion`, so they are
// restricted to a portable set; metric, param and tag names are free text without control
// characters (the tutorials log "Final test accuracy", "Accuracy vs Loss").
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

#include "ctml/core/error.hpp"

namespace ctml::run {

/// Longest entity name, in bytes (a folder name on every common filesystem holds 255).
inline constexpr std::size_t max_entity_name = 128;
/// Longest metric, param or tag name, in bytes (MLflow's limit for keys is 250).
inline constexpr std::size_t max_key_name = 250;

namespace detail {

inline std::string shown_name(std::string_view name) {
    std::string out;
    for (const char ch : name.substr(0, 60)) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7F) {
            static constexpr char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xF];
        } else {
            out += ch;
        }
    }
    if (name.size() > 60) {
        out += "... (" + std::to_string(name.size()) + " bytes)";
    }
    return out;
}

} // namespace detail

/// @brief Checks an entity name: 1 to 128 bytes of `A-Z a-z 0-9 . _ -`, starting with a letter
/// or digit (so never `.`, `..`, a path, a NUL or a control character). Throws
/// ctml::workspace_error "<kind> name "<name>": <what is wrong>"; returns `name` otherwise.
inline std::string_view check_entity_name(std::string_view kind, std::string_view name) {
    const auto fail = [&](const std::string& why) {
        throw workspace_error(std::string(kind) + " name \"" + detail::shown_name(name) +
                              "\": " + why);
    };
    if (name.empty()) {
        fail("is empty");
    }
    if (name.size() > max_entity_name) {
        fail("is longer than " + std::to_string(max_entity_name) + " bytes");
    }
    const auto alnum = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    };
    if (!alnum(name.front())) {
        fail("must start with a letter or a digit");
    }
    for (const char c : name) {
        if (!alnum(c) && c != '.' && c != '_' && c != '-') {
            fail("may hold only letters, digits, '.', '_' and '-'");
        }
    }
    return name;
}

/// @brief Checks a metric, param or tag name: 1 to 250 bytes, no control character (NUL, tab,
/// newline, ...). Throws ctml::workspace_error naming the kind and the name.
inline std::string_view check_key_name(std::string_view kind, std::string_view name) {
    const auto fail = [&](const std::string& why) {
        throw workspace_error(std::string(kind) + " name \"" + detail::shown_name(name) +
                              "\": " + why);
    };
    if (name.empty()) {
        fail("is empty");
    }
    if (name.size() > max_key_name) {
        fail("is longer than " + std::to_string(max_key_name) + " bytes");
    }
    for (const char ch : name) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7F) {
            fail("holds a control character");
        }
    }
    return name;
}

/// @brief Checks a path inside a run or model folder as a user gives it (`outputs/model.npz`):
/// relative, not empty, no `..` or `.` component, no NUL or control character, no empty
/// component. Throws ctml::workspace_error "<kind> "<path>": ...".
inline std::string_view check_relative_path(std::string_view kind, std::string_view path) {
    const auto fail = [&](const std::string& why) {
        throw workspace_error(std::string(kind) + " \"" + detail::shown_name(path) + "\": " +
                              why);
    };
    if (path.empty()) {
        fail("is empty");
    }
    if (path.size() > 4096) {
        fail("is longer than 4096 bytes");
    }
    if (path.front() == '/') {
        fail("is absolute; give a path inside the folder");
    }
    std::size_t start = 0;
    while (start <= path.size()) {
        std::size_t end = path.find('/', start);
        if (end == std::string_view::npos) {
            end = path.size();
        }
        const std::string_view part = path.substr(start, end - start);
        if (part.empty() && end != path.size()) {
            fail("has an empty component");
        }
        if (part == "..") {
            fail("leaves the folder ('..')");
        }
        if (part == ".") {
            fail("has a '.' component");
        }
        start = end + 1;
    }
    for (const char ch : path) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7F) {
            fail("holds a control character");
        }
    }
    return path;
}

} // namespace ctml::run
