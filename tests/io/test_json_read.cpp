// SPDX-License-Identifier: MIT
#include "ctml/io/json_read.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "ctml/io/file.hpp"
#include "ctml/io/json.hpp"
#include "io_test_util.hpp"

using namespace ctml::io;
using ctml_test::scratch_dir;

namespace {
const char* const model_text = R"({
  "class_name": "Sequential",
  "backend": null,
  "config": {
    "name": "sequential",
    "layers": [
      {"class_name": "Dense", "units": 300, "activation": "relu", "use_bias": true, "rate": 0.5},
      {"class_name": "Dense", "units": 100, "activation": "relu", "use_bias": false, "rate": 1},
      {"class_name": "Dense", "units": "10", "activation": "softmax", "use_bias": true, "rate": -2.5}
    ],
    "seed": -42,
    "big": 18446744073709551615
  }
})";
} // namespace

TEST_CASE("json_read: typed getters on a file, paths in order") {
    scratch_dir dir;
    write_file_atomic(dir / "model.json", model_text);
    const json_document doc = load_json(dir / "model.json");
    CHECK(doc.source() == (dir / "model.json").string());
    const json_object root = doc.root().as_object();
    CHECK(root.get_string("class_name") == "Sequential");
    CHECK(root.at("backend").is_null());
    CHECK(root.contains("backend"));
    CHECK(!root.contains("nope"));
    CHECK(root.keys() == std::vector<std::string>{"class_name", "backend", "config"});

    const json_object config = root.get_object("config");
    CHECK(config.path() == "config");
    CHECK(config.get_int("seed") == -42);
    CHECK(config.get_uint("big") == std::numeric_limits<std::uint64_t>::max());
    const json_array layers = config.get_array("layers");
    CHECK(layers.size() == 3);
    CHECK(!layers.empty());
    std::vector<std::string> paths;
    std::vector<double> rates;
    for (const json_value& v : layers) {
        paths.push_back(v.path());
        rates.push_back(v.as_object().get_double("rate"));
    }
    CHECK(paths == std::vector<std::string>{"config.layers[0]", "config.layers[1]",
                                            "config.layers[2]"});
    CHECK(rates == std::vector<double>{0.5, 1.0, -2.5});
    const json_object l0 = layers.at(0).as_object();
    CHECK(l0.get_uint("units", 1, 100000) == 300);
    CHECK(l0.get_bool("use_bias"));
    CHECK(!layers.at(1).as_object().get_bool("use_bias"));
    CHECK(layers.at(1).as_object().get_double("rate", 0, 1) == 1.0);
}

TEST_CASE("json_read: wrong types and ranges name the file and the field path") {
    const json_document doc = parse_json(model_text, "model.json");
    const json_object config = doc.root().as_object().get_object("config");
    const json_array layers = config.get_array("layers");
    const json_object l2 = layers.at(2).as_object();
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, l2.get_uint("units")) ==
          "model.json: field \"config.layers[2].units\": expected an unsigned integer, got "
          "string \"10\"");
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, l2.get_double("activation")) ==
          "model.json: field \"config.layers[2].activation\": expected a number, got string "
          "\"softmax\"");
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, l2.get_string("use_bias")) ==
          "model.json: field \"config.layers[2].use_bias\": expected a string, got boolean true");
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, l2.get_bool("units")) ==
          "model.json: field \"config.layers[2].units\": expected a boolean, got string \"10\"");
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, l2.get_uint("rate")) ==
          "model.json: field \"config.layers[2].rate\": expected an unsigned integer, got number "
          "-2.5");
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, config.get_uint("seed")) ==
          "model.json: field \"config.seed\": expected an unsigned integer, got integer -42");
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, config.get_int("big")) ==
          "model.json: field \"config.big\": expected an integer, got integer "
          "18446744073709551615");
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, config.get_int("seed", 0, 10)) ==
          "model.json: field \"config.seed\": expected an integer in [0, 10], got integer -42");
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, layers.at(0).as_object().get_uint("units", 1, 10))
          == "model.json: field \"config.layers[0].units\": expected an unsigned integer in [1, "
             "10], got integer 300");
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, layers.at(0).as_object().get_double("rate", 0.75,
                                                                                     1)) ==
          "model.json: field \"config.layers[0].rate\": expected a number in [0.75, 1.0], got "
          "number 0.5");
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, config.get_object("layers")) ==
          "model.json: field \"config.layers\": expected an object, got array");
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, config.get_array("name")) ==
          "model.json: field \"config.name\": expected an array, got string \"sequential\"");
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, doc.root().as_array()) ==
          "model.json: top level: expected an array, got object");
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, doc.root().as_object().get_string("backend")) ==
          "model.json: field \"backend\": expected a string, got null");
}

TEST_CASE("json_read: missing fields, indexes, sizes and unknown fields") {
    const json_document doc = parse_json(model_text, "model.json");
    const json_object config = doc.root().as_object().get_object("config");
    const json_array layers = config.get_array("layers");
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, layers.at(1).as_object().get_string("kernel"))
          == "model.json: field \"config.layers[1].kernel\": missing (required)");
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, layers.at(7)) ==
          "model.json: field \"config.layers\": has 3 elements, no index 7");
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, layers.expect_size(4)) ==
          "model.json: field \"config.layers\": expected 4 elements, got 3");
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, layers.expect_size(4, 9)) ==
          "model.json: field \"config.layers\": expected between 4 and 9 elements, got 3");
    CHECK(layers.expect_size(1, 3).size() == 3);
    const json_object l0 = layers.at(0).as_object();
    CHECK(CTML_THROW_MESSAGE(ctml::format_error,
                             l0.expect_only({"class_name", "units", "activation", "use_bias"})) ==
          "model.json: field \"config.layers[0].rate\": unknown field (expected one of: "
          "class_name, units, activation, use_bias)");
    l0.expect_only({"class_name", "units", "activation", "use_bias", "rate"});
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, l0.at("units").fail("must be even")) ==
          "model.json: field \"config.layers[0].units\": must be even");
}

TEST_CASE("json_read: optional getters") {
    const json_document doc = parse_json(model_text, "model.json");
    const json_object root = doc.root().as_object();
    const json_object l0 = root.get_object("config").get_array("layers").at(0).as_object();
    CHECK(l0.get_optional_uint("units") == std::optional<std::uint64_t>(300));
    CHECK(!l0.get_optional_uint("absent").has_value());
    CHECK(!root.get_optional_string("backend").has_value()); // null counts as absent
    CHECK(l0.get_optional_string("activation") == std::optional<std::string>("relu"));
    CHECK(l0.get_optional_double("rate") == std::optional<double>(0.5));
    CHECK(l0.get_optional_bool("use_bias") == std::optional<bool>(true));
    CHECK(!l0.get_optional_int("absent").has_value());
    CHECK(!l0.get_optional_array("absent").has_value());
    CHECK(root.get_optional_object("config").has_value());
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, l0.get_optional_bool("units")) ==
          "model.json: field \"config.layers[0].units\": expected a boolean, got integer 300");
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, l0.get_optional_uint("units", 0, 10)) ==
          "model.json: field \"config.layers[0].units\": expected an unsigned integer in [0, 10], "
          "got integer 300");
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, l0.get_optional_array("units")) ==
          "model.json: field \"config.layers[0].units\": expected an array, got integer 300");
}

TEST_CASE("json_read: invalid JSON names the source and simdjson's reason") {
    const std::vector<std::string> bad = {R"({"a": [1, 2)", R"({"a": 1,})", "nope", "",
                                          R"({"a": "\x"})", "{\"a\": \"\xff\"}", "[1] [2]"};
    for (const std::string& text : bad) {
        CAPTURE(text);
        const std::string msg = CTML_THROW_MESSAGE(ctml::format_error, parse_json(text, "job.json"));
        CHECK(msg.rfind("job.json: invalid JSON: ", 0) == 0);
        CHECK(msg.size() > std::string("job.json: invalid JSON: ").size() + 5);
    }
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, parse_json("{\"a\": \"\xff\"}", "job.json")) ==
          std::string("job.json: invalid JSON: ") + simdjson::error_message(simdjson::UTF8_ERROR));
    scratch_dir dir;
    write_file_atomic(dir / "config.json", "{\"name\": ");
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, load_json(dir / "config.json"))
              .rfind((dir / "config.json").string() + ": invalid JSON: ", 0) == 0);
    CHECK(CTML_THROW_MESSAGE(ctml::file_error, load_json(dir / "absent.json")) ==
          (dir / "absent.json").string() + ": cannot open for reading: No such file or directory");
}

TEST_CASE("json_read: values outlive the document; writer output reads back") {
    json_writer w;
    w.begin_object()
        .field("name", "ü\n\"x\"")
        .field("lr", 0.001f)
        .field("n", std::uint64_t{1} << 60)
        .key("list")
        .begin_array()
        .value(1)
        .value(2.5)
        .end_array()
        .end_object();
    json_object root = [&] { return parse_json(w.str(), "written").root().as_object(); }();
    CHECK(root.source() == "written");
    CHECK(root.get_string("name") == "ü\n\"x\"");
    CHECK(static_cast<float>(root.get_double("lr")) == 0.001f);
    CHECK(root.get_uint("n") == std::uint64_t{1} << 60);
    CHECK(root.get_array("list").at(1).as_double() == 2.5);
    CHECK(root.get_array("list").at(0).element().get_int64().value() == 1);
}
