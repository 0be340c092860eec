// SPDX-License-Identifier: MIT
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>
#include <span>

#include "ctml/config.hpp"

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

    /// Reallocates (contents reset to zero) only when the size changes.
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
