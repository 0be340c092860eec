// SPDX-License-Identifier: MIT
// Submission to an mpi target: `mpirun -n 2` of the data-parallel trainer inside a loopback-only
// network namespace, rank 0 writing the outputs; cancel of an MPI job leaves no rank behind.
// Skipped (77) without mpirun, without the dp_trainer (ctml::dist) or without namespaces.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <dirent.h>
#include <unistd.h>

#include <ctml/compute/experiment.hpp>

namespace fs = std::filesystem;
using namespace ctml::compute;
using ctml::run::run_state;

namespace {
bool can_run_mpi() {
    return detail::find_program("mpirun").has_value() &&
           std::system(::geteuid() == 0 ? "unshare -n true 2>/dev/null"
                                        : "unshare -rn true 2>/dev/null") == 0;
}

/// Processes whose command line mentions `text`.
int processes_mentioning(const std::string& text) {
    int n = 0;
    DIR* d = ::opendir("/proc");
    while (const dirent* e = d ? ::readdir(d) : nullptr) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') {
            continue;
        }
        std::ifstream in(std::string("/proc/") + e->d_name + "/cmdline");
        std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        n += cmd.find(text) != std::string::npos && std::stol(e->d_name) != ::getpid() ? 1 : 0;
    }
    if (d) {
        ::closedir(d);
    }
    return n;
}

struct temp_ws {
    fs::path dir = fs::temp_directory_path() / ("ctml_mpi_" + std::to_string(::getpid()));
    ctml::workspace::workspace ws = make();
    ctml::workspace::workspace make() {
        fs::remove_all(dir);
        fs::create_directories(dir);
        auto w = ctml::workspace::workspace::create(dir / "ws", "mpi-test");
        compute_target t;
        t.name = "mpi2";
        t.kind = target_kind::mpi;
        t.processes = 2;
        create_compute_target(w.root(), t);
        return w;
    }
    ~temp_ws() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
};
} // namespace

TEST_CASE("mpirun -n 2 of the data-parallel trainer through an mpi target") {
    const char* build = std::getenv("CTML_BUILD_DIR");
    const char* mnist = std::getenv("CTML_MNIST_DIR");
    const fs::path trainer = fs::path(build ? build : ".") / "tests" / "dist" / "dp_trainer";
    if (!can_run_mpi() || !fs::exists(trainer) || mnist == nullptr) {
        MESSAGE("no mpirun, network namespace, dp_trainer or MNIST: skipped");
        std::exit(77);
    }
    temp_ws t;
    script_run_config job;
    job.executable = trainer.string();
    job.arguments = {mnist, "outputs/weights.f32", "--steps", "20"};
    job.compute_target = "mpi2";
    submitted_run run = experiment(t.ws, "dp").submit(job);
    std::ostringstream out;
    const auto s = run.wait_for_completion(true, std::chrono::minutes(5), out);
    INFO(out.str());
    CHECK(s.state == run_state::completed);
    CHECK(out.str().find("data-parallel: 2 process(es)") != std::string::npos);
    CHECK(s.outputs == std::vector<std::string>{"outputs/weights.f32"});
    CHECK(fs::file_size(run.run_dir() / "outputs" / "weights.f32") == 266610 * 4);
}

TEST_CASE("cancel of an MPI job: Canceled, and no rank survives") {
    if (!can_run_mpi()) {
        std::exit(77);
    }
    temp_ws t;
    const fs::path script = t.dir / "mpi_sleeper.sh";
    std::ofstream(script) << "#!/bin/bash\necho rank ${OMPI_COMM_WORLD_RANK} up\nsleep 120\n";
    fs::permissions(script, fs::perms::owner_all);
    script_run_config job;
    job.executable = script.string();
    job.compute_target = "mpi2";
    submitted_run run = experiment(t.ws, "mpi-cancel").submit(job);
    for (int i = 0; i < 500 && processes_mentioning(script.string()) < 2; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    REQUIRE(processes_mentioning(script.string()) >= 2);
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(run.cancel() == run_state::canceled);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    MESSAGE("cancel latency (mpi, 2 ranks): " << dt << " s");
    WARN(dt < 5.0);
    CHECK(processes_mentioning(script.string()) == 0);
}
