// SPDX-License-Identifier: MIT
#include "ctml/data/mnist.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdlib>
#include <numeric>

#include "idx_files.hpp"

using namespace ctml_test;
using ctml::data_error;

namespace {

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

struct split_files {
    bytes images;  // n × 28 × 28
    bytes labels;  // n
};

split_files make_split(std::uint32_t n, std::uint32_t seed) {
    split_files s;
    s.images = pattern(std::size_t{n} * 28 * 28, seed);
    s.labels.resize(n);
    for (std::uint32_t i = 0; i < n; ++i) {
        s.labels[i] = static_cast<std::uint8_t>((i * 7 + seed) % 10);
    }
    return s;
}

// Writes a small MNIST-shaped folder: train files nested two levels down (gzip), test files at
// the top (raw), as a mounted dataset might lay them out.
void write_small_mnist(const temp_dir& dir, const split_files& train, const split_files& test) {
    fs::create_directories(dir / "mnist/nested");
    write_gz(dir / "mnist/nested/train-images-idx3-ubyte.gz",
             idx_bytes(0x08, {static_cast<std::uint32_t>(train.labels.size()), 28, 28},
                       train.images));
    write_gz(dir / "mnist/nested/train-labels-idx1-ubyte.gz",
             idx_bytes(0x08, {static_cast<std::uint32_t>(train.labels.size())}, train.labels));
    write_raw(dir / "t10k-images-idx3-ubyte",
              idx_bytes(0x08, {static_cast<std::uint32_t>(test.labels.size()), 28, 28},
                        test.images));
    write_raw(dir / "t10k-labels-idx1-ubyte",
              idx_bytes(0x08, {static_cast<std::uint32_t>(test.labels.size())}, test.labels));
}

} // namespace

TEST_CASE("load_mnist: small files, nested, raw and gzip") {
    temp_dir dir("mnist");
    const auto train = make_split(12, 1);
    const auto test = make_split(5, 2);
    write_small_mnist(dir, train, test);

    const ctml::mnist m = ctml::load_mnist(dir.path());
    CHECK(m.train.size() == 12);
    CHECK(m.test.size() == 5);
    CHECK(m.train.dim == 784);
    CHECK(m.test.dim == 784);
    CHECK(m.train.classes == 10);
    CHECK(m.train.scale == doctest::Approx(1.0 / 255.0));
    CHECK(m.train.features == train.images);
    CHECK(m.test.features == test.images);
    for (std::size_t i = 0; i < 12; ++i) {
        CHECK(m.train.labels[i] == train.labels[i]);
    }
    for (std::size_t i = 0; i < 5; ++i) {
        CHECK(m.test.labels[i] == test.labels[i]);
    }
    CHECK_NOTHROW(m.train.validate("train"));
    CHECK_NOTHROW(m.test.validate("test"));

    // gather_features applies the scale: bytes become [0, 1].
    const std::size_t row[] = {3};
    std::vector<float> x(784);
    m.train.gather_features<float>(row, x.data());
    CHECK(x[100] == doctest::Approx(train.images[3 * 784 + 100] / 255.0f));
}

TEST_CASE("load_mnist: a missing file names the file and the folder searched") {
    temp_dir dir("mnist");
    write_small_mnist(dir, make_split(3, 1), make_split(2, 2));
    fs::remove(dir / "t10k-labels-idx1-ubyte");
    const auto msg = thrown<data_error>([&] { ctml::load_mnist(dir.path()); });
    CHECK(contains(msg, "t10k-labels-idx1-ubyte (or t10k-labels-idx1-ubyte.gz) not found under " +
                            dir.path().string() + " (searched recursively)"));
    const auto msg2 = thrown<data_error>([&] { ctml::load_mnist(dir / "absent"); });
    CHECK(contains(msg2, (dir / "absent").string()));
}

TEST_CASE("load_mnist: images and labels with different counts") {
    temp_dir dir("mnist");
    auto train = make_split(6, 1);
    write_small_mnist(dir, train, make_split(2, 2));
    write_gz(dir / "mnist/nested/train-labels-idx1-ubyte.gz", idx_bytes(0x08, {5}, bytes(5, 1)));
    const auto msg = thrown<data_error>([&] { ctml::load_mnist(dir.path()); });
    CHECK(contains(msg, (dir / "mnist/nested/train-images-idx3-ubyte.gz").string() +
                            " holds 6 images but " +
                            (dir / "mnist/nested/train-labels-idx1-ubyte.gz").string() +
                            " holds 5 labels"));
}

TEST_CASE("load_mnist: a label out of range names the file, the index and the value") {
    temp_dir dir("mnist");
    write_small_mnist(dir, make_split(4, 1), make_split(3, 2));
    write_raw(dir / "t10k-labels-idx1-ubyte", idx_bytes(0x08, {3}, {0, 9, 10}));
    const auto msg = thrown<data_error>([&] { ctml::load_mnist(dir.path()); });
    CHECK(contains(msg, (dir / "t10k-labels-idx1-ubyte").string() +
                            ": label 10 at index 2 is outside [0, 10)"));
}

TEST_CASE("load_mnist: wrong shapes of the images and labels files") {
    temp_dir dir("mnist");
    write_small_mnist(dir, make_split(4, 1), make_split(3, 2));

    SUBCASE("labels with two dimensions") {
        write_raw(dir / "t10k-labels-idx1-ubyte", idx_bytes(0x08, {3, 1}, {0, 1, 2}));
        const auto msg = thrown<data_error>([&] { ctml::load_mnist(dir.path()); });
        CHECK(contains(msg, "a labels file has 1 dimension, this one has 2 (3 x 1)"));
    }
    SUBCASE("images with one dimension") {
        write_raw(dir / "t10k-images-idx3-ubyte", idx_bytes(0x08, {3}, {0, 1, 2}));
        const auto msg = thrown<data_error>([&] { ctml::load_mnist(dir.path()); });
        CHECK(contains(msg, (dir / "t10k-images-idx3-ubyte").string() +
                                ": an images file needs at least 2 dimensions"));
    }
    SUBCASE("test images of another size than the train images") {
        write_raw(dir / "t10k-images-idx3-ubyte", idx_bytes(0x08, {3, 20, 20}, pattern(1200)));
        const auto msg = thrown<data_error>([&] { ctml::load_mnist(dir.path()); });
        CHECK(contains(msg, "test images have 400 values each but the train images"));
    }
    SUBCASE("images other than 28 x 28 are accepted when both splits agree") {
        write_raw(dir / "t10k-images-idx3-ubyte", idx_bytes(0x08, {3, 2, 3, 4}, pattern(72)));
        write_gz(dir / "mnist/nested/train-images-idx3-ubyte.gz",
                 idx_bytes(0x08, {4, 24}, pattern(96)));
        const auto m = ctml::load_mnist(dir.path());
        CHECK(m.train.dim == 24);
        CHECK(m.test.dim == 24);
    }
    SUBCASE("a malformed file is reported with its own name") {
        write_raw(dir / "t10k-images-idx3-ubyte", idx_bytes(0x08, {3, 28, 28}, pattern(100)));
        const auto msg = thrown<ctml::format_error>([&] { ctml::load_mnist(dir.path()); });
        CHECK(contains(msg, (dir / "t10k-images-idx3-ubyte").string() + ": truncated data"));
    }
}

namespace {

// The real MNIST folder: $CTML_MNIST_DIR, else ../shared/data/mnist next to the source tree.
fs::path real_mnist_folder() {
    if (const char* env = std::getenv("CTML_MNIST_DIR"); env && *env) {
        return env;
    }
    const fs::path here(__FILE__);
    if (here.is_absolute()) {
        return here.parent_path().parent_path().parent_path().parent_path() / "shared/data/mnist";
    }
    return {};
}

template <std::size_t N>
std::array<int, N> histogram(const std::vector<std::int32_t>& labels) {
    std::array<int, N> h{};
    for (const auto y : labels) {
        ++h.at(static_cast<std::size_t>(y));
    }
    return h;
}

} // namespace

TEST_CASE("load_mnist: the real MNIST files") {
    const fs::path folder = real_mnist_folder();
    if (folder.empty() || !fs::is_directory(folder)) {
        MESSAGE("real MNIST not found (set CTML_MNIST_DIR); skipped: " << folder.string());
        return;
    }
    const ctml::mnist m = ctml::load_mnist(folder);
    REQUIRE(m.train.size() == 60000);
    REQUIRE(m.test.size() == 10000);
    CHECK(m.train.dim == 784);
    CHECK(m.test.dim == 784);
    CHECK(m.train.labels[0] == 5);
    CHECK(m.test.labels[0] == 7);
    CHECK(histogram<10>(m.train.labels) ==
          std::array<int, 10>{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949});
    CHECK(histogram<10>(m.test.labels) ==
          std::array<int, 10>{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009});
    // Sums of all pixel bytes, computed independently with Python's gzip module.
    CHECK(std::accumulate(m.train.features.begin(), m.train.features.end(), std::uint64_t{0}) ==
          1567298545u);
    CHECK(std::accumulate(m.test.features.begin(), m.test.features.end(), std::uint64_t{0}) ==
          264923200u);
}

TEST_CASE("load_fashion_mnist: Debian's dataset-fashion-mnist, when installed") {
    const fs::path folder(ctml::debian_fashion_mnist_folder);
    if (!fs::is_directory(folder)) {
        MESSAGE("dataset-fashion-mnist is not installed; skipped");
        return;
    }
    const ctml::mnist m = ctml::load_fashion_mnist();
    CHECK(m.train.size() == 60000);
    CHECK(m.test.size() == 10000);
    CHECK(m.train.dim == 784);
    std::array<int, 10> train_expected{};
    train_expected.fill(6000);
    std::array<int, 10> test_expected{};
    test_expected.fill(1000);
    CHECK(histogram<10>(m.train.labels) == train_expected);
    CHECK(histogram<10>(m.test.labels) == test_expected);
}
