// SPDX-License-Identifier: MIT
// What the reference trainers report into their run, as the tutorials' scripts do, packaged as
// epoch callbacks so that a trainer adds three lines:
//
//     auto& run = ctml::run::get_context("keras-mnist");
//     ctml::run::keras_report report(run, ctml::run::accuracy_vs_loss_image{}); // chart.hpp
//     options.callbacks.push_back(report.on_epoch<ctml::callback_action>());
//     ...                                  // fit
//     report.finish(trainer.evaluate(mnist.test));   // Final test loss/accuracy + the image
//
// Keras (keras_mnist.py): `Loss` and `Accuracy` each epoch (the validation values), then
// `Final test loss`, `Final test accuracy` and the image `Accuracy vs Loss`.
// Chainer (chainer_mnist.py): `Batch size` and `Epochs` once, `Accuracy` (test accuracy) each
// epoch.
//
// Nothing here names the training loop's or the run's types: the metrics are any type with
// `epoch`, `val_loss` and `val_accuracy` (double or std::optional<double>), an evaluation any type
// with `loss` and `accuracy`, the run anything with ctml::run::context's log calls (a test passes
// a recorder). So this header needs neither train/ nor the run writer, and no cairo: the image is
// a policy (accuracy_vs_loss_image in ctml/run/chart.hpp, which does need it).
#pragma once
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "ctml/core/error.hpp"

namespace ctml::run {

/// @brief What a report needs of a run: metric points with and without a step.
/// ctml::run::context models it.
template <class R>
concept metric_log = requires(R& run, std::string_view name, double value, std::int64_t step) {
    run.log(name, value);
    run.log(name, value, step);
};

/// @brief A run that also takes image files (ctml::run::context::log_image).
template <class R>
concept image_log = metric_log<R> && requires(R& run, std::string_view name,
                                              const std::filesystem::path& file) {
    run.log_image(name, file);
};

/// @brief The per-epoch fields the reports read (ctml::epoch_metrics has them).
template <class M>
concept epoch_report_metrics = requires(const M& m) {
    static_cast<std::int64_t>(m.epoch);
    m.val_loss;
    m.val_accuracy;
};

/// @brief What a final evaluation gives (ctml::evaluation has it).
template <class E>
concept evaluation_result = requires(const E& e) {
    static_cast<double>(e.loss);
    static_cast<double>(e.accuracy);
};

/// @brief The image policy of a report that logs no image.
struct no_image {};

namespace detail {

/// A double or an optional<double>; std::nullopt when the optional is empty.
template <class T>
std::optional<double> maybe_value(const T& v) {
    if constexpr (requires { v.has_value(); *v; }) {
        return v.has_value() ? std::optional<double>(static_cast<double>(*v)) : std::nullopt;
    } else {
        return static_cast<double>(v);
    }
}

template <class M>
double validation(const M& m, std::optional<double> v, const char* report, const char* field) {
    if (!v) {
        throw config_error(std::string(report) + ": epoch " +
                           std::to_string(static_cast<std::int64_t>(m.epoch)) + " has no " +
                           field + "; pass the test set to fit as validation data, as the " +
                           "reference trainer does");
    }
    return *v;
}

/// The callable the fit loop takes: runs `f(m)` and answers Action::proceed (a report never
/// stops training), or nothing when Action is void.
template <class Action, class F>
auto epoch_callable(F f) {
    return [f = std::move(f)](const auto& m) -> Action {
        f(m);
        if constexpr (!std::is_void_v<Action>) {
            return Action::proceed;
        }
    };
}

} // namespace detail

/// @brief The Keras reference trainer's reporting. `Image` renders and logs the figure at
/// finish(): accuracy_vs_loss_image (ctml/run/chart.hpp, needs cairo) or no_image.
/// Copies share the series; the run must outlive the report and its callbacks.
template <metric_log Run, class Image = no_image>
class keras_report {
public:
    explicit keras_report(Run& run, Image image = {})
        : state_(std::make_shared<state>(state{&run, std::move(image), {}, {}})) {}

    /// @brief Logs `Loss` and `Accuracy` (the epoch's validation loss and accuracy, step = the
    /// epoch number). ctml::config_error if the epoch has no validation values.
    template <epoch_report_metrics M>
    void epoch(const M& m) const {
        const double loss = detail::validation(m, detail::maybe_value(m.val_loss), "keras_report",
                                               "validation loss");
        const double acc = detail::validation(m, detail::maybe_value(m.val_accuracy),
                                              "keras_report", "validation accuracy");
        const auto step = static_cast<std::int64_t>(m.epoch);
        state_->run->log("Loss", loss, step);
        state_->run->log("Accuracy", acc, step);
        state_->loss.push_back(loss);
        state_->accuracy.push_back(acc);
    }

    /// @brief epoch() as a callback for the fit loop; `Action` is the loop's answer type
    /// (ctml::callback_action: the callback returns Action::proceed), void for none.
    template <class Action = void>
    auto on_epoch() const {
        return detail::epoch_callable<Action>([s = *this](const auto& m) { s.epoch(m); });
    }

    /// @brief Logs `Final test loss` and `Final test accuracy`, then the image (when `Image` is
    /// not no_image) from the epochs logged so far.
    template <evaluation_result E>
    void finish(const E& test) const {
        state_->run->log("Final test loss", static_cast<double>(test.loss));
        state_->run->log("Final test accuracy", static_cast<double>(test.accuracy));
        if constexpr (!std::is_same_v<Image, no_image>) {
            static_assert(image_log<Run>, "ctml::run::keras_report: logging the image needs a "
                                          "run with log_image(name, file), as ctml::run::context");
            state_->image(*state_->run, std::span<const double>(state_->accuracy),
                          std::span<const double>(state_->loss));
        }
    }

    /// The validation accuracy and loss of every epoch reported so far.
    const std::vector<double>& accuracy() const noexcept { return state_->accuracy; }
    const std::vector<double>& loss() const noexcept { return state_->loss; }

private:
    struct state {
        Run* run;
        Image image;
        std::vector<double> accuracy, loss;
    };
    std::shared_ptr<state> state_;
};

/// @brief The Chainer reference trainer's reporting: `Batch size` and `Epochs` logged once when
/// it is made, `Accuracy` (the epoch's test accuracy, step = the epoch number) each epoch.
template <metric_log Run>
class chainer_report {
public:
    chainer_report(Run& run, std::int64_t batch_size, std::int64_t epochs) : run_(&run) {
        run.log("Batch size", static_cast<double>(batch_size));
        run.log("Epochs", static_cast<double>(epochs));
    }

    /// @brief Logs `Accuracy`; ctml::config_error if the epoch has no validation accuracy.
    template <epoch_report_metrics M>
    void epoch(const M& m) const {
        run_->log("Accuracy",
                  detail::validation(m, detail::maybe_value(m.val_accuracy), "chainer_report",
                                     "test (validation) accuracy"),
                  static_cast<std::int64_t>(m.epoch));
    }

    /// @brief epoch() as a callback for the fit loop (see keras_report::on_epoch).
    template <class Action = void>
    auto on_epoch() const {
        return detail::epoch_callable<Action>([s = *this](const auto& m) { s.epoch(m); });
    }

private:
    Run* run_;
};

} // namespace ctml::run
