// SPDX-License-Identifier: MIT
// The workspace in one process: config.json, runs reported through the run context, metrics
// (NaN/inf included), files, the model registry, schema migration and refused databases.
#include <doctest/doctest.h>

#include "ws_test_util.hpp"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>

#include <sqlite3.h>

#include "ctml/io/file.hpp"
#include "ctml/run/context.hpp"
#include "ctml/workspace/sqlite_store.hpp"
#include "ctml/workspace/workspace.hpp"

namespace fs = std::filesystem;
namespace cw = ctml::workspace;
using ctml::run::run_state;

namespace {

fs::path fresh_dir(const std::string& name) { return ws_test::fresh_dir("ctml_ws_", name); }

using ws_test::write;

using ws_test::start_run;

template <class E, class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    }
    return "<no error>";
}

} // namespace

TEST_CASE("config.json: search order, keys, and errors that name the file and the key") {
    const fs::path dir = fresh_dir("config");
    cw::workspace ws = cw::create(dir / "ws", "demo");
    CHECK(ws.name() == "demo");
    CHECK(fs::exists(dir / "ws" / "config.json"));
    CHECK(fs::exists(dir / "ws" / "ctml.db"));

    // Found from a subfolder (parents are searched), and from .ctml/ in a parent.
    fs::create_directories(dir / "ws" / "a" / "b");
    CHECK(cw::from_config(dir / "ws" / "a" / "b").root() == fs::weakly_canonical(dir / "ws"));
    write(dir / "proj" / ".ctml" / "config.json", R"({"name": "hidden", "location": "store"})");
    fs::create_directories(dir / "proj" / "src");
    const auto found = ctml::run::find_workspace_config(dir / "proj" / "src");
    REQUIRE(found);
    CHECK(found->filename() == "config.json");
    CHECK(found->parent_path().filename() == ".ctml");
    cw::workspace hidden = cw::from_config(dir / "proj" / "src");
    CHECK(hidden.name() == "hidden");
    CHECK(hidden.root() == (dir / "proj" / ".ctml" / "store").lexically_normal());

    const fs::path bad = dir / "bad" / "config.json";
    write(bad, R"({"name": "x", "colour": "blue"})");
    std::string msg = error_of<ctml::config_error>([&] { (void)cw::open(bad); });
    CHECK(msg.find(bad.string()) != std::string::npos);
    CHECK(msg.find("colour") != std::string::npos);
    CHECK(msg.find("unknown field") != std::string::npos);

    write(bad, R"({"name": 42})");
    msg = error_of<ctml::config_error>([&] { (void)cw::open(bad); });
    CHECK(msg.find("\"name\"") != std::string::npos);
    CHECK(msg.find("expected a string") != std::string::npos);

    write(bad, R"({"name": "ok", "heartbeat_timeout_s": "soon"})");
    msg = error_of<ctml::config_error>([&] { (void)cw::open(bad); });
    CHECK(msg.find("heartbeat_timeout_s") != std::string::npos);

    write(bad, R"({"name": "ok", )");
    msg = error_of<ctml::config_error>([&] { (void)cw::open(bad); });
    CHECK(msg.find(bad.string()) != std::string::npos);
    CHECK(msg.find("invalid JSON") != std::string::npos);

    write(bad, R"({"name": "../evil"})");
    msg = error_of<ctml::config_error>([&] { (void)cw::open(bad); });
    CHECK(msg.find("\"name\"") != std::string::npos);

    write(bad, R"({"name": "ok", "store": "mlflow"})");
    msg = error_of<ctml::config_error>([&] { (void)cw::open(bad); });
    CHECK(msg.find("\"store\"") != std::string::npos);

    // No config anywhere: a clear error.
    const fs::path none = fresh_dir("none");
    if (!ctml::run::find_workspace_config(none)) {
        msg = error_of<ctml::workspace_error>([&] { (void)cw::from_config(none); });
        CHECK(msg.find("no workspace") != std::string::npos);
    }
    fs::remove_all(dir);
    fs::remove_all(none);
}

TEST_CASE("an offline run: params, tags, metric series with NaN and inf, images, files, states") {
    const fs::path dir = fresh_dir("run");
    cw::create(dir, "runs");
    const fs::path png = dir / "chart.png";
    write(png, std::string("\x89PNG\r\n\x1a\n", 8) + "not really a png");
    std::string id;
    {
        auto ctx = start_run(dir, "keras-mnist");
        REQUIRE(ctx.active());
        id = ctx.id();
        CHECK(ctx.run_dir() == dir / "runs" / id);
        ctx.log_param("Batch size", std::int64_t{50});
        ctx.log_param("learning rate", 0.001);
        ctx.set_tag("framework", "ctml");
        for (int i = 0; i < 20; ++i) {
            ctx.log("Loss", 1.0 / (i + 1));
        }
        ctx.log("odd", std::numeric_limits<double>::quiet_NaN());
        ctx.log("odd", std::numeric_limits<double>::infinity());
        ctx.log("odd", -std::numeric_limits<double>::infinity());
        ctx.log("odd", 1e-300);
        ctx.log("stepped", 3.0, 100);
        ctx.log_image("Accuracy vs Loss", png);
        write(ctx.outputs_dir() / "model" / "model.json", "{}");
        ctx.upload_file(png, "files/copy.png");
        ctx.set_job_description(R"({"batch_size": 50})");
        ctx.use_dataset("mnist", 2);
        ctx.flush();
        // Readable while running: the store ingests what the writer wrote.
        cw::workspace ws = cw::open(dir);
        const auto live = ws.get_run(id);
        CHECK(live.info.state == run_state::running);
        CHECK(ws.metrics(id, "Loss").size() == 20);
        ctx.end();
    }
    cw::workspace ws = cw::open(dir);
    const cw::run_details d = ws.get_run(id);
    CHECK(d.info.experiment == "keras-mnist");
    CHECK(d.info.state == run_state::completed);
    CHECK(d.info.offline);
    REQUIRE(d.history.size() == 3);
    CHECK(d.history[0].state == run_state::not_started);
    CHECK(d.history[1].state == run_state::running);
    CHECK(d.history[2].state == run_state::completed);
    CHECK(d.params.at("Batch size") == "50");
    CHECK(d.params.at("learning rate") == "0.001");
    CHECK(d.tags.at("framework") == "ctml");
    CHECK(d.job_json == R"({"batch_size": 50})");
    CHECK(d.environment_json.find("\"compiler\"") != std::string::npos);
    CHECK(d.environment_json.find("\"ctml_version\":\"" CTML_VERSION_STRING "\"") !=
          std::string::npos);
    CHECK(d.environment_json.find("\"cpu_model\"") != std::string::npos);
    REQUIRE(d.images.size() == 1);
    CHECK(d.images[0].name == "Accuracy vs Loss");
    CHECK(ctml::io::read_file(dir / "runs" / id / d.images[0].path) == ctml::io::read_file(png));
    REQUIRE(d.datasets.size() == 1);
    CHECK(d.datasets[0].name == "mnist");
    CHECK(d.datasets[0].version == 2);

    const auto loss = ws.metrics(id, "Loss");
    REQUIRE(loss.size() == 20);
    for (int i = 0; i < 20; ++i) {
        CHECK(loss[static_cast<std::size_t>(i)].step == i);
        CHECK(loss[static_cast<std::size_t>(i)].value == doctest::Approx(1.0 / (i + 1)));
    }
    const auto odd = ws.metrics(id, "odd");
    REQUIRE(odd.size() == 4);
    CHECK(std::isnan(odd[0].value));
    CHECK(odd[1].value == std::numeric_limits<double>::infinity());
    CHECK(odd[2].value == -std::numeric_limits<double>::infinity());
    CHECK(odd[3].value == 1e-300);
    CHECK(ws.metrics(id, "stepped").at(0).step == 100);

    std::vector<std::string> paths;
    for (const auto& f : d.files) {
        paths.push_back(f.path);
    }
    CHECK(std::find(paths.begin(), paths.end(), "outputs/model/model.json") != paths.end());
    CHECK(std::find(paths.begin(), paths.end(), "files/copy.png") != paths.end());

    // Downloads: inside the run only.
    ws.download_run_files(id, {"outputs/model"}, dir / "got");
    CHECK(ctml::io::read_file(dir / "got" / "outputs" / "model" / "model.json") == "{}");
    CHECK(error_of<ctml::workspace_error>([&] {
              ws.download_run_files(id, {"../x"}, dir / "got");
          }).find("'..'") != std::string::npos);
    CHECK(error_of<ctml::workspace_error>([&] {
              ws.download_run_files(id, {"/etc/passwd"}, dir / "got");
          }).find("absolute") != std::string::npos);
    CHECK(error_of<ctml::workspace_error>([&] {
              ws.download_run_files(id, {"outputs/none"}, dir / "got");
          }).find("no file") != std::string::npos);

    // Ingest is idempotent: syncing again adds nothing.
    ws.sync();
    cw::workspace again = cw::open(dir);
    again.sync();
    CHECK(again.metrics(id).size() == 20 + 4 + 1);

    // Listing and filters.
    CHECK(ws.runs({.experiment = "keras-mnist"}).size() == 1);
    CHECK(ws.runs({.state = run_state::running}).empty());
    CHECK(ws.experiments().at(0).name == "keras-mnist");
    fs::remove_all(dir);
}

TEST_CASE("bad names are refused with the name in the message") {
    const fs::path dir = fresh_dir("names");
    cw::create(dir, "names");
    auto ctx = start_run(dir, "e");
    CHECK_THROWS_AS(ctx.log(std::string("a\0b", 3), 1.0), ctml::workspace_error);
    CHECK_THROWS_AS(ctx.log("tab\there", 1.0), ctml::workspace_error);
    CHECK_THROWS_AS(ctx.log(std::string(10000, 'x'), 1.0), ctml::workspace_error);
    CHECK_THROWS_AS(ctx.upload_file(dir / "config.json", "../out"), ctml::workspace_error);
    ctx.end();
    cw::workspace ws = cw::open(dir);
    for (const std::string& bad : std::vector<std::string>{"a/b", "..", "", std::string("x\0y", 3), "a\nb",
                                  std::string(10000, 'm')}) {
        CAPTURE(bad);
        cw::model_registration reg;
        reg.name = bad;
        reg.path = (dir / "config.json").string();
        CHECK_THROWS_AS(ws.register_model(reg), ctml::workspace_error);
        if (!bad.empty()) { // empty: the default experiment name
            CHECK_THROWS_AS(start_run(dir, bad), ctml::workspace_error);
        }
    }
    CHECK(ws.models().empty());
    CHECK(error_of<ctml::workspace_error>([&] { (void)ws.get_run("nope"); }).find("nope") !=
          std::string::npos);
    fs::remove_all(dir);
}

TEST_CASE("model registry: versions, lineage, tags, properties, aliases, no reuse") {
    const fs::path dir = fresh_dir("registry");
    cw::create(dir, "reg");
    std::string id;
    {
        auto ctx = start_run(dir, "keras-mnist");
        id = ctx.id();
        ctx.set_job_description(R"({"epochs": 20})");
        ctx.use_dataset("mnist-dataset", 1);
        ctx.log("Accuracy", 0.5);
        ctx.log("Accuracy", 0.97);
        write(ctx.outputs_dir() / "model" / "model.json", "{\"layers\": []}");
        write(ctx.outputs_dir() / "model" / "weights.npz", std::string(1000, '\x01'));
        // From inside the running trainer: the outputs are there already.
        auto run = cw::run_handle::of(ctx);
        const cw::model_version v1 = run.register_model("keras-mnist", "outputs/model",
                                                        {{"stage", "dev"}}, {{"framework", "ctml"}},
                                                        "an MLP");
        CHECK(v1.id() == "keras-mnist:1");
        CHECK(v1.run_id == id);
        CHECK(v1.experiment == "keras-mnist");
        CHECK(v1.job_json == R"({"epochs": 20})");
        CHECK(v1.metrics.at("Accuracy") == doctest::Approx(0.97));
        REQUIRE(v1.datasets.size() == 1);
        CHECK(v1.datasets[0].name == "mnist-dataset");
        REQUIRE(v1.files.size() == 2);
        CHECK(v1.files[0].path == "model.json");
        CHECK(v1.files[1].path == "weights.npz");
        CHECK(v1.files[1].size == 1000);
        ctx.end();
    }
    cw::workspace ws = cw::open(dir);
    cw::model_registration reg;
    reg.name = "keras-mnist";
    reg.path = "outputs/model/";
    reg.run_id = id;
    CHECK(ws.register_model(reg).id() == "keras-mnist:2");
    CHECK(ws.latest_model("keras-mnist").version == 2);
    CHECK(ws.get_model("keras-mnist").version == 2);
    CHECK(ws.get_model("keras-mnist:1").tags.at("stage") == "dev");

    // Download is byte-identical to the run's outputs/model.
    ws.download_model("keras-mnist:1", dir / "dl");
    CHECK(ctml::io::read_file(dir / "dl" / "weights.npz") ==
          ctml::io::read_file(dir / "runs" / id / "outputs" / "model" / "weights.npz"));
    CHECK(ctml::io::read_file(dir / "dl" / "model.json") == "{\"layers\": []}");

    // Tags mutable, properties add-only.
    ws.set_model_tag("keras-mnist:1", "stage", "prod");
    CHECK(ws.get_model("keras-mnist:1").tags.at("stage") == "prod");
    ws.delete_model_tag("keras-mnist:1", "stage");
    CHECK(ws.get_model("keras-mnist:1").tags.count("stage") == 0);
    ws.add_model_property("keras-mnist:1", "accuracy", "0.97");
    ws.add_model_property("keras-mnist:1", "accuracy", "0.97"); // same again: fine
    CHECK(error_of<ctml::workspace_error>([&] {
              ws.add_model_property("keras-mnist:1", "accuracy", "0.99");
          }).find("add-only") != std::string::npos);

    // Aliases move atomically and resolve.
    ws.set_model_alias("keras-mnist", "champion", 1);
    CHECK(ws.get_model("keras-mnist@champion").version == 1);
    ws.set_model_alias("keras-mnist", "champion", 2);
    CHECK(ws.get_model("keras-mnist@champion").version == 2);
    CHECK(ws.models().at(0).aliases.at("champion") == 2);
    CHECK_THROWS_AS(ws.set_model_alias("keras-mnist", "champion", 7), ctml::workspace_error);
    CHECK_THROWS_AS(ws.set_model_alias("keras-mnist", "3", 1), ctml::workspace_error);
    CHECK_THROWS_AS(ws.get_model("keras-mnist@nobody"), ctml::workspace_error);
    CHECK_THROWS_AS(ws.get_model("keras-mnist:0"), ctml::workspace_error);
    CHECK_THROWS_AS(ws.get_model("keras-mnist:x"), ctml::workspace_error);

    // Deleting a version never frees its number.
    ws.delete_model_version("keras-mnist:2");
    CHECK_THROWS_AS(ws.get_model("keras-mnist:2"), ctml::workspace_error);
    CHECK_THROWS_AS(ws.get_model("keras-mnist@champion"), ctml::workspace_error);
    CHECK(ws.register_model(reg).version == 3);
    CHECK(ws.model_versions("keras-mnist").size() == 2);

    // A path that does not exist, and a path outside the run, are refused; nothing recorded.
    reg.path = "outputs/missing";
    CHECK(error_of<ctml::workspace_error>([&] { ws.register_model(reg); }).find("does not exist") !=
          std::string::npos);
    reg.path = "../../config.json";
    CHECK_THROWS_AS(ws.register_model(reg), ctml::workspace_error);
    CHECK(ws.model_versions("keras-mnist").size() == 2);
    CHECK(ws.latest_model("keras-mnist").version == 3);

    // From a plain path, without a run.
    cw::model_registration plain;
    plain.name = "chainer-dnn-mnist";
    plain.path = (dir / "dl" / "weights.npz").string();
    const auto c1 = ws.register_model(plain);
    CHECK(c1.id() == "chainer-dnn-mnist:1");
    CHECK(c1.run_id.empty());
    REQUIRE(c1.files.size() == 1);
    CHECK(c1.files[0].path == "weights.npz");
    fs::remove_all(dir);
}

TEST_CASE("schema: a version-1 database is migrated forward and keeps its records") {
    const fs::path dir = fresh_dir("migrate");
    fs::create_directories(dir);
    {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open((dir / "ctml.db").c_str(), &db) == SQLITE_OK);
        const std::string v1 = std::string(cw::detail::schema_v1) +
                               "UPDATE schema_version SET version = 1;"
                               "INSERT INTO experiments (name, created) VALUES ('old', 1);"
                               "INSERT INTO runs (run_id, experiment, state, created) VALUES "
                               "('old_1_00000000', 1, 'Completed', 1);"
                               "INSERT INTO metric_series (run, key, points) VALUES "
                               "(1, 'Loss', 1);"
                               "INSERT INTO metric_chunks (series, first, count, data) "
                               "VALUES (1, 0, 1, X'000000000000E03F' || X'0000000000000000' "
                               "|| X'0100000000000000');";
        char* err = nullptr;
        REQUIRE_MESSAGE(sqlite3_exec(db, v1.c_str(), nullptr, nullptr, &err) == SQLITE_OK,
                        (err ? err : ""));
        sqlite3_close(db);
    }
    cw::sqlite_store store(dir);
    CHECK(store.schema() == cw::detail::schema_version);
    CHECK(store.runs({}).at(0).id == "old_1_00000000");
    CHECK(store.metrics("old_1_00000000", "Loss").at(0).value == 0.5);
    // The tables of version 2 work.
    CHECK(store.datasets().empty());
    fs::remove_all(dir);
}

TEST_CASE("refused databases: not SQLite, a newer schema, SQLite without ctml's tables") {
    const fs::path dir = fresh_dir("refuse");
    write(dir / "ctml.db", "this is not a database, it is a text file of some length......");
    std::string msg = error_of<ctml::workspace_error>([&] { cw::sqlite_store s(dir); });
    CHECK(msg.find("not an SQLite database") != std::string::npos);
    CHECK(ctml::io::read_file(dir / "ctml.db").rfind("this is not", 0) == 0); // untouched

    fs::remove(dir / "ctml.db");
    {
        cw::sqlite_store s(dir);
    }
    {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open((dir / "ctml.db").c_str(), &db) == SQLITE_OK);
        REQUIRE(sqlite3_exec(db, "UPDATE schema_version SET version = 99", nullptr, nullptr,
                             nullptr) == SQLITE_OK);
        sqlite3_close(db);
    }
    msg = error_of<ctml::workspace_error>([&] { cw::sqlite_store s(dir); });
    CHECK(msg.find("newer ctml") != std::string::npos);
    CHECK(msg.find("99") != std::string::npos);

    const fs::path other = fresh_dir("other");
    {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open((other / "ctml.db").c_str(), &db) == SQLITE_OK);
        REQUIRE(sqlite3_exec(db, "CREATE TABLE t (x)", nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(db);
    }
    msg = error_of<ctml::workspace_error>([&] { cw::sqlite_store s(other); });
    CHECK(msg.find("not a ctml store") != std::string::npos);
    fs::remove_all(dir);
    fs::remove_all(other);
}

TEST_CASE("submitted runs: created by the store, reported into through CTML_RUN_DIR") {
    const fs::path dir = fresh_dir("submit");
    cw::workspace ws = cw::create(dir, "sub");
    const cw::run_info queued = ws.create_run("keras-mnist", run_state::queued, R"({"a":1})");
    CHECK(queued.state == run_state::queued);
    ::setenv("CTML_RUN_DIR", (dir / "runs" / queued.id).c_str(), 1);
    {
        ctml::run::context_options o;
        auto ctx = ctml::run::context::start(o);
        ::unsetenv("CTML_RUN_DIR");
        REQUIRE(ctx.active());
        CHECK(ctx.id() == queued.id);
        CHECK_FALSE(ctx.offline());
        ctx.log("Accuracy", 0.9);
        ctx.fail("out of patience");
    }
    const auto d = ws.get_run(queued.id);
    CHECK(d.info.state == run_state::failed);
    CHECK(d.info.reason == "out of patience");
    CHECK(d.job_json == R"({"a":1})");
    std::vector<run_state> states;
    for (const auto& h : d.history) {
        states.push_back(h.state);
    }
    CHECK(states == std::vector<run_state>{run_state::not_started, run_state::queued,
                                           run_state::running, run_state::failed});
    CHECK_THROWS_AS(ws.set_run_state(queued.id, run_state::running), ctml::workspace_error);
    fs::remove_all(dir);
}

TEST_CASE("ingest across read chunks and metric chunks: every point once, in order") {
    const fs::path dir = fresh_dir("chunks");
    cw::create(dir, "chunks");
    ctml::run::context_options o;
    o.experiment = "chunks";
    o.workspace = dir;
    o.ignore_environment = true;
    auto ctx = ctml::run::context::start(o);
    cw::sqlite_store_options small;
    small.ingest_chunk = 7777; // lines straddle the reads
    cw::sqlite_store store(dir, small);
    constexpr int n = 10000; // more than two metric chunks of 4096
    for (int i = 0; i < n; ++i) {
        ctx.log("a", static_cast<double>(i));
        if (i % 3 == 0) {
            ctx.log("b", -static_cast<double>(i));
        }
        if (i == 1234 || i == 4095 || i == 4096 || i == 7777) {
            ctx.flush();
            store.sync_run(ctx.id()); // partial chunks are filled up by later ingests
        }
    }
    ctx.end();
    store.sync();
    store.sync(); // nothing new
    const auto a = store.metrics(ctx.id(), "a");
    REQUIRE(a.size() == n);
    for (int i = 0; i < n; ++i) {
        if (a[static_cast<std::size_t>(i)].value != i || a[static_cast<std::size_t>(i)].step != i) {
            FAIL_CHECK("point " << i);
            break;
        }
    }
    CHECK(store.metrics(ctx.id(), "b").size() == (n + 2) / 3);
    CHECK(store.metrics(ctx.id(), std::nullopt).size() == n + (n + 2) / 3);
    CHECK(store.get_run(ctx.id()).info.state == run_state::completed);
    fs::remove_all(dir);
}

TEST_CASE("a writer on another host is judged by its heartbeat") {
    const fs::path dir = fresh_dir("remote");
    cw::create(dir, "remote");
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const auto events = [&](const std::string& id, long long last) {
        return "{\"t\":\"start\",\"ts\":" + std::to_string(last - 1000) + ",\"run\":\"" + id +
               "\",\"exp\":\"remote\",\"pid\":4242,\"pid_start\":7,\"host\":\"node-17\","
               "\"boot\":\"another-boot\",\"offline\":false,\"format\":1}\n"
               "{\"t\":\"state\",\"ts\":" + std::to_string(last - 1000) +
               ",\"state\":\"Running\",\"reason\":\"\"}\n"
               "{\"t\":\"m\",\"ts\":" + std::to_string(last) +
               ",\"k\":\"Loss\",\"v\":0.5,\"s\":0}\n"
               "{\"t\":\"hb\",\"ts\":" + std::to_string(last) + "}\n";
    };
    write(dir / "runs" / "remote_1_stale" / "events.jsonl", events("remote_1_stale", now - 600000));
    write(dir / "runs" / "remote_2_fresh" / "events.jsonl", events("remote_2_fresh", now));
    cw::workspace ws = cw::open(dir);
    const auto stale = ws.get_run("remote_1_stale");
    CHECK(stale.info.state == run_state::failed);
    CHECK(stale.info.reason.find("no heartbeat") != std::string::npos);
    CHECK(stale.info.reason.find("node-17") != std::string::npos);
    CHECK(ws.metrics("remote_1_stale", "Loss").size() == 1);
    CHECK(ws.get_run("remote_2_fresh").info.state == run_state::running);
    fs::remove_all(dir);
}

TEST_CASE("run_handle::of finds a store whose config.json sits above it (\"location\")") {
    const fs::path dir = fresh_dir("location");
    write(dir / ".ctml" / "config.json", R"({"name": "located", "location": "../store"})");
    auto ctx = start_run(dir, "loc");
    REQUIRE(ctx.active());
    CHECK(ctx.workspace_root() == dir / "store");
    write(ctx.outputs_dir() / "m.bin", "m");
    auto run = cw::run_handle::of(ctx);
    CHECK(run.register_model("located-model", "outputs/m.bin").id() == "located-model:1");
    ctx.end();
    fs::remove_all(dir);
}
