// SPDX-License-Identifier: MIT
// Host-only consumer of the ctml::cuda component: it must carry CTML_WITH_CUDA=1 and link the
// CUDA runtime and cuBLAS (both answer version queries without a GPU).
#include <ctml/config.hpp>

#include <cublas_api.h>
#include <cuda_runtime_api.h>

#include <cstdio>

static_assert(CTML_WITH_CUDA == 1, "ctml::cuda must define CTML_WITH_CUDA=1");

int main() {
    int runtime = 0;
    int cublas_major = 0;
    if (cudaRuntimeGetVersion(&runtime) != cudaSuccess ||
        cublasGetProperty(MAJOR_VERSION, &cublas_major) != CUBLAS_STATUS_SUCCESS) {
        std::fprintf(stderr, "consumer_cuda: CUDA runtime or cuBLAS did not answer\n");
        return 1;
    }
    std::printf("consumer_cuda: CUDA runtime %d, cuBLAS %d\n", runtime, cublas_major);
    return runtime > 0 && cublas_major > 0 ? 0 : 1;
}
