// SPDX-License-Identifier: MIT
// main() of the CUDA tests (tests/cuda/test_*.cu): doctest, after a look for a device. Without
// one (no GPU, or no driver) only the test cases of the suite "host" run, the ones that never
// touch the device (configuration errors, checks, layouts), and the program then exits 77, which
// CTest reports as skipped. A host case that fails still fails the test.
#define DOCTEST_CONFIG_IMPLEMENT
#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <cstdio>

int main(int argc, char** argv) {
    int devices = 0;
    const cudaError_t status = cudaGetDeviceCount(&devices);
    const bool gpu = status == cudaSuccess && devices > 0;
    doctest::Context context(argc, argv);
    if (gpu) {
        cudaDeviceProp prop{};
        if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) {
            std::printf("device: %s (sm_%d%d), %d device(s)\n", prop.name, prop.major, prop.minor,
                        devices);
        }
    } else {
        std::printf("no CUDA device (%s): running the \"host\" test suite only, the rest is "
                    "skipped\n",
                    status != cudaSuccess ? cudaGetErrorString(status) : "0 devices");
        context.addFilter("test-suite", "host");
    }
    const int rc = context.run();
    if (context.shouldExit() || rc != 0) {
        return rc;
    }
    return gpu ? 0 : 77;
}
