// SPDX-License-Identifier: MIT
// The event-file format: what readers accept, skip and leave for later.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "ctml/run/event.hpp"
#include "ctml/run/names.hpp"
#include "ctml/run/state.hpp"

using namespace ctml::run;

TEST_CASE("metric values: numbers, NaN and +-inf spelled as strings, round-trip") {
    std::string lines;
    for (const double v : {0.25, std::numeric_limits<double>::quiet_NaN(),
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(), -0.0, 1e308,
                           std::numeric_limits<double>::denorm_min()}) {
        lines += "{\"t\":\"m\",\"ts\":5,\"k\":\"v\",\"v\":";
        detail::append_json_number(lines, v);
        lines += ",\"s\":1}\n";
    }
    std::vector<double> got;
    const auto r = parse_events(lines, [&](const event& e, std::size_t) { got.push_back(e.value); });
    CHECK(r.events == 7);
    CHECK(r.malformed == 0);
    REQUIRE(got.size() == 7);
    CHECK(got[0] == 0.25);
    CHECK(std::isnan(got[1]));
    CHECK(got[2] == std::numeric_limits<double>::infinity());
    CHECK(got[3] == -std::numeric_limits<double>::infinity());
    CHECK(std::signbit(got[4]));
    CHECK(got[5] == 1e308);
    CHECK(got[6] == std::numeric_limits<double>::denorm_min());
}

TEST_CASE("a partial last line is left for later; malformed complete lines are skipped") {
    const std::string good = "{\"t\":\"param\",\"ts\":1,\"k\":\"a\",\"v\":\"b\"}\n";
    const std::string bad_json = "{\"t\":\"param\",\"ts\":1,\n";
    const std::string bad_type = "{\"t\":\"m\",\"ts\":1,\"k\":\"x\",\"v\":\"many\",\"s\":0}\n";
    const std::string unknown = "{\"t\":\"teleport\",\"ts\":1}\n";
    const std::string extra = "{\"t\":\"hb\",\"ts\":9,\"future\":[1,2]}\n";
    const std::string partial = "{\"t\":\"m\",\"ts\":1,\"k\":";
    const std::string all = good + bad_json + bad_type + unknown + extra + partial;
    std::vector<event_kind> kinds;
    const auto r = parse_events(all, [&](const event& e, std::size_t) { kinds.push_back(e.kind); });
    CHECK(r.events == 2);
    CHECK(r.malformed == 3);
    CHECK(r.consumed == all.size() - partial.size());
    CHECK(r.first_error.find("byte " + std::to_string(good.size())) != std::string::npos);
    CHECK(kinds == std::vector<event_kind>{event_kind::param, event_kind::heartbeat});
}

TEST_CASE("strings: escapes, control characters, invalid UTF-8 replaced") {
    std::string line = "{\"t\":\"tag\",\"ts\":1,\"k\":";
    detail::append_json_string(line, "quote\" back\\ tab\t nl\n");
    line += ",\"v\":";
    detail::append_json_string(line, std::string("bad \xff\xfe") + " byte, ok \xc3\xa9");
    line += "}\n";
    event got;
    const auto r = parse_events(line, [&](const event& e, std::size_t) { got = e; });
    REQUIRE(r.events == 1);
    CHECK(got.key == "quote\" back\\ tab\t nl\n");
    CHECK(got.text == "bad \xEF\xBF\xBD\xEF\xBF\xBD byte, ok \xc3\xa9");
}

TEST_CASE("states: names, parsing, forward-only transitions") {
    for (const run_state s : all_run_states) {
        CHECK(parse_run_state(to_string(s)) == s);
    }
    CHECK(parse_run_state("running") == run_state::running);
    CHECK_FALSE(parse_run_state("Run"));
    CHECK(can_transition(run_state::not_started, run_state::running));
    CHECK(can_transition(run_state::queued, run_state::canceled));
    CHECK_FALSE(can_transition(run_state::running, run_state::queued));
    CHECK_FALSE(can_transition(run_state::completed, run_state::failed));
    CHECK_FALSE(can_transition(run_state::failed, run_state::completed));
}

TEST_CASE("names and relative paths") {
    CHECK(check_entity_name("model", "keras-mnist") == "keras-mnist");
    for (const char* bad : {"", "..", ".hidden", "a/b", "a b", "-x"}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(check_entity_name("model", bad), ctml::workspace_error);
    }
    CHECK_THROWS_AS(check_entity_name("model", std::string(129, 'a')), ctml::workspace_error);
    CHECK(check_key_name("metric", "Final test accuracy") == "Final test accuracy");
    CHECK_THROWS_AS(check_key_name("metric", std::string("a\0b", 3)), ctml::workspace_error);
    CHECK(check_relative_path("p", "outputs/model/") == "outputs/model/");
    for (const char* bad : {"/abs", "../x", "a/../b", "a//b", "./a", ""}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(check_relative_path("p", bad), ctml::workspace_error);
    }
}
