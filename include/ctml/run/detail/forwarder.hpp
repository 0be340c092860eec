// SPDX-License-Identifier: MIT
// The run's forwarder: when the workspace names an MLflow tracking server (config.json
// "tracking_uri"), a new run starts `ctml sync --follow <run id>` beside the trainer, detached
// (its own session, double fork: no zombie, and it outlives a trainer killed with SIGKILL), its
// output appended to `<run dir>/forwarder.log`. The forwarder ingests the event file and sends
// the points to the server in the background (ctml/workspace/mlflow_store.hpp), so the trainer
// needs neither libcurl nor the network. The program is CTML_CLI when set, else `ctml` on PATH;
// CTML_MLFLOW_FORWARDER=off starts none (the run is then sent by the next `ctml sync`).
#pragma once
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctml/run/workspace_config.hpp"

namespace ctml::run::detail {

/// The `ctml` program: CTML_CLI, else the first executable `ctml` on PATH; empty when none.
inline std::string find_ctml_program() {
    if (const char* cli = std::getenv("CTML_CLI"); cli != nullptr && *cli != '\0') {
        return ::access(cli, X_OK) == 0 ? std::string(cli) : std::string();
    }
    const char* path = std::getenv("PATH");
    std::string_view rest(path != nullptr ? path : "");
    while (!rest.empty()) {
        const auto colon = rest.find(':');
        const std::string dir(rest.substr(0, colon));
        rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
        const std::string candidate = (dir.empty() ? std::string(".") : dir) + "/ctml";
        std::error_code ec;
        if (::access(candidate.c_str(), X_OK) == 0 &&
            std::filesystem::is_regular_file(candidate, ec)) {
            return candidate;
        }
    }
    return {};
}

/// Starts the forwarder of run `id` (folder `run_dir`) of workspace `ws` when it names a
/// tracking server; prints a one-line notice when it cannot.
inline void start_forwarder(const workspace_config& ws, const std::string& id,
                            const std::filesystem::path& run_dir) {
    if (ws.tracking_uri.empty()) {
        return;
    }
    if (const char* off = std::getenv("CTML_MLFLOW_FORWARDER");
        off != nullptr && (std::string_view(off) == "off" || std::string_view(off) == "0")) {
        return;
    }
    const std::string program = find_ctml_program();
    if (program.empty()) {
        std::fprintf(stderr, "ctml: the workspace names tracking server %s but no `ctml` "
                             "program was found (CTML_CLI or PATH): run `ctml sync` to send "
                             "run %s\n", ws.tracking_uri.c_str(), id.c_str());
        return;
    }
    // Everything the child needs is made before fork: after it only async-signal-safe calls.
    const std::string workspace_dir = ws.config_path.parent_path().string();
    std::vector<std::string> args{program, "sync", "--follow", id, "--workspace", workspace_dir};
    std::vector<char*> argv;
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    const std::string log = (run_dir / "forwarder.log").string();
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    const int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (out < 0 || in < 0) {
        if (out >= 0) {
            ::close(out);
        }
        if (in >= 0) {
            ::close(in);
        }
        std::fprintf(stderr, "ctml: cannot open %s; run `ctml sync` to send run %s\n",
                     log.c_str(), id.c_str());
        return;
    }
    const pid_t child = ::fork();
    if (child == 0) {
        ::setsid();
        if (::fork() != 0) {
            ::_exit(0);
        }
        ::dup2(in, 0);
        ::dup2(out, 1);
        ::dup2(out, 2);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(out);
    ::close(in);
    if (child > 0) {
        int status = 0;
        while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
        }
    }
}

} // namespace ctml::run::detail
