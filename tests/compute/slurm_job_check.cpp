// SPDX-License-Identifier: MIT
// Driver of tests/compute/test_submit_slurm.sh (which starts and stops the cluster):
//   slurm_job_check train WS SLURM_CONF MNIST_DIR TRAINER [ARGS...]   submit a trainer, wait, register
//   slurm_job_check cancel WS SLURM_CONF SCRIPT                         cancel through ctml
//   slurm_job_check scancel WS SLURM_CONF SCRIPT                        scancel behind ctml's back
//   slurm_job_check down WS SLURM_CONF                                  the controller is down
// Prints what it sees; exit status 0 when every check holds.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <ctml/compute/experiment.hpp>

namespace fs = std::filesystem;
using namespace ctml::compute;
using ctml::run::run_state;

namespace {
int failures = 0;
void check(bool ok, const std::string& what) {
    std::printf("%s: %s\n", ok ? "ok" : "FAILED", what.c_str());
    failures += ok ? 0 : 1;
}

compute_target slurm_target(const std::string& conf, std::int64_t timeout_s = 10) {
    compute_target t;
    t.name = "gpu-cluster";
    t.kind = target_kind::slurm;
    t.max_nodes = 4;
    t.time_limit = "00:10:00";
    t.slurm_conf = conf;
    t.controller_timeout_s = timeout_s;
    t.partition = "debug";
    return t;
}

ctml::workspace::workspace open_ws(const fs::path& dir) {
    if (fs::exists(dir / "config.json")) {
        return ctml::workspace::workspace::open(dir);
    }
    return ctml::workspace::workspace::create(dir, "slurm-test");
}

void register_mnist(ctml::workspace::workspace& ws, const fs::path& mnist) {
    std::vector<ctml::workspace::dataset_file> files;
    for (const char* f : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                          "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}) {
        const auto o = ws.backend().put_object(mnist / f);
        files.push_back({f, o.size, o.sha256, (mnist / f).string()});
    }
    ws.backend().add_dataset_version("mnist-dataset", "training and test dataset", files, false);
}

std::vector<run_state> states(const execution_summary& s) {
    std::vector<run_state> v;
    for (const auto& h : s.history) {
        v.push_back(h.state);
    }
    return v;
}

bool in_order(const std::vector<run_state>& have, const std::vector<run_state>& want) {
    std::size_t i = 0;
    for (const auto s : have) {
        if (i < want.size() && s == want[i]) {
            ++i;
        }
    }
    return i == want.size();
}
} // namespace

int main(int argc, char** argv) try {
    if (argc < 4) {
        std::fprintf(stderr, "usage: see the top of slurm_job_check.cpp\n");
        return 2;
    }
    const std::string mode = argv[1];
    auto ws = open_ws(argv[2]);
    const std::string conf = argv[3];
    if (mode == "train") {
        ensure_compute_target(ws.root(), slurm_target(conf));
        register_mnist(ws, argv[4]);
        script_run_config job;
        job.executable = argv[5];
        for (int i = 6; i < argc; ++i) {
            job.arguments.emplace_back(argv[i]);
        }
        job.compute_target = "gpu-cluster";
        submitted_run run = experiment(ws, "keras-mnist").submit(job);
        const auto s = run.wait_for_completion(true, std::chrono::minutes(10));
        check(s.state == run_state::completed, "the run Completed");
        check(in_order(states(s), {run_state::queued, run_state::running, run_state::completed}),
              "Queued -> Running -> Completed in the history");
        for (std::size_t i = 1; i < s.history.size(); ++i) {
            check(s.history[i].time >= s.history[i - 1].time && s.history[i].time > 0,
                  std::string(ctml::run::to_string(s.history[i].state)) + " has a timestamp in order");
        }
        check(!s.slurm_job.empty(), "Slurm job id " + s.slurm_job);
        const auto v = run.register_model("keras-mnist", "outputs/model");
        check(v.name == "keras-mnist" && v.version >= 1, "registered " + v.id());
        const auto to = fs::path(argv[2]).parent_path() / "downloaded";
        ws.download_model(v.id(), to);
        check(fs::exists(to / "model.json") || fs::exists(to / "model" / "model.json"),
              "the model files download");
        // What the trainer itself reported (its run context found the run through CTML_RUN_DIR).
        const auto d = run.get_details();
        std::string names;
        for (const auto& n : d.metric_names) {
            names += " " + n;
        }
        std::printf("metrics the trainer logged:%s\n", names.empty() ? " (none)" : names.c_str());
        std::printf("note: the trainer's own run context %s\n",
                    d.info.pid != 0 ? "reported into the submitted run"
                                    : "did not report (a trainer without ctml::run)");
        return failures == 0 ? 0 : 1;
    }
    if (mode == "cancel" || mode == "scancel") {
        ensure_compute_target(ws.root(), slurm_target(conf));
        script_run_config job;
        job.executable = argv[4];
        job.compute_target = "gpu-cluster";
        submitted_run run = experiment(ws, mode).submit(job);
        for (int i = 0; i < 600 && run.get_status() != run_state::running; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        check(run.get_status() == run_state::running, "the job runs");
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        const auto t0 = std::chrono::steady_clock::now();
        if (mode == "cancel") {
            const run_state s = run.cancel("canceled by the test");
            const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            std::printf("cancel latency (slurm): %.2f s\n", dt);
            check(s == run_state::canceled, "cancel() ends it Canceled");
        } else {
            const auto job_id = detail::read_slurm_job(detail::run_paths{run.run_dir()});
            check(job_id.has_value(), "the run knows its Slurm job");
            const std::string cmd = "SLURM_CONF=" + conf + " scancel " + *job_id;
            check(std::system(cmd.c_str()) == 0, "scancel " + *job_id);
        }
        const auto s = run.wait_for_completion(false, std::chrono::seconds(60));
        std::printf("state %s (%s)\n", std::string(ctml::run::to_string(s.state)).c_str(), s.reason.c_str());
        check(s.state == run_state::canceled, "the run ends Canceled, not Running");
        return failures == 0 ? 0 : 1;
    }
    if (mode == "down") {
        ensure_compute_target(ws.root(), slurm_target(conf, 3));
        script_run_config job;
        job.executable = "/bin/true";
        job.compute_target = "gpu-cluster";
        const auto before = ws.runs().size();
        const auto t0 = std::chrono::steady_clock::now();
        try {
            experiment(ws, "down").submit(job);
            check(false, "submit to a stopped controller throws");
        } catch (const ctml::compute_error& e) {
            const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            std::printf("controller down: error after %.2f s: %s\n", dt, e.what());
            check(true, "submit to a stopped controller is a compute_error");
            check(dt < 3 + 5, "within the configured timeout (3 s) and a margin");
        }
        check(ws.runs().size() == before, "no run recorded");
        return failures == 0 ? 0 : 1;
    }
    std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
    return 2;
} catch (const std::exception& e) {
    std::fprintf(stderr, "slurm_job_check: %s\n", e.what());
    return 1;
}
