// SPDX-License-Identifier: MIT
// engine/cuda_support.hpp on the host: which jobs the CUDA engine accepts, the activations it
// derives from the layer types, and the optimizer configuration it derives from the job's
// optimizer type and the settings' optimizer value (flags included).
#include <doctest/doctest.h>

#include <vector>

#include "ctml/engine/cuda_support.hpp"
#include "ctml/train/run_config.hpp"

namespace {

using keras_net = ctml::sequential<ctml::input<784>, ctml::dense<300, ctml::relu>,
                                   ctml::dense<100, ctml::relu>, ctml::dense<10, ctml::softmax>>;
using keras_job = ctml::run_config<keras_net, ctml::categorical_crossentropy, ctml::rmsprop<>,
                                   ctml::batch_size<50>>;

using mixed_net =
    ctml::sequential<ctml::input<20>, ctml::dense<ctml::dynamic, ctml::tanh>,
                     ctml::dense<7, ctml::sigmoid>, ctml::dense<5, ctml::identity>,
                     ctml::dense<3, ctml::softmax>>;
using mixed_job = ctml::run_config<mixed_net, ctml::sparse_categorical_crossentropy,
                                   ctml::sgd<0.05, 0.8, true>, ctml::scalar<double>>;

using dropout_net =
    ctml::sequential<ctml::input<784>, ctml::dense<300, ctml::relu>, ctml::dropout<0.2>,
                     ctml::dense<10, ctml::softmax>>;
using dropout_job =
    ctml::run_config<dropout_net, ctml::categorical_crossentropy, ctml::adam<>>;
using mse_job = ctml::run_config<keras_net, ctml::mean_squared_error, ctml::adam<>>;

} // namespace

TEST_CASE("the CUDA engine accepts dense softmax cross-entropy jobs and refuses the rest") {
    CHECK(ctml::cuda_supports_v<keras_job>);
    CHECK(ctml::cuda_supports_v<mixed_job>);
    CHECK_FALSE(ctml::cuda_supports_v<dropout_job>);
    CHECK_FALSE(ctml::cuda_supports_v<mse_job>);
}

TEST_CASE("activations come from the layer types, in order") {
    using A = ctml::cuda::activation;
    CHECK(ctml::cuda_activations<keras_net>() == std::vector<A>{A::relu, A::relu, A::softmax});
    CHECK(ctml::cuda_activations<mixed_net>() ==
          std::vector<A>{A::tanh, A::sigmoid, A::identity, A::softmax});
}

TEST_CASE("the optimizer configuration comes from the optimizer type and its run-time value") {
    SUBCASE("rmsprop: the type's defaults, then a flag's learning rate") {
        auto s = keras_job::defaults();
        auto c = ctml::cuda_optimizer(s.optimizer);
        CHECK(c.kind == ctml::cuda::optimizer_kind::rmsprop);
        CHECK(c.learning_rate == 0.001);
        CHECK(c.rho == 0.9);
        CHECK(c.epsilon == 1e-7);
        s.optimizer.set("learning_rate", 0.01);
        s.optimizer.set("rho", 0.95);
        c = ctml::cuda_optimizer(s.optimizer);
        CHECK(c.learning_rate == 0.01);
        CHECK(c.rho == 0.95);
    }
    SUBCASE("sgd with momentum and nesterov") {
        const auto c = ctml::cuda_optimizer(mixed_job::defaults().optimizer);
        CHECK(c.kind == ctml::cuda::optimizer_kind::sgd);
        CHECK(c.learning_rate == 0.05);
        CHECK(c.momentum == 0.8);
        CHECK(c.nesterov);
        ctml::momentum_sgd chainer;
        chainer.set("nesterov", 0);
        const auto m = ctml::cuda_optimizer(chainer);
        CHECK(m.momentum == 0.9);
        CHECK_FALSE(m.nesterov);
    }
    SUBCASE("adam: beta_1, beta_2, epsilon") {
        ctml::adam<0.002, 0.8, 0.99, 1e-6> a;
        a.set("beta_2", 0.995);
        const auto c = ctml::cuda_optimizer(a);
        CHECK(c.kind == ctml::cuda::optimizer_kind::adam);
        CHECK(c.learning_rate == 0.002);
        CHECK(c.beta_1 == 0.8);
        CHECK(c.beta_2 == 0.995);
        CHECK(c.epsilon == 1e-6);
    }
}
