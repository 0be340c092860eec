// SPDX-License-Identifier: MIT
// Submission to the local target: stages, streaming, failures, cancel, limits, supervision.
// The trainers are small shell scripts written here (the submitter never links a trainer).
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctml/compute/detail/process.hpp>
#include <ctml/compute/experiment.hpp>

namespace fs = std::filesystem;
using namespace ctml::compute;
using ctml::run::run_state;
using clock_type = std::chrono::steady_clock;

namespace {

struct temp_workspace {
    fs::path dir;
    ctml::workspace::workspace ws;
    explicit temp_workspace(const std::string& tag)
        : dir(make_dir(tag)), ws(ctml::workspace::workspace::create(dir / "ws", "test-" + tag)) {}
    ~temp_workspace() {
        std::error_code ec;
        if (std::getenv("CTML_TEST_KEEP") == nullptr) {
            fs::remove_all(dir, ec);
        }
    }
    static fs::path make_dir(const std::string& tag) {
        const auto d = fs::temp_directory_path() /
                       ("ctml_submit_" + tag + "_" + std::to_string(::getpid()));
        fs::remove_all(d);
        fs::create_directories(d);
        return d;
    }
    fs::path script(const std::string& name, const std::string& body) {
        const auto p = dir / name;
        std::ofstream(p) << "#!/bin/bash\n" << body << "\n";
        fs::permissions(p, fs::perms::owner_all);
        return p;
    }
};

script_run_config job_for(const fs::path& exe, std::vector<std::string> args = {}) {
    script_run_config c;
    c.executable = exe.string();
    c.arguments = std::move(args);
    return c;
}

/// Records each chunk written with the run's state at that moment.
class state_stamping_buf : public std::stringbuf {
public:
    state_stamping_buf(ctml::workspace::workspace& ws, std::string id) : ws_(ws), id_(std::move(id)) {}
    std::vector<std::pair<std::string, run_state>> chunks;

protected:
    std::streamsize xsputn(const char* s, std::streamsize n) override {
        chunks.emplace_back(std::string(s, static_cast<std::size_t>(n)),
                            ws_.backend().get_run(id_).info.state);
        return n;
    }
    int overflow(int c) override {
        if (c != EOF) {
            const char ch = static_cast<char>(c);
            xsputn(&ch, 1);
        }
        return c;
    }

private:
    ctml::workspace::workspace& ws_;
    std::string id_;
};

std::vector<run_state> states_of(const execution_summary& s) {
    std::vector<run_state> out;
    for (const auto& h : s.history) {
        out.push_back(h.state);
    }
    return out;
}

bool contains(const std::vector<std::string>& lines, const std::string& text) {
    for (const auto& l : lines) {
        if (l.find(text) != std::string::npos) {
            return true;
        }
    }
    return false;
}

void wait_for_state(submitted_run& run, run_state s) {
    for (int i = 0; i < 500 && run.get_status() != s && !ctml::run::is_terminal(run.get_status()); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    REQUIRE(run.get_status() == s);
}

} // namespace

TEST_CASE("a local run goes Queued, Preparing, Running, Finalizing, Completed; output streams") {
    temp_workspace t("stream");
    const auto exe = t.script("printer.sh",
                              "echo \"run dir $CTML_RUN_DIR id $CTML_RUN_ID\"\n"
                              "echo 'Epoch 1/2 - loss 0.5'\nsleep 1.5\n"
                              "echo 'Epoch 2/2 - loss 0.3' >&2\nsleep 0.5\n"
                              "mkdir -p outputs/model && echo w > outputs/model/weights.txt\n"
                              "echo done");
    submitted_run run = experiment(t.ws, "stream").submit(job_for(exe));
    state_stamping_buf buf(t.ws, run.id());
    std::ostream out(&buf);
    const execution_summary s = run.wait_for_completion(true, std::chrono::seconds(60), out);
    CHECK(s.state == run_state::completed);
    REQUIRE(s.exit_code);
    CHECK(*s.exit_code == 0);
    CHECK(states_of(s) == std::vector<run_state>{run_state::not_started, run_state::queued,
                                                 run_state::preparing,
                                                 run_state::running, run_state::finalizing,
                                                 run_state::completed});
    for (std::size_t i = 1; i < s.history.size(); ++i) {
        CHECK(s.history[i].time >= s.history[i - 1].time);
    }
    // The first epoch line arrived while the trainer was still running, not at the end.
    bool epoch1_live = false;
    std::string all;
    for (const auto& [text, state] : buf.chunks) {
        all += text;
        if (text.find("Epoch 1/2") != std::string::npos) {
            epoch1_live = state == run_state::running;
        }
    }
    CHECK(epoch1_live);
    CHECK(all.find("Epoch 2/2") != std::string::npos);
    CHECK(all.find("run dir " + run.run_dir().string() + " id " + run.id()) != std::string::npos);
    CHECK(all.find("Execution summary") != std::string::npos);
    CHECK(s.outputs == std::vector<std::string>{"outputs/model/weights.txt"});
    const auto v = run.register_model("stream-model", "outputs/model");
    CHECK(v.id() == "stream-model:1");
    CHECK(fs::exists(run.run_dir() / "logs" / "output.log"));
}

TEST_CASE("spawn's before_exec runs before the program starts; when it throws, nothing runs") {
    temp_workspace t("gate");
    const auto log = t.dir / "out.log";
    const auto marker = t.dir / "ran";
    ctml::compute::detail::spawn_spec s;
    s.argv = {"/bin/sh", "-c", "echo started; touch '" + marker.string() + "'"};
    s.output = log;
    // Slow the hook down: the program, were it not held, would have written by its end.
    std::uintmax_t size_in_hook = 1;
    pid_t seen = 0;
    s.before_exec = [&](pid_t child) {
        seen = child;
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        size_in_hook = fs::exists(log) ? fs::file_size(log) : 0;
    };
    const pid_t pid = ctml::compute::detail::spawn(s);
    CHECK(seen == pid);
    CHECK(size_in_hook == 0);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(fs::exists(marker));
    CHECK(fs::file_size(log) > 0);

    fs::remove(marker);
    s.before_exec = [](pid_t) { throw std::runtime_error("storage refused"); };
    CHECK_THROWS_WITH_AS(ctml::compute::detail::spawn(s), "storage refused", std::runtime_error);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK_FALSE(fs::exists(marker));
    CHECK(::waitpid(-1, &status, WNOHANG) < 0); // the held child was reaped, none is left

    // A child that dies before the gate opens (its folder is missing) is an error here, not a
    // SIGPIPE for the parent that opens the gate.
    bool hook_ran = false;
    s.before_exec = [&](pid_t) { hook_ran = true; };
    s.cwd = t.dir / "no-such-folder";
    CHECK_THROWS_AS(ctml::compute::detail::spawn(s), ctml::compute_error);
    CHECK(hook_ran);
    CHECK_FALSE(fs::exists(marker));
}

TEST_CASE("a crashing trainer ends Failed with its exit code and last lines") {
    temp_workspace t("crash");
    const auto exe = t.script("crash.sh", "echo 'Epoch 1/20'\necho 'fatal: out of cheese' >&2\nexit 3");
    submitted_run run = experiment(t.ws, "crash").submit(job_for(exe));
    std::ostringstream out;
    const auto s = run.wait_for_completion(true, std::chrono::seconds(60), out);
    CHECK(s.state == run_state::failed);
    REQUIRE(s.exit_code);
    CHECK(*s.exit_code == 3);
    CHECK(s.reason.find("status 3") != std::string::npos);
    CHECK(contains(s.last_lines, "fatal: out of cheese"));
    CHECK(out.str().find("| fatal: out of cheese") != std::string::npos);
    CHECK(t.ws.get_run(run.id()).info.state == run_state::failed);
}

TEST_CASE("a missing program or an unknown dataset is an error at submit time, recording nothing") {
    temp_workspace t("submit_errors");
    const auto before = t.ws.runs().size();
    CHECK_THROWS_AS(experiment(t.ws, "e").submit(job_for(t.dir / "no-such-trainer")),
                    ctml::compute_error);
    const auto exe = t.script("ok.sh", "echo \"$@\"");
    try {
        experiment(t.ws, "e").submit(job_for(exe, {"--data-folder", "mnist-dataset:latest"}));
        FAIL("expected an error");
    } catch (const ctml::compute_error& e) {
        CHECK(std::string(e.what()).find("mnist-dataset") != std::string::npos);
    }
    auto job = job_for(exe);
    job.compute_target = "gpu-cluster";
    CHECK_THROWS_AS(experiment(t.ws, "e").submit(job), ctml::compute_error);
    script_run_config src;
    src.source_folder = (t.dir / "nothing-here").string();
    src.cmake_target = "x";
    CHECK_THROWS_AS(experiment(t.ws, "e").submit(src), ctml::compute_error);
    CHECK(t.ws.runs().size() == before);
}

TEST_CASE("a registered dataset named in the arguments becomes a local folder") {
    temp_workspace t("dataset");
    const auto file = t.dir / "train-labels.bin";
    std::ofstream(file) << "labels";
    auto& st = t.ws.backend();
    const auto obj = st.put_object(file);
    const auto v = st.add_dataset_version("mnist-dataset", "training and test dataset",
                                          {{"train-labels.bin", obj.size, obj.sha256, file.string()}},
                                          false);
    const auto exe = t.script("ls.sh", "echo \"folder=$2\"; cat \"$2/train-labels.bin\"; echo");
    submitted_run run = experiment(t.ws, "ds").submit(
        job_for(exe, {"--data-folder", "mnist-dataset:latest"}));
    std::ostringstream out;
    const auto s = run.wait_for_completion(true, std::chrono::seconds(60), out);
    CHECK(s.state == run_state::completed);
    CHECK(out.str().find("folder=" + (run.run_dir() / "inputs" / "mnist-dataset-1").string()) !=
          std::string::npos);
    CHECK(out.str().find("labels") != std::string::npos);
    const auto job = load_job(run.run_dir() / "job.json");
    REQUIRE(job.datasets.size() == 1);
    CHECK(job.datasets[0].version == v.version);
    CHECK(job.arguments[1] == "mnist-dataset:latest"); // the description keeps the reference
}

TEST_CASE("cancel ends the run Canceled and no process of its group survives") {
    temp_workspace t("cancel");
    // A trainer with children of its own, one of which ignores SIGTERM.
    const auto exe = t.script("busy.sh", "echo started\n(trap '' TERM; sleep 300) &\nsleep 300 &\nwait");
    submitted_run run = experiment(t.ws, "cancel").submit(job_for(exe));
    wait_for_state(run, run_state::running);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const auto pgid = ctml::compute::detail::read_process(
                          ctml::compute::detail::run_paths{run.run_dir()})->pgid;
    REQUIRE(!ctml::compute::detail::group_members(static_cast<pid_t>(pgid)).empty());
    const auto t0 = clock_type::now();
    const run_state s = run.cancel("canceled by the test");
    const double latency = std::chrono::duration<double>(clock_type::now() - t0).count();
    MESSAGE("cancel latency (local, one child ignoring SIGTERM): " << latency << " s");
    WARN(latency < 5.0);
    CHECK(s == run_state::canceled);
    CHECK(ctml::compute::detail::group_members(static_cast<pid_t>(pgid)).empty());
    const auto sum = run.wait_for_completion(false, std::chrono::seconds(30));
    CHECK(sum.reason == "canceled by the test");
}

TEST_CASE("a run past its maximum duration is canceled and says so") {
    temp_workspace t("timeout");
    const auto exe = t.script("slow.sh", "echo working\nsleep 60");
    auto job = job_for(exe);
    job.max_duration_s = 1;
    submitted_run run = experiment(t.ws, "timeout").submit(job);
    std::ostringstream out;
    const auto s = run.wait_for_completion(true, std::chrono::seconds(60), out);
    CHECK(s.state == run_state::canceled);
    CHECK(s.reason.find("maximum duration of 1 s") != std::string::npos);
    CHECK(out.str().find("maximum duration") != std::string::npos);
}

TEST_CASE("a trainer killed with SIGKILL never leaves its run Running") {
    temp_workspace t("sigkill");
    const auto exe = t.script("victim.sh", "echo started\nsleep 60");
    submitted_run run = experiment(t.ws, "kill").submit(job_for(exe));
    wait_for_state(run, run_state::running);
    const auto pgid = ctml::compute::detail::read_process(
                          ctml::compute::detail::run_paths{run.run_dir()})->pgid;
    ::kill(static_cast<pid_t>(-pgid), SIGKILL);
    const auto s = run.wait_for_completion(false, std::chrono::seconds(30));
    CHECK(s.state == run_state::failed);
    CHECK(s.reason.find("SIGKILL") != std::string::npos);
}

TEST_CASE("supervisor and trainer both killed: the run still ends (lazy check)") {
    temp_workspace t("supkill");
    const auto exe = t.script("victim.sh", "echo started\nsleep 60");
    submitted_run run = experiment(t.ws, "kill").submit(job_for(exe));
    wait_for_state(run, run_state::running);
    const auto paths = ctml::compute::detail::run_paths{run.run_dir()};
    const auto sup = ctml::compute::detail::read_identity(paths.supervisor());
    REQUIRE(sup);
    ::kill(static_cast<pid_t>(sup->pid), SIGKILL);
    for (int i = 0; i < 250 && run.supervisor_alive(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    REQUIRE_FALSE(run.supervisor_alive());
    CHECK(run.get_status() == run_state::running); // the trainer still runs
    const auto pgid = ctml::compute::detail::read_process(paths)->pgid;
    ::kill(static_cast<pid_t>(-pgid), SIGKILL);
    for (int i = 0; i < 250 && !ctml::compute::detail::group_members(static_cast<pid_t>(pgid)).empty(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    CHECK(run.get_status() == run_state::failed);
    CHECK(t.ws.get_run(run.id()).info.reason.find("supervisor") != std::string::npos);
}

TEST_CASE("the run is carried to its end after the submitting process is gone") {
    temp_workspace t("orphan");
    const auto exe = t.script("short.sh", "sleep 0.5\necho finished");
    const auto ws_dir = t.dir / "ws";
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        int code = 0;
        try {
            auto ws = ctml::workspace::workspace::open(ws_dir);
            experiment(ws, "orphan").submit(job_for(exe));
        } catch (...) {
            code = 1;
        }
        ::_exit(code);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    const auto runs = t.ws.runs({.experiment = std::string("orphan")});
    REQUIRE(runs.size() == 1);
    submitted_run run(t.ws, runs[0].id);
    const auto s = run.wait_for_completion(false, std::chrono::seconds(60));
    CHECK(s.state == run_state::completed);
}

TEST_CASE("a source folder is built once; an unchanged one reuses the build") {
    temp_workspace t("build");
    const auto src = t.dir / "trainer";
    fs::create_directories(src);
    std::ofstream(src / "CMakeLists.txt")
        << "cmake_minimum_required(VERSION 3.16)\nproject(t CXX)\nadd_executable(trainer main.cpp)\n";
    std::ofstream(src / "main.cpp")
        << "#include <cstdio>\nint main(int c, char** v) { std::printf(\"built trainer %s\\n\", "
           "c > 1 ? v[1] : \"\"); }\n";
    script_run_config job;
    job.source_folder = src.string();
    job.cmake_target = "trainer";
    job.arguments = {"first"};
    submitted_run first = experiment(t.ws, "build").submit(job);
    std::ostringstream out1;
    const auto s1 = first.wait_for_completion(true, std::chrono::seconds(300), out1);
    CHECK(s1.state == run_state::completed);
    CHECK(s1.built);
    CHECK_FALSE(s1.build_reused);
    CHECK(out1.str().find("built trainer first") != std::string::npos);
    CHECK(fs::file_size(first.run_dir() / "logs" / "build.log") > 0);

    job.arguments = {"second"};
    submitted_run second = experiment(t.ws, "build").submit(job);
    std::ostringstream out2;
    const auto s2 = second.wait_for_completion(true, std::chrono::seconds(300), out2);
    CHECK(s2.state == run_state::completed);
    CHECK(s2.build_reused);
    CHECK(out2.str().find("reused (sources unchanged)") != std::string::npos);
    CHECK(out2.str().find("built trainer second") != std::string::npos);
    ctml::workspace::timestamp_ms queued = 0, running = 0;
    for (const auto& h : s2.history) {
        if (h.state == run_state::queued) {
            queued = h.time;
        } else if (h.state == run_state::running) {
            running = h.time;
        }
    }
    REQUIRE(running >= queued);
    MESSAGE("second submission of an unchanged folder: Queued -> Running in "
            << (running - queued) << " ms (first build " << s1.build_seconds << " s)");
    WARN(running - queued < 2000);

    // A changed source is built again.
    std::ofstream(src / "main.cpp", std::ios::app) << "// changed\n";
    submitted_run third = experiment(t.ws, "build").submit(job);
    const auto s3 = third.wait_for_completion(false, std::chrono::seconds(300));
    CHECK(s3.state == run_state::completed);
    CHECK_FALSE(s3.build_reused);
}
