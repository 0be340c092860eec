// SPDX-License-Identifier: MIT
// data_parallel_engine (ctml/dist/data_parallel_engine.hpp) without MPI: over self_communicator
// it is the CPU engine's own epoch; over two ranks that are two threads of this process (a
// shared-memory communicator) it gives the weights and the epoch figures of one process, also
// when the last global batch is partial or smaller than the number of ranks.
#include <doctest/doctest.h>

#include <barrier>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <thread>
#include <vector>

#include <ctml/ctml.hpp>
#include <ctml/dist/data_parallel_engine.hpp>
#include <ctml/engine/cpu.hpp>

namespace {

using net_type = ctml::sequential<ctml::input<20>, ctml::dense<16, ctml::relu>,
                                  ctml::dense<4, ctml::softmax>>;
using job = ctml::run_config<net_type, ctml::categorical_crossentropy, ctml::rmsprop<>,
                             ctml::batch_size<50>, ctml::seed<11>>;
using engine_type = ctml::cpu_engine<job>;
static_assert(ctml::engine<ctml::dist::data_parallel_engine<engine_type,
                                                            ctml::dist::self_communicator>>);

ctml::dataset<std::uint8_t> synthetic(std::size_t rows) {
    ctml::dataset<std::uint8_t> d;
    d.dim = 20;
    d.scale = 1.0 / 255.0;
    d.classes = 4;
    ctml::rng r(5);
    for (std::size_t i = 0; i < rows; ++i) {
        const auto label = static_cast<std::int32_t>(r.below(4));
        d.labels.push_back(label);
        for (std::size_t j = 0; j < d.dim; ++j) {
            // A learnable signal: the label's quarter of the features is brighter.
            const std::size_t boost = j / 5 == static_cast<std::size_t>(label) ? 120 : 0;
            d.features.push_back(static_cast<std::uint8_t>(r.below(120) + boost));
        }
    }
    return d;
}

struct result {
    std::vector<float> weights;
    std::vector<ctml::evaluation> epochs;
};

std::vector<std::size_t> order_of(std::size_t rows, std::uint64_t epoch) {
    std::vector<std::size_t> order(rows);
    std::iota(order.begin(), order.end(), std::size_t{0});
    ctml::shuffle(order, 100 + epoch);
    return order;
}

/// `epochs` epochs of `rows` rows on one engine, or on data_parallel_engine over `comm`.
template <class Comm>
result train(const ctml::dataset<std::uint8_t>& data, std::size_t epochs, Comm* comm) {
    auto s = job::defaults();
    s.threads = 1;
    auto net = job::make_network(s);
    engine_type inner(net, s);
    result out;
    const auto run = [&](auto& e) {
        e.set_training_data(data);
        for (std::size_t k = 1; k <= epochs; ++k) {
            const auto order = order_of(data.size(), k);
            out.epochs.push_back(e.train_epoch(std::span<const std::size_t>(order)));
        }
    };
    if (comm == nullptr) {
        run(inner);
    } else {
        ctml::dist::data_parallel_engine<engine_type, Comm> dp(inner, *comm);
        run(dp);
        CHECK(dp.iterations() == inner.iterations());
    }
    const auto p = net.parameters();
    out.weights.assign(p.begin(), p.end());
    return out;
}

double relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
    REQUIRE(a.size() == b.size());
    double d = 0, n = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        d += (double(a[i]) - double(b[i])) * (double(a[i]) - double(b[i]));
        n += double(a[i]) * double(a[i]);
    }
    return std::sqrt(d / n);
}

/// Ranks that are threads: element-wise sums in rank order (the same on every rank), barriers
/// from std::barrier.
struct shared_group {
    explicit shared_group(int n) : size(n), sync(n), views(static_cast<std::size_t>(n)) {}
    int size;
    std::barrier<> sync;
    std::vector<std::span<float>> views;
};

class thread_communicator {
public:
    thread_communicator(shared_group& g, int rank) : g_(g), rank_(rank) {}
    int rank() const noexcept { return rank_; }
    int size() const noexcept { return g_.size; }
    void all_reduce_sum(std::span<float> v) {
        g_.views[static_cast<std::size_t>(rank_)] = v;
        g_.sync.arrive_and_wait();
        sum_.assign(v.size(), 0.0f);
        for (const auto& w : g_.views) {
            for (std::size_t i = 0; i < v.size(); ++i) {
                sum_[i] += w[i];
            }
        }
        g_.sync.arrive_and_wait(); // nobody reads another rank's values after this
        std::copy(sum_.begin(), sum_.end(), v.begin());
    }
    void all_reduce_mean(std::span<float> v) {
        all_reduce_sum(v);
        for (float& x : v) {
            x /= static_cast<float>(g_.size);
        }
    }
    void broadcast(std::span<float> v, int root) {
        g_.views[static_cast<std::size_t>(rank_)] = v;
        g_.sync.arrive_and_wait();
        if (rank_ != root) {
            const auto src = g_.views[static_cast<std::size_t>(root)];
            std::copy(src.begin(), src.end(), v.begin());
        }
        g_.sync.arrive_and_wait();
    }
    void barrier() { g_.sync.arrive_and_wait(); }

private:
    shared_group& g_;
    int rank_;
    std::vector<float> sum_;
};
static_assert(ctml::dist::communicator<thread_communicator>);

} // namespace

TEST_CASE("over self_communicator the adapter is the engine's own epoch") {
    const auto data = synthetic(530);
    const result ref = train<ctml::dist::self_communicator>(data, 3, nullptr);
    ctml::dist::self_communicator self;
    const result one = train(data, 3, &self);
    CHECK(relative_difference(ref.weights, one.weights) < 1e-6);
    for (std::size_t k = 0; k < 3; ++k) {
        CHECK(one.epochs[k].samples == 530);
        CHECK(one.epochs[k].loss == doctest::Approx(ref.epochs[k].loss).epsilon(1e-6));
        CHECK(one.epochs[k].accuracy == doctest::Approx(ref.epochs[k].accuracy).epsilon(1e-9));
    }
    // Training did something: the loss fell.
    CHECK(ref.epochs[2].loss < ref.epochs[0].loss);
}

TEST_CASE("2 and 3 thread ranks give one process's weights and global epoch figures") {
    // 501 rows: the last global batch has 1 row, so some ranks have an empty share.
    for (const std::size_t rows : {530u, 501u}) {
        for (const int ranks : {2, 3}) {
            CAPTURE(rows);
            CAPTURE(ranks);
            const auto data = synthetic(rows);
            const result ref = train<thread_communicator>(data, 2, nullptr);
            shared_group group(ranks);
            std::vector<result> got(static_cast<std::size_t>(ranks));
            std::vector<std::thread> threads;
            for (int r = 0; r < ranks; ++r) {
                threads.emplace_back([&, r] {
                    thread_communicator comm(group, r);
                    got[static_cast<std::size_t>(r)] = train(data, 2, &comm);
                });
            }
            for (auto& t : threads) {
                t.join();
            }
            for (const result& g : got) {
                CHECK(relative_difference(ref.weights, g.weights) < 1e-5);
                for (std::size_t k = 0; k < 2; ++k) {
                    CHECK(g.epochs[k].samples == rows);
                    CHECK(g.epochs[k].loss == doctest::Approx(ref.epochs[k].loss).epsilon(1e-4));
                    CHECK(g.epochs[k].accuracy ==
                          doctest::Approx(ref.epochs[k].accuracy).epsilon(1e-9));
                }
            }
            // Every rank holds the same parameters.
            CHECK(got[0].weights == got.back().weights);
        }
    }
}

TEST_CASE("train_epoch before set_training_data is a config_error") {
    auto s = job::defaults();
    s.threads = 1;
    auto net = job::make_network(s);
    engine_type inner(net, s);
    ctml::dist::self_communicator self;
    ctml::dist::data_parallel_engine dp(inner, self);
    const std::vector<std::size_t> order{0, 1};
    CHECK_THROWS_AS(dp.train_epoch(std::span<const std::size_t>(order)), ctml::config_error);
}

TEST_CASE("no CPU engine (a trainer on another device) is a config_error") {
    ctml::dist::self_communicator self;
    engine_type* none = nullptr;
    using dp_type = ctml::dist::data_parallel_engine<engine_type, ctml::dist::self_communicator>;
    CHECK_THROWS_AS(dp_type(none, self), ctml::config_error);
}
