// SPDX-License-Identifier: MIT
// A separate project's view of ctml: the umbrella header (so every installed host header must be
// there and compile), seeded random matrices, one GEMM through ctml's CBLAS kernel checked
// against a plain triple loop, and the version the build system promised.
#include <ctml/ctml.hpp>

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <vector>

#ifndef CTML_EXPECTED_VERSION
#error "the consumer build passes CTML_EXPECTED_VERSION (the version its build system found)"
#endif

int main() {
    if (std::strcmp(CTML_VERSION_STRING, CTML_EXPECTED_VERSION) != 0) {
        std::fprintf(stderr, "consumer: headers say ctml %s, the package said %s\n",
                     CTML_VERSION_STRING, CTML_EXPECTED_VERSION);
        return 1;
    }
    constexpr std::size_t m = 7, n = 5, k = 3;
    ctml::rng rng(2024);
    std::vector<float> a(m * k), b(k * n), c(m * n, 0.0f);
    for (auto& x : a) x = static_cast<float>(rng.uniform(-1.0, 1.0));
    for (auto& x : b) x = static_cast<float>(rng.uniform(-1.0, 1.0));
    ctml::kernels::cpu::gemm(ctml::kernels::cpu::trans::no, ctml::kernels::cpu::trans::no, m, n,
                             k, 1.0f, a.data(), b.data(), 0.0f, c.data());
    double max_error = 0.0;
    for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
            double expected = 0.0;
            for (std::size_t p = 0; p < k; ++p) {
                expected += static_cast<double>(a[i * k + p]) * static_cast<double>(b[p * n + j]);
            }
            max_error = std::fmax(max_error, std::fabs(expected - static_cast<double>(c[i * n + j])));
        }
    }
    std::printf("consumer: ctml %s, %zux%zux%zu GEMM max error %.3g\n", CTML_VERSION_STRING, m,
                n, k, max_error);
    return max_error < 1e-5 ? 0 : 1;
}
