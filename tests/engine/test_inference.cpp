// SPDX-License-Identifier: MIT
// ctml::evaluate and ctml::predict: a network and a loss, no optimizer and no job, against their
// definitions; shapes and data that do not fit are errors.
#include "ctml/engine/inference.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "../nn/grad_check.hpp"

namespace {
using net_t = ctml::sequential<ctml::input<6>, ctml::dense<ctml::dynamic, ctml::relu>,
                               ctml::dropout<0.5>, ctml::dense<3, ctml::softmax>>;

ctml::dataset<float> random_set(std::size_t n, ctml::rng& r) {
    ctml::dataset<float> d;
    d.dim = 6;
    d.classes = 3;
    for (std::size_t i = 0; i < n * 6; ++i) {
        d.features.push_back(static_cast<float>(r.uniform(-1, 1)));
    }
    for (std::size_t i = 0; i < n; ++i) {
        d.labels.push_back(static_cast<std::int32_t>(r.below(3)));
    }
    return d;
}
} // namespace

TEST_CASE("evaluate: the mean cross-entropy and accuracy of predict's outputs, any batch") {
    ctml::rng r(4);
    const auto data = random_set(517, r);
    ctml::network<net_t> net(ctml::layer_widths<net_t>{}.set(0, 20));
    net.initialize(2);
    const std::vector<float> out = ctml::predict(net, data);
    REQUIRE(out.size() == 517 * 3);
    double loss = 0;
    std::size_t correct = 0;
    for (std::size_t i = 0; i < 517; ++i) {
        const auto c = static_cast<std::size_t>(data.labels[i]);
        loss -= std::log(static_cast<double>(out[i * 3 + c]));
        std::size_t best = 0;
        for (std::size_t j = 1; j < 3; ++j) {
            best = out[i * 3 + j] > out[i * 3 + best] ? j : best;
        }
        correct += best == c;
    }
    for (const std::size_t batch : {1u, 50u, 256u, 1000u}) {
        CAPTURE(batch);
        const auto e = ctml::evaluate(net, ctml::sparse_categorical_crossentropy{}, data, batch, 1);
        CHECK(e.samples == 517);
        CHECK(e.loss == doctest::Approx(loss / 517).epsilon(1e-5));
        CHECK(e.accuracy == doctest::Approx(static_cast<double>(correct) / 517));
    }
    // Mean squared error on the same outputs, labels read as one-hot.
    double mse = 0;
    for (std::size_t i = 0; i < 517; ++i) {
        for (std::size_t j = 0; j < 3; ++j) {
            const double target = j == static_cast<std::size_t>(data.labels[i]) ? 1.0 : 0.0;
            mse += (out[i * 3 + j] - target) * (out[i * 3 + j] - target) / 3;
        }
    }
    CHECK(ctml::evaluate(net, ctml::mean_squared_error{}, data).loss ==
          doctest::Approx(mse / 517).epsilon(1e-5));
}

TEST_CASE("predict: on a dataset and on a span, the same; features alone are enough") {
    ctml::rng r(5);
    auto data = random_set(300, r);
    ctml::network<net_t, float> net(ctml::layer_widths<net_t>{}.set(0, 9));
    net.initialize(6);
    const auto a = ctml::predict(net, data);
    std::vector<float> b(300 * 3);
    ctml::predict(net, std::span<const float>(data.features), 300, std::span<float>(b));
    CHECK(a == b);
    data.labels.clear(); // a dataset to predict needs no targets
    CHECK(ctml::predict(net, data) == a);
}

TEST_CASE("evaluate and predict: data that does not fit is a data_error naming it") {
    ctml::rng r(6);
    ctml::network<net_t> net(ctml::layer_widths<net_t>{}.set(0, 4));
    auto wide = random_set(10, r);
    wide.dim = 5;
    wide.features.resize(50);
    CHECK_THROWS_WITH_AS(ctml::evaluate(net, ctml::categorical_crossentropy{}, wide),
                         "evaluate: rows have 5 features but the network's input is 6",
                         ctml::data_error);
    CHECK_THROWS_WITH_AS(ctml::predict(net, wide),
                         "predict: rows have 5 features but the network's input is 6",
                         ctml::data_error);
    auto four = random_set(10, r);
    four.classes = 4;
    CHECK_THROWS_WITH_AS(ctml::evaluate(net, ctml::categorical_crossentropy{}, four),
                         "evaluate: 4 classes but the network has 3 outputs", ctml::data_error);
    std::vector<float> out(5);
    CHECK_THROWS_AS(ctml::predict(net, std::span<const float>(four.features), 10,
                                  std::span<float>(out)),
                    ctml::data_error);
}
