// SPDX-License-Identifier: MIT
// The "train and register Keras models at scale" notebook, end to end in C++:
//   1. the workspace from config.json (created here when there is none),
//   2. mnist-dataset registered from the four MNIST files (a new version only when they changed),
//   3. a compute target, created if missing (--compute NAME --type local|mpi|slurm),
//   4. the run configuration: the Keras trainer with the tutorial's arguments, the dataset
//      passed as --data-folder mnist-dataset:latest,
//   5. Experiment("keras-mnist").submit(config), wait_for_completion(show_output = true),
//   6. register_model("keras-mnist", "outputs/model"), then download of the model files.
//
//   submit_keras_mnist --mnist data/mnist [--compute local] [--type local] [--epochs 20]
//                      [--workspace DIR] [--trainer PATH] [--download-to DIR]
//                      [--slurm-conf FILE] [--processes N]
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <unistd.h>

#include <ctml/compute/experiment.hpp>
#include <ctml/compute/target.hpp>
#include <ctml/workspace/dataset.hpp>
#include <ctml/workspace/workspace.hpp>

namespace fs = std::filesystem;

namespace {
std::map<std::string, std::string> parse(int argc, char** argv) {
    std::map<std::string, std::string> f{{"mnist", "data/mnist"},
                                         {"compute", "local"},
                                         {"type", "local"},
                                         {"epochs", "20"},
                                         {"workspace", ""},
                                         {"trainer", ""},
                                         {"download-to", "outputs/downloaded-model"},
                                         {"slurm-conf", ""},
                                         {"processes", "1"}};
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("--", 0) != 0 || !f.count(a.substr(2)) || i + 1 >= argc) {
            throw ctml::config_error("unknown or incomplete flag \"" + a +
                                     "\" (see the top of submit_keras_mnist.cpp)");
        }
        f[a.substr(2)] = argv[++i];
    }
    return f;
}

fs::path next_to_this_program(const std::string& name) {
    std::error_code ec;
    return fs::read_symlink("/proc/self/exe", ec).parent_path() / name;
}
} // namespace

int main(int argc, char** argv) try {
    const auto flags = parse(argc, argv);

    // 1. Workspace.from_config()
    auto ws = [&] {
        if (!flags.at("workspace").empty()) {
            const fs::path dir = flags.at("workspace");
            return fs::exists(dir / "config.json") ? ctml::workspace::workspace::open(dir)
                                                   : ctml::workspace::workspace::create(dir, "tutorial");
        }
        try {
            return ctml::workspace::workspace::from_config();
        } catch (const ctml::workspace_error&) {
            std::printf("No workspace found from here: creating one in ./.ctml\n");
            return ctml::workspace::workspace::create(".ctml", "tutorial");
        }
    }();
    std::printf("Workspace %s (%s)\n", ws.name().c_str(), ws.root().c_str());

    // 2. The dataset, from the four files; registering the same content again keeps the version.
    const fs::path mnist = flags.at("mnist");
    std::vector<ctml::workspace::file_source> files;
    for (const char* f : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                          "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}) {
        files.emplace_back((mnist / f).string());
    }
    const auto dataset = ctml::workspace::file_dataset::from_files(files).register_dataset(
        ws, "mnist-dataset", "training and test dataset");
    std::printf("Dataset %s\n", dataset.id().c_str());

    // 3. The compute target, created if missing.
    ctml::compute::compute_target target;
    target.name = flags.at("compute");
    const auto kind = ctml::compute::parse_target_kind(flags.at("type"));
    if (!kind) {
        throw ctml::config_error("--type " + flags.at("type") + ": expected local, mpi or slurm");
    }
    target.kind = *kind;
    target.max_nodes = 4;
    target.slurm_conf = flags.at("slurm-conf");
    target = ctml::compute::ensure_compute_target(ws.root(), target);
    std::printf("Compute target %s (%s)\n", target.name.c_str(),
                std::string(ctml::compute::to_string(target.kind)).c_str());

    // 4. The run configuration with the tutorial's arguments.
    ctml::compute::script_run_config config;
    config.executable = flags.at("trainer").empty() ? next_to_this_program("keras_mnist").string()
                                                    : flags.at("trainer");
    config.arguments = {"--data-folder", "mnist-dataset:latest", "--batch-size", "50",
                        "--first-layer-neurons", "300", "--second-layer-neurons", "100",
                        "--learning-rate", "0.001", "--epochs", flags.at("epochs")};
    config.compute_target = target.name;
    config.processes = std::stoll(flags.at("processes"));

    // 5. Submit and watch.
    ctml::compute::submitted_run run = ctml::compute::experiment(ws, "keras-mnist").submit(config);
    std::printf("Run %s submitted\n", run.id().c_str());
    std::fflush(stdout);
    const auto summary = run.wait_for_completion(true);
    if (summary.state != ctml::run::run_state::completed) {
        return 1;
    }

    // 6. Register the model and download its files for local validation.
    const auto model = run.register_model("keras-mnist", "outputs/model");
    std::printf("Registered model %s\n", model.id().c_str());
    const fs::path to = flags.at("download-to");
    ws.download_model(model.id(), to);
    for (const auto& f : model.files) {
        std::printf("  %s (%llu bytes) -> %s\n", f.path.c_str(),
                    static_cast<unsigned long long>(f.size), (to / f.path).c_str());
    }
    return 0;
} catch (const ctml::error& e) {
    std::fprintf(stderr, "submit_keras_mnist: %s\n", e.what());
    return e.exit_status();
}
