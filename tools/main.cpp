// SPDX-License-Identifier: MIT
// The `ctml` command: the workspace, its experiments, runs, models and datasets from the shell.
// Tables for people by default, --json for programs. Every failure is one line on stderr,
// `ctml: error: <what>`, and the exit status is the error's stable code (ctml/core/error.hpp):
// 2 usage and configuration, 3 data, 4 format, 5 file, 6 workspace, 1 anything else.
#include <cstdio>
#include <exception>
#include <iostream>
#include <new>
#include <string>

#include <CLI/CLI.hpp>

#include <ctml/config.hpp>
#include <ctml/core/error.hpp>

#include "cli/common.hpp"
#if CTML_CLI_COMPUTE
#include "cli/compute.hpp" // compute, submit, run wait|logs|cancel
#endif

namespace {

int fail(const std::string& message, int status) {
    std::string line = message;
    for (char& c : line) {
        if (c == '\n' || c == '\r') {
            c = ' '; // one line, whatever the message holds
        }
    }
    std::cout.flush();
    std::fprintf(stderr, "ctml: error: %s\n", line.c_str());
    return status;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"ctml: workspace, experiments, runs, model registry and datasets", "ctml"};
    ctml::cli::globals g;
    app.set_version_flag("--version", std::string("ctml ") + CTML_VERSION_STRING);
    // Inherited by every verb, so the global options may also follow it
    // (`ctml run list --json`).
    app.fallthrough();
    // Inherited too: each verb's --help says where the global options went.
    app.footer("Global options, before or after the verb: --workspace DIR, --json.\n"
               "Exit status: 0 ok, 2 usage or configuration, 3 data, 4 format, 5 file, "
               "6 workspace (unknown run, model, version...), 1 other.");
    app.add_option("--workspace", g.workspace,
                   "Workspace folder (holding config.json or .ctml/config.json); default: "
                   "CTML_WORKSPACE, else the search from the current folder upwards")
        ->type_name("DIR");
    app.add_flag("--json", g.json, "Print one JSON document instead of tables");
    app.require_subcommand(1);

    ctml::cli::add_workspace_commands(app, g);
    ctml::cli::add_experiment_commands(app, g);
    ctml::cli::add_run_commands(app, g);
#if CTML_CLI_COMPUTE
    ctml::cli::add_compute_commands(app, g); // after run: it adds run wait|logs|cancel
#endif
    ctml::cli::add_model_commands(app, g);
    ctml::cli::add_dataset_commands(app, g);
    ctml::cli::add_sync_commands(app, g);

    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) { // --help, --version
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        // Name the verb whose help says more: `ctml run show --help`.
        std::string where = "ctml";
        for (const CLI::App* sub = &app; sub != nullptr;) {
            const auto subs = sub->get_subcommands();
            sub = subs.empty() ? nullptr : subs.front();
            if (sub != nullptr) {
                where += " " + sub->get_name();
            }
        }
        return fail(std::string(e.what()) + " (see `" + where + " --help`)",
                    static_cast<int>(ctml::error_code::config));
    } catch (const ctml::error& e) {
        return fail(e.what(), e.exit_status());
    } catch (const std::bad_alloc&) {
        return fail("out of memory", static_cast<int>(ctml::error_code::unknown));
    } catch (const std::exception& e) {
        return fail(e.what(), static_cast<int>(ctml::error_code::unknown));
    }
    return 0;
}
