// SPDX-License-Identifier: MIT
#include "ctml/core/thread_pool.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <cstddef>
#include <vector>

TEST_CASE("thread_pool: run calls f once per thread with its index and the pool size") {
    for (std::size_t threads = 1; threads <= 4; ++threads) {
        CAPTURE(threads);
        ctml::thread_pool pool(threads);
        REQUIRE(pool.size() == threads);
        std::vector<std::atomic<int>> calls(threads);
        std::atomic<bool> wrong_count{false};
        auto f = [&](std::size_t index, std::size_t count) {
            calls[index].fetch_add(1);
            if (count != threads) {
                wrong_count = true;
            }
        };
        pool.run(f);
        for (std::size_t i = 0; i < threads; ++i) {
            CHECK(calls[i].load() == 1);
        }
        CHECK_FALSE(wrong_count.load());
    }
    CHECK(ctml::thread_pool(0).size() == 1);
}

TEST_CASE("thread_pool: many runs back to back each wait for every thread") {
    for (std::size_t threads = 1; threads <= 4; ++threads) {
        CAPTURE(threads);
        ctml::thread_pool pool(threads);
        std::vector<std::size_t> per_thread(threads, 0); // each slot written by one thread only
        std::atomic<std::size_t> total{0};
        constexpr std::size_t runs = 5000;
        bool complete = true;
        for (std::size_t r = 0; r < runs; ++r) {
            auto f = [&](std::size_t index, std::size_t) {
                ++per_thread[index];
                total.fetch_add(1, std::memory_order_relaxed);
            };
            pool.run(f);
            // run() returned: every thread of this run has finished.
            complete = complete && total.load() == (r + 1) * threads;
        }
        CHECK(complete);
        for (std::size_t i = 0; i < threads; ++i) {
            CHECK(per_thread[i] == runs);
        }
    }
}

TEST_CASE("thread_pool: start runs f on the workers while the caller goes on; run and wait wait") {
    for (std::size_t threads = 1; threads <= 3; ++threads) {
        CAPTURE(threads);
        ctml::thread_pool pool(threads);
        std::vector<std::atomic<int>> calls(threads);
        std::atomic<bool> release{threads == 1}; // one thread: f runs inline, must not block
        std::atomic<int> finished{0};
        std::atomic<bool> wrong_count{false};
        auto slow = [&](std::size_t index, std::size_t count) {
            wrong_count = wrong_count || count != threads;
            while (!release.load()) {
                std::this_thread::yield();
            }
            calls[index].fetch_add(1);
            finished.fetch_add(1);
        };
        pool.start(slow);
        // The caller is free while the workers hold: it is the one that releases them.
        CHECK(pool.started() == (threads > 1));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        CHECK(finished.load() == (threads == 1 ? 1 : 0));
        release = true;
        // run() first waits for the started work, then runs its own on every thread.
        std::atomic<int> seen_finished{-1};
        auto f = [&](std::size_t index, std::size_t) {
            if (index == 0) {
                seen_finished = finished.load();
            }
        };
        pool.run(f);
        const int workers = threads == 1 ? 1 : static_cast<int>(threads) - 1;
        CHECK(seen_finished.load() == workers);
        CHECK_FALSE(pool.started());
        CHECK_FALSE(wrong_count.load());
        CHECK(calls[0].load() == (threads == 1 ? 1 : 0)); // the caller never ran started work
        for (std::size_t i = 1; i < threads; ++i) {
            CHECK(calls[i].load() == 1);
        }
        // start then wait, many times: each wait sees all workers done.
        std::atomic<int> done{0};
        bool each_complete = true;
        for (int r = 1; r <= 2000; ++r) {
            auto g = [&](std::size_t, std::size_t) { done.fetch_add(1); };
            pool.start(g);
            pool.wait();
            each_complete = each_complete && done.load() == r * workers;
        }
        CHECK(each_complete);
        pool.wait(); // nothing started: returns at once
    }
}

TEST_CASE("thread_pool: a split of rows computed in parallel equals the serial result") {
    constexpr std::size_t n = 10007;
    std::vector<double> x(n);
    for (std::size_t i = 0; i < n; ++i) {
        x[i] = static_cast<double>(i % 97) * 0.5;
    }
    std::vector<double> serial(n);
    for (std::size_t i = 0; i < n; ++i) {
        serial[i] = x[i] * x[i] + 1;
    }
    for (std::size_t threads = 1; threads <= 4; ++threads) {
        ctml::thread_pool pool(threads);
        std::vector<double> out(n, -1);
        auto f = [&](std::size_t index, std::size_t count) {
            const auto [b, e] = ctml::split_range(n, index, count);
            for (std::size_t i = b; i < e; ++i) {
                out[i] = x[i] * x[i] + 1;
            }
        };
        pool.run(f);
        CHECK(out == serial);
    }
}

TEST_CASE("split_range: contiguous, disjoint, covering, aligned borders") {
    for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{15}, std::size_t{16},
                                std::size_t{17}, std::size_t{300}, std::size_t{1000003}}) {
        for (std::size_t count = 1; count <= 5; ++count) {
            for (const std::size_t align : {std::size_t{1}, std::size_t{16}, std::size_t{64}}) {
                CAPTURE(n);
                CAPTURE(count);
                CAPTURE(align);
                std::size_t expected_begin = 0;
                for (std::size_t i = 0; i < count; ++i) {
                    const auto [b, e] = ctml::split_range(n, i, count, align);
                    CHECK(b == expected_begin);
                    CHECK(b <= e);
                    CHECK(e <= n);
                    if (e != n) {
                        CHECK(e % align == 0);
                    }
                    expected_begin = e;
                }
                CHECK(expected_begin == n);
            }
        }
    }
    // With one thread the whole range is one part.
    CHECK(ctml::split_range(300, 0, 1) == std::pair<std::size_t, std::size_t>{0, 300});
}

TEST_CASE("thread_count: at least one") { CHECK(ctml::thread_count() >= 1); }
