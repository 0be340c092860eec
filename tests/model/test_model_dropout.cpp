// SPDX-License-Identifier: MIT
// Model files of networks with ctml::dropout: Keras' Dropout entries in model.json, no arrays
// in weights.npz (keys count dense layers only), the rate checked on read.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wrestrict" // core/layout.hpp's string joins at -O3 (GCC 12)
#endif
#include "ctml/model/model.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "ctml/io/json_read.hpp"
#include "ctml/io/npz.hpp"
#include "ctml/nn/layers.hpp"
#include "model_test_util.hpp"

using ctml_test::scratch_dir;

namespace {
using drop_net = ctml::sequential<ctml::input<6>, ctml::dense<ctml::dynamic, ctml::relu>,
                                  ctml::dropout<0.2>, ctml::dense<4, ctml::relu>,
                                  ctml::dropout<0.5>, ctml::dense<3, ctml::softmax>>;
using other_rate = ctml::sequential<ctml::input<6>, ctml::dense<ctml::dynamic, ctml::relu>,
                                    ctml::dropout<0.3>, ctml::dense<4, ctml::relu>,
                                    ctml::dropout<0.5>, ctml::dense<3, ctml::softmax>>;
using no_dropout = ctml::sequential<ctml::input<6>, ctml::dense<ctml::dynamic, ctml::relu>,
                                    ctml::dense<4, ctml::relu>, ctml::dense<3, ctml::softmax>>;
} // namespace

TEST_CASE("model dropout: Keras Dropout entries, dense-only weight keys, round trip") {
    scratch_dir dir;
    ctml::layer_widths<drop_net> w;
    w.set(0, 5);
    ctml::network<drop_net> net(w);
    net.initialize(11);
    ctml::save_model(net, dir.path());

    const auto doc = ctml::io::load_json(dir / "model.json");
    const auto layers =
        doc.root().as_object().get_object("architecture").get_object("config").get_array("layers");
    REQUIRE(layers.size() == 6);
    const auto d1 = layers.at(2).as_object();
    CHECK(d1.get_string("class_name") == "Dropout");
    CHECK(d1.get_object("config").get_string("name") == "dropout_1");
    CHECK(d1.get_object("config").get_double("rate") == 0.2);
    CHECK(layers.at(3).as_object().get_object("config").get_string("name") == "dense_2");
    CHECK(layers.at(4).as_object().get_object("config").get_string("name") == "dropout_2");
    CHECK(layers.at(5).as_object().get_object("config").get_string("name") == "dense_3");
    CHECK(doc.root().as_object().get_object("architecture").get_uint("parameter_count") ==
          6 * 5 + 5 + 5 * 4 + 4 + 4 * 3 + 3);

    const auto npz = ctml::io::load_npz(dir / "weights.npz");
    CHECK(npz.names() == std::vector<std::string>{"dense_1/kernel", "dense_1/bias",
                                                  "dense_2/kernel", "dense_2/bias",
                                                  "dense_3/kernel", "dense_3/bias"});
    CHECK(npz.at("dense_2/kernel").shape == ctml::io::npy_shape{5, 4});

    const auto again = ctml::load_model<drop_net>(dir.path());
    CHECK(again.width(1) == 5);
    CHECK(again.width(2) == 5);
    CHECK(std::equal(net.parameters().begin(), net.parameters().end(),
                     again.parameters().begin(), again.parameters().end()));
}

TEST_CASE("model dropout: another rate, or no dropout, is named") {
    scratch_dir dir;
    ctml::layer_widths<drop_net> w;
    w.set(0, 5);
    ctml::network<drop_net> net(w);
    ctml::save_model(net, dir.path());
    const std::string file = (dir / "model.json").string();
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, ctml::load_model<other_rate>(dir.path())) ==
          file + ": field \"architecture.config.layers[2].config.rate\": layer 2 has rate 0.2, "
                 "the network type has 0.3");
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, ctml::load_model<no_dropout>(dir.path())) ==
          file + ": field \"architecture.config.layers\": holds 6 entries, the network type has "
                 "an InputLayer and 3 layers");
    using swapped = ctml::sequential<ctml::input<6>, ctml::dense<ctml::dynamic, ctml::relu>,
                                     ctml::dense<4, ctml::relu>, ctml::dropout<0.2>,
                                     ctml::dropout<0.5>, ctml::dense<3, ctml::softmax>>;
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, ctml::load_model<swapped>(dir.path())) ==
          file + ": field \"architecture.config.layers[2].class_name\": layer 2 is \"Dropout\", "
                 "the network type has \"Dense\"");
}
