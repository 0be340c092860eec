// SPDX-License-Identifier: MIT
// Several processes at once (fork): concurrent registrations never share or skip a version,
// concurrent writers lose no metric point, and processes killed with SIGKILL (mid-logging, mid-
// registration) leave a store that opens, with whole records only.
#include <doctest/doctest.h>

#include "ws_test_util.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctml/io/file.hpp"
#include "ctml/run/context.hpp"
#include "ctml/workspace/detail/objects.hpp"
#include "ctml/workspace/workspace.hpp"

namespace fs = std::filesystem;
namespace cw = ctml::workspace;
using ctml::run::run_state;

namespace {

fs::path fresh_dir(const std::string& name) { return ws_test::fresh_dir("ctml_cc_", name); }

/// Runs `body` in a child process; the child exits 0 when it returns, 1 when it throws.
template <class F>
pid_t spawn(F&& body) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int code = 0;
        try {
            body();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "child %d: %s\n", static_cast<int>(::getpid()), e.what());
            code = 1;
        }
        std::fflush(stderr);
        ::_exit(code);
    }
    return pid;
}

int wait_for(pid_t pid) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    return status;
}

using ws_test::write;

using ws_test::start_run;

/// Every version's files are present and whole.
void check_versions_whole(cw::workspace& ws, const std::string& name, const fs::path& root) {
    const cw::detail::object_store objects(root);
    for (const auto& v : ws.model_versions(name)) {
        CAPTURE(v.id());
        REQUIRE_FALSE(v.files.empty());
        for (const auto& f : v.files) {
            REQUIRE(objects.contains(f.sha256));
            CHECK(cw::detail::sha256_hex(ctml::io::read_file(objects.path_of(f.sha256))) ==
                  f.sha256);
        }
    }
}

} // namespace

TEST_CASE("8 processes x 25 registrations of one name: versions 1..200, no duplicate, no gap") {
    const fs::path dir = fresh_dir("register");
    cw::create(dir, "reg");
    write(dir / "model" / "weights.bin", "weights");
    constexpr int procs = 8;
    constexpr int each = 25;
    std::vector<pid_t> kids;
    for (int p = 0; p < procs; ++p) {
        kids.push_back(spawn([&, p] {
            cw::workspace ws = cw::open(dir);
            for (int i = 0; i < each; ++i) {
                cw::model_registration reg;
                reg.name = "keras-mnist";
                reg.path = (dir / "model").string();
                reg.tags = {{"writer", std::to_string(p)}};
                const auto v = ws.register_model(reg);
                if (v.version < 1) {
                    throw std::runtime_error("bad version");
                }
            }
        }));
    }
    for (const pid_t k : kids) {
        const int status = wait_for(k);
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
    }
    cw::workspace ws = cw::open(dir);
    const auto versions = ws.model_versions("keras-mnist");
    REQUIRE(versions.size() == procs * each);
    std::set<std::int64_t> seen;
    std::map<std::string, int> per_writer;
    for (const auto& v : versions) {
        seen.insert(v.version);
        ++per_writer[v.tags.at("writer")];
    }
    CHECK(seen.size() == procs * each);
    CHECK(*seen.begin() == 1);
    CHECK(*seen.rbegin() == procs * each);
    CHECK(per_writer.size() == procs);
    for (const auto& [w, n] : per_writer) {
        CHECK(n == each);
    }
    fs::remove_all(dir);
}

TEST_CASE("8 writers logging into one workspace at once, ingested while they write: no point lost") {
    const fs::path dir = fresh_dir("writers");
    cw::create(dir, "writers");
    constexpr int procs = 8;
    constexpr int points = 20000;
    std::vector<pid_t> kids;
    for (int p = 0; p < procs; ++p) {
        kids.push_back(spawn([&, p] {
            ctml::run::context_options o;
            o.experiment = "writer-" + std::to_string(p % 2);
            o.workspace = dir;
            o.ignore_environment = true;
            o.flush_interval = std::chrono::milliseconds(50);
            auto ctx = ctml::run::context::start(o);
            ctx.set_tag("writer", std::to_string(p));
            for (int i = 0; i < points; ++i) {
                ctx.log("x", static_cast<double>(i));
                if (i % 4 == 0) {
                    ctx.log("y", static_cast<double>(-i), i);
                }
                if (i % 2000 == 0) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(5));
                }
            }
            ctx.end();
        }));
    }
    // A concurrent reader ingests while the writers write (partial lines included).
    const pid_t reader = spawn([&] {
        cw::workspace ws = cw::open(dir);
        for (int i = 0; i < 40; ++i) {
            ws.sync();
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    });
    for (const pid_t k : kids) {
        const int status = wait_for(k);
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
    }
    CHECK(WEXITSTATUS(wait_for(reader)) == 0);
    cw::workspace ws = cw::open(dir);
    const auto runs = ws.runs();
    REQUIRE(runs.size() == procs);
    for (const auto& r : runs) {
        CAPTURE(r.id);
        CHECK(r.state == run_state::completed);
        const auto xs = ws.metrics(r.id, "x");
        REQUIRE(xs.size() == points);
        for (int i = 0; i < points; ++i) {
            const auto& pt = xs[static_cast<std::size_t>(i)];
            if (pt.step != i || pt.value != static_cast<double>(i)) {
                FAIL_CHECK("point " << i << " is step " << pt.step << " value " << pt.value);
                break;
            }
        }
        CHECK(ws.metrics(r.id, "y").size() == points / 4);
    }
    fs::remove_all(dir);
}

TEST_CASE("a writer killed with SIGKILL mid-logging: the store opens, metrics up to its last "
          "write, the run Failed with a reason") {
    const fs::path dir = fresh_dir("sigkill");
    cw::create(dir, "killed");
    // The child publishes the last step it logged and when, so the loss can be measured.
    struct shared_progress {
        std::atomic<long long> last_step{-1};
        std::atomic<long long> started{0};
    };
    void* mem = ::mmap(nullptr, sizeof(shared_progress), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(mem != MAP_FAILED);
    auto* progress = new (mem) shared_progress;
    const pid_t child = spawn([&] {
        auto ctx = start_run(dir, "sigkill");
        ctx.log_param("note", "killed on purpose");
        for (long long i = 0;; ++i) {
            ctx.log("Loss", 1.0 / static_cast<double>(i + 1));
            progress->last_step.store(i);
            if (i == 0) {
                progress->started.store(1);
            }
            std::this_thread::sleep_for(std::chrono::microseconds(500));
        }
    });
    while (progress->started.load() == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    // Mid-logging: after a few flushes.
    std::this_thread::sleep_for(std::chrono::milliseconds(2600));
    REQUIRE(::kill(child, SIGKILL) == 0);
    const long long logged = progress->last_step.load() + 1;
    const auto killed_at = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    const int status = wait_for(child);
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);

    cw::workspace ws = cw::open(dir);
    const auto runs = ws.runs();
    REQUIRE(runs.size() == 1);
    const auto d = ws.get_run(runs[0].id);
    CHECK(d.info.state == run_state::failed);
    CHECK(d.info.reason.find("pid " + std::to_string(child)) != std::string::npos);
    CHECK(d.info.reason.find("SIGKILL") != std::string::npos);
    CHECK(d.params.at("note") == "killed on purpose");
    const auto loss = ws.metrics(runs[0].id, "Loss");
    REQUIRE_FALSE(loss.empty());
    // A prefix of what was logged, without gaps ...
    CHECK(static_cast<long long>(loss.size()) <= logged);
    for (std::size_t i = 0; i < loss.size(); ++i) {
        if (loss[i].step != static_cast<std::int64_t>(i)) {
            FAIL_CHECK("gap at " << i);
            break;
        }
    }
    // ... that reaches to about a second before the kill (the writer flushes every second; the
    // bound is loose because this machine is shared and the writer thread may be descheduled).
    const auto lost_ms = killed_at - loss.back().timestamp;
    MESSAGE("logged " << logged << " points, " << loss.size() << " kept; the last kept one is "
                      << lost_ms << " ms before the kill");
    CHECK(lost_ms < 5000);
    // The store is fully usable afterwards.
    {
        auto ctx = start_run(dir, "after");
        ctx.log("ok", 1.0);
        ctx.end();
    }
    CHECK(ws.runs({.state = run_state::completed}).size() == 1);
    ::munmap(mem, sizeof(shared_progress));
    fs::remove_all(dir);
}

TEST_CASE("processes killed in the middle of registrations leave whole versions only") {
    const fs::path dir = fresh_dir("killreg");
    cw::create(dir, "killreg");
    // A model of 16 files of 256 KiB: registrations take long enough to be interrupted.
    for (int f = 0; f < 16; ++f) {
        write(dir / "model" / ("part" + std::to_string(f)), std::string(256 * 1024, char('a' + f)));
    }
    std::mt19937 gen(12345);
    for (int round = 0; round < 8; ++round) {
        const pid_t child = spawn([&] {
            cw::workspace ws = cw::open(dir);
            for (;;) {
                cw::model_registration reg;
                reg.name = "big";
                reg.path = (dir / "model").string();
                ws.register_model(reg);
            }
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(50 + gen() % 400));
        REQUIRE(::kill(child, SIGKILL) == 0);
        wait_for(child);
    }
    cw::workspace ws = cw::open(dir);
    std::int64_t before = 0;
    if (!ws.models().empty()) {
        check_versions_whole(ws, "big", dir);
        const auto versions = ws.model_versions("big");
        std::set<std::int64_t> nums;
        for (const auto& v : versions) {
            nums.insert(v.version);
            CHECK(v.files.size() == 16);
        }
        CHECK(nums.size() == versions.size());
        before = ws.latest_model("big").version;
        MESSAGE(versions.size() << " whole versions after 8 kills");
    }
    cw::model_registration reg;
    reg.name = "big";
    reg.path = (dir / "model").string();
    CHECK(ws.register_model(reg).version == before + 1);
    // The download of the newest version is byte-identical to the source.
    ws.download_model("big", dir / "dl");
    CHECK(ctml::io::read_file(dir / "dl" / "part3") == ctml::io::read_file(dir / "model" / "part3"));
    fs::remove_all(dir);
}
