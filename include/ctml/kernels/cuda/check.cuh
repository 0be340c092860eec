// SPDX-License-Identifier: MIT
// Error checking for CUDA runtime and cuBLAS calls: a failed call becomes a ctml::cuda::cuda_error
// whose message names the call, its file and line, and the library's own error name and text, so
// that a trainer that prints e.what() says where and why the GPU refused.
#pragma once
#include "ctml/config.hpp"
#if !CTML_WITH_CUDA
#error "ctml/kernels/cuda/*.cuh need CTML_WITH_CUDA=1 (configure ctml with CUDA, or define it) and nvcc"
#endif

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "ctml/core/error.hpp"

namespace ctml::cuda {

/// @brief A CUDA runtime or cuBLAS call failed; the message names the call and its site.
class cuda_error : public ctml::error {
public:
    using ctml::error::error;
};

namespace detail {

inline std::string call_site(const std::string& call, const char* file, int line) {
    return std::string(file) + ":" + std::to_string(line) + ": " + call;
}

inline void check(cudaError_t status, const std::string& call, const char* file, int line) {
    if (status != cudaSuccess) {
        throw cuda_error(call_site(call, file, line) + " failed: " + cudaGetErrorName(status) +
                         " (" + cudaGetErrorString(status) + ")");
    }
}

inline void check(cublasStatus_t status, const std::string& call, const char* file, int line) {
    if (status != CUBLAS_STATUS_SUCCESS) {
        throw cuda_error(call_site(call, file, line) + " failed: " + cublasGetStatusName(status) +
                         " (" + cublasGetStatusString(status) + ")");
    }
}

} // namespace detail
} // namespace ctml::cuda

/// Checks a cudaError_t or cublasStatus_t expression; throws ctml::cuda::cuda_error naming it.
#define CTML_CUDA_CHECK(call) ::ctml::cuda::detail::check((call), #call, __FILE__, __LINE__)

/// Checks the launch that precedes it (bad configuration, no kernel image for this GPU).
#define CTML_CUDA_CHECK_LAUNCH(what)                                                               \
    ::ctml::cuda::detail::check(cudaGetLastError(), std::string("launch of ") + (what), __FILE__,  \
                                __LINE__)
