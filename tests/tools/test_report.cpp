// SPDX-License-Identifier: MIT
// The reference trainers' reporting (ctml/run/report.hpp) into a recording run: names, values,
// steps and order of every point, the image as a real PNG, and the errors.
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <ctml/run/chart.hpp>
#include <ctml/run/report.hpp>

namespace {

struct point {
    std::string name;
    double value;
    std::optional<std::int64_t> step;
};

// Stands in for ctml::run::context: records every call; log_image keeps the file's bytes as
// they are during the call (the real context copies the file then).
struct recording_run {
    std::vector<point> points;
    std::vector<std::pair<std::string, std::string>> images;

    void log(std::string_view name, double value) { points.push_back({std::string(name), value, {}}); }
    void log(std::string_view name, double value, std::int64_t step) {
        points.push_back({std::string(name), value, step});
    }
    void log_image(std::string_view name, const std::filesystem::path& file) {
        REQUIRE(std::filesystem::is_regular_file(file));
        std::ifstream in(file, std::ios::binary);
        images.emplace_back(std::string(name), std::string((std::istreambuf_iterator<char>(in)),
                                                           std::istreambuf_iterator<char>()));
        last_image_file = file;
    }
    std::filesystem::path last_image_file;
};

// The training loop's types, as train/callbacks.hpp spells them today (the report must not
// depend on them, only on their fields).
enum class action { proceed, stop };
struct metrics {
    std::size_t epoch = 0;
    std::size_t epochs = 0;
    double loss = 0, accuracy = 0;
    std::optional<double> val_loss, val_accuracy;
};
struct evaluation {
    double loss = 0, accuracy = 0;
    std::size_t samples = 0;
};
using callback = std::function<action(const metrics&)>;

std::vector<metrics> history(std::size_t epochs) {
    std::vector<metrics> h;
    for (std::size_t e = 1; e <= epochs; ++e) {
        const double t = static_cast<double>(e);
        h.push_back({e, epochs, 0.3 / t, 0.9 + 0.004 * t, 0.12 - 0.002 * t, 0.96 + 0.001 * t});
    }
    return h;
}

std::vector<const point*> named(const recording_run& r, const std::string& name) {
    std::vector<const point*> out;
    for (const auto& p : r.points) {
        if (p.name == name) {
            out.push_back(&p);
        }
    }
    return out;
}

} // namespace

static_assert(ctml::run::metric_log<recording_run>);
static_assert(ctml::run::image_log<recording_run>);
static_assert(ctml::run::epoch_report_metrics<metrics>);
static_assert(!ctml::run::epoch_report_metrics<evaluation>);
static_assert(ctml::run::evaluation_result<evaluation>);

TEST_CASE("keras_report: Loss and Accuracy each epoch (validation), the finals, the image") {
    recording_run run;
    ctml::run::keras_report report(run, ctml::run::accuracy_vs_loss_image{});
    std::vector<callback> callbacks;
    callbacks.push_back(report.on_epoch<action>());
    const auto h = history(20);
    for (const auto& m : h) {
        CHECK(callbacks[0](m) == action::proceed);
    }
    report.finish(evaluation{0.0712, 0.9803, 10000});

    const auto loss = named(run, "Loss");
    const auto acc = named(run, "Accuracy");
    REQUIRE(loss.size() == 20);
    REQUIRE(acc.size() == 20);
    for (std::size_t i = 0; i < 20; ++i) {
        CHECK(loss[i]->value == *h[i].val_loss);
        CHECK(acc[i]->value == *h[i].val_accuracy);
        CHECK(loss[i]->step == static_cast<std::int64_t>(i + 1));
        CHECK(acc[i]->step == static_cast<std::int64_t>(i + 1));
    }
    REQUIRE(named(run, "Final test loss").size() == 1);
    CHECK(named(run, "Final test loss")[0]->value == 0.0712);
    REQUIRE(named(run, "Final test accuracy").size() == 1);
    CHECK(named(run, "Final test accuracy")[0]->value == 0.9803);
    CHECK(run.points.size() == 42);

    REQUIRE(run.images.size() == 1);
    CHECK(run.images[0].first == "Accuracy vs Loss");
    const std::string& png = run.images[0].second;
    REQUIRE(png.size() > 24);
    CHECK(png.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
    // IHDR: big-endian width and height right after the chunk header.
    const auto be32 = [&](std::size_t at) {
        return (std::uint32_t(std::uint8_t(png[at])) << 24) |
               (std::uint32_t(std::uint8_t(png[at + 1])) << 16) |
               (std::uint32_t(std::uint8_t(png[at + 2])) << 8) | std::uint8_t(png[at + 3]);
    };
    CHECK(be32(16) == 600);
    CHECK(be32(20) == 300);
    CHECK(png == ctml::run::render_png(ctml::run::accuracy_vs_loss_chart(report.accuracy(),
                                                                         report.loss())));
    CHECK_FALSE(std::filesystem::exists(run.last_image_file)); // the temporary is gone
}

TEST_CASE("keras_report without an image policy logs only the metrics; plain doubles work") {
    struct plain_metrics {
        int epoch;
        double val_loss, val_accuracy;
    };
    recording_run run;
    ctml::run::keras_report report(run);
    auto cb = report.on_epoch(); // void callback
    cb(plain_metrics{1, 0.5, 0.8});
    cb(plain_metrics{2, 0.4, 0.85});
    report.finish(evaluation{0.4, 0.85, 10});
    CHECK(run.points.size() == 6);
    CHECK(run.images.empty());
    CHECK(report.loss() == std::vector<double>{0.5, 0.4});
}

TEST_CASE("keras_report refuses an epoch without validation values, naming the epoch") {
    recording_run run;
    ctml::run::keras_report report(run);
    metrics m{3, 20, 0.1, 0.97, std::nullopt, std::nullopt};
    CHECK_THROWS_WITH_AS(report.epoch(m),
                         doctest::Contains("epoch 3 has no validation loss"), ctml::config_error);
    CHECK(run.points.empty());
}

TEST_CASE("chainer_report: Batch size and Epochs once, Accuracy (test) each epoch") {
    recording_run run;
    ctml::run::chainer_report report(run, 128, 10);
    REQUIRE(run.points.size() == 2);
    CHECK(run.points[0].name == "Batch size");
    CHECK(run.points[0].value == 128);
    CHECK_FALSE(run.points[0].step.has_value());
    CHECK(run.points[1].name == "Epochs");
    CHECK(run.points[1].value == 10);
    callback cb = report.on_epoch<action>();
    const auto h = history(10);
    for (const auto& m : h) {
        CHECK(cb(m) == action::proceed);
    }
    const auto acc = named(run, "Accuracy");
    REQUIRE(acc.size() == 10);
    CHECK(acc[9]->value == *h[9].val_accuracy);
    CHECK(acc[9]->step == 10);
    CHECK(run.points.size() == 12);
    metrics no_val{11, 10, 0.1, 0.9, std::nullopt, std::nullopt};
    CHECK_THROWS_AS(cb(no_val), ctml::config_error);
}
