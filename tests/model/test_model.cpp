// SPDX-License-Identifier: MIT
// Model files (model.json + weights.npz): round trips, every mismatch message, and hostile
// folders (huge widths, paths out of the folder, devices, FIFOs, oversized files, lying npz
// headers), each of which must end in a ctml::error naming the file and field with a bounded
// peak RSS, measured in a child process.
// GCC 12 at -O3 reports a false -Wrestrict inside core/layout.hpp's `"-" + std::to_string(..)`
// (the pattern io/file.hpp avoids); not this test's to fix.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wrestrict"
#endif
#include "ctml/model/model.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include "ctml/core/error.hpp"
#include "ctml/io/file.hpp"
#include "ctml/io/json_read.hpp"
#include "ctml/io/npz.hpp"
#include "ctml/model/architecture.hpp"
#include "model_test_util.hpp"

namespace fs = std::filesystem;
using ctml_test::scratch_dir;

namespace {

using mnist_net = ctml::sequential<ctml::input<784>, ctml::dense<ctml::dynamic, ctml::relu>,
                                   ctml::dense<10, ctml::softmax>>;
using small_net = ctml::sequential<ctml::input<4>, ctml::dense<5, ctml::relu>,
                                   ctml::dense<3, ctml::softmax>>;
using small_dynamic = ctml::sequential<ctml::input<4>, ctml::dense<ctml::dynamic, ctml::tanh>,
                                       ctml::dense<ctml::dynamic, ctml::relu>,
                                       ctml::dense<3, ctml::softmax>>;

// A model.json for mnist_net with `units` in its first layer, hand-written as a hostile
// tester would (about 1 kB).
std::string mnist_model_json(const std::string& units, const std::string& weights = "weights.npz") {
    return R"({"format": "ctml.model/1", "ctml_version": "0.1.0", "weights": ")" + weights +
           R"(", "architecture": {"class_name": "Sequential", "config": {"name": "sequential",
  "layers": [
   {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 784], "dtype": "float32"}},
   {"class_name": "Dense", "config": {"name": "dense_1", "units": )" + units +
           R"(, "activation": "relu"}},
   {"class_name": "Dense", "config": {"name": "dense_2", "units": 10, "activation": "softmax"}}
  ]}}})";
}

void write(const fs::path& p, const std::string& s) { ctml::io::write_file_atomic(p, s); }

// Replaces the first `from` in `s` with `to`.
std::string replaced(std::string s, const std::string& from, const std::string& to) {
    const auto at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
}

template <class Arch, class T = float>
ctml::network<Arch, T> saved(const fs::path& dir, std::uint64_t seed = 7) {
    ctml::network<Arch, T> net;
    net.initialize(seed);
    ctml::save_model(net, dir);
    return net;
}

// Runs load_model<Arch> on `dir` in a child: status 0 when it throws an error of `code` whose
// message contains every one of `parts`; the parent then checks the child's peak RSS.
template <class Arch>
void expect_hostile(const fs::path& dir, ctml::error_code code,
                    const std::vector<std::string>& parts) {
    const auto r = ctml_test::run_in_child([&]() -> int {
        try {
            (void)ctml::load_model<Arch>(dir);
        } catch (const ctml::error& e) {
            if (e.code() != code) {
                return 1;
            }
            const std::string m = e.what();
            for (const std::string& p : parts) {
                if (m.find(p) == std::string::npos) {
                    return 1;
                }
            }
            return 0;
        } catch (...) {
            return 2; // std::bad_alloc and friends: not a ctml::error
        }
        return 5;
    });
    // The message itself, for the log (the child showed it is bounded to produce).
    std::string message;
    if (r.status == 0 || r.status == 1) {
        try {
            (void)ctml::load_model<Arch>(dir);
        } catch (const ctml::error& e) {
            message = e.what();
        }
    }
    MESSAGE("peak RSS " << r.max_rss_kib << " KiB: " << message);
    CHECK(r.exited);
    CHECK(r.status == 0);
    // The test process itself is about 10 MiB; a check before allocation keeps it there.
    CHECK(r.max_rss_kib < 128 * 1024);
}

} // namespace

// ---- round trips ----

TEST_CASE("model: save_model / load_model round trip, static widths, bit for bit") {
    scratch_dir dir;
    const auto net = saved<small_net>(dir.path());
    const auto again = ctml::load_model<small_net>(dir.path());
    CHECK(std::equal(net.parameters().begin(), net.parameters().end(),
                     again.parameters().begin(), again.parameters().end()));
    const auto doc = ctml::io::load_json(dir / "model.json");
    const auto root = doc.root().as_object();
    CHECK(root.get_string("format") == "ctml.model/1");
    CHECK(root.get_string("weights") == "weights.npz");
    const auto arch = root.get_object("architecture");
    CHECK(arch.get_uint("parameter_count") == 4 * 5 + 5 + 5 * 3 + 3);
    const auto npz = ctml::io::load_npz(dir / "weights.npz");
    CHECK(npz.names() ==
          std::vector<std::string>{"dense_1/kernel", "dense_1/bias", "dense_2/kernel", "dense_2/bias"});
    CHECK(npz.at("dense_1/kernel").shape == ctml::io::npy_shape{4, 5});
    CHECK(npz.at("dense_2/bias").shape == ctml::io::npy_shape{3});
}

TEST_CASE("model: dynamic widths come back from model.json; double networks too") {
    scratch_dir dir;
    ctml::layer_widths<small_dynamic> w;
    w.set(0, 7).set(1, 2);
    ctml::network<small_dynamic, double> net(w);
    net.initialize(3);
    ctml::save_model(net, dir.path());
    const auto again = ctml::load_model<small_dynamic, double>(dir.path());
    CHECK(again.width(1) == 7);
    CHECK(again.width(2) == 2);
    CHECK(std::equal(net.parameters().begin(), net.parameters().end(),
                     again.parameters().begin(), again.parameters().end()));
    // float64 weights read into a float network (rounded), as numpy's default dtype would be.
    const auto as_float = ctml::load_model<small_dynamic, float>(dir.path());
    CHECK(as_float.parameters()[0] == static_cast<float>(net.parameters()[0]));
}

TEST_CASE("model: the training field is stored; write_architecture of widths equals the network's") {
    scratch_dir dir;
    ctml::network<small_net> net;
    net.initialize(1);
    ctml::save_model(net, dir.path(), [](ctml::io::json_writer& w) {
        w.begin_object().field("epochs", 3).end_object();
    });
    const auto doc = ctml::io::load_json(dir / "model.json");
    CHECK(doc.root().as_object().get_object("training").get_uint("epochs") == 3);

    ctml::io::json_writer a, b;
    ctml::write_architecture(a, net);
    ctml::write_architecture<small_net>(b, ctml::layer_widths<small_net>{});
    CHECK(a.take() == b.take());
}

TEST_CASE("model: save_model refuses a folder it cannot create with a file_error") {
    scratch_dir dir;
    write(dir / "plain", "x");
    ctml::network<small_net> net;
    try {
        ctml::save_model(net, dir / "plain" / "model");
        FAIL("expected ctml::file_error");
    } catch (const ctml::file_error& e) {
        CHECK(std::string(e.what()).find("cannot create the model folder") != std::string::npos);
        CHECK(e.code() == ctml::error_code::file);
        CHECK(e.os_error());
    }
}

// ---- every mismatch names the file and the field ----

TEST_CASE("model: architecture mismatches name model.json and the field") {
    scratch_dir dir;
    saved<small_net>(dir.path());
    const std::string json = ctml::io::read_file(dir / "model.json");
    const std::string file = (dir / "model.json").string();
    const auto load_msg = [&](const std::string& changed) {
        write(dir / "model.json", changed);
        return CTML_THROW_MESSAGE(ctml::format_error, ctml::load_model<small_net>(dir.path()));
    };
    CHECK(load_msg(replaced(json, "ctml.model/1", "ctml.model/2")) ==
          file + ": field \"format\" is \"ctml.model/2\", expected \"ctml.model/1\"");
    CHECK(load_msg(replaced(json, "\"units\": 5,", "\"units\": 6,")) ==
          file + ": field \"architecture.config.layers[1].config.units\": layer 1 has 6 units, "
                 "the network type has 5");
    CHECK(load_msg(replaced(json, "\"activation\": \"relu\"", "\"activation\": \"tanh\"")) ==
          file + ": field \"architecture.config.layers[1].config.activation\": layer 1 uses "
                 "activation \"tanh\", the network type has \"relu\"");
    CHECK(load_msg(replaced(json, "\"class_name\": \"Dense\"", "\"class_name\": \"Conv2D\"")) ==
          file + ": field \"architecture.config.layers[1].class_name\": layer 1 is \"Conv2D\", "
                 "the network type has \"Dense\"");
    CHECK(load_msg(replaced(json, "\"class_name\": \"Sequential\"", "\"class_name\": \"Model\"")) ==
          file + ": field \"architecture.class_name\": is \"Model\", expected \"Sequential\"");
    CHECK(load_msg(replaced(json, "\"class_name\": \"InputLayer\"", "\"class_name\": \"Dense\"")) ==
          file + ": field \"architecture.config.layers[0].class_name\": the first entry is "
                 "\"Dense\", expected \"InputLayer\"");
    CHECK(load_msg(replaced(json, "            4\n", "            6\n")) ==
          file + ": field \"architecture.config.layers[0].config.batch_input_shape[1]\": input "
                 "width is 6, the network type has input<4>");
    CHECK(load_msg(replaced(json, "\"input_dim\": 5", "\"input_dim\": 9")) ==
          file + ": field \"architecture.config.layers[2].config.input_dim\": layer 2 declares 9 "
                 "inputs, the layer before it has 5 outputs");
    CHECK(load_msg(replaced(json, "\"units\": 5,", "\"units\": \"5\",")) ==
          file + ": field \"architecture.config.layers[1].config.units\": expected a width in "
                 "[1, 1048576] (CTML_MAX_WIDTH), got string \"5\"");
    CHECK(load_msg(replaced(json, "\"units\": 5,", "\"units\": 0,")) ==
          file + ": field \"architecture.config.layers[1].config.units\": expected a width in "
                 "[1, 1048576] (CTML_MAX_WIDTH), got integer 0");
    // One layer fewer than the type.
    using three = ctml::sequential<ctml::input<4>, ctml::dense<5, ctml::relu>,
                                   ctml::dense<5, ctml::relu>, ctml::dense<3, ctml::softmax>>;
    write(dir / "model.json", json);
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, ctml::load_model<three>(dir.path())) ==
          file + ": field \"architecture.config.layers\": holds 3 entries, the network type has "
                 "an InputLayer and 3 layers");
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, ctml::io::parse_json("{", "m.json")).find(
              "m.json: invalid JSON") == 0);
}

TEST_CASE("model: every weights.npz shape, entry and dtype mismatch is named") {
    scratch_dir dir;
    saved<small_net>(dir.path());
    const std::string weights = (dir / "weights.npz").string();
    const auto with = [&](ctml::io::npz_writer w) {
        w.save(dir / "weights.npz");
        return CTML_THROW_MESSAGE(ctml::format_error, ctml::load_model<small_net>(dir.path()));
    };
    const std::vector<float> k1(20), b1(5), k2(15), b2(3), wrong(24);
    const auto base = [&] {
        ctml::io::npz_writer w;
        return w;
    };
    {
        auto w = base();
        w.add("dense_1/kernel", {5, 4}, k1).add("dense_1/bias", {5}, b1);
        w.add("dense_2/kernel", {5, 3}, k2).add("dense_2/bias", {3}, b2);
        CHECK(with(w) == weights + ": dense_1/kernel has shape (5, 4), expected (4, 5)");
    }
    {
        auto w = base();
        w.add("dense_1/kernel", {4, 5}, k1).add("dense_1/bias", {1, 5}, b1);
        w.add("dense_2/kernel", {5, 3}, k2).add("dense_2/bias", {3}, b2);
        CHECK(with(w) == weights + ": dense_1/bias has shape (1, 5), expected (5,)");
    }
    {
        auto w = base();
        w.add("dense_1/kernel", {4, 5}, k1).add("dense_1/bias", {5}, b1);
        w.add("dense_2/kernel", {6, 4}, wrong).add("dense_2/bias", {3}, b2);
        CHECK(with(w) == weights + ": dense_2/kernel has shape (6, 4), expected (5, 3)");
    }
    {
        auto w = base();
        w.add("dense_1/kernel", {4, 5}, k1).add("dense_1/bias", {5}, b1);
        w.add("dense_2/kernel", {5, 3}, k2).add("dense_2/bias", {2}, std::vector<float>(2));
        CHECK(with(w) == weights + ": dense_2/bias has shape (2,), expected (3,)");
    }
    {
        auto w = base();
        w.add("dense_1/kernel", {4, 5}, k1).add("dense_1/bias", {5}, b1);
        w.add("dense_2/kernel", {5, 3}, k2);
        CHECK(with(w) == weights + ": no entry \"dense_2/bias\" (entries: dense_1/kernel, "
                                   "dense_1/bias, dense_2/kernel)");
    }
    {
        auto w = base();
        w.add("dense_1/kernel", {4, 5}, std::vector<std::int64_t>(20)).add("dense_1/bias", {5}, b1);
        w.add("dense_2/kernel", {5, 3}, k2).add("dense_2/bias", {3}, b2);
        CHECK(with(w) == weights + ": dense_1/kernel is stored as <i8, which does not convert to <f4");
    }
    {
        ctml::io::npz_writer w;
        w.add("dense_1/kernel", {4, 5}, k1);
        auto bytes = w.bytes();
        ctml::io::write_file_atomic(dir / "weights.npz", bytes.substr(0, bytes.size() / 2));
        CHECK(CTML_THROW_MESSAGE(ctml::format_error, ctml::load_model<small_net>(dir.path()))
                  .rfind(weights + ": not a ZIP archive, or truncated", 0) == 0);
    }
}

// ---- hostile folders: a ctml::error naming file and field, bounded memory ----

TEST_CASE("model hostile: units 1e9 in a 1 kB model.json") {
    scratch_dir dir;
    write(dir / "model.json", mnist_model_json("1000000000"));
    CHECK(ctml::io::read_file(dir / "model.json").size() < 1024);
    expect_hostile<mnist_net>(dir.path(), ctml::error_code::format,
                              {(dir / "model.json").string(),
                               "field \"architecture.config.layers[1].config.units\"",
                               "CTML_MAX_WIDTH", "got integer 1000000000"});
}

TEST_CASE("model hostile: units 1e8, and 1e8 written as a float") {
    scratch_dir dir;
    write(dir / "model.json", mnist_model_json("100000000"));
    expect_hostile<mnist_net>(dir.path(), ctml::error_code::format,
                              {"model.json: field \"architecture.config.layers[1].config.units\"",
                               "CTML_MAX_WIDTH", "got integer 100000000"});
    write(dir / "model.json", mnist_model_json("1e8"));
    expect_hostile<mnist_net>(dir.path(), ctml::error_code::format,
                              {"config.units\"", "got number 1e+08"});
}

TEST_CASE("model hostile: widths that overflow a parameter count or a byte size") {
    scratch_dir dir;
    for (const char* units : {"23469140042887471", "5929310595120927305", "18446744073709551615"}) {
        CAPTURE(units);
        write(dir / "model.json", mnist_model_json(units));
        expect_hostile<mnist_net>(dir.path(), ctml::error_code::format,
                                  {"config.units\"", "CTML_MAX_WIDTH", units});
    }
    // Each width within CTML_MAX_WIDTH, the network above CTML_MAX_PARAMETERS.
    write(dir / "model.json", mnist_model_json("1048576"));
    expect_hostile<mnist_net>(dir.path(), ctml::error_code::format,
                              {(dir / "model.json").string(), "CTML_MAX_PARAMETERS"});
}

TEST_CASE("model hostile: a large legal width with weights.npz missing allocates nothing") {
    // 784 × 300000: 235M parameters (940 MB) under CTML_MAX_PARAMETERS; the missing weights
    // must be noticed before the network is sized.
    scratch_dir dir;
    write(dir / "model.json", mnist_model_json("300000"));
    expect_hostile<mnist_net>(dir.path(), ctml::error_code::file,
                              {"field \"weights\"", "weights.npz",
                               "No such file or directory"});
}

TEST_CASE("model hostile: an npz header that claims the shape the widths want but holds less") {
    scratch_dir dir;
    write(dir / "model.json", mnist_model_json("300000"));
    // A real (784, 1) kernel whose header is edited to say (784, 300000), padding kept.
    ctml::io::npz_writer w;
    w.add("dense_1/kernel", {784, 1}, std::vector<float>(784));
    std::string bytes = w.bytes();
    bytes = replaced(bytes, "(784, 1), }     ", "(784, 300000), }");
    write(dir / "weights.npz", bytes);
    expect_hostile<mnist_net>(dir.path(), ctml::error_code::format,
                              {(dir / "weights.npz").string(), "entry \"dense_1/kernel.npy\"",
                               "truncated data: shape (784, 300000) of <f4 needs 940800000 bytes, "
                               "the entry holds 3136"});
}

TEST_CASE("model hostile: \"weights\" naming a file outside the folder") {
    scratch_dir dir;
    write(dir / "secret", "not weights");
    fs::create_directory(dir / "model");
    const fs::path m = dir / "model";
    const std::string field = (m / "model.json").string() + ": field \"weights\"";
    write(m / "model.json", mnist_model_json("300", "/etc/hostname"));
    expect_hostile<mnist_net>(m, ctml::error_code::file,
                              {field, "\"/etc/hostname\" must be a file name relative to the folder"});
    write(m / "model.json", mnist_model_json("300", "../secret"));
    expect_hostile<mnist_net>(m, ctml::error_code::file, {field, "must not leave the folder"});
    write(m / "model.json", mnist_model_json("300", "sub/../../secret"));
    expect_hostile<mnist_net>(m, ctml::error_code::file, {field, "must not leave the folder"});
    write(m / "model.json", mnist_model_json("300", ""));
    expect_hostile<mnist_net>(m, ctml::error_code::file, {field, "must be a file name"});
    write(m / "model.json", mnist_model_json("300", "."));
    expect_hostile<mnist_net>(m, ctml::error_code::file, {field, "names the folder itself"});
}

TEST_CASE("model hostile: symbolic links out of the folder, to /dev/zero, to /etc/hostname") {
    scratch_dir dir;
    write(dir / "secret", "not weights");
    fs::create_directory(dir / "model");
    const fs::path m = dir / "model";
    write(m / "model.json", mnist_model_json("300"));
    for (const fs::path& target : {dir / "secret", fs::path("/dev/zero"), fs::path("/etc/hostname"),
                                  fs::path("../secret")}) {
        CAPTURE(target);
        fs::remove(m / "weights.npz");
        fs::create_symlink(target, m / "weights.npz");
        expect_hostile<mnist_net>(m, ctml::error_code::file,
                                  {"field \"weights\"", "outside the folder",
                                   "a symbolic link may not leave it"});
    }
    // model.json itself may not point out either.
    write(dir / "outside.json", mnist_model_json("300"));
    fs::remove(m / "model.json");
    fs::create_symlink(dir / "outside.json", m / "model.json");
    expect_hostile<mnist_net>(m, ctml::error_code::file, {"outside the folder"});
}

TEST_CASE("model hostile: a FIFO and a device inside the folder are refused without reading") {
    scratch_dir dir;
    write(dir / "model.json", mnist_model_json("300"));
    REQUIRE(::mkfifo((dir / "weights.npz").c_str(), 0600) == 0);
    // Without O_NONBLOCK the open would wait for a writer forever.
    expect_hostile<mnist_net>(dir.path(), ctml::error_code::file,
                              {(dir / "weights.npz").string(), "not a regular file"});
    fs::remove(dir / "weights.npz");
    fs::create_symlink("/dev/zero", dir / "zero");
    write(dir / "model.json", mnist_model_json("300", "zero"));
    expect_hostile<mnist_net>(dir.path(), ctml::error_code::file, {"outside the folder"});
}

TEST_CASE("model hostile: oversized files are refused before they are read") {
    scratch_dir dir;
    saved<small_net>(dir.path());
    // small_net needs at most 43 × 8 bytes + 4 × 4 KiB + 64 KiB: a 1 GiB (sparse) file is refused.
    const fs::path weights = dir / "weights.npz";
    fs::remove(weights);
    { std::ofstream(weights).put('x'); }
    fs::resize_file(weights, std::uintmax_t{1} << 30);
    expect_hostile<small_net>(dir.path(), ctml::error_code::file,
                              {weights.string(), "1073741824 bytes, more than the limit of 82264"});
    fs::resize_file(dir / "model.json", CTML_MAX_JSON_BYTES + 1);
    expect_hostile<small_net>(dir.path(), ctml::error_code::file,
                              {"model.json", "more than the limit of 67108864"});
}
