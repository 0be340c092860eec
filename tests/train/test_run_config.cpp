// SPDX-License-Identifier: MIT
// run_config: compiled defaults, the one settings value, flags made from the config (names,
// defaults, errors naming the flag), and the settings' JSON: to_json → from_json → to_json is
// byte-identical, and a field of the wrong type or range is an error naming it.
#include "ctml/train/run_config.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "ctml/optim/adam.hpp"
#include "ctml/optim/rmsprop.hpp"
#include "ctml/optim/sgd.hpp"

namespace {

using keras_net = ctml::sequential<ctml::input<784>, ctml::dense<ctml::dynamic, ctml::relu>,
                                   ctml::dense<ctml::dynamic, ctml::relu>,
                                   ctml::dense<10, ctml::softmax>>;
using keras_job = ctml::run_config<keras_net, ctml::categorical_crossentropy, ctml::rmsprop<>,
                                   ctml::batch_size<50>, ctml::epochs<20>,
                                   ctml::width_flag<0, "first-layer-neurons", 100>,
                                   ctml::width_flag<1, "second-layer-neurons", 100>>;

using dropout_net =
    ctml::sequential<ctml::input<784>, ctml::dense<300, ctml::relu>, ctml::dropout<0.2>,
                     ctml::dense<ctml::dynamic, ctml::relu>, ctml::dropout<0.2>,
                     ctml::dense<10, ctml::softmax>>;
using dropout_job = ctml::run_config<dropout_net, ctml::sparse_categorical_crossentropy,
                                     ctml::adam<0.01>, ctml::scalar<double>, ctml::seed<7>,
                                     ctml::batch_size<128, "batchsize">>;

// The parsed flags of a command line.
ctml::flags parsed(std::vector<const char*> args, void (*declare)(ctml::flags&)) {
    ctml::flags f("trainer");
    declare(f);
    args.insert(args.begin(), "trainer");
    REQUIRE(f.parse(static_cast<int>(args.size()), args.data()));
    return f;
}

std::string config_error_of(std::vector<const char*> args) {
    try {
        (void)keras_job::settings_from(parsed(std::move(args), keras_job::declare_flags));
    } catch (const ctml::config_error& e) {
        return e.what();
    }
    FAIL("expected ctml::config_error");
    return {};
}

} // namespace

TEST_CASE("run_config: compiled defaults, options and types") {
    static_assert(keras_job::batch_size == 50 && keras_job::epochs == 20 && keras_job::seed == 0);
    static_assert(std::is_same_v<keras_job::scalar_type, float>);
    static_assert(std::is_same_v<keras_job::optimizer_type, ctml::rmsprop<>>);
    static_assert(std::is_same_v<keras_job::settings_type,
                                 ctml::run_settings<keras_net, ctml::rmsprop<>>>);
    using bare = ctml::run_config<keras_net, ctml::sparse_categorical_crossentropy, ctml::sgd<>>;
    static_assert(bare::batch_size == 32 && bare::epochs == 1); // Keras' default batch size
    static_assert(std::is_same_v<dropout_job::network_type, ctml::network<dropout_net, double>>);
    static_assert(dropout_job::seed == 7);

    const auto s = keras_job::defaults();
    CHECK(s.batch_size == 50);
    CHECK(s.epochs == 20);
    CHECK(s.seed == 0);
    CHECK(s.threads == 0);
    CHECK(s.device == ctml::device::cpu);
    CHECK(s.optimizer.learning_rate == 0.001);
    CHECK(s.widths[0] == 100); // the width_flag defaults
    CHECK(s.widths[1] == 100);
    const auto net = keras_job::make_network(s);
    CHECK(net.parameter_count() == 784 * 100 + 100 + 100 * 100 + 100 + 100 * 10 + 10);

    // A dynamic width without a width_flag has no default: the settings are incomplete until a
    // flag or code sets it.
    const auto d = dropout_job::defaults();
    CHECK(d.seed == 7);
    CHECK(d.widths[0] == 300);
    CHECK(d.widths[1] == 300); // the dropout's width is its input's
    CHECK(d.widths[2] == ctml::dynamic);
    CHECK_THROWS_AS(dropout_job::to_json(d), ctml::config_error);
}

TEST_CASE("run_config flags: names and defaults come from the config") {
    ctml::flags f("keras_mnist");
    keras_job::declare_flags(f);
    const std::string u = f.usage();
    INFO(u);
    for (const char* w : {"--batch-size (default 50)", "--epochs (default 20)",
                          "--seed (default 0)",
                          "--threads (default 0)", "--device (default cpu)",
                          "--first-layer-neurons (default 100)",
                          "--second-layer-neurons (default 100)", "--learning-rate (default 0.001)",
                          "--rho (default 0.9)", "--epsilon (default 1e-07)"}) {
        CAPTURE(w);
        CHECK(u.find(w) != std::string::npos);
    }
    // Every flag reaches the settings.
    const auto s = keras_job::settings_from(
        parsed({"--batch-size", "64", "--epochs=3", "--seed", "18446744073709551615", "--threads",
                "2", "--first-layer-neurons", "300", "--learning-rate", "0.01", "--rho", "0.5"},
               keras_job::declare_flags));
    CHECK(s.batch_size == 64);
    CHECK(s.epochs == 3);
    CHECK(s.seed == 18446744073709551615ULL);
    CHECK(s.threads == 2);
    CHECK(s.widths[0] == 300);
    CHECK(s.widths[1] == 100);
    CHECK(s.optimizer.learning_rate == 0.01);
    CHECK(s.optimizer.rho == 0.5);
    CHECK(s.optimizer.epsilon == 1e-7);
    // A config's own flag names: Chainer's --batchsize; a dynamic width without width_flag gets
    // --layer-<n>-width and must be given.
    ctml::flags g("chainer");
    dropout_job::declare_flags(g);
    CHECK(g.declared("batchsize"));
    CHECK_FALSE(g.declared("batch-size"));
    CHECK(g.declared("layer-3-width"));
    CHECK(g.declared("beta-1"));
    CHECK_THROWS_WITH_AS(dropout_job::settings_from(parsed({}, dropout_job::declare_flags)),
                         "flag --layer-3-width is required (a positive integer)",
                         ctml::config_error);
    const auto d = dropout_job::settings_from(
        parsed({"--layer-3-width", "40", "--batchsize", "7"}, dropout_job::declare_flags));
    CHECK(d.widths[2] == 40);
    CHECK(d.widths[3] == 40);
    CHECK(d.batch_size == 7);
}

TEST_CASE("run_config flags: every error names the flag") {
    // Defect 2 of issue 8: the parameter count wrapped around; the width is now refused first.
    const auto huge = config_error_of(
        {"--first-layer-neurons", "23469140042887471", "--second-layer-neurons", "1"});
    CHECK(huge.find("--first-layer-neurons") != std::string::npos);
    CHECK(huge.find("CTML_MAX_WIDTH") != std::string::npos);
    // Widths that pass one by one but not together: the error names both flags.
    const auto big = config_error_of(
        {"--first-layer-neurons", "1000000", "--second-layer-neurons", "1000000"});
    CHECK(big.find("--first-layer-neurons = 1000000") != std::string::npos);
    CHECK(big.find("--second-layer-neurons = 1000000") != std::string::npos);
    CHECK(big.find("CTML_MAX_PARAMETERS") != std::string::npos);
    CHECK(config_error_of({"--batch-size", "0"}).find("flag --batch-size") != std::string::npos);
    CHECK(config_error_of({"--batch-size", "1000000"}).find("flag --batch-size") !=
          std::string::npos);
    CHECK(config_error_of({"--epochs", "x"}).find("flag --epochs") != std::string::npos);
    CHECK(config_error_of({"--seed", "-1"}).find("flag --seed") != std::string::npos);
    CHECK(config_error_of({"--threads", "100000"}).find("flag --threads") != std::string::npos);
    CHECK(config_error_of({"--first-layer-neurons", "0"}).find("--first-layer-neurons") !=
          std::string::npos);
    CHECK(config_error_of({"--learning-rate", "-1"}).find("flag --learning-rate") !=
          std::string::npos);
    CHECK(config_error_of({"--rho", "1"}).find("flag --rho") != std::string::npos);
    CHECK(config_error_of({"--device", "gpu"}) == "flag --device: expected cpu or cuda, got 'gpu'");
    // This test is not CUDA code: the device is refused before any data would be read.
    CHECK(config_error_of({"--device", "cuda"}).find("--device cuda: this program was built "
                                                      "without CUDA") == 0);
}

TEST_CASE("run_config JSON: to_json → from_json → to_json is byte-identical") {
    auto s = keras_job::defaults();
    s.batch_size = 64;
    s.epochs = 3;
    s.seed = 18446744073709551615ULL;
    s.threads = 2;
    s.device = ctml::device::cuda; // the job's device, not a literal (reading checks no device)
    s.widths.set(0, 300).set(1, 37);
    s.optimizer.set("learning_rate", 0.1 + 0.2); // 0.30000000000000004: shortest round trip
    s.optimizer.set("epsilon", 1e-300);
    const std::string j = keras_job::to_json(s);
    INFO(j);
    for (const char* w : {"\"rmsprop\"", "\"learning_rate\": 0.30000000000000004", "\"rho\"",
                          "\"batch_size\": 64", "\"epochs\": 3", "\"seed\": 18446744073709551615",
                          "\"threads\": 2", "\"device\": \"cuda\"", "\"categorical_crossentropy\"",
                          "\"units\": 37", "\"relu\"", "\"softmax\"", "784", "\"float32\""}) {
        CAPTURE(w);
        CHECK(j.find(w) != std::string::npos);
    }
    const auto back = keras_job::from_json(j, "job.json");
    CHECK(keras_job::to_json(back) == j);
    CHECK(back.widths == s.widths);
    CHECK(back.optimizer.learning_rate == s.optimizer.learning_rate);
    CHECK(back.seed == s.seed);
    CHECK(back.device == ctml::device::cuda);
    // Compact JSON too, and a job with dropout, doubles and another optimizer.
    auto d = dropout_job::defaults();
    d.widths.set(2, 64);
    d.optimizer.set("beta_2", 0.9999);
    const std::string c = dropout_job::to_json(d, ctml::io::json_style::compact);
    CHECK(c.find("\"Dropout\"") != std::string::npos);
    CHECK(c.find("\"float64\"") != std::string::npos);
    CHECK(dropout_job::to_json(dropout_job::from_json(c), ctml::io::json_style::compact) == c);
}

TEST_CASE("run_config JSON: a field of the wrong type or range is an error naming it") {
    const std::string good = keras_job::to_json(keras_job::defaults());
    auto expect = [&](const std::string& from, const std::string& to,
                      std::initializer_list<const char*> words) {
        std::string j = good;
        const auto at = j.find(from);
        REQUIRE(at != std::string::npos);
        j.replace(at, from.size(), to);
        CAPTURE(to);
        try {
            (void)keras_job::from_json(j, "job.json");
            FAIL("expected ctml::format_error");
        } catch (const ctml::format_error& e) {
            const std::string m = e.what();
            INFO(m);
            CHECK(m.find("job.json") == 0);
            for (const char* w : words) {
                CHECK(m.find(w) != std::string::npos);
            }
        }
    };
    expect("\"batch_size\": 50", "\"batch_size\": \"50\"", {"\"batch_size\"", "string"});
    expect("\"batch_size\": 50", "\"batch_size\": 0", {"\"batch_size\"", "[1, 65536]"});
    expect("\"batch_size\": 50", "\"batch_size\": 1e9", {"\"batch_size\""});
    expect("\"epochs\": 20", "\"epochs\": -2", {"\"epochs\""});
    expect("\"seed\": 0", "\"seed\": 1.5", {"\"seed\""});
    expect("\"threads\": 0", "\"threads\": 5000", {"\"threads\""});
    expect("\"device\": \"cpu\"", "\"device\": \"tpu\"", {"\"device\"", "tpu"});
    expect("\"device\": \"cpu\"", "\"device\": 1", {"\"device\"", "string"});
    expect("\"scalar\": \"float32\"", "\"scalar\": \"float64\"", {"\"scalar\"", "float32"});
    expect("\"loss\": \"categorical_crossentropy\"", "\"loss\": \"hinge\"", {"\"loss\"", "hinge"});
    expect("\"name\": \"rmsprop\"", "\"name\": \"adam\"", {"optimizer.name", "adam"});
    expect("\"learning_rate\": 0.001", "\"learning_rate\": -0.001",
           {"optimizer.learning_rate", "outside"});
    expect("\"learning_rate\": 0.001", "\"learning_rate\": true",
           {"optimizer.learning_rate", "boolean"});
    expect("\"rho\": 0.9", "\"momentum\": 0.9", {"optimizer.momentum", "unknown"});
    expect("\"rho\": 0.9", "\"rho\": 0.9, \"rho2\": 1", {"optimizer.rho2"});
    expect("\"epochs\": 20", "\"epochs\": 20, \"shuffle\": false", {"shuffle", "unknown field"});
    expect("\"units\": 100", "\"units\": 23469140042887471", {"units", "CTML_MAX_WIDTH"});
    expect("\"units\": 10,", "\"units\": 11,", {"units", "11"});
    expect("\"seed\": 0,", "", {"\"seed\"", "missing"});
    CHECK_THROWS_AS(keras_job::from_json("{", "job.json"), ctml::format_error);
}
