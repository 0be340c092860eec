// SPDX-License-Identifier: MIT
// The process-wide run context (ctml::run::get_context) in child processes: how each way of
// ending a process ends its run, the workspace search from the environment, the local fallback,
// and CTML_TRACKING=off.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctml/run/context.hpp"
#include "ctml/workspace/workspace.hpp"

namespace fs = std::filesystem;
namespace cw = ctml::workspace;
using ctml::run::run_state;

namespace {

fs::path fresh_dir(const std::string& name) {
    static std::mt19937_64 gen{std::random_device{}()};
    const fs::path base = fs::temp_directory_path() / ("ctml_ctx_" + name + "_" +
                                                       std::to_string(gen() % 1000000000));
    fs::remove_all(base);
    fs::create_directories(base);
    return base;
}

/// Forks; the child points the environment at `ws` (when given), changes to `cwd` and runs
/// `body` (which must end the process itself); returns the wait status.
template <class F>
int in_child(const fs::path& ws, const fs::path& cwd, F&& body) {
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        // A fresh program starts with default dispositions; doctest's crash handlers (inherited
        // through fork) would otherwise look like the trainer's own.
        for (const int s : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGSEGV, SIGBUS, SIGFPE, SIGILL,
                            SIGABRT, SIGXCPU}) {
            std::signal(s, SIG_DFL);
        }
        ::unsetenv("CTML_RUN_DIR");
        ::unsetenv("CTML_TRACKING");
        if (!ws.empty()) {
            ::setenv("CTML_WORKSPACE", ws.c_str(), 1);
        } else {
            ::unsetenv("CTML_WORKSPACE");
        }
        ::setenv("CTML_EXPERIMENT", "lifecycle", 1);
        if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) {
            ::_exit(101);
        }
        // noexcept: an exception leaving body reaches std::terminate, as one leaving main does
        // (doctest would otherwise catch it in the child).
        [&]() noexcept { body(); }();
        ::_exit(100); // body did not end the process: a test bug
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    return status;
}

cw::run_details only_run(const fs::path& ws_dir) {
    cw::workspace ws = cw::open(ws_dir);
    const auto runs = ws.runs();
    REQUIRE(runs.size() == 1);
    return ws.get_run(runs[0].id);
}

} // namespace

TEST_CASE("a normal exit ends the run Completed; a non-zero exit Failed with the status") {
    const fs::path dir = fresh_dir("exit");
    cw::create(dir, "life");
    int status = in_child(dir, {}, [] {
        auto& ctx = ctml::run::get_context();
        ctx.log("Accuracy", 0.9);
        std::exit(0);
    });
    CHECK(WIFEXITED(status));
    auto d = only_run(dir);
    CHECK(d.info.experiment == "lifecycle");
    CHECK(d.info.state == run_state::completed);
    CHECK(cw::open(dir).metrics(d.info.id, "Accuracy").size() == 1);

    const fs::path dir2 = fresh_dir("exit3");
    cw::create(dir2, "life");
    status = in_child(dir2, {}, [] {
        ctml::run::get_context("named-here").log("x", 1.0);
        std::exit(3);
    });
    CHECK(WEXITSTATUS(status) == 3);
    d = only_run(dir2);
    CHECK(d.info.experiment == "named-here");
    CHECK(d.info.state == run_state::failed);
    CHECK(d.info.reason.find("status 3") != std::string::npos);
    fs::remove_all(dir);
    fs::remove_all(dir2);
}

TEST_CASE("an uncaught exception ends the run Failed with its message") {
    const fs::path dir = fresh_dir("throw");
    cw::create(dir, "life");
    const int status = in_child(dir, {}, [] {
        ctml::run::get_context().log("Loss", 0.5);
        throw ctml::data_error("labels out of range");
    });
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGABRT);
    const auto d = only_run(dir);
    CHECK(d.info.state == run_state::failed);
    CHECK(d.info.reason.find("labels out of range") != std::string::npos);
    CHECK(d.info.reason.find("(data)") != std::string::npos);
    CHECK(cw::open(dir).metrics(d.info.id, "Loss").size() == 1);
    fs::remove_all(dir);
}

TEST_CASE("SIGTERM ends the run Canceled, SIGSEGV Failed; buffered metrics are written first") {
    for (const int sig : {SIGTERM, SIGINT, SIGSEGV}) {
        CAPTURE(sig);
        const fs::path dir = fresh_dir("signal");
        cw::create(dir, "life");
        const int status = in_child(dir, {}, [sig] {
            auto& ctx = ctml::run::get_context();
            for (int i = 0; i < 1000; ++i) {
                ctx.log("Loss", 1.0 / (i + 1));
            }
            ::raise(sig);
        });
        CHECK(WIFSIGNALED(status));
        CHECK(WTERMSIG(status) == sig);
        const auto d = only_run(dir);
        CHECK(d.info.state == (sig == SIGSEGV ? run_state::failed : run_state::canceled));
        CHECK(d.info.reason.find(sig == SIGTERM  ? "SIGTERM"
                                 : sig == SIGINT ? "SIGINT"
                                                 : "SIGSEGV") != std::string::npos);
        CHECK(cw::open(dir).metrics(d.info.id, "Loss").size() == 1000);
        fs::remove_all(dir);
    }
}

namespace {
volatile sig_atomic_t user_handler_ran = 0;
void user_handler(int) { user_handler_ran = 1; }
} // namespace

TEST_CASE("a trainer's own signal handler stays in charge") {
    const fs::path dir = fresh_dir("own");
    cw::create(dir, "life");
    const int status = in_child(dir, {}, [] {
        std::signal(SIGINT, &user_handler);
        auto& ctx = ctml::run::get_context();
        ::raise(SIGINT);
        ctx.log("handled", user_handler_ran);
        std::exit(user_handler_ran ? 0 : 9);
    });
    CHECK(WEXITSTATUS(status) == 0);
    const auto d = only_run(dir);
    CHECK(d.info.state == run_state::completed);
    fs::remove_all(dir);
}

TEST_CASE("workspace search from the current folder, local fallback, tracking off") {
    // Found from a subfolder of the workspace (no CTML_WORKSPACE).
    const fs::path dir = fresh_dir("search");
    cw::create(dir / "proj", "proj");
    fs::create_directories(dir / "proj" / "src" / "deep");
    in_child({}, dir / "proj" / "src" / "deep", [] {
        ctml::run::get_context().log("x", 1.0);
        std::exit(0);
    });
    CHECK(only_run(dir / "proj").info.state == run_state::completed);

    // Nothing found: a local workspace in ./.ctml, queryable afterwards from that folder.
    const fs::path bare = fresh_dir("bare");
    if (!ctml::run::find_workspace_config(bare)) {
        in_child({}, bare, [] {
            auto& ctx = ctml::run::get_context();
            if (!ctx.active()) {
                std::exit(7);
            }
            ctx.log("x", 2.0);
            std::exit(0);
        });
        REQUIRE(fs::exists(bare / ".ctml" / "config.json"));
        cw::workspace ws = cw::from_config(bare);
        REQUIRE(ws.runs().size() == 1);
        CHECK(ws.metrics(ws.runs()[0].id, "x").at(0).value == 2.0);
    }

    // CTML_TRACKING=off: nothing recorded, nothing created.
    const fs::path off = fresh_dir("off");
    const int status = in_child({}, off, [] {
        ::setenv("CTML_TRACKING", "off", 1);
        auto& ctx = ctml::run::get_context();
        ctx.log("x", 1.0); // accepted, dropped
        std::exit(ctx.active() ? 1 : 0);
    });
    CHECK(WEXITSTATUS(status) == 0);
    CHECK_FALSE(fs::exists(off / ".ctml"));

    // A malformed config.json is an error naming the file, not a silent new workspace.
    const fs::path broken = fresh_dir("broken");
    {
        std::FILE* f = std::fopen((broken / "config.json").c_str(), "w");
        std::fputs("{\"name\": \"b\", \"nmae\": 1}", f);
        std::fclose(f);
    }
    const int st = in_child({}, broken, [] {
        try {
            ctml::run::get_context();
        } catch (const ctml::config_error& e) {
            std::exit(std::string(e.what()).find("nmae") != std::string::npos ? 0 : 2);
        }
        std::exit(3);
    });
    CHECK(WEXITSTATUS(st) == 0);
    fs::remove_all(dir);
    fs::remove_all(bare);
    fs::remove_all(off);
    fs::remove_all(broken);
}
