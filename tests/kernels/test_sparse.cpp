// SPDX-License-Identifier: MIT
// The sparse first-layer kernels against plain loops, and the CPU engine's sparse path against its
// dense path (the dense path is checked against finite differences in tests/nn).
#include "ctml/kernels/cpu/sparse.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "ctml/core/random.hpp"
#include "ctml/data/dataset.hpp"
#include "ctml/nn/losses.hpp"
#include "ctml/optim/rmsprop.hpp"
#include "ctml/engine/cpu.hpp"
#include "ctml/train/run_config.hpp"

namespace {

std::uint64_t fresh_seed() {
    if (const char* s = std::getenv("CTML_TEST_SEED")) {
        return std::strtoull(s, nullptr, 10);
    }
    return std::random_device{}();
}

// rows × cols with about `density` non-zeros, some exact zeros and negative values.
template <class T>
std::vector<T> sparse_matrix(std::size_t rows, std::size_t cols, double density, ctml::rng& r) {
    std::vector<T> x(rows * cols, T(0));
    for (auto& v : x) {
        if (r.uniform() < density) {
            v = static_cast<T>(r.uniform(-1, 1));
        }
    }
    return x;
}

} // namespace

TEST_CASE_TEMPLATE("compress_rows and transpose_compressed round-trip, and refuse dense input", T,
                   float, double) {
    const auto seed = fresh_seed();
    INFO("CTML_TEST_SEED=" << seed);
    ctml::rng r(seed);
    for (const std::size_t cols : {1u, 15u, 16u, 17u, 100u, 784u}) {
        const std::size_t rows = 13;
        const auto x = sparse_matrix<T>(rows, cols, 0.2, r);
        std::vector<std::uint32_t> rp(rows + 1), ci(rows * cols + 16), cp(cols + 1), ri(rows * cols);
        std::vector<T> v(rows * cols + 16), cv(rows * cols);
        REQUIRE(ctml::kernels::cpu::compress_rows(x.data(), rows, cols, rows * cols, rp.data(),
                                                  ci.data(), v.data()));
        std::size_t nnz = 0;
        for (const T e : x) {
            nnz += e != T(0);
        }
        CHECK(rp[rows] == nnz);
        std::vector<T> back(rows * cols, T(0));
        for (std::size_t i = 0; i < rows; ++i) {
            for (std::size_t p = rp[i]; p < rp[i + 1]; ++p) {
                back[i * cols + ci[p]] = v[p];
            }
        }
        CHECK(back == x);
        ctml::kernels::cpu::transpose_compressed(rows, cols, rp.data(), ci.data(), v.data(),
                                                 cp.data(), ri.data(), cv.data());
        std::fill(back.begin(), back.end(), T(0));
        for (std::size_t j = 0; j < cols; ++j) {
            for (std::size_t p = cp[j]; p < cp[j + 1]; ++p) {
                if (p > cp[j]) {
                    CHECK(ri[p] > ri[p - 1]); // rows in order within a column
                }
                back[ri[p] * cols + j] = cv[p];
            }
        }
        CHECK(back == x);
        if (nnz > 0) {
            CHECK_FALSE(ctml::kernels::cpu::compress_rows(x.data(), rows, cols, nnz - 1,
                                                          rp.data(), ci.data(), v.data()));
        }
    }
}

TEST_CASE_TEMPLATE("sparse_gemm and sparse_gemm_tn equal the dense products", T, float, double) {
    const auto seed = fresh_seed();
    INFO("CTML_TEST_SEED=" << seed);
    ctml::rng r(seed);
    const double tol = sizeof(T) == 4 ? 1e-5 : 1e-13;
    const std::size_t rows = 21, k = 37;
    for (const std::size_t n : {1u, 7u, 16u, 23u, 64u, 100u, 300u}) {
        const auto x = sparse_matrix<T>(rows, k, 0.25, r);
        std::vector<T> w(k * n), d(rows * n);
        for (auto& e : w) e = static_cast<T>(r.uniform(-1, 1));
        for (auto& e : d) e = static_cast<T>(r.uniform(-1, 1));
        std::vector<std::uint32_t> rp(rows + 1), ci(rows * k + 16), cp(k + 1), ri(rows * k);
        std::vector<T> v(rows * k + 16), cv(rows * k);
        REQUIRE(ctml::kernels::cpu::compress_rows(x.data(), rows, k, rows * k, rp.data(), ci.data(),
                                                  v.data()));
        ctml::kernels::cpu::transpose_compressed(rows, k, rp.data(), ci.data(), v.data(), cp.data(),
                                                 ri.data(), cv.data());
        // Y = X · W, computed in two row blocks as two threads would, over a garbage-filled Y.
        std::vector<T> y(rows * n, T(7));
        const std::size_t mid = rows / 2;
        ctml::kernels::cpu::sparse_gemm(0, mid, rp.data(), ci.data(), v.data(), w.data(), n, n,
                                        y.data(), n);
        ctml::kernels::cpu::sparse_gemm(mid, rows, rp.data(), ci.data(), v.data(), w.data(), n, n,
                                        y.data(), n);
        // dW = Xᵀ · D, in two row blocks.
        std::vector<T> dw(k * n, T(7));
        ctml::kernels::cpu::sparse_gemm_tn(0, k / 3, cp.data(), ri.data(), cv.data(), d.data(), n, n,
                                           dw.data(), n);
        ctml::kernels::cpu::sparse_gemm_tn(k / 3, k, cp.data(), ri.data(), cv.data(), d.data(), n,
                                           n, dw.data(), n);
        double worst_y = 0, worst_w = 0;
        for (std::size_t i = 0; i < rows; ++i) {
            for (std::size_t j = 0; j < n; ++j) {
                double e = 0;
                for (std::size_t f = 0; f < k; ++f) {
                    e += static_cast<double>(x[i * k + f]) * static_cast<double>(w[f * n + j]);
                }
                worst_y = std::max(worst_y, std::abs(e - static_cast<double>(y[i * n + j])));
            }
        }
        for (std::size_t f = 0; f < k; ++f) {
            for (std::size_t j = 0; j < n; ++j) {
                double e = 0;
                for (std::size_t i = 0; i < rows; ++i) {
                    e += static_cast<double>(x[i * k + f]) * static_cast<double>(d[i * n + j]);
                }
                worst_w = std::max(worst_w, std::abs(e - static_cast<double>(dw[f * n + j])));
            }
        }
        CAPTURE(n);
        CHECK(worst_y < tol);
        CHECK(worst_w < tol);
    }
}

namespace {
using net_t = ctml::sequential<ctml::input<120>, ctml::dense<70, ctml::relu>,
                               ctml::dense<5, ctml::softmax>>;
}

template <class T>
using sparse_job =
    ctml::run_config<net_t, ctml::sparse_categorical_crossentropy, ctml::rmsprop<>,
                     ctml::scalar<T>>;

template <class T>
typename sparse_job<T>::settings_type settings(std::size_t batch, std::size_t threads) {
    auto s = sparse_job<T>::defaults();
    s.batch_size = batch;
    s.threads = threads;
    return s;
}

TEST_CASE("the CPU engine's sparse first layer gives the dense path's gradients and steps") {
    const auto seed = fresh_seed();
    INFO("CTML_TEST_SEED=" << seed);
    ctml::rng r(seed);
    for (const std::size_t threads : {1u, 2u}) {
        CAPTURE(threads);
        ctml::network<net_t, double> a;
        a.initialize(seed);
        ctml::network<net_t, double> b = a;
        using tr = ctml::cpu_engine<sparse_job<double>>;
        tr dense(a, settings<double>(40, threads)), sparse(b, settings<double>(40, threads));
        dense.set_sparse_input_density(0);
        sparse.set_sparse_input_density(1);
        std::vector<std::int32_t> labels(40);
        for (int s = 0; s < 5; ++s) {
            const auto x = sparse_matrix<double>(40, 120, 0.2, r);
            for (auto& l : labels) l = static_cast<std::int32_t>(r.below(5));
            const std::size_t rows = s == 4 ? 17 : 40; // a partial batch too
            std::copy_n(x.begin(), rows * 120, dense.input());
            std::copy_n(x.begin(), rows * 120, sparse.input());
            const ctml::target_view<double> t{labels.data(), nullptr};
            const auto rd = dense.forward_backward(t, rows);
            const auto rs = sparse.forward_backward(t, rows);
            CHECK_FALSE(dense.last_input_sparse());
            CHECK(sparse.last_input_sparse());
            CHECK(rs.loss_sum == doctest::Approx(rd.loss_sum).epsilon(1e-12));
            const auto gd = dense.gradients(), gs = sparse.gradients();
            double worst = 0;
            for (std::size_t i = 0; i < gd.size(); ++i) {
                worst = std::max(worst, std::abs(gd[i] - gs[i]));
            }
            CHECK(worst < 1e-13);
            dense.train_batch(t, rows);
            sparse.train_batch(t, rows);
        }
        double worst = 0;
        for (std::size_t i = 0; i < a.parameter_count(); ++i) {
            worst = std::max(worst, std::abs(a.parameters()[i] - b.parameters()[i]));
        }
        CHECK(worst < 1e-12);
    }
}

TEST_CASE("the CPU engine falls back to the dense product for dense input, and checks the knob") {
    ctml::network<net_t, float> net;
    net.initialize(1);
    ctml::cpu_engine<sparse_job<float>> t(net, settings<float>(8, 1));
    CHECK(t.sparse_input_density() == doctest::Approx(CTML_SPARSE_INPUT_DENSITY));
    std::fill_n(t.input(), 8 * 120, 0.5f); // every value non-zero
    std::vector<std::int32_t> labels(8, 1);
    t.forward_backward({labels.data(), nullptr}, 8);
    CHECK_FALSE(t.last_input_sparse());
    std::fill_n(t.input(), 8 * 120, 0.0f);
    t.input()[3] = 1.0f;
    t.forward_backward({labels.data(), nullptr}, 8);
    CHECK(t.last_input_sparse());
    CHECK_THROWS_WITH_AS(t.set_sparse_input_density(1.5), "sparse input density 1.500000 is outside [0, 1]",
                         ctml::config_error);
}

TEST_CASE_TEMPLATE("compress_rows_u8 and compress_columns_u8 equal gather + compress_rows + "
                   "transpose_compressed",
                   T, float, double) {
    const auto seed = fresh_seed();
    INFO("CTML_TEST_SEED=" << seed);
    ctml::rng r(seed);
    const std::size_t n = 300;
    for (const std::size_t dim : {1u, 15u, 16u, 17u, 63u, 64u, 65u, 100u, 784u}) {
        // A dataset of n rows, about 20% non-zero bytes (some 255), and batches of sizes around
        // the 64-sample bit blocks, in a shuffled order with repeats.
        std::vector<std::uint8_t> bytes(n * dim);
        for (auto& b : bytes) {
            b = r.uniform() < 0.2 ? static_cast<std::uint8_t>(1 + r.below(255)) : 0;
        }
        const T scale = static_cast<T>(1.0 / 255.0);
        for (const std::size_t rows : {1u, 2u, 63u, 64u, 65u, 128u, 130u}) {
            CAPTURE(dim);
            CAPTURE(rows);
            std::vector<std::size_t> idx(rows);
            for (auto& i : idx) {
                i = static_cast<std::size_t>(r.below(static_cast<std::uint32_t>(n)));
            }
            // The reference: the float gather (dataset::gather_features' conversion), then the
            // float kernels.
            std::vector<T> x(rows * dim);
            for (std::size_t i = 0; i < rows; ++i) {
                for (std::size_t j = 0; j < dim; ++j) {
                    x[i * dim + j] = static_cast<T>(bytes[idx[i] * dim + j]) * scale;
                }
            }
            std::vector<std::uint32_t> rp(rows + 1), ci(rows * dim + 16), cp(dim + 1),
                ri(rows * dim);
            std::vector<T> v(rows * dim + 16), cv(rows * dim);
            REQUIRE(ctml::kernels::cpu::compress_rows(x.data(), rows, dim, rows * dim, rp.data(),
                                                      ci.data(), v.data()));
            ctml::kernels::cpu::transpose_compressed(rows, dim, rp.data(), ci.data(), v.data(),
                                                     cp.data(), ri.data(), cv.data());
            std::vector<std::uint32_t> rp2(rows + 1), ci2(rows * dim + 16), cp2(dim + 1),
                ri2(rows * dim);
            std::vector<T> v2(rows * dim + 16), cv2(rows * dim);
            std::vector<std::uint64_t> masks(
                ctml::kernels::cpu::compress_columns_u8_scratch(dim, rows));
            REQUIRE(ctml::kernels::cpu::compress_rows_u8(bytes.data(), dim, idx.data(), rows,
                                                         scale, rows * dim, rp2.data(),
                                                         ci2.data(), v2.data()));
            ctml::kernels::cpu::compress_columns_u8(bytes.data(), dim, idx.data(), rows, scale,
                                                    cp2.data(), ri2.data(), cv2.data(),
                                                    masks.data());
            const std::size_t nnz = rp[rows];
            CHECK(rp2 == rp);
            CHECK(cp2 == cp);
            // Bit for bit: the same conversion and the same order.
            CHECK(std::equal(ci.begin(), ci.begin() + static_cast<std::ptrdiff_t>(nnz), ci2.begin()));
            CHECK(std::equal(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(nnz), v2.begin()));
            CHECK(std::equal(ri.begin(), ri.begin() + static_cast<std::ptrdiff_t>(nnz), ri2.begin()));
            CHECK(std::equal(cv.begin(), cv.begin() + static_cast<std::ptrdiff_t>(nnz), cv2.begin()));
            // Too dense for a bound one below the count: refused.
            if (nnz > 0) {
                CHECK_FALSE(ctml::kernels::cpu::compress_rows_u8(bytes.data(), dim, idx.data(),
                                                                 rows, scale, nnz - 1, rp2.data(),
                                                                 ci2.data(), v2.data()));
            }
        }
    }
}

TEST_CASE("train_epoch on a uint8 dataset (compressed straight from its bytes) steps exactly as "
          "on the same data as floats") {
    const auto seed = fresh_seed();
    INFO("CTML_TEST_SEED=" << seed);
    ctml::rng r(seed);
    const std::size_t n = 230; // 5 full batches of 40 and a partial one of 30
    ctml::dataset<std::uint8_t> bytes;
    bytes.dim = 120;
    bytes.scale = 1.0 / 255.0;
    bytes.classes = 5;
    bytes.features.resize(n * 120);
    for (auto& b : bytes.features) {
        b = r.uniform() < 0.2 ? static_cast<std::uint8_t>(1 + r.below(255)) : 0;
    }
    bytes.labels.resize(n);
    for (auto& l : bytes.labels) {
        l = static_cast<std::int32_t>(r.below(5));
    }
    // The float dataset holds the values the byte one converts to, with scale 1.
    ctml::dataset<float> floats;
    floats.dim = 120;
    floats.classes = 5;
    floats.labels = bytes.labels;
    floats.features.resize(n * 120);
    for (std::size_t i = 0; i < floats.features.size(); ++i) {
        floats.features[i] = static_cast<float>(bytes.features[i]) * static_cast<float>(bytes.scale);
    }
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    for (std::size_t i = n; i > 1; --i) {
        std::swap(order[i - 1], order[r.below(i)]);
    }
    for (const std::size_t threads : {1u, 2u}) {
        CAPTURE(threads);
        ctml::network<net_t, float> a;
        a.initialize(seed);
        ctml::network<net_t, float> b = a;
        using tr = ctml::cpu_engine<sparse_job<float>>;
        ctml::network<net_t, float> c = a;
        tr from_bytes(a, settings<float>(40, threads)), from_floats(b, settings<float>(40, threads));
        // The same bytes without the next batch compressed on a worker (2 threads).
        tr in_line(c, settings<float>(40, threads));
        in_line.set_batch_prefetch(false);
        for (tr* e : {&from_bytes, &from_floats, &in_line}) {
            e->set_sparse_input_density(0.5);
        }
        from_bytes.set_training_data(bytes);
        from_floats.set_training_data(floats);
        in_line.set_training_data(bytes);
        for (int epoch = 0; epoch < 2; ++epoch) {
            const auto eb = from_bytes.train_epoch(order);
            const auto ef = from_floats.train_epoch(order);
            const auto ei = in_line.train_epoch(order);
            CHECK(from_bytes.last_input_sparse());
            CHECK(eb.loss == ef.loss);
            CHECK(eb.accuracy == ef.accuracy);
            CHECK(ei.loss == eb.loss);
        }
        CHECK(std::equal(a.parameters().begin(), a.parameters().end(), b.parameters().begin()));
        CHECK(std::equal(a.parameters().begin(), a.parameters().end(), c.parameters().begin()));
        // On 2 threads each batch after an epoch's first came ready from the worker; float data
        // and a switched-off prefetch take none.
        CHECK(from_bytes.prefetched_batches() == (threads == 2 ? 2u * 5u : 0u));
        CHECK(from_floats.prefetched_batches() == 0);
        CHECK(in_line.prefetched_batches() == 0);
        const auto vb = from_bytes.evaluate(bytes), vf = from_floats.evaluate(floats);
        CHECK(vb.loss == vf.loss);
        CHECK(vb.accuracy == vf.accuracy);
        // Too dense for the sparse path: both fall back to the dense product, still alike.
        from_bytes.set_sparse_input_density(0.05);
        from_floats.set_sparse_input_density(0.05);
        const auto before = from_bytes.prefetched_batches();
        from_bytes.train_epoch(order);
        from_floats.train_epoch(order);
        CHECK_FALSE(from_bytes.last_input_sparse());
        CHECK(from_bytes.prefetched_batches() == before); // too dense: loaded as usual
        CHECK(std::equal(a.parameters().begin(), a.parameters().end(), b.parameters().begin()));
    }
}
