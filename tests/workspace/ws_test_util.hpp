// SPDX-License-Identifier: MIT
// Helpers shared by the workspace tests: a fresh temporary folder, a file written whole, and an
// offline run started in a given workspace.
#pragma once
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "ctml/run/context.hpp"

namespace ws_test {

/// An empty folder under the system's temporary folder, `<prefix><name>_<random>`.
inline std::filesystem::path fresh_dir(const std::string& prefix, const std::string& name) {
    static std::mt19937_64 gen{std::random_device{}()};
    const std::filesystem::path base = std::filesystem::temp_directory_path() /
                                       (prefix + name + "_" + std::to_string(gen() % 1000000000));
    std::filesystem::remove_all(base);
    std::filesystem::create_directories(base);
    return base;
}

inline void write(const std::filesystem::path& p, const std::string& text) {
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
}

/// A new offline run of `experiment` in the workspace folder `ws` (the environment ignored).
inline ctml::run::context start_run(const std::filesystem::path& ws, const std::string& experiment) {
    ctml::run::context_options o;
    o.experiment = experiment;
    o.workspace = ws;
    o.ignore_environment = true;
    return ctml::run::context::start(o);
}

} // namespace ws_test
