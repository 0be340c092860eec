// SPDX-License-Identifier: MIT
// ctml compute create | list;  ctml submit;  ctml run wait | logs | cancel
// Exit status of `submit --wait` and `run wait`: 0 Completed; Failed: the trainer's exit status
// when it had one (1..255), else 7 (compute); Canceled: 130.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <ctml/compute/experiment.hpp>
#include <ctml/compute/target.hpp>

#include "cli/common.hpp"
#include "cli/compute.hpp"
#include "cli/format.hpp"

namespace ctml::cli {

namespace {

/// A non-zero exit status without another message (the summary said it all).
struct run_status_exit {
    int status;
};

int exit_status_of(const compute::execution_summary& s) {
    switch (s.state) {
    case run::run_state::completed: return 0;
    case run::run_state::canceled: return 130;
    default: break;
    }
    if (s.exit_code && *s.exit_code > 0) {
        return *s.exit_code;
    }
    return static_cast<int>(error_code::compute);
}

void print_summary_json(const compute::execution_summary& s) {
    auto w = json_out();
    w.begin_object()
        .field("run", s.run_id)
        .field("experiment", s.experiment)
        .field("target", s.target)
        .field("type", compute::to_string(s.kind))
        .field("state", run::to_string(s.state))
        .field("reason", s.reason)
        .field("duration_ms", s.duration_ms);
    w.key("exit_code");
    if (s.exit_code) {
        w.value(*s.exit_code);
    } else {
        w.null();
    }
    w.field("build_reused", s.build_reused).field("slurm_job", s.slurm_job);
    w.key("history").begin_array();
    for (const auto& h : s.history) {
        w.begin_object().field("state", run::to_string(h.state)).field("time", iso_time(h.time));
        w.field("reason", h.reason).end_object();
    }
    w.end_array();
    w.key("last_lines").begin_array();
    for (const auto& l : s.last_lines) {
        w.value(l);
    }
    w.end_array().end_object();
    print_json(w);
}

/// Waits (streaming unless --json), prints the summary, and exits with the run's status.
[[noreturn]] void wait_and_exit(const globals& g, workspace::workspace& ws, const std::string& id,
                                long timeout_s) {
    compute::submitted_run run(ws, id);
    const auto s = run.wait_for_completion(!g.json, std::chrono::seconds(timeout_s), std::cout);
    if (g.json) {
        print_summary_json(s);
    }
    std::cout.flush();
    std::exit(exit_status_of(s));
}

struct create_args {
    std::string name, type = "local", partition, time, memory, slurm_conf, launcher = "srun";
    std::int64_t processes = 1, max_nodes = 1, cpus_per_task = 0, controller_timeout = 20;
    bool replace = false, host_network = false;
};

void compute_create(const globals& g, const create_args& a) {
    compute::compute_target t;
    t.name = a.name;
    const auto kind = compute::parse_target_kind(a.type);
    if (!kind) {
        throw config_error("--type \"" + a.type + "\": expected local, mpi or slurm");
    }
    t.kind = *kind;
    t.processes = a.processes;
    t.max_nodes = a.max_nodes;
    t.partition = a.partition;
    t.time_limit = a.time;
    t.cpus_per_task = a.cpus_per_task;
    t.memory = a.memory;
    t.slurm_conf = a.slurm_conf.empty() ? std::string()
                                         : std::filesystem::absolute(a.slurm_conf).string();
    t.controller_timeout_s = a.controller_timeout;
    t.launcher = a.launcher;
    t.loopback_only = !a.host_network;
    workspace::workspace ws = open_workspace(g, false);
    const auto made = compute::create_compute_target(ws.root(), t, a.replace);
    if (g.json) {
        std::cout << compute::to_json(made);
    } else {
        std::cout << "compute target " << made.name << " (" << compute::to_string(made.kind)
                  << ")\n";
    }
}

void compute_list(const globals& g) {
    workspace::workspace ws = open_workspace(g, false);
    const auto all = compute::list_compute_targets(ws.root());
    if (g.json) {
        auto w = json_out();
        w.begin_array();
        for (const auto& t : all) {
            w.begin_object()
                .field("name", t.name)
                .field("type", compute::to_string(t.kind))
                .field("processes", t.processes)
                .field("max_nodes", t.max_nodes)
                .field("partition", t.partition)
                .field("time_limit", t.time_limit)
                .end_object();
        }
        w.end_array();
        print_json(w);
        return;
    }
    table tab({"NAME", "TYPE", "PROCESSES", "MAX NODES", "PARTITION", "TIME LIMIT"});
    for (const auto& t : all) {
        tab.add({t.name, std::string(compute::to_string(t.kind)), std::to_string(t.processes),
                 std::to_string(t.max_nodes), t.partition, t.time_limit});
    }
    tab.print(std::cout);
}

struct submit_args {
    std::string experiment, compute = "local", source, target;
    std::vector<std::string> command, env, cmake_args;
    std::int64_t processes = 0, nodes = 0, max_duration = 0;
    long timeout = 0;
    bool wait = false;
};

void submit(const globals& g, const submit_args& a) {
    compute::script_run_config job;
    if (!a.source.empty()) {
        job.source_folder = a.source;
        job.cmake_target = a.target;
        job.cmake_arguments = a.cmake_args;
        job.arguments = a.command;
    } else {
        if (a.command.empty()) {
            throw config_error("submit: give the trainer after `--` (ctml submit ... -- TRAINER "
                               "ARGS...) or --source DIR --target T");
        }
        job.executable = a.command.front();
        job.arguments.assign(a.command.begin() + 1, a.command.end());
    }
    job.compute_target = a.compute;
    job.environment = parse_key_values(a.env, "--env");
    job.processes = a.processes;
    job.nodes = a.nodes;
    job.max_duration_s = a.max_duration;
    workspace::workspace ws = open_workspace(g, false);
    compute::submitted_run run = compute::experiment(ws, a.experiment).submit(job);
    if (!a.wait) {
        if (g.json) {
            auto w = json_out();
            w.begin_object().field("run", run.id()).end_object();
            print_json(w);
        } else {
            std::cout << run.id() << "\n";
        }
        return;
    }
    if (!g.json) {
        std::cout << "Run " << run.id() << " submitted to " << a.compute << "\n";
        std::cout.flush();
    }
    wait_and_exit(g, ws, run.id(), a.timeout);
}

void run_logs(const globals& g, const std::string& id, bool follow) {
    workspace::workspace ws = open_workspace(g, false);
    ws.get_run(id); // unknown runs are an error
    compute::submitted_run run(ws, id);
    const auto log = run.run_dir() / "logs" / "output.log";
    std::uint64_t offset = 0;
    const auto print_new = [&] {
        std::error_code ec;
        const auto size = std::filesystem::exists(log, ec) ? std::filesystem::file_size(log, ec) : 0;
        if (size > offset) {
            std::cout << io::read_file(log, std::uint64_t(1) << 40).substr(offset);
            std::cout.flush();
            offset = size;
        }
    };
    print_new();
    while (follow && !run::is_terminal(run.get_status())) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        print_new();
    }
    print_new();
}

} // namespace

void add_compute_commands(CLI::App& app, globals& g) {
    CLI::App* compute = app.add_subcommand("compute", "Compute targets: local, mpi, slurm");
    compute->require_subcommand(1);

    auto c = std::make_shared<create_args>();
    CLI::App* cr = compute->add_subcommand("create", "Define a compute target in the workspace");
    cr->add_option("NAME", c->name, "Target name (e.g. gpu-cluster)")->required();
    cr->add_option("--type", c->type, "local, mpi or slurm")->required();
    cr->add_option("--processes", c->processes, "Processes per job (MPI ranks, Slurm tasks)");
    cr->add_option("--partition", c->partition, "Slurm partition");
    cr->add_option("--max-nodes", c->max_nodes, "Slurm: nodes a job may ask for");
    cr->add_option("--time", c->time, "Time limit HH:MM:SS (also the default maximum duration)");
    cr->add_option("--cpus-per-task", c->cpus_per_task, "Slurm: CPUs per task");
    cr->add_option("--memory", c->memory, "Slurm: memory per node (e.g. 2G)");
    cr->add_option("--slurm-conf", c->slurm_conf, "Slurm: the slurm.conf to use (SLURM_CONF)");
    cr->add_option("--controller-timeout", c->controller_timeout,
                   "Slurm: seconds before an unanswering controller is an error");
    cr->add_option("--launcher", c->launcher, "Slurm: srun (--mpi=pmix) or mpirun for tasks > 1");
    cr->add_flag("--host-network", c->host_network,
                 "mpi: let mpirun use the host's network (default: loopback only)");
    cr->add_flag("--replace", c->replace, "Replace an existing definition");
    cr->callback([&g, c] { compute_create(g, *c); });

    CLI::App* ls = compute->add_subcommand("list", "Compute targets of the workspace");
    ls->callback([&g] { compute_list(g); });

    auto s = std::make_shared<submit_args>();
    CLI::App* sub = app.add_subcommand(
        "submit", "Submit a trainer as a run: ctml submit --experiment E --compute NAME -- TRAINER ARGS...");
    sub->add_option("--experiment", s->experiment, "Experiment of the run")->required();
    sub->add_option("--compute", s->compute, "Compute target (default: local)");
    sub->add_flag("--wait", s->wait, "Stream the output, print the summary, exit with the run's status");
    sub->add_option("--timeout", s->timeout, "With --wait: give up waiting after this many seconds");
    sub->add_option("--max-duration", s->max_duration, "Cancel the run after this many seconds of Running");
    sub->add_option("--processes", s->processes, "Processes (mpi, slurm)");
    sub->add_option("--nodes", s->nodes, "Nodes (slurm)");
    sub->add_option("--env", s->env, "KEY=VALUE for the trainer's environment (repeatable)");
    sub->add_option("--source", s->source, "Build the trainer from this CMake source folder");
    sub->add_option("--target", s->target, "With --source: the CMake target to build and run");
    sub->add_option("--cmake-arg", s->cmake_args, "With --source: an argument of the configure step");
    sub->add_option("COMMAND", s->command, "After --: the trainer and its arguments (with --source: "
                                           "the arguments only)");
    sub->callback([&g, s] { submit(g, *s); });

    CLI::App* run = app.get_subcommand("run");
    auto wait_id = std::make_shared<std::string>();
    auto wait_timeout = std::make_shared<long>(0);
    CLI::App* w = run->add_subcommand("wait", "Stream a submitted run's output until it ends; print the summary");
    w->add_option("RUN", *wait_id, "Run id")->required();
    w->add_option("--timeout", *wait_timeout, "Give up waiting after this many seconds");
    w->callback([&g, wait_id, wait_timeout] {
        workspace::workspace ws = open_workspace(g, false);
        ws.get_run(*wait_id);
        wait_and_exit(g, ws, *wait_id, *wait_timeout);
    });

    auto logs_id = std::make_shared<std::string>();
    auto follow = std::make_shared<bool>(false);
    CLI::App* lg = run->add_subcommand("logs", "The output (stdout and stderr) of a submitted run");
    lg->add_option("RUN", *logs_id, "Run id")->required();
    lg->add_flag("--follow,-f", *follow, "Keep printing until the run ends");
    lg->callback([&g, logs_id, follow] { run_logs(g, *logs_id, *follow); });

    auto cancel_id = std::make_shared<std::string>();
    CLI::App* cn = run->add_subcommand("cancel", "Cancel a submitted run (its processes end within seconds)");
    cn->add_option("RUN", *cancel_id, "Run id")->required();
    cn->callback([&g, cancel_id] {
        workspace::workspace ws = open_workspace(g, false);
        ws.get_run(*cancel_id);
        compute::submitted_run r(ws, *cancel_id);
        const auto st = r.cancel("canceled with `ctml run cancel`");
        std::cout << *cancel_id << " " << run::to_string(st) << "\n";
    });
}

} // namespace ctml::cli
