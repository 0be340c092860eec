// SPDX-License-Identifier: MIT
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <limits>
#include <memory>
#include <new>
#include <span>
#include <string>

#include "ctml/config.hpp"
#include "ctml/core/error.hpp"

namespace ctml {

namespace detail {
struct aligned_free {
    void operator()(void* p) const noexcept { std::free(p); }
};
} // namespace detail

/// @brief A fixed-size, zero-initialised, CTML_BUFFER_ALIGNMENT-aligned array of T.
/// Allocated once (construction or resize); element access never allocates.
template <class T>
class buffer {
public:
    buffer() = default;
    explicit buffer(std::size_t n) { resize(n); }
    buffer(const buffer& other) : buffer(other.size_) {
        std::copy_n(other.data(), size_, data());
    }
    buffer& operator=(const buffer& other) {
        if (this != &other) {
            resize(other.size_);
            std::copy_n(other.data(), size_, data());
        }
        return *this;
    }
    buffer(buffer&&) noexcept = default;
    buffer& operator=(buffer&&) noexcept = default;

    /// Reallocates (contents reset to zero) only when the size changes. A size whose byte count
    /// overflows throws ctml::config_error; a failed allocation std::bad_alloc.
    void resize(std::size_t n) {
        if (n == size_ && data_) {
            return;
        }
        data_.reset();
        size_ = 0;
        if (n == 0) {
            return;
        }
        constexpr std::size_t a = CTML_BUFFER_ALIGNMENT;
        // n * sizeof(T), rounded up to the alignment, must not wrap: a wrapped size would
        // allocate a small block that the caller then indexes as n elements. No object may
        // exceed PTRDIFF_MAX bytes, so that is the bound.
        constexpr std::size_t max_elements =
            (static_cast<std::size_t>(std::numeric_limits<std::ptrdiff_t>::max()) - (a - 1)) /
            sizeof(T);
        if (n > max_elements) {
            throw config_error("buffer: " + std::to_string(n) + " elements of " +
                               std::to_string(sizeof(T)) +
                               " bytes do not fit in the address space (at most " +
                               std::to_string(max_elements) + ")");
        }
        const std::size_t bytes = (n * sizeof(T) + a - 1) / a * a;
        void* p = std::aligned_alloc(a, bytes);
        if (!p) {
            throw std::bad_alloc();
        }
        data_.reset(p);
        size_ = n;
        std::fill_n(data(), n, T{});
    }
    void fill(T v) noexcept { std::fill_n(data(), size_, v); }

    T* data() noexcept { return static_cast<T*>(data_.get()); }
    const T* data() const noexcept { return static_cast<const T*>(data_.get()); }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    T& operator[](std::size_t i) noexcept { return data()[i]; }
    const T& operator[](std::size_t i) const noexcept { return data()[i]; }
    T* begin() noexcept { return data(); }
    T* end() noexcept { return data() + size_; }
    const T* begin() const noexcept { return data(); }
    const T* end() const noexcept { return data() + size_; }
    std::span<T> span() noexcept { return {data(), size_}; }
    std::span<const T> span() const noexcept { return {data(), size_}; }

private:
    std::unique_ptr<void, detail::aligned_free> data_;
    std::size_t size_ = 0;
};

} // namespace ctml
