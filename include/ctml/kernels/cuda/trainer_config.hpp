// SPDX-License-Identifier: MIT
// The host-side values ctml::cuda::mlp_trainer is configured with and reports: optimizer
// hyperparameters, execution options, the sums of one pass. Plain C++ (no CUDA header), so that
// host code (engine/cuda_support.hpp, its tests) can build and check them without nvcc.
#pragma once
#include <cstddef>

#include "ctml/kernels/cuda/elementwise.hpp"

namespace ctml::cuda {

/// @brief Optimizer hyperparameters with Keras semantics (Chainer's for momentum SGD, the same),
/// named as ctml::sgd, ctml::rmsprop and ctml::adam name them. The engine adapter
/// (engine/cuda.cuh) fills it from the job's optimizer.
struct optimizer_config {
    optimizer_kind kind = optimizer_kind::rmsprop;
    double learning_rate = 1e-3;
    double rho = 0.9;       ///< rmsprop
    double momentum = 0.0;  ///< sgd
    bool nesterov = false;  ///< sgd
    double beta_1 = 0.9;    ///< adam
    double beta_2 = 0.999;  ///< adam
    double epsilon = 1e-7;  ///< rmsprop, adam

    /// v = m v - lr g; p += v (nesterov: p += m v - lr g).
    static optimizer_config sgd(double lr = 0.01, double momentum = 0.0, bool nesterov = false) {
        optimizer_config c;
        c.kind = optimizer_kind::sgd;
        c.learning_rate = lr;
        c.momentum = momentum;
        c.nesterov = nesterov;
        return c;
    }
    /// v = rho v + (1 - rho) g²; p -= lr g / (sqrt(v) + eps).
    static optimizer_config rmsprop(double lr = 1e-3, double rho = 0.9, double eps = 1e-7) {
        optimizer_config c;
        c.kind = optimizer_kind::rmsprop;
        c.learning_rate = lr;
        c.rho = rho;
        c.epsilon = eps;
        return c;
    }
    /// lr_t = lr sqrt(1 - b2^t) / (1 - b1^t); p -= lr_t m / (sqrt(v) + eps).
    static optimizer_config adam(double lr = 1e-3, double beta_1 = 0.9, double beta_2 = 0.999,
                                 double eps = 1e-7) {
        optimizer_config c;
        c.kind = optimizer_kind::adam;
        c.learning_rate = lr;
        c.beta_1 = beta_1;
        c.beta_2 = beta_2;
        c.epsilon = eps;
        return c;
    }
};

/// @brief Execution choices that do not change the arithmetic.
struct trainer_options {
    bool use_graph = true;             ///< replay the full-batch steps as CUDA graphs
    std::size_t steps_per_graph = 16;  ///< consecutive steps captured in one graph (>= 1)
    std::size_t eval_batch_size = 2000; ///< rows per forward pass in evaluate()
};

/// @brief What the device summed over one pass (read back once at its end): the loss of every
/// row, the rows whose argmax is their label, the rows. The engine adapter turns these into a
/// ctml::evaluation (means).
struct pass_sums {
    double loss = 0;
    double correct = 0;
    std::size_t samples = 0;
};

} // namespace ctml::cuda
