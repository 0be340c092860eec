// SPDX-License-Identifier: MIT
#include "ctml/io/json.hpp"

#include <doctest/doctest.h>

#include <bit>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <simdjson.h>

#include "io_test_util.hpp"

using ctml::io::json_style;
using ctml::io::json_writer;

namespace {
simdjson::dom::element parse(simdjson::dom::parser& p, const std::string& s) {
    simdjson::dom::element e;
    REQUIRE(p.parse(s).get(e) == simdjson::SUCCESS);
    return e;
}
} // namespace

TEST_CASE("json_writer: compact and pretty layouts") {
    const auto build = [](json_writer& w) {
        w.begin_object()
            .field("name", "dense_1")
            .field("units", 300)
            .key("shape")
            .begin_array()
            .null()
            .value(784)
            .end_array()
            .key("empty_object")
            .begin_object()
            .end_object()
            .key("empty_array")
            .begin_array()
            .end_array()
            .field("trainable", true)
            .key("nested")
            .begin_array()
            .begin_object()
            .field("rate", 0.5)
            .end_object()
            .end_array()
            .end_object();
    };
    json_writer compact(json_style::compact);
    build(compact);
    CHECK(compact.str() == R"({"name":"dense_1","units":300,"shape":[null,784],"empty_object":{},)"
                           R"("empty_array":[],"trainable":true,"nested":[{"rate":0.5}]})");
    json_writer pretty;
    build(pretty);
    CHECK(pretty.str() == R"({
  "name": "dense_1",
  "units": 300,
  "shape": [
    null,
    784
  ],
  "empty_object": {},
  "empty_array": [],
  "trainable": true,
  "nested": [
    {
      "rate": 0.5
    }
  ]
}
)");
    simdjson::dom::parser p;
    simdjson::dom::element e = parse(p, pretty.str());
    CHECK(uint64_t(e["units"]) == 300);
    CHECK(double(e["nested"].at(0)["rate"]) == 0.5);
}

TEST_CASE("json_writer: top-level scalars and take()") {
    json_writer w(json_style::compact);
    w.value("just a string");
    CHECK(w.complete());
    CHECK(w.take() == "\"just a string\"");
    CHECK(!w.complete());
    w.value(false);
    CHECK(w.str() == "false");
}

TEST_CASE("json_writer: string escaping and UTF-8 passthrough") {
    const std::string tricky = std::string("q\"b\\s/ \b\f\n\r\t") + '\x01' + '\x1f' + '\x7f' +
                               " é ✓ 😀" + std::string(1, '\0') + "end";
    json_writer w(json_style::compact);
    w.begin_object().field(tricky, tricky).end_object();
    const std::string escaped = R"("q\"b\\s/ \b\f\n\r\t\u0001\u001f)" "\x7f" R"( é ✓ 😀\u0000end")";
    CHECK(w.str() == "{" + escaped + ":" + escaped + "}");

    simdjson::dom::parser p;
    simdjson::dom::object o = parse(p, w.str()).get_object().value();
    std::string_view back;
    REQUIRE(o.at_key(tricky).get_string().get(back) == simdjson::SUCCESS);
    CHECK(back == tricky);
}

TEST_CASE("json_writer: invalid UTF-8 is refused, naming the field and the byte") {
    json_writer w;
    w.begin_object().key("layers").begin_array().begin_object();
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, w.field("name", std::string("ab\xff")))
          == "json_writer: field \"layers[0].name\": string is not valid UTF-8 (byte 0xff at "
             "offset 2)");
    json_writer k;
    k.begin_object();
    // An overlong encoding of '/' and a lone surrogate.
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, k.key("a\xc0\xaf")) ==
          "json_writer: top level: key is not valid UTF-8 (byte 0xc0 at offset 1)");
    json_writer s;
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, s.value("\xed\xa0\x80")) ==
          "json_writer: top level: string is not valid UTF-8 (byte 0xed at offset 0)");
    json_writer t;
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, t.value("\xe2\x9c")) ==
          "json_writer: top level: string is not valid UTF-8 (byte 0xe2 at offset 0)");
}

TEST_CASE("json_writer: numbers") {
    json_writer w(json_style::compact);
    w.begin_array()
        .value(1.0)
        .value(-0.0)
        .value(0.1)
        .value(0.1f)
        .value(1e300)
        .value(5e-324)
        .value(123456789.0)
        .value(std::numeric_limits<std::int64_t>::min())
        .value(std::numeric_limits<std::uint64_t>::max())
        .value(std::int8_t{-5})
        .value(std::uint16_t{7})
        .end_array();
    CHECK(w.str() == "[1.0,-0.0,0.1,0.1,1e+300,5e-324,123456789.0,-9223372036854775808,"
                     "18446744073709551615,-5,7]");
}

TEST_CASE("json_writer: doubles and floats round-trip through simdjson bit for bit") {
    std::mt19937_64 gen(12345);
    std::vector<double> ds;
    std::vector<float> fs;
    while (ds.size() < 5000) {
        const double d = std::bit_cast<double>(gen());
        const float f = std::bit_cast<float>(static_cast<std::uint32_t>(gen()));
        if (std::isfinite(d) && std::isfinite(f)) {
            ds.push_back(d);
            fs.push_back(f);
        }
    }
    ds.push_back(std::numeric_limits<double>::max());
    ds.push_back(std::numeric_limits<double>::denorm_min());
    fs.push_back(std::numeric_limits<float>::max());
    fs.push_back(std::numeric_limits<float>::denorm_min());
    json_writer w;
    w.begin_object().key("d").begin_array();
    for (const double d : ds) {
        w.value(d);
    }
    w.end_array().key("f").begin_array();
    for (const float f : fs) {
        w.value(f);
    }
    w.end_array().end_object();

    simdjson::dom::parser p;
    simdjson::dom::element e = parse(p, w.str());
    std::size_t i = 0, exact = 0;
    for (simdjson::dom::element x : e["d"].get_array()) {
        double v = 0;
        REQUIRE(x.get_double().get(v) == simdjson::SUCCESS);
        exact += std::bit_cast<std::uint64_t>(v) == std::bit_cast<std::uint64_t>(ds[i++]);
    }
    CHECK(exact == ds.size());
    i = 0;
    exact = 0;
    for (simdjson::dom::element x : e["f"].get_array()) {
        double v = 0;
        REQUIRE(x.get_double().get(v) == simdjson::SUCCESS);
        exact += std::bit_cast<std::uint32_t>(static_cast<float>(v)) ==
                 std::bit_cast<std::uint32_t>(fs[i++]);
    }
    CHECK(exact == fs.size());
}

TEST_CASE("json_writer: NaN and infinity are refused, naming the field") {
    json_writer w;
    w.begin_object().key("layers").begin_array().begin_object().field("units", 3).end_object();
    w.begin_object().field("units", 3).end_object().begin_object();
    CHECK(CTML_THROW_MESSAGE(ctml::format_error,
                             w.field("units", std::numeric_limits<double>::quiet_NaN())) ==
          "json_writer: field \"layers[2].units\": NaN cannot be written as JSON (it has no "
          "spelling for it)");
    json_writer a;
    a.begin_object().key("lr").begin_array().value(1.0);
    CHECK(CTML_THROW_MESSAGE(ctml::format_error,
                             a.value(-std::numeric_limits<float>::infinity())) ==
          "json_writer: field \"lr[1]\": infinity cannot be written as JSON (it has no spelling "
          "for it)");
    json_writer t;
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, t.value(std::numeric_limits<double>::infinity()))
          == "json_writer: top level: infinity cannot be written as JSON (it has no spelling for "
             "it)");
}

TEST_CASE("json_writer: misuse is an error that says what went wrong") {
    {
        json_writer w;
        w.begin_object().field("a", 1);
        CHECK(CTML_THROW_MESSAGE(ctml::format_error, w.value(2)) ==
              "json_writer: top level: a value inside an object needs key() first");
    }
    {
        json_writer w;
        w.begin_object().key("outer").begin_object().field("a", 1);
        CHECK(CTML_THROW_MESSAGE(ctml::format_error, w.value(2)) ==
              "json_writer: field \"outer\": a value inside an object needs key() first");
    }
    {
        json_writer w;
        w.begin_array();
        CHECK(CTML_THROW_MESSAGE(ctml::format_error, w.key("k")) ==
              "json_writer: field \"[0]\": key(\"k\") outside an object");
        CHECK(CTML_THROW_MESSAGE(ctml::format_error, w.end_object()) ==
              "json_writer: field \"[0]\": end_object() closes an array");
    }
    {
        json_writer w;
        w.begin_object().key("a");
        CHECK(CTML_THROW_MESSAGE(ctml::format_error, w.key("b")) ==
              "json_writer: field \"a\": key(\"b\") right after key(\"a\"), which has no value yet");
        CHECK(CTML_THROW_MESSAGE(ctml::format_error, w.end_object()) ==
              "json_writer: field \"a\": end_object() right after key(\"a\"), which has no value");
        CHECK(CTML_THROW_MESSAGE(ctml::format_error, w.str()) ==
              "json_writer: field \"a\": the document is unfinished (1 open object(s)/array(s))");
    }
    {
        json_writer w;
        CHECK(CTML_THROW_MESSAGE(ctml::format_error, w.end_array()) ==
              "json_writer: end_array() with nothing open");
        CHECK(CTML_THROW_MESSAGE(ctml::format_error, w.str()) ==
              "json_writer: the document is empty");
        w.value(1);
        CHECK(CTML_THROW_MESSAGE(ctml::format_error, w.value(2)) ==
              "json_writer: a second top-level value; a JSON document holds one");
    }
}
