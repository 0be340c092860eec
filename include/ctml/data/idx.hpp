// SPDX-License-Identifier: MIT
// IDX files (the MNIST format), raw or gzip-compressed: a header of magic, element type, dimension
// count and big-endian 32-bit dimensions, then the elements in row-major order.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "ctml/config.hpp"
#include "ctml/core/error.hpp"
#include "ctml/data/detail/gzip.hpp"

namespace ctml {

/// @brief The content of an IDX file of unsigned bytes: its dimensions and its elements,
/// row-major. `data.size()` is the product of `dims`.
struct idx_array {
    std::vector<std::size_t> dims;
    std::vector<std::uint8_t> data;

    std::size_t size() const noexcept { return data.size(); }
};

namespace detail {

/// Name of an IDX element type code, as the format's description spells it.
inline std::string idx_type_name(std::uint8_t code) {
    switch (code) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "16-bit integer";
    case 0x0C: return "32-bit integer";
    case 0x0D: return "32-bit float";
    case 0x0E: return "64-bit float";
    default: return "unknown type";
    }
}

inline std::string hex_byte(std::uint8_t b) {
    constexpr char digits[] = "0123456789ABCDEF";
    return std::string("0x") + digits[b >> 4] + digits[b & 0xF];
}

inline std::string join_dims(const std::vector<std::size_t>& dims) {
    std::string s;
    for (std::size_t i = 0; i < dims.size(); ++i) {
        s += (i ? " x " : "") + std::to_string(dims[i]);
    }
    return s;
}

// Reads exactly n header bytes or says how far the header got.
inline void read_idx_header_bytes(byte_source& src, std::uint8_t* dst, std::size_t n,
                                  std::size_t already, std::size_t header_size) {
    const std::size_t got = src.read(dst, n);
    if (got != n) {
        throw format_error(src.path().string() + ": truncated IDX header: the file holds " +
                           std::to_string(already + got) + " bytes, the header needs " +
                           std::to_string(header_size));
    }
}

// Reads n elements into out in chunks, never growing `out` ahead of data that has arrived beyond
// what the file's size can hold, so a header that lies costs no memory.
inline void read_idx_elements(byte_source& src, std::size_t n, std::vector<std::uint8_t>& out,
                              const std::string& dims_text) {
    const auto bound = src.max_plain_size();
    out.reserve(bound ? static_cast<std::size_t>(std::min<std::uint64_t>(n, *bound)) : 0);
    constexpr std::size_t chunk = std::size_t{4} << 20;
    constexpr std::size_t min_chunk = std::size_t{1} << 16;
    while (out.size() < n) {
        const std::size_t old = out.size();
        // Stay inside the reserved room while there is some; past it, grow only by what the
        // data already read justifies (the vector doubles).
        const std::size_t room = std::max(out.capacity() - old, min_chunk);
        const std::size_t want = std::min({n - old, chunk, room});
        out.resize(old + want);
        const std::size_t got = src.read(out.data() + old, want);
        if (got < want) {
            throw format_error(src.path().string() + ": truncated data: the dimensions " +
                               dims_text + " declare " + std::to_string(n) +
                               " bytes of data, the file holds only " + std::to_string(old + got));
        }
    }
}

} // namespace detail

/// @brief Reads an IDX file of unsigned bytes (element type 0x08) with any number of
/// dimensions, raw or gzip-compressed (recognised by its content, not its name).
/// Throws ctml::format_error naming the file and the problem: wrong magic, another element type,
/// no dimensions or a zero dimension, more than CTML_IDX_MAX_ELEMENTS elements, truncated or
/// trailing bytes, a corrupt or truncated gzip stream; ctml::file_error when it cannot be opened
/// or read, or is not a regular file (a folder, FIFO or device).
inline idx_array read_idx(const std::filesystem::path& path) {
    detail::byte_source src(path);
    const std::string name = path.string();

    std::uint8_t magic[4] = {};
    detail::read_idx_header_bytes(src, magic, 4, 0, 4);
    if (magic[0] != 0 || magic[1] != 0) {
        throw format_error(name + ": not an IDX file: wrong magic number (it starts with " +
                           detail::hex_byte(magic[0]) + " " + detail::hex_byte(magic[1]) +
                           ", an IDX file starts with 0x00 0x00)");
    }
    if (magic[2] != 0x08) {
        throw format_error(name + ": unsupported IDX element type " + detail::hex_byte(magic[2]) +
                           " (" + detail::idx_type_name(magic[2]) +
                           "); only 0x08 (unsigned byte) is supported");
    }
    const std::size_t ndims = magic[3];
    if (ndims == 0) {
        throw format_error(name + ": the IDX header declares 0 dimensions");
    }

    const std::size_t header_size = 4 + 4 * ndims;
    std::vector<std::uint8_t> raw_dims(4 * ndims);
    detail::read_idx_header_bytes(src, raw_dims.data(), raw_dims.size(), 4, header_size);

    idx_array out;
    out.dims.resize(ndims);
    std::size_t count = 1;
    bool overflow = false;
    for (std::size_t i = 0; i < ndims; ++i) {
        const std::uint8_t* b = raw_dims.data() + 4 * i;
        const std::size_t d = (std::size_t{b[0]} << 24) | (std::size_t{b[1]} << 16) |
                              (std::size_t{b[2]} << 8) | std::size_t{b[3]};
        out.dims[i] = d;
        if (d == 0) {
            throw format_error(name + ": dimension " + std::to_string(i) +
                               " of the IDX header is 0");
        }
        if (count > std::numeric_limits<std::size_t>::max() / d) {
            overflow = true;
        } else {
            count *= d;
        }
    }
    const std::string dims_text = detail::join_dims(out.dims);
    constexpr std::size_t limit = CTML_IDX_MAX_ELEMENTS;
    if (overflow || count > limit) {
        throw format_error(name + ": the dimensions " + dims_text + " declare " +
                           (overflow ? std::string("more than 2^64") : std::to_string(count)) +
                           " elements, more than the limit CTML_IDX_MAX_ELEMENTS = " +
                           std::to_string(limit));
    }

    // A raw file's size settles truncation and trailing bytes before any allocation.
    if (!src.is_gzip() && src.file_size()) {
        const std::uint64_t have = *src.file_size() - header_size;
        if (have != count) {
            throw format_error(name + ": " + (have < count ? "truncated data" : "trailing bytes") +
                               ": the dimensions " + dims_text + " declare " +
                               std::to_string(count) + " bytes of data, the file holds " +
                               (have < count ? "only " : "") + std::to_string(have));
        }
    }

    detail::read_idx_elements(src, count, out.data, dims_text);
    constexpr std::uint64_t cap = std::uint64_t{1} << 26;
    if (const std::uint64_t extra = src.skip_rest(cap); extra > 0) {
        throw format_error(name + ": trailing bytes: " +
                           (extra > cap ? "more than " + std::to_string(cap)
                                        : std::to_string(extra)) +
                           " bytes after the " + std::to_string(count) +
                           " bytes of data that the dimensions " + dims_text + " declare");
    }
    return out;
}

} // namespace ctml
