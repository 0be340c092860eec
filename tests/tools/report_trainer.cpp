// SPDX-License-Identifier: MIT
// A stand-in for the reference trainers in the `ctml` command's tests: it reports into its run
// exactly as they do (ctml/run/report.hpp through the run context) and writes model files, but
// its epochs are made up, so a test gets a complete run in milliseconds instead of a training.
//
//   report_trainer [--style keras|chainer] [--epochs N] [--kill-after K] [--experiment E]
//
// Prints the run id on stdout. --kill-after K flushes after epoch K and sends itself SIGKILL,
// as a scancel or the OOM killer would: the run must later show Failed, with its K epochs.
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <ctml/io/file.hpp>
#include <ctml/run/chart.hpp>
#include <ctml/run/context.hpp>
#include <ctml/run/report.hpp>

namespace {

struct epoch_result {
    std::size_t epoch = 0;
    std::optional<double> val_loss, val_accuracy;
};
struct test_result {
    double loss = 0, accuracy = 0;
};

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr, "report_trainer: %s\n", why);
    std::exit(2);
}

} // namespace

int main(int argc, char** argv) {
    std::string style = "keras", experiment;
    long epochs = 20, kill_after = -1;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (i + 1 >= argc) {
            usage("every flag takes a value");
        }
        const char* v = argv[++i];
        if (a == "--style") {
            style = v;
        } else if (a == "--epochs") {
            epochs = std::strtol(v, nullptr, 10);
        } else if (a == "--kill-after") {
            kill_after = std::strtol(v, nullptr, 10);
        } else if (a == "--experiment") {
            experiment = v;
        } else {
            usage("unknown flag");
        }
    }
    if (style != "keras" && style != "chainer") {
        usage("--style is keras or chainer");
    }
    if (experiment.empty()) {
        experiment = style == "keras" ? "keras-mnist" : "chainer-mnist";
    }

    ctml::run::context& run = ctml::run::get_context(experiment);
    std::printf("%s\n", run.id().c_str());
    std::fflush(stdout);
    run.log_param("batch_size", std::int64_t{style == "keras" ? 50 : 128});
    run.set_tag("trainer", "report_trainer");

    // Validation accuracy rising towards 0.98 and loss falling, as Keras-MNIST's do.
    const auto epoch_values = [](std::size_t e) {
        const double t = static_cast<double>(e);
        return epoch_result{e, 0.12 - 0.04 * (1 - std::exp(-t / 3)) + 0.001 * t,
                            0.965 + 0.015 * (1 - std::exp(-t / 4))};
    };
    const auto after_epoch = [&](long e) {
        if (e == kill_after) {
            run.flush();
            std::raise(SIGKILL);
        }
    };
    const std::filesystem::path model_dir = run.outputs_dir() / "model";
    std::filesystem::create_directories(model_dir);

    if (style == "keras") {
        ctml::run::keras_report report(run, ctml::run::accuracy_vs_loss_image{});
        auto callback = report.on_epoch();
        for (long e = 1; e <= epochs; ++e) {
            callback(epoch_values(static_cast<std::size_t>(e)));
            after_epoch(e);
        }
        ctml::io::write_file_atomic(model_dir / "model.json",
                                    "{\"class_name\": \"Sequential\", \"layers\": []}\n");
        ctml::io::write_file_atomic(model_dir / "weights.npz",
                                    std::string("PK\x05\x06", 4) + std::string(18, '\0'));
        report.finish(test_result{0.0735, 0.9797});
    } else {
        ctml::run::chainer_report report(run, 128, epochs);
        auto callback = report.on_epoch();
        for (long e = 1; e <= epochs; ++e) {
            callback(epoch_values(static_cast<std::size_t>(e)));
            after_epoch(e);
        }
        ctml::io::write_file_atomic(run.outputs_dir() / "model.npz",
                                    std::string("PK\x05\x06", 4) + std::string(18, '\0'));
    }
    return 0; // the process-wide context ends the run Completed at exit
}
