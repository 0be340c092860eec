// SPDX-License-Identifier: MIT
// The stand-in trainer of tests/mlflow/ and the ctml side of benchmarks/mlflow_logging.py:
// reports into its run through ctml::run::get_context() only (the trainer half: no libcurl, no
// SQLite), as the reference trainers do: params, tags, `Loss` and `Accuracy` per epoch, an
// image, a log file and model files in outputs/model.
//
//   ctml_mlflow_driver [--epochs N] [--epoch-ms MS] [--points N] [--experiment E]
//     --points N: N extra points of the series "batch_loss" spread over the epochs (the
//     benchmark logs 100,000 this way). Prints "run <id> <seconds spent in log calls>".
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <thread>

#include <ctml/run/context.hpp>

namespace {

void write_bytes(const std::filesystem::path& p, std::size_t n, unsigned seed) {
    std::filesystem::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary);
    unsigned x = seed * 2654435761u + 1;
    for (std::size_t i = 0; i < n; ++i) {
        x = x * 1103515245u + 12345u;
        out.put(static_cast<char>(x >> 24));
    }
}

} // namespace

int main(int argc, char** argv) {
    int epochs = 3;
    int epoch_ms = 0;
    long points = 0;
    std::string experiment = "mlflow-test";
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string_view k = argv[i];
        if (k == "--epochs") {
            epochs = std::atoi(argv[i + 1]);
        } else if (k == "--epoch-ms") {
            epoch_ms = std::atoi(argv[i + 1]);
        } else if (k == "--points") {
            points = std::atol(argv[i + 1]);
        } else if (k == "--experiment") {
            experiment = argv[i + 1];
        } else {
            std::fprintf(stderr, "ctml_mlflow_driver: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    ctml::run::context& run = ctml::run::get_context(experiment);
    if (!run.active()) {
        std::fprintf(stderr, "ctml_mlflow_driver: no active run\n");
        return 1;
    }
    run.log_param("batch_size", "50");
    run.log_param("epochs", std::to_string(epochs));
    run.log_param("optimizer", "rmsprop");
    run.set_tag("framework", "ctml");
    run.set_job_description(R"({"trainer":"ctml_mlflow_driver"})");
    double logging_s = 0;
    const long per_epoch = epochs > 0 ? points / epochs : points;
    long step = 0;
    for (int e = 0; e < epochs; ++e) {
        const auto t0 = std::chrono::steady_clock::now();
        for (long i = 0; i < per_epoch; ++i) {
            run.log("batch_loss", 1.0 / static_cast<double>(step + 1), step);
            ++step;
        }
        run.log("Loss", 1.0 / (e + 1));
        run.log("Accuracy", 0.5 + 0.4 * e / (epochs > 1 ? epochs - 1 : 1));
        logging_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (epoch_ms > 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(epoch_ms));
        }
    }
    const auto model = run.outputs_dir() / "model";
    write_bytes(model / "model.json", 517, 1);
    write_bytes(model / "weights.npz", 300000, 2);
    write_bytes(run.logs_dir() / "train.log", 1200, 3);
    const auto png = run.run_dir() / "chart.tmp.png";
    write_bytes(png, 2048, 4);
    run.log_image("Accuracy vs Loss", png);
    std::filesystem::remove(png);
    run.log("Final test accuracy", 0.97);
    std::printf("run %s %.6f\n", run.id().c_str(), logging_s);
    std::fflush(stdout);
    return 0;
}
