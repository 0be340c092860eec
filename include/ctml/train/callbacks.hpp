// SPDX-License-Identifier: MIT
// What the training loop reports after each epoch, and the callbacks that see it.
#pragma once
#include <cstddef>
#include <cstdio>
#include <functional>
#include <optional>
#include <vector>

namespace ctml {

/// @brief What one epoch produced: training loss and accuracy (means over the epoch's samples,
/// measured during the epoch as Keras does) and, when a validation set is given, its loss and
/// accuracy after the epoch.
struct epoch_metrics {
    std::size_t epoch = 0;  ///< 1-based
    std::size_t epochs = 0; ///< planned number of epochs
    double seconds = 0;     ///< training time of the epoch (validation excluded)
    double loss = 0;
    double accuracy = 0;
    std::optional<double> val_loss;
    std::optional<double> val_accuracy;
};

/// @brief A callback's answer: go on, or stop training after this epoch (early stopping).
enum class callback_action { proceed, stop };

/// @brief Called after every epoch, in order. Epoch-level only: the step itself calls nothing.
using epoch_callback = std::function<callback_action(const epoch_metrics&)>;

/// @brief A callback printing one line per epoch in the format of Keras' fit(verbose=2):
/// `Epoch 3/20 - 0.47s - loss: 0.0625 - accuracy: 0.9810 - val_loss: ... - val_accuracy: ...`
/// (the validation fields only when a validation set is given), flushed at once so that a
/// followed log shows progress live.
inline epoch_callback keras_progress(std::FILE* out = stdout) {
    return [out](const epoch_metrics& m) {
        std::fprintf(out, "Epoch %zu/%zu - %.2fs - loss: %.4f - accuracy: %.4f", m.epoch, m.epochs,
                     m.seconds, m.loss, m.accuracy);
        if (m.val_loss && m.val_accuracy) {
            std::fprintf(out, " - val_loss: %.4f - val_accuracy: %.4f", *m.val_loss,
                         *m.val_accuracy);
        }
        std::fputc('\n', out);
        std::fflush(out);
        return callback_action::proceed;
    };
}

/// @brief What fit() returns: every epoch's metrics (training and validation loss and
/// accuracy, training seconds), in order, and whether a callback stopped before the last epoch.
struct history {
    std::vector<epoch_metrics> epochs;
    bool stopped_early = false;

    /// Training seconds of all epochs together (validation excluded).
    double seconds() const noexcept {
        double s = 0;
        for (const auto& e : epochs) {
            s += e.seconds;
        }
        return s;
    }
};

} // namespace ctml
