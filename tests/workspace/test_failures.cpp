// SPDX-License-Identifier: MIT
// Writes that fail midway (a file-size limit, as `ulimit -f` sets): the error names the file,
// and the store keeps what it had, with no half-written record or stray temporary file.
#include <doctest/doctest.h>

#include "ws_test_util.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctml/run/context.hpp"
#include "ctml/workspace/workspace.hpp"

namespace fs = std::filesystem;
namespace cw = ctml::workspace;
using ctml::run::run_state;

namespace {

fs::path fresh_dir(const std::string& name) { return ws_test::fresh_dir("ctml_fail_", name); }

using ws_test::write;

/// Runs body in a child limited to `bytes` per file (SIGXFSZ ignored, so writes fail with
/// EFBIG instead of killing it); returns the child's exit status.
template <class F>
int limited(rlim_t bytes, F&& body) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        std::signal(SIGXFSZ, SIG_IGN);
        struct rlimit lim{bytes, bytes};
        if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) {
            ::_exit(90);
        }
        int code = 0;
        try {
            code = body();
        } catch (...) {
            code = 91;
        }
        ::_exit(code);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    return WEXITSTATUS(status);
}

} // namespace

TEST_CASE("a registration whose file copy fails midway records nothing") {
    const fs::path dir = fresh_dir("register");
    {
        cw::workspace ws = cw::create(dir, "limits");
        write(dir / "small" / "w.bin", "small");
        cw::model_registration reg;
        reg.name = "m";
        reg.path = (dir / "small").string();
        CHECK(ws.register_model(reg).version == 1);
    }
    write(dir / "big" / "w.bin", std::string(2 << 20, 'x'));
    const int code = limited(1 << 20, [&] {
        cw::workspace ws = cw::open(dir);
        cw::model_registration reg;
        reg.name = "m";
        reg.path = (dir / "big").string();
        try {
            ws.register_model(reg);
        } catch (const ctml::file_error& e) {
            const std::string msg = e.what();
            return msg.find("File too large") != std::string::npos ? 0 : 2;
        }
        return 3;
    });
    CHECK(code == 0);
    cw::workspace ws = cw::open(dir);
    CHECK(ws.model_versions("m").size() == 1);
    CHECK(fs::is_empty(dir / "objects" / "tmp"));
    cw::model_registration reg;
    reg.name = "m";
    reg.path = (dir / "big").string();
    CHECK(ws.register_model(reg).version == 2);
    fs::remove_all(dir);
}

TEST_CASE("an event file that cannot grow: flush reports it, the store stays readable") {
    const fs::path dir = fresh_dir("events");
    cw::create(dir, "limits");
    const int code = limited(64 * 1024, [&] {
        ctml::run::context_options o;
        o.experiment = "full";
        o.workspace = dir;
        o.ignore_environment = true;
        auto ctx = ctml::run::context::start(o);
        for (int i = 0; i < 20000; ++i) {
            ctx.log("Loss", 1.0 / (i + 1));
        }
        try {
            ctx.flush();
        } catch (const ctml::file_error& e) {
            return std::string(e.what()).find("events.jsonl") != std::string::npos ? 0 : 2;
        }
        return 3;
    });
    CHECK(code == 0);
    cw::workspace ws = cw::open(dir);
    const auto runs = ws.runs();
    REQUIRE(runs.size() == 1);
    // The writer exited without an end event on disk: found dead, Failed with a reason.
    CHECK(runs[0].state == run_state::failed);
    CHECK_FALSE(runs[0].reason.empty());
    const auto loss = ws.metrics(runs[0].id, "Loss");
    CHECK(loss.size() < 20000);
    for (std::size_t i = 0; i < loss.size(); ++i) {
        if (loss[i].step != static_cast<std::int64_t>(i)) {
            FAIL_CHECK("gap at " << i);
            break;
        }
    }
    fs::remove_all(dir);
}
