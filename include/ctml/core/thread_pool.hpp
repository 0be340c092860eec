// SPDX-License-Identifier: MIT
// A fixed pool for the training step: run(f) calls f(index, count) on every thread (the caller is
// index 0) and returns when all are done; start(f) hands f to the workers alone and returns at
// once (the engine prepares the next batch that way while the caller runs serial layers).
// Workers spin briefly between runs, because a step issues runs microseconds apart, then yield
// and sleep on a futex (std::atomic::wait), so a busy machine does not turn the spinning into
// lost time. run() and start() allocate nothing and type-erase f through a function pointer.
#pragma once
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CTML_CPU_RELAX() _mm_pause()
#else
#define CTML_CPU_RELAX() std::this_thread::yield()
#endif

namespace ctml {

namespace detail {
inline std::size_t& configured_threads() noexcept {
    static std::size_t n = 0;
    return n;
}
} // namespace detail

/// @brief Threads ctml uses: the engines' step threads and the BLAS outside them (0: all cores).
inline std::size_t thread_count() noexcept {
    const std::size_t n = detail::configured_threads();
    if (n != 0) {
        return n;
    }
    const unsigned hw = std::thread::hardware_concurrency();
    return hw == 0 ? 1 : hw;
}

/// @brief Splits [0, n) into `count` contiguous parts whose borders are multiples of `align`
/// (except n); part `index` is [first, second).
inline std::pair<std::size_t, std::size_t> split_range(std::size_t n, std::size_t index,
                                                       std::size_t count,
                                                       std::size_t align = 16) noexcept {
    const std::size_t units = (n + align - 1) / align;
    const std::size_t begin = std::min(n, units * index / count * align);
    const std::size_t end = std::min(n, units * (index + 1) / count * align);
    return {begin, end};
}

class thread_pool {
public:
    /// @param threads total threads including the caller (at least 1)
    explicit thread_pool(std::size_t threads) : count_(threads == 0 ? 1 : threads) {
        workers_.reserve(count_ - 1);
        for (std::size_t i = 1; i < count_; ++i) {
            workers_.emplace_back([this, i] { work(i); });
        }
    }
    thread_pool(const thread_pool&) = delete;
    thread_pool& operator=(const thread_pool&) = delete;
    ~thread_pool() {
        wait();
        stop_.store(true, std::memory_order_relaxed);
        generation_.fetch_add(1, std::memory_order_release);
        generation_.notify_all();
        for (auto& w : workers_) {
            w.join();
        }
    }

    std::size_t size() const noexcept { return count_; }

    /// Calls f(index, size()) on every thread and waits for all. f must not throw. Work
    /// started with start() is waited for first.
    template <class F>
    void run(F& f) noexcept {
        start(f); // with one thread, f has run here
        if (count_ > 1) {
            f(std::size_t{0}, count_);
            wait();
        }
    }

    /// Calls f(index, size()) on the worker threads (index 1 to size() - 1) and returns at once:
    /// the caller goes on with other work, then wait() (or the next run()) waits for them. f
    /// must not throw and must live until then. With one thread (no workers) f runs here.
    template <class F>
    void start(F& f) noexcept {
        if (count_ == 1) {
            f(std::size_t{0}, std::size_t{1});
            return;
        }
        wait();
        dispatch(f);
        started_ = true;
    }

    /// Waits for the work of the last start(), if any.
    void wait() noexcept {
        if (started_) {
            wait_for_workers();
            started_ = false;
        }
    }

    /// Whether start()ed work may still be running (until wait() or run()).
    bool started() const noexcept { return started_; }

private:
    template <class F>
    void dispatch(F& f) noexcept {
        fn_ = [](void* ctx, std::size_t i, std::size_t n) { (*static_cast<F*>(ctx))(i, n); };
        ctx_ = &f;
        pending_.store(count_ - 1, std::memory_order_relaxed);
        generation_.fetch_add(1, std::memory_order_release);
        generation_.notify_all();
    }

    void wait_for_workers() noexcept {
        // The workers usually finish within microseconds of the caller; if not (a busy machine),
        // yield the core to them, then sleep until the last one reports.
        for (unsigned i = 0; pending_.load(std::memory_order_acquire) != 0; ++i) {
            if (i < 2048) {
                CTML_CPU_RELAX();
            } else if (i < 2048 + 64) {
                std::this_thread::yield();
            } else {
                for (std::size_t p = pending_.load(std::memory_order_acquire); p != 0;
                     p = pending_.load(std::memory_order_acquire)) {
                    pending_.wait(p, std::memory_order_acquire);
                }
                break;
            }
        }
    }

    void work(std::size_t index) {
        std::uint64_t seen = 0;
        for (;;) {
            wait_for_change(seen);
            if (stop_.load(std::memory_order_relaxed)) {
                return;
            }
            seen = generation_.load(std::memory_order_acquire);
            fn_(ctx_, index, count_);
            if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
                pending_.notify_one();
            }
        }
    }

    void wait_for_change(std::uint64_t seen) {
        // Spin a little (a step issues runs microseconds apart), yield a little (a busy machine
        // needs the core for the caller), then sleep until the next run.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(100);
        for (unsigned i = 0;; ++i) {
            if (generation_.load(std::memory_order_acquire) != seen) {
                return;
            }
            if (i < 4096) {
                CTML_CPU_RELAX();
            } else {
                std::this_thread::yield();
                if (std::chrono::steady_clock::now() > deadline) {
                    break;
                }
            }
        }
        while (generation_.load(std::memory_order_acquire) == seen) {
            generation_.wait(seen, std::memory_order_acquire);
        }
    }

    std::size_t count_;
    std::vector<std::thread> workers_;
    alignas(64) std::atomic<std::uint64_t> generation_{0};
    alignas(64) std::atomic<std::size_t> pending_{0};
    std::atomic<bool> stop_{false};
    void (*fn_)(void*, std::size_t, std::size_t) = nullptr;
    void* ctx_ = nullptr;
    bool started_ = false; // start()ed work not yet waited for (the caller's view only)
};

} // namespace ctml
