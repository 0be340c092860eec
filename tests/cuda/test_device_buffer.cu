// SPDX-License-Identifier: MIT
// ctml::cuda::device_buffer and the CUDA/cuBLAS error checks: round trips, offsets, moves, zero
// fill, range errors, and messages that name the failed call, its site and the library's error.
// doctest; without a GPU only the "host" suite runs (gpu_main.cu) and the program exits 77.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "ctml/core/error.hpp"
#include "ctml/kernels/cuda/check.cuh"
#include "ctml/kernels/cuda/device_buffer.cuh"

namespace {

void expect(bool ok, const std::string& what) {
    CHECK_MESSAGE(ok, what);
}

template <class E, class F>
void expect_throw(F&& f, const std::vector<std::string>& needles, const std::string& what) {
    try {
        f();
        expect(false, what + ": no exception");
    } catch (const E& e) {
        const std::string msg = e.what();
        for (const auto& n : needles) {
            expect(msg.find(n) != std::string::npos,
                   what + ": message '" + msg + "' lacks '" + n + "'");
        }
        MESSAGE(what << " -> " << msg);
    } catch (const std::exception& e) {
        expect(false, what + ": wrong exception type: " + e.what());
    }
}

void round_trip() {
    std::vector<float> host(1000);
    for (std::size_t i = 0; i < host.size(); ++i) {
        host[i] = 0.5f * static_cast<float>(i) - 17.25f;
    }
    ctml::cuda::device_buffer<float> d(host.size());
    expect(d.size() == 1000 && d.bytes() == 4000 && !d.empty() && d.data() != nullptr, "sizes");

    std::vector<float> back(host.size(), -1.0f);
    d.download(back.data(), back.size());
    bool zeroed = true;
    for (float v : back) {
        zeroed = zeroed && v == 0.0f;
    }
    expect(zeroed, "a new buffer is zero-filled");

    d.upload(host.data(), host.size());
    d.download(back.data(), back.size());
    expect(back == host, "upload then download gives the same values");

    const float part[3] = {1.0f, 2.0f, 3.0f};
    d.upload(part, 3, 500);
    float got[5] = {};
    d.download(got, 5, 499);
    expect(got[0] == host[499] && got[1] == 1.0f && got[2] == 2.0f && got[3] == 3.0f &&
               got[4] == host[503],
           "upload and download at an offset touch only their range");

    d.zero();
    CTML_CUDA_CHECK(cudaDeviceSynchronize());
    d.download(back.data(), back.size());
    zeroed = true;
    for (float v : back) {
        zeroed = zeroed && v == 0.0f;
    }
    expect(zeroed, "zero() clears every element");
}

void moves_and_resize() {
    ctml::cuda::device_buffer<std::int32_t> a(16);
    const std::int32_t v[2] = {42, -7};
    a.upload(v, 2);
    const std::int32_t* p = a.data();
    ctml::cuda::device_buffer<std::int32_t> b(std::move(a));
    expect(b.data() == p && b.size() == 16, "move construction takes the allocation");
    expect(a.data() == nullptr && a.size() == 0 && a.empty(), "the moved-from buffer is empty");
    ctml::cuda::device_buffer<std::int32_t> c(4);
    c = std::move(b);
    std::int32_t got[2] = {};
    c.download(got, 2);
    expect(c.data() == p && got[0] == 42 && got[1] == -7, "move assignment keeps the contents");
    c.resize(16);
    expect(c.data() == p, "resize to the same size keeps the allocation");
    c.resize(32);
    c.download(got, 2);
    expect(c.size() == 32 && got[0] == 0 && got[1] == 0, "resize to a new size zero-fills");
    c.resize(0);
    expect(c.empty() && c.data() == nullptr, "resize(0) frees");
}

void errors() {
    ctml::cuda::device_buffer<double> d(8);
    std::vector<double> host(9);
    expect_throw<ctml::config_error>([&] { d.upload(host.data(), 9); },
                                     {"device_buffer::upload", "[0, 9)", "8"},
                                     "upload past the end");
    expect_throw<ctml::config_error>([&] { d.download(host.data(), 2, 7); },
                                     {"device_buffer::download", "[7, 9)"},
                                     "download past the end");
    // More than any GPU holds: cudaMalloc refuses, and the message says how much was asked.
    const std::size_t huge = std::size_t{1} << 50;
    expect_throw<ctml::cuda::cuda_error>(
        [&] { ctml::cuda::device_buffer<std::uint8_t> big(huge); },
        {"cudaMalloc of " + std::to_string(huge) + " bytes", "cudaErrorMemoryAllocation",
         "device_buffer.cuh"},
        "an impossible allocation");
    cudaGetLastError(); // the failed allocation is not sticky; clear it for the checks below
    expect_throw<ctml::cuda::cuda_error>(
        [&] { CTML_CUDA_CHECK(cudaSetDevice(std::numeric_limits<int>::max())); },
        {"cudaSetDevice", "cudaErrorInvalidDevice", "test_device_buffer.cu:"},
        "a failed runtime call");
    cudaGetLastError();
    expect_throw<ctml::cuda::cuda_error>(
        [&] {
            float one = 1.0f;
            CTML_CUDA_CHECK(cublasSscal(nullptr, 1, &one, nullptr, 1));
        },
        {"cublasSscal", "CUBLAS_STATUS_NOT_INITIALIZED", "test_device_buffer.cu:"},
        "a failed cuBLAS call");
    expect_throw<ctml::error>([&] { CTML_CUDA_CHECK(cudaErrorInvalidValue); },
                              {"cudaErrorInvalidValue"}, "cuda_error is a ctml::error");
    // The buffer survives the failures around it.
    const double x[2] = {1.5, 2.5};
    d.upload(x, 2);
    double y[2] = {};
    d.download(y, 2);
    expect(y[0] == 1.5 && y[1] == 2.5, "buffers still work after reported failures");
}

} // namespace

// The checks and the range errors come before any CUDA call: they run without a GPU.
TEST_CASE("a failed status becomes a cuda_error naming the call, its site and the library's "
          "error" * doctest::test_suite("host")) {
    expect_throw<ctml::error>([&] { CTML_CUDA_CHECK(cudaErrorInvalidValue); },
                              {"cudaErrorInvalidValue", "test_device_buffer.cu:"},
                              "cuda_error is a ctml::error");
    expect_throw<ctml::cuda::cuda_error>([&] { CTML_CUDA_CHECK(CUBLAS_STATUS_NOT_INITIALIZED); },
                                         {"CUBLAS_STATUS_NOT_INITIALIZED", "failed"},
                                         "a cuBLAS status");
    CTML_CUDA_CHECK(cudaSuccess);
    CTML_CUDA_CHECK(CUBLAS_STATUS_SUCCESS);
}

TEST_CASE("an empty device_buffer refuses copies past its end" * doctest::test_suite("host")) {
    ctml::cuda::device_buffer<float> d;
    CHECK(d.empty());
    CHECK(d.data() == nullptr);
    float x = 1.0f;
    expect_throw<ctml::config_error>([&] { d.upload(&x, 1); }, {"device_buffer::upload", "[0, 1)"},
                                     "upload into an empty buffer");
    expect_throw<ctml::config_error>([&] { d.download(&x, 1); },
                                     {"device_buffer::download", "[0, 1)"},
                                     "download from an empty buffer");
    d.upload(&x, 0); // nothing to copy: no CUDA call
}

TEST_CASE("device_buffer round trips at offsets and zero fills") {
    round_trip();
}

TEST_CASE("device_buffer moves and resizes") {
    moves_and_resize();
}

TEST_CASE("device_buffer and the checks report failures, and buffers survive them") {
    errors();
}
