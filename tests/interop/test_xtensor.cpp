// SPDX-License-Identifier: MIT
// The network against an independent forward pass written with xtensor-blas (xt::linalg::dot),
// through the zero-copy views of ctml/engine/xtensor.hpp.
#include "ctml/engine/xtensor.hpp"

#include <doctest/doctest.h>

#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xrandom.hpp>
#include <xtensor/xview.hpp>

#include "ctml/nn/losses.hpp"
#include "ctml/optim/sgd.hpp"
#include "ctml/train/fit.hpp"
#include "ctml/train/run_config.hpp"

namespace {
using net_t = ctml::sequential<ctml::input<12>, ctml::dense<ctml::dynamic, ctml::tanh>,
                               ctml::dense<5, ctml::softmax>>;

xt::xtensor<double, 2> reference_forward(ctml::network<net_t, double>& net,
                                         const xt::xtensor<double, 2>& x) {
    xt::xtensor<double, 2> h = xt::tanh(xt::linalg::dot(x, ctml::kernel_view(net, 0)) +
                                        ctml::bias_view(net, 0));
    xt::xtensor<double, 2> z = xt::linalg::dot(h, ctml::kernel_view(net, 1)) + ctml::bias_view(net, 1);
    xt::xtensor<double, 2> e = xt::exp(z - xt::view(xt::amax(z, {1}), xt::all(), xt::newaxis()));
    return e / xt::view(xt::sum(e, {1}), xt::all(), xt::newaxis());
}
} // namespace

TEST_CASE("xtensor views alias the parameter buffer") {
    ctml::network<net_t, double> net(ctml::layer_widths<net_t>{}.set(0, 7));
    auto k = ctml::kernel_view(net, 0);
    CHECK(k.shape()[0] == 12);
    CHECK(k.shape()[1] == 7);
    k(3, 4) = 2.5;
    CHECK(net.kernel(0)[3 * 7 + 4] == 2.5);
    ctml::bias_view(net, 1)(2) = -1.0;
    CHECK(net.bias(1)[2] == -1.0);
}

TEST_CASE("predict matches an xtensor-blas forward pass, before and after training") {
    ctml::network<net_t, double> net(ctml::layer_widths<net_t>{}.set(0, 9));
    net.initialize(11);
    xt::random::seed(5);
    xt::xtensor<double, 2> x = xt::random::randn<double>({40, 12});
    CHECK(xt::allclose(ctml::predict(net, x), reference_forward(net, x), 1e-12, 1e-12));

    // Label: the largest of the first five features (a loop: xt::argmax trips GCC 12's
    // -Warray-bounds at -O3 inside xtensor's storage).
    xt::xtensor<std::int32_t, 1> labels = xt::zeros<std::int32_t>({std::size_t{40}});
    for (std::size_t i = 0; i < 40; ++i) {
        for (std::int32_t j = 1; j < 5; ++j) {
            labels(i) = x(i, static_cast<std::size_t>(j)) > x(i, static_cast<std::size_t>(labels(i))) ? j : labels(i);
        }
    }
    auto data = ctml::make_dataset(x, labels, 5);
    using job = ctml::run_config<net_t, ctml::sparse_categorical_crossentropy, ctml::sgd<0.1, 0.9>,
                                 ctml::scalar<double>, ctml::batch_size<8>, ctml::epochs<30>>;
    auto s = job::defaults();
    s.widths = net.configured_widths();
    ctml::trainer<job> t(net, s);
    const auto before = t.evaluate(data);
    t.fit(data);
    const auto after = t.evaluate(data);
    CHECK(after.loss < before.loss);
    CHECK(xt::allclose(ctml::predict(net, x), reference_forward(net, x), 1e-12, 1e-12));
}

TEST_CASE("predict and make_dataset refuse mismatched shapes") {
    ctml::network<net_t, double> net(ctml::layer_widths<net_t>{}.set(0, 3));
    xt::xtensor<double, 2> x = xt::zeros<double>({2, 11});
    CHECK_THROWS_WITH_AS(ctml::predict(net, x),
                         "predict: the batch has 11 columns, the network's input is 12",
                         ctml::data_error);
    xt::xtensor<double, 2> f = xt::zeros<double>({3, 12});
    xt::xtensor<std::int32_t, 1> l = {0, 1, 7};
    CHECK_THROWS_WITH_AS(ctml::make_dataset(f, l, 5),
                         "make_dataset: label 7 at row 2 is outside [0, 5)", ctml::data_error);
}
