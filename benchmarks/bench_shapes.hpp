// SPDX-License-Identifier: MIT
// What bench_kernels.cpp and bench_fused.cpp share: the two reference networks' shapes and the
// registration entry points main() calls.
#pragma once
#include <cstddef>
#include <vector>

namespace ctml::bench {

struct layer_shape {
    std::size_t in;
    std::size_t out;
};

struct network {
    const char* name;
    std::size_t batch;
    std::vector<layer_shape> layers;
};

// The two reference recipes (shared/REFERENCE.md): Keras 784-300-100-10 batch 50, Chainer
// 784-100-100-10 batch 128.
inline const std::vector<network>& networks() {
    static const std::vector<network> nets{
        {"keras", 50, {{784, 300}, {300, 100}, {100, 10}}},
        {"chainer", 128, {{784, 100}, {100, 100}, {100, 10}}},
    };
    return nets;
}

/// The element-wise kernels of one step (include/ctml/kernels/cpu/fused.hpp, the fused
/// softmax–cross-entropy, the optimizer updates, the uint8 → float batch gather), single-threaded.
void register_fused_benchmarks();

} // namespace ctml::bench
