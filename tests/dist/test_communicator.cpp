// SPDX-License-Identifier: MIT
// The communicator concept, shares of a global batch, and the weighting of data_parallel_step
// (with a fake engine and a fake two-rank communicator, no MPI needed).
#include <doctest/doctest.h>

#include <cstddef>
#include <span>
#include <vector>

#include <ctml/dist/communicator.hpp>
#include <ctml/dist/data_parallel.hpp>

using namespace ctml::dist;

TEST_CASE("shares cover the batch, contiguous, sizes within one") {
    for (std::size_t rows : {0u, 1u, 7u, 50u, 51u}) {
        for (int size : {1, 2, 3, 4}) {
            std::size_t next = 0;
            for (int r = 0; r < size; ++r) {
                const share s = share_of(rows, r, size);
                CHECK(s.begin == next);
                CHECK(s.size() + 1 >= rows / static_cast<std::size_t>(size));
                CHECK(s.size() <= rows / static_cast<std::size_t>(size) + 1);
                next = s.end;
            }
            CHECK(next == rows);
        }
    }
}

namespace {
// Gradient of the mean over its rows of per-row gradients `row_grad[i]` (one parameter).
struct fake_engine {
    std::vector<float> row_grad;
    std::size_t first = 0;
    std::vector<float> g{0.0f};
    float param = 0;
    int forward_backward(int, std::size_t rows) {
        float s = 0;
        for (std::size_t i = 0; i < rows; ++i) {
            s += row_grad[first + i];
        }
        g[0] = s / static_cast<float>(rows);
        return 0;
    }
    std::span<float> gradients() { return g; }
    void apply_gradients() { param -= g[0]; }
};

// Pretends to be rank `rank` of 2 whose peer contributed `peer`.
struct fake_pair {
    int r;
    float peer;
    int rank() const { return r; }
    int size() const { return 2; }
    void all_reduce_sum(std::span<float> v) { v[0] += peer; }
    void all_reduce_mean(std::span<float> v) { v[0] = (v[0] + peer) / 2; }
    void broadcast(std::span<float>, int) {}
    void barrier() {}
};
static_assert(communicator<fake_pair>);
} // namespace

TEST_CASE("unequal shares are weighted: the result is the full batch's mean gradient") {
    const std::vector<float> rows{1, 2, 3, 4, 10}; // global batch 5: shares of 2 and 3
    fake_engine a{rows, 0}, b{rows, 2};
    // Rank 1's weighted contribution, computed as the step does.
    b.forward_backward(0, 3);
    const float b_part = b.g[0] * 3.0f / 5.0f;
    fake_pair comm{0, b_part};
    data_parallel_step(a, comm, 0, 2, 5);
    CHECK(a.g[0] == doctest::Approx(20.0 / 5.0));
    CHECK(a.param == doctest::Approx(-4.0));
    self_communicator self;
    fake_engine whole{rows, 0};
    data_parallel_step(whole, self, 0, 5, 5);
    CHECK(whole.param == doctest::Approx(a.param));
    CHECK_THROWS_AS(data_parallel_step(whole, self, 0, 6, 5), ctml::config_error);
}
