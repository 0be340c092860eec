// SPDX-License-Identifier: MIT
// An owning, move-only array in device memory (cudaMalloc), the GPU counterpart of ctml::buffer.
#pragma once
#include "ctml/config.hpp"
#if !CTML_WITH_CUDA
#error "ctml/kernels/cuda/*.cuh need CTML_WITH_CUDA=1 (configure ctml with CUDA, or define it) and nvcc"
#endif

#include <cuda_runtime.h>

#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>

#include "ctml/core/error.hpp"
#include "ctml/kernels/cuda/check.cuh"

namespace ctml::cuda {

/// @brief A fixed-size array of T in device memory, zero-filled when allocated. Allocation happens
/// on construction or resize only; copies to and from the host are explicit.
/// @tparam T a trivially copyable element type (bytes are moved with cudaMemcpy).
template <class T>
class device_buffer {
    static_assert(std::is_trivially_copyable_v<T>,
                  "ctml::cuda::device_buffer<T>: T must be trivially copyable (it is moved with "
                  "cudaMemcpy); keep class types on the host");

public:
    device_buffer() = default;
    explicit device_buffer(std::size_t n) { resize(n); }
    device_buffer(const device_buffer&) = delete;
    device_buffer& operator=(const device_buffer&) = delete;
    device_buffer(device_buffer&& other) noexcept
        : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
    device_buffer& operator=(device_buffer&& other) noexcept {
        if (this != &other) {
            release();
            data_ = std::exchange(other.data_, nullptr);
            size_ = std::exchange(other.size_, 0);
        }
        return *this;
    }
    ~device_buffer() { release(); }

    /// Reallocates (zero-filled) only when the size changes; pointers taken before then dangle.
    void resize(std::size_t n) {
        if (n == size_) {
            return;
        }
        release();
        if (n == 0) {
            return;
        }
        void* p = nullptr;
        detail::check(cudaMalloc(&p, n * sizeof(T)),
                      "cudaMalloc of " + std::to_string(n * sizeof(T)) + " bytes (" +
                          std::to_string(n) + " elements) for ctml::cuda::device_buffer",
                      __FILE__, __LINE__);
        data_ = static_cast<T*>(p);
        size_ = n;
        CTML_CUDA_CHECK(cudaMemset(data_, 0, n * sizeof(T)));
    }

    /// Copies n host elements into [offset, offset + n) and waits for the copy.
    void upload(const T* host, std::size_t n, std::size_t offset = 0, cudaStream_t stream = nullptr) {
        check_range("upload", n, offset);
        if (n == 0) {
            return;
        }
        CTML_CUDA_CHECK(cudaMemcpyAsync(data_ + offset, host, n * sizeof(T),
                                        cudaMemcpyHostToDevice, stream));
        CTML_CUDA_CHECK(cudaStreamSynchronize(stream));
    }

    /// Copies [offset, offset + n) to the host and waits for the copy.
    void download(T* host, std::size_t n, std::size_t offset = 0,
                  cudaStream_t stream = nullptr) const {
        check_range("download", n, offset);
        if (n == 0) {
            return;
        }
        CTML_CUDA_CHECK(cudaMemcpyAsync(host, data_ + offset, n * sizeof(T),
                                        cudaMemcpyDeviceToHost, stream));
        CTML_CUDA_CHECK(cudaStreamSynchronize(stream));
    }

    /// Enqueues a zero fill on `stream` (does not wait).
    void zero(cudaStream_t stream = nullptr) {
        if (size_ != 0) {
            CTML_CUDA_CHECK(cudaMemsetAsync(data_, 0, size_ * sizeof(T), stream));
        }
    }

    T* data() noexcept { return data_; }
    const T* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    std::size_t bytes() const noexcept { return size_ * sizeof(T); }
    bool empty() const noexcept { return size_ == 0; }

private:
    void check_range(const char* what, std::size_t n, std::size_t offset) const {
        if (offset > size_ || n > size_ - offset) {
            throw config_error("ctml::cuda::device_buffer::" + std::string(what) + ": elements [" +
                               std::to_string(offset) + ", " + std::to_string(offset + n) +
                               ") are outside the buffer's " + std::to_string(size_));
        }
    }
    void release() noexcept {
        if (data_) {
            cudaFree(data_); // a failure here is a dead context; nothing left to report it to
            data_ = nullptr;
            size_ = 0;
        }
    }

    T* data_ = nullptr;
    std::size_t size_ = 0;
};

} // namespace ctml::cuda
