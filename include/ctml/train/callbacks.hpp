// SPDX-License-Identifier: MIT
#pragma once
#include <cstddef>
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

/// @brief Every epoch's metrics, in order.
struct history {
    std::vector<epoch_metrics> epochs;
    bool stopped_early = false;
};

/// @brief Loss and accuracy of a model on a dataset.
struct evaluation {
    double loss = 0;
    double accuracy = 0;
    std::size_t samples = 0;
};

} // namespace ctml
