// SPDX-License-Identifier: MIT
// The training step allocates nothing after the first step. This executable replaces every
// global operator new/delete and interposes the C allocator (malloc, calloc, realloc,
// reallocarray, aligned_alloc, posix_memalign, memalign, valloc, pvalloc: forwarded to glibc's
// __libc_* entry points) and mmap (forwarded to the system call), and counts every call from any
// thread, OpenBLAS's and the trainer's step threads included. With CTML_ALLOC_TRACE=1 in the
// environment every allocation inside a counted region prints its call stack to stderr.
#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <doctest/doctest.h>
#include <execinfo.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "ctml/ctml.hpp"

// ---------------------------------------------------------------------------------------------
// Counting allocator.
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void __libc_free(void*);
void* __libc_memalign(std::size_t, std::size_t);
void* __libc_valloc(std::size_t);
void* __libc_pvalloc(std::size_t);
}

namespace {
struct counters {
    std::atomic<std::size_t> operator_new{0};
    std::atomic<std::size_t> c_alloc{0}; // malloc family
    std::atomic<std::size_t> mmap{0};
};
counters g_count;

std::atomic<bool> g_tracing{false};
thread_local bool t_in_trace = false;

void count(std::atomic<std::size_t>& c) noexcept {
    c.fetch_add(1, std::memory_order_relaxed);
    if (g_tracing.load(std::memory_order_relaxed) && !t_in_trace) {
        t_in_trace = true; // backtrace() may allocate on its first use
        void* frames[24];
        const int n = backtrace(frames, 24);
        static const char head[] = "---- allocation in a counted region:\n";
        [[maybe_unused]] const auto w = write(2, head, sizeof(head) - 1);
        backtrace_symbols_fd(frames, n, 2);
        t_in_trace = false;
    }
}

// Brackets a counted region: the difference of two snapshots, and tracing when asked for.
struct counted_region {
    counted_region() {
        if (std::getenv("CTML_ALLOC_TRACE")) {
            void* warm[2];
            backtrace(warm, 2);
            g_tracing = true;
        }
    }
    ~counted_region() { g_tracing = false; }
};

struct snapshot {
    std::size_t operator_new, c_alloc, mmap;
    static snapshot now() noexcept {
        return {g_count.operator_new.load(), g_count.c_alloc.load(), g_count.mmap.load()};
    }
    snapshot operator-(const snapshot& o) const noexcept {
        return {operator_new - o.operator_new, c_alloc - o.c_alloc, mmap - o.mmap};
    }
    std::size_t total() const noexcept { return operator_new + c_alloc + mmap; }
};

void* new_impl(std::size_t n) {
    count(g_count.operator_new);
    if (void* p = __libc_malloc(n == 0 ? 1 : n)) {
        return p;
    }
    throw std::bad_alloc();
}
void* new_aligned_impl(std::size_t n, std::align_val_t a) {
    count(g_count.operator_new);
    if (void* p = __libc_memalign(static_cast<std::size_t>(a), n == 0 ? 1 : n)) {
        return p;
    }
    throw std::bad_alloc();
}
} // namespace

extern "C" {
void* malloc(std::size_t n) {
    count(g_count.c_alloc);
    return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t s) {
    count(g_count.c_alloc);
    return __libc_calloc(n, s);
}
void* realloc(void* p, std::size_t n) {
    count(g_count.c_alloc);
    return __libc_realloc(p, n);
}
void* reallocarray(void* p, std::size_t n, std::size_t s) {
    count(g_count.c_alloc);
    std::size_t bytes = 0;
    if (__builtin_mul_overflow(n, s, &bytes)) {
        errno = ENOMEM;
        return nullptr;
    }
    return __libc_realloc(p, bytes);
}
void free(void* p) { __libc_free(p); }
void* aligned_alloc(std::size_t a, std::size_t n) {
    count(g_count.c_alloc);
    return __libc_memalign(a, n);
}
void* memalign(std::size_t a, std::size_t n) {
    count(g_count.c_alloc);
    return __libc_memalign(a, n);
}
int posix_memalign(void** out, std::size_t a, std::size_t n) {
    count(g_count.c_alloc);
    if (a < sizeof(void*) || (a & (a - 1)) != 0) {
        return EINVAL;
    }
    void* p = __libc_memalign(a, n);
    if (!p) {
        return ENOMEM;
    }
    *out = p;
    return 0;
}
void* valloc(std::size_t n) {
    count(g_count.c_alloc);
    return __libc_valloc(n);
}
void* pvalloc(std::size_t n) {
    count(g_count.c_alloc);
    return __libc_pvalloc(n);
}
// glibc's own malloc maps memory through an internal call, so this sees only other callers
// (OpenBLAS's buffers, thread stacks).
void* mmap(void* addr, std::size_t len, int prot, int flags, int fd, off_t off) {
    count(g_count.mmap);
    return reinterpret_cast<void*>(syscall(SYS_mmap, addr, len, prot, flags, fd, off));
}
}

void* operator new(std::size_t n) { return new_impl(n); }
void* operator new[](std::size_t n) { return new_impl(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    try {
        return new_impl(n);
    } catch (...) {
        return nullptr;
    }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
    try {
        return new_impl(n);
    } catch (...) {
        return nullptr;
    }
}
void* operator new(std::size_t n, std::align_val_t a) { return new_aligned_impl(n, a); }
void* operator new[](std::size_t n, std::align_val_t a) { return new_aligned_impl(n, a); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    try {
        return new_aligned_impl(n, a);
    } catch (...) {
        return nullptr;
    }
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    try {
        return new_aligned_impl(n, a);
    } catch (...) {
        return nullptr;
    }
}
void operator delete(void* p) noexcept { __libc_free(p); }
void operator delete[](void* p) noexcept { __libc_free(p); }
void operator delete(void* p, std::size_t) noexcept { __libc_free(p); }
void operator delete[](void* p, std::size_t) noexcept { __libc_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { __libc_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { __libc_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { __libc_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { __libc_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { __libc_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { __libc_free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { __libc_free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
    __libc_free(p);
}

// ---------------------------------------------------------------------------------------------
namespace {

// Keeps the optimizer from removing an allocation whose result is unused.
template <class P> void escape(P* p) { asm volatile("" : : "g"(p) : "memory"); }

using keras_net = ctml::sequential<ctml::input<784>, ctml::dense<300, ctml::relu>,
                                   ctml::dense<100, ctml::relu>, ctml::dense<10, ctml::softmax>>;
using keras_job = ctml::run_config<keras_net, ctml::categorical_crossentropy, ctml::rmsprop<>,
                                   ctml::batch_size<50>>;
using keras_trainer = ctml::cpu_engine<keras_job>;
constexpr std::size_t batch = 50;

keras_job::settings_type with_threads(std::size_t threads) {
    auto s = keras_job::defaults();
    s.threads = threads;
    return s;
}
constexpr std::size_t steps = 100;

// Random MNIST-shaped batches, made before counting starts.
struct batches {
    std::vector<std::vector<float>> x;
    std::vector<std::vector<std::int32_t>> y;
    // density: the share of non-zero inputs (MNIST's is about 0.19, which the trainer multiplies
    // sparsely; 1 takes the dense path).
    explicit batches(std::size_t n, std::uint64_t seed, double density = 1.0) {
        ctml::rng r(seed);
        for (std::size_t b = 0; b < n; ++b) {
            x.emplace_back(batch * 784);
            y.emplace_back(batch);
            for (auto& v : x.back()) {
                v = r.uniform() < density ? static_cast<float>(r.uniform()) : 0.0f;
            }
            for (auto& v : y.back()) {
                v = static_cast<std::int32_t>(r.below(10));
            }
        }
    }
};

// Seen with Debian's OpenBLAS 0.3.21 (pthreads, DYNAMIC_ARCH) on an AVX-512 machine: its threaded
// level-3 driver (sgemm_thread_*) mallocs once per call, and its AVX-512 "small matrix" sgemm
// kernel (sgemm_small_kernel_b0_nn_*, used when M·N·K <= 1e6) mallocs once per call when N > 16
// is not a multiple of 16 and K is large: a partial last batch, or a column block of a layer
// split over the step threads. ctml's own code allocated nothing in these runs.
std::string describe(const snapshot& d) {
    return "operator new: " + std::to_string(d.operator_new) +
           ", malloc family: " + std::to_string(d.c_alloc) + ", mmap: " + std::to_string(d.mmap) +
           (d.total() ? " (run with CTML_ALLOC_TRACE=1 for the call stacks)" : "");
}

// One warm-up step, then `steps` steps counted.
template <class Engine>
snapshot count_steps(Engine& t, const batches& data) {
    auto step = [&](std::size_t i) {
        const auto& x = data.x[i % data.x.size()];
        std::copy(x.begin(), x.end(), t.input());
        const auto r = t.train_batch(
            ctml::target_view<float>{data.y[i % data.y.size()].data(), nullptr}, batch);
        escape(&r);
    };
    step(0);
    counted_region region;
    const auto before = snapshot::now();
    for (std::size_t i = 1; i <= steps; ++i) {
        step(i);
    }
    return snapshot::now() - before;
}

} // namespace

TEST_CASE("the counters see every kind of allocation, from any thread") {
    const auto s0 = snapshot::now();
    {
        int* a = new int(1);
        escape(a);
        delete a;
        int* b = new int[3];
        escape(b);
        delete[] b;
        struct alignas(128) wide {
            char c[128];
        };
        wide* w = new wide;
        escape(w);
        delete w;
        int* nt = new (std::nothrow) int;
        escape(nt);
        delete nt;
    }
    const auto s1 = snapshot::now();
    CHECK((s1 - s0).operator_new == 4);
    int pm_result = -1;
    const auto s1b = snapshot::now();
    {
        void* p = std::malloc(10);
        escape(p);
        p = std::realloc(p, 1000);
        escape(p);
        std::free(p);
        void* c = std::calloc(4, 4);
        escape(c);
        std::free(c);
        void* al = std::aligned_alloc(64, 128);
        escape(al);
        std::free(al);
        void* pm = nullptr;
        pm_result = posix_memalign(&pm, 64, 100);
        escape(pm);
        std::free(pm);
    }
    const auto s2 = snapshot::now();
    CHECK(pm_result == 0);
    CHECK((s2 - s1b).c_alloc == 5);
    std::vector<float> v;
    for (int i = 0; i < 100; ++i) {
        v.push_back(1.0f);
    }
    escape(v.data());
    std::thread th([] {
        std::vector<double> inner(1000);
        escape(inner.data());
    });
    th.join();
    const auto s3 = snapshot::now();
    CHECK((s3 - s2).operator_new >= 3); // vector growth, the thread's state, the inner vector
    ctml::buffer<float> buf(1000);      // ctml's aligned buffers
    escape(buf.data());
    CHECK((snapshot::now() - s3).c_alloc == 1);
    void* m = ::mmap(nullptr, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(m != MAP_FAILED);
    static_cast<char*>(m)[100] = 1;
    munmap(m, 1 << 16);
    CHECK((snapshot::now() - s3).mmap == 1);
}

TEST_CASE("train_batch allocates nothing after the first step (Keras network, batch 50)") {
    const batches data(8, 11);
    ctml::network<keras_net> net;
    net.initialize(1);
    const int blas_before = ctml::kernels::cpu::blas_threads();

    SUBCASE("one step thread, OpenBLAS with 1 thread") {
        ctml::kernels::cpu::set_blas_threads(1);
        keras_trainer t(net, with_threads(1));
        REQUIRE(ctml::kernels::cpu::blas_threads() == 1);
        const auto d = count_steps(t, data);
        INFO(describe(d));
        CHECK(d.total() == 0);
    }
    SUBCASE("one step thread, OpenBLAS set to 2 threads: the engine runs it single-threaded") {
        // OpenBLAS's threaded GEMM mallocs on every call; the engine owns the parallelism.
        ctml::kernels::cpu::set_blas_threads(2);
        keras_trainer t(net, with_threads(1));
        REQUIRE(ctml::kernels::cpu::blas_threads() == 1);
        const auto d = count_steps(t, data);
        INFO(describe(d));
        CHECK(d.total() == 0);
    }
    SUBCASE("two live engines: the second one's end leaves the first one's BLAS single-threaded") {
        // The trainer used to restore OpenBLAS's thread count in its destructor: a second
        // trainer that ended first turned the first one's BLAS threaded again (and its steps
        // allocating). The engines now set it once for the process.
        ctml::kernels::cpu::set_blas_threads(2);
        ctml::network<keras_net> other = net;
        keras_trainer first(net, with_threads(1));
        {
            keras_trainer second(other, with_threads(1));
            const auto d = count_steps(second, data);
            INFO(describe(d));
            CHECK(d.total() == 0);
        }
        CHECK(ctml::kernels::cpu::blas_threads() == 1);
        const auto d = count_steps(first, data);
        INFO(describe(d));
        CHECK(d.total() == 0);
    }
    SUBCASE("two step threads (the engine's pool; OpenBLAS single-threaded inside)") {
        keras_trainer t(net, with_threads(2));
        REQUIRE(t.threads() == 2);
        const auto d = count_steps(t, data);
        INFO(describe(d));
        CHECK(d.total() == 0);
    }
    SUBCASE("MNIST-like sparse input (the compressed first layer), one and two step threads") {
        const batches sparse_data(8, 12, 0.19);
        for (const std::size_t threads : {1u, 2u}) {
            keras_trainer t(net, with_threads(threads));
            const auto d = count_steps(t, sparse_data);
            CAPTURE(threads);
            CHECK(t.last_input_sparse());
            INFO(describe(d));
            CHECK(d.total() == 0);
        }
    }
    ctml::kernels::cpu::set_blas_threads(blas_before);
    // The steps trained: the parameters moved and stayed finite.
    const auto p = net.parameters();
    CHECK(std::all_of(p.begin(), p.end(), [](float v) { return std::isfinite(v); }));
}

TEST_CASE("train_epoch over uint8 data allocates nothing after its first epoch, the next batch "
          "compressed on a worker included") {
    // 12 batches of MNIST-like bytes (19% non-zero), compressed straight from the bytes.
    ctml::dataset<std::uint8_t> data;
    data.dim = 784;
    data.scale = 1.0 / 255.0;
    data.classes = 10;
    data.features.resize(12 * batch * 784);
    data.labels.resize(12 * batch);
    ctml::rng r(21);
    for (auto& b : data.features) {
        b = r.uniform() < 0.19 ? static_cast<std::uint8_t>(1 + r.below(255)) : 0;
    }
    for (auto& l : data.labels) {
        l = static_cast<std::int32_t>(r.below(10));
    }
    std::vector<std::size_t> order(data.size());
    for (std::size_t i = 0; i < order.size(); ++i) {
        order[i] = (i * 7) % order.size(); // a fixed permutation (7 and 600 are coprime)
    }
    for (const std::size_t threads : {1u, 2u}) {
        CAPTURE(threads);
        ctml::network<keras_net, float> net;
        net.initialize(5);
        keras_trainer t(net, with_threads(threads));
        t.set_training_data(data);
        const auto first = t.train_epoch(order);
        escape(&first);
        snapshot d{};
        {
            counted_region region;
            const auto before = snapshot::now();
            const auto e = t.train_epoch(order);
            escape(&e);
            d = snapshot::now() - before;
        }
        CHECK(t.last_input_sparse());
        // Two threads: every batch but each epoch's first came compressed from the worker.
        CHECK(t.prefetched_batches() == (threads == 2 ? 2u * 11u : 0u));
        INFO(describe(d));
        CHECK(d.total() == 0);
    }
}

TEST_CASE("train_batch with dropout layers allocates nothing after the first step") {
    using net_t = ctml::sequential<ctml::input<784>, ctml::dense<300, ctml::relu>,
                                   ctml::dropout<0.2>, ctml::dense<100, ctml::relu>,
                                   ctml::dropout<0.2>, ctml::dense<10, ctml::softmax>>;
    using job = ctml::run_config<net_t, ctml::categorical_crossentropy, ctml::rmsprop<>,
                                 ctml::batch_size<50>>;
    const batches data(8, 13, 0.19);
    for (const std::size_t threads : {1u, 2u}) {
        CAPTURE(threads);
        auto s = job::defaults();
        s.threads = threads;
        auto net = job::make_network(s);
        ctml::cpu_engine<job> t(net, s);
        const auto d = count_steps(t, data);
        INFO(describe(d));
        CHECK(d.total() == 0);
    }
}

TEST_CASE("forward_backward, evaluate_batch, train_epoch and evaluate allocate nothing once warm") {
    std::size_t threads = 1;
    SUBCASE("one step thread, OpenBLAS with 1 thread") { threads = 1; }
    SUBCASE("two step threads") { threads = 2; }
    CAPTURE(threads);
    const int blas_before = ctml::kernels::cpu::blas_threads();
    ctml::kernels::cpu::set_blas_threads(1);
    ctml::network<keras_net> net;
    net.initialize(2);
    keras_trainer t(net, with_threads(threads));
    ctml::dataset<std::uint8_t> d;
    d.dim = 784;
    d.scale = 1.0 / 255;
    d.classes = 10;
    ctml::rng r(3);
    const std::size_t n = 520; // ten full batches and one of 20 rows
    for (std::size_t i = 0; i < n * 784; ++i) {
        d.features.push_back(static_cast<std::uint8_t>(r.below(256)));
    }
    for (std::size_t i = 0; i < n; ++i) {
        d.labels.push_back(static_cast<std::int32_t>(r.below(10)));
    }
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) {
        order[i] = (i * 7919) % n; // a fixed permutation (7919 is prime, n is not its multiple)
    }
    const std::vector<std::int32_t> labels(batch, 3);
    const ctml::target_view<float> tv{labels.data(), nullptr};
    t.set_training_data(d);
    t.train_epoch(std::span<const std::size_t>(order));
    const auto e0 = t.evaluate(d);
    t.forward_backward(tv, batch);
    t.evaluate_batch(tv, batch);

    snapshot diff{};
    ctml::evaluation e2;
    {
        counted_region region;
        const auto before = snapshot::now();
        const auto e1 = t.train_epoch(std::span<const std::size_t>(order));
        e2 = t.evaluate(d);
        const auto fb = t.forward_backward(tv, 17);
        const auto eb = t.evaluate_batch(tv, batch);
        diff = snapshot::now() - before;
        escape(&e1);
        escape(&fb);
        escape(&eb);
    }
    ctml::kernels::cpu::set_blas_threads(blas_before);
    INFO(describe(diff));
    CHECK(diff.total() == 0);
    CHECK(e2.samples == n);
    CHECK(e0.loss != e2.loss); // the epoch in between trained
}

TEST_CASE_TEMPLATE("kernels::cpu::gemm allocates nothing for any column count", T, float, double) {
    // OpenBLAS 0.3.21's AVX-512 small-matrix kernels malloc when the last vector of columns is
    // at most half full; ctml's gemm routes those columns through GEMV. Sweep the column counts
    // and the transpositions a step uses, in the small-matrix range and above it.
    using ctml::kernels::cpu::trans;
    const int blas_before = ctml::kernels::cpu::blas_threads();
    ctml::kernels::cpu::set_blas_threads(1);
    std::vector<T> a(128 * 800, T(0.5)), b(800 * 80, T(0.25)), c(128 * 80, T(0));
    const std::pair<trans, trans> kinds[] = {
        {trans::no, trans::no}, {trans::yes, trans::no}, {trans::no, trans::yes}};
    for (const auto& [ta, tb] : kinds) {
        for (const std::size_t m : {1u, 17u, 50u, 128u}) {
            for (const std::size_t k : {40u, 100u, 784u}) {
                for (std::size_t n = 1; n <= 80; ++n) {
                    snapshot d{};
                    {
                        counted_region region;
                        const auto before = snapshot::now();
                        ctml::kernels::cpu::gemm(ta, tb, m, n, k, T(1), a.data(), b.data(), T(0),
                                                 c.data());
                        d = snapshot::now() - before;
                    }
                    CAPTURE(m);
                    CAPTURE(n);
                    CAPTURE(k);
                    CHECK(d.total() == 0);
                    // 0.5 · 0.25 summed k times, in every element written.
                    CHECK(c[(m - 1) * n + n - 1] == doctest::Approx(0.125 * static_cast<double>(k)));
                }
            }
        }
    }
    ctml::kernels::cpu::set_blas_threads(blas_before);
}
