// SPDX-License-Identifier: MIT
// Chainer's .npz (serializers.save_npz of an L.Classifier MLP): round trip, the layout Chainer
// names, shape mismatches and bounds.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wrestrict" // core/layout.hpp's string joins at -O3 (GCC 12)
#endif
#include "ctml/model/chainer.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <sys/stat.h>

#include "ctml/io/npz.hpp"
#include "model_test_util.hpp"

namespace fs = std::filesystem;
using ctml_test::scratch_dir;

namespace {
using chainer_net = ctml::sequential<ctml::input<6>, ctml::linear<6, 4, ctml::relu>,
                                     ctml::linear<4, 3, ctml::softmax>>;
}

TEST_CASE("chainer npz: round trip, W stored out × in") {
    scratch_dir dir;
    ctml::network<chainer_net> net;
    net.initialize(5);
    ctml::save_chainer_npz(net, dir / "model.npz");
    const auto npz = ctml::io::load_npz(dir / "model.npz");
    CHECK(npz.names() == std::vector<std::string>{"predictor/l1/W", "predictor/l1/b",
                                                  "predictor/l2/W", "predictor/l2/b"});
    CHECK(npz.at("predictor/l1/W").shape == ctml::io::npy_shape{4, 6});
    const auto w = npz.at("predictor/l1/W").as<float>();
    CHECK(w[1 * 6 + 2] == net.kernel(0)[2 * 4 + 1]); // W[j][i] == kernel[i][j]
    const auto again = ctml::load_chainer_npz<chainer_net>(dir / "model.npz");
    CHECK(std::equal(net.parameters().begin(), net.parameters().end(),
                     again.parameters().begin(), again.parameters().end()));
}

TEST_CASE("chainer npz: shapes, missing arrays, missing and irregular files") {
    scratch_dir dir;
    const fs::path p = dir / "model.npz";
    ctml::io::npz_writer w;
    w.add("predictor/l1/W", {6, 4}, std::vector<float>(24));
    w.add("predictor/l1/b", {4}, std::vector<float>(4));
    w.save(p);
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, ctml::load_chainer_npz<chainer_net>(p)) ==
          p.string() + ": predictor/l1/W has shape (6, 4), expected (4, 6)");
    ctml::io::npz_writer w2;
    w2.add("predictor/l1/W", {4, 6}, std::vector<float>(24));
    w2.add("predictor/l1/b", {4}, std::vector<float>(4));
    w2.save(p);
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, ctml::load_chainer_npz<chainer_net>(p)) ==
          p.string() + ": no entry \"predictor/l2/W\" (entries: predictor/l1/W, predictor/l1/b)");
    CHECK_THROWS_AS(ctml::load_chainer_npz<chainer_net>(dir / "absent.npz"), ctml::file_error);
    REQUIRE(::mkfifo((dir / "fifo.npz").c_str(), 0600) == 0);
    CHECK(CTML_THROW_MESSAGE(ctml::file_error, ctml::load_chainer_npz<chainer_net>(dir / "fifo.npz"))
              .find("not a regular file") != std::string::npos);
    // 43 parameters: at most 43 × 8 + 4 × 4096 + 65536 bytes.
    fs::resize_file(p, 100000);
    CHECK(CTML_THROW_MESSAGE(ctml::file_error, ctml::load_chainer_npz<chainer_net>(p))
              .find("more than the limit of 82264 bytes") != std::string::npos);
}
