// SPDX-License-Identifier: MIT
// job.json and compute target definitions: exact round trips, and bad fields named.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <ctml/compute/job.hpp>
#include <ctml/compute/target.hpp>

using namespace ctml::compute;

namespace {
script_run_config full_job() {
    script_run_config c;
    c.executable = "/opt/bin/keras_mnist";
    c.arguments = {"--data-folder", "mnist-dataset:latest", "--first-layer-neurons", "300",
                   "--note=ünïcode \"quoted\" \\ back", ""};
    c.compute_target = "gpu-cluster";
    c.environment = {{"OMP_NUM_THREADS", "2"}, {"EMPTY", ""}};
    c.max_duration_s = 3600;
    c.processes = 4;
    c.nodes = 2;
    c.run_config = R"({"batch_size":50})";
    c.experiment = "keras-mnist";
    c.datasets = {{1, "", "mnist-dataset", 3}};
    return c;
}
} // namespace

TEST_CASE("job.json round trip is exact") {
    const script_run_config c = full_job();
    const std::string text = to_json(c);
    const script_run_config back = job_from_json(text);
    CHECK(back == c);
    CHECK(to_json(back) == text);

    script_run_config src;
    src.source_folder = "/src/trainer";
    src.cmake_target = "trainer";
    src.cmake_arguments = {"-DX=1"};
    CHECK(job_from_json(to_json(src)) == src);
}

TEST_CASE("job.json: bad fields are errors that name them") {
    const std::string good = to_json(full_job());
    const auto replaced = [&](const std::string& from, const std::string& to) {
        std::string s = good;
        const auto at = s.find(from);
        REQUIRE(at != std::string::npos);
        s.replace(at, from.size(), to);
        return s;
    };
    const auto message_of = [](const std::string& text) -> std::string {
        try {
            job_from_json(text);
        } catch (const ctml::error& e) {
            return e.what();
        }
        return "";
    };
    CHECK(message_of(replaced("\"max_duration_s\": 3600", "\"max_duration_s\": \"1h\""))
              .find("max_duration_s") != std::string::npos);
    CHECK(message_of(replaced("\"processes\": 4", "\"processes\": -1")).find("processes") !=
          std::string::npos);
    CHECK(message_of(replaced("\"nodes\": 2", "\"nodez\": 2")).find("nodez") != std::string::npos);
    CHECK(message_of(replaced("\"executable\": \"/opt/bin/keras_mnist\"", "\"executable\": 3"))
              .find("trainer.executable") != std::string::npos);
    CHECK(message_of(replaced("\"executable\": \"/opt/bin/keras_mnist\"", "\"executable\": \"\""))
              .find("exactly one") != std::string::npos);
    CHECK(message_of(replaced("\"argument\": 1", "\"argument\": 99")).find("datasets[0].argument") !=
          std::string::npos);
    CHECK(message_of("{\"trainer\": ").find("invalid JSON") != std::string::npos);
    CHECK_THROWS_AS(job_from_json("[]"), ctml::format_error);
}

TEST_CASE("arguments that name datasets") {
    auto r = parse_argument_dataset("mnist-dataset:latest");
    REQUIRE(r);
    CHECK(r->name == "mnist-dataset");
    CHECK(r->version == 0);
    CHECK(r->prefix.empty());
    r = parse_argument_dataset("--data-folder=mnist:3");
    REQUIRE(r);
    CHECK(r->prefix == "--data-folder=");
    CHECK(r->name == "mnist");
    CHECK(r->version == 3);
    CHECK_FALSE(parse_argument_dataset("http://host/x.gz"));
    CHECK_FALSE(parse_argument_dataset("data/mnist"));
    CHECK_FALSE(parse_argument_dataset("a:b"));
    CHECK_FALSE(parse_argument_dataset("mnist:0"));
    CHECK_FALSE(parse_argument_dataset("--data-folder"));
    CHECK_FALSE(parse_argument_dataset("/abs/path:latest"));
}

TEST_CASE("compute targets: definitions round trip, are created once, and bad ones refused") {
    const auto root = std::filesystem::temp_directory_path() /
                      ("ctml_targets_" + std::to_string(::getpid()));
    std::filesystem::remove_all(root);
    compute_target t;
    t.name = "gpu-cluster";
    t.kind = target_kind::slurm;
    t.processes = 4;
    t.max_nodes = 4;
    t.partition = "debug";
    t.time_limit = "01:00:00";
    t.memory = "2G";
    CHECK(target_from_json(to_json(t), "t") == t);
    CHECK(ensure_compute_target(root, t) == t);
    compute_target other = t;
    other.max_nodes = 8;
    CHECK(ensure_compute_target(root, other) == t); // created if missing: the existing one wins
    CHECK_THROWS_AS(create_compute_target(root, other), ctml::compute_error);
    CHECK(create_compute_target(root, other, true) == other);
    CHECK(get_compute_target(root, "gpu-cluster") == other);
    CHECK(get_compute_target(root, "local").kind == target_kind::local);
    const auto all = list_compute_targets(root);
    REQUIRE(all.size() == 2);
    CHECK(all[0].name == "gpu-cluster");
    CHECK(all[1].name == "local");
    try {
        get_compute_target(root, "nope");
        FAIL("expected an error");
    } catch (const ctml::compute_error& e) {
        CHECK(std::string(e.what()).find("nope") != std::string::npos);
        CHECK(std::string(e.what()).find("gpu-cluster") != std::string::npos);
    }
    compute_target bad = t;
    bad.time_limit = "1h";
    CHECK_THROWS_AS(validate(bad), ctml::config_error);
    bad = t;
    bad.processes = 0;
    CHECK_THROWS_AS(validate(bad), ctml::config_error);
    bad = t;
    bad.name = "../x";
    CHECK_THROWS_AS(validate(bad), ctml::workspace_error);
    CHECK(parse_duration_hms("01:02:03", "t") == 3723);
    std::filesystem::remove_all(root);
}
