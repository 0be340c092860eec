// SPDX-License-Identifier: MIT
// ctml::flags: both spellings, defaults, --help, typed getters, and errors that name the flag.
#include "ctml/train/flags.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace {
ctml::flags declared() {
    ctml::flags f("prog");
    f.declare("batch-size", "50", "mini-batch size")
        .declare("learning-rate", "0.001", "step size")
        .declare("momentum", "0", "momentum")
        .declare("name", "", "optional text")
        .declare("seed", "0", "seed");
    return f;
}

bool parse(ctml::flags& f, std::vector<const char*> args) {
    args.insert(args.begin(), "prog");
    return f.parse(static_cast<int>(args.size()), args.data());
}

std::string error_of(std::vector<const char*> args) {
    auto f = declared();
    try {
        parse(f, std::move(args));
    } catch (const ctml::config_error& e) {
        return e.what();
    }
    FAIL("expected ctml::config_error");
    return {};
}
} // namespace

TEST_CASE("flags: --name value and --name=value, defaults, given()") {
    auto f = declared();
    REQUIRE(parse(f, {"--batch-size", "64", "--learning-rate=0.5", "--name", "a b"}));
    CHECK(f.positive("batch-size") == 64);
    CHECK(f.given("batch-size"));
    CHECK(f.positive_real("learning-rate") == 0.5);
    CHECK(f.str("name") == "a b");
    CHECK_FALSE(f.given("seed"));
    CHECK(f.unsigned_integer("seed") == 0);
    CHECK(f.real("momentum") == 0.0); // zero is a number, not a positive one
    CHECK(f.declared("seed"));
    CHECK_FALSE(f.declared("epochs"));
    // The last occurrence wins.
    auto g = declared();
    REQUIRE(parse(g, {"--seed", "1", "--seed", "2"}));
    CHECK(g.unsigned_integer("seed") == 2);
}

TEST_CASE("flags: --help and the usage text") {
    auto f = declared();
    CHECK_FALSE(parse(f, {"--help"}));
    auto h = declared();
    CHECK_FALSE(parse(h, {"-h"}));
    const std::string u = f.usage();
    CHECK(u.find("usage: prog [flags]") == 0);
    CHECK(u.find("--batch-size (default 50)\n      mini-batch size") != std::string::npos);
    CHECK(u.find("--name\n      optional text") != std::string::npos); // no default shown
}

TEST_CASE("flags: parse errors name the flag or the argument") {
    CHECK(error_of({"--epochs", "3"}).find("unknown flag --epochs") == 0);
    CHECK(error_of({"batch-size"}).find("unexpected argument 'batch-size'") == 0);
    CHECK(error_of({"--seed"}) == "flag --seed needs a value");
    ctml::flags f("prog");
    f.declare("a", "1", "");
    CHECK_THROWS_WITH_AS(f.declare("a", "2", ""), "flag --a is declared twice", ctml::config_error);
    CHECK_THROWS_WITH_AS((void)f.str("b"), "flag --b was never declared", ctml::config_error);
}

TEST_CASE("flags: typed getters refuse what is not their type, naming the flag") {
    auto f = declared();
    REQUIRE(parse(f, {"--batch-size", "0", "--learning-rate", "-1", "--seed", "12x", "--momentum",
                      "nan"}));
    CHECK_THROWS_WITH_AS(f.positive("batch-size"),
                         "flag --batch-size: expected a positive integer, got '0'",
                         ctml::config_error);
    CHECK_THROWS_WITH_AS(f.positive_real("learning-rate"),
                         "flag --learning-rate: expected a positive number, got '-1'",
                         ctml::config_error);
    CHECK_THROWS_WITH_AS(f.unsigned_integer("seed"),
                         "flag --seed: expected an unsigned integer, got '12x'",
                         ctml::config_error);
    CHECK_THROWS_WITH_AS(f.real("momentum"), "flag --momentum: expected a number, got 'nan'",
                         ctml::config_error);
    CHECK_THROWS_WITH_AS(f.positive("name"), "flag --name is required (a positive integer)",
                         ctml::config_error);
    auto g = declared();
    REQUIRE(parse(g, {"--seed", "18446744073709551616"})); // 2^64
    CHECK_THROWS_WITH_AS(g.unsigned_integer("seed"),
                         doctest::Contains("flag --seed: expected an unsigned integer"),
                         ctml::config_error);
}
