// SPDX-License-Identifier: MIT
// The packed metric points of the SQLite store's metric_chunks table: 24 bytes a point, value
// (IEEE-754 double bits), step (int64), timestamp (int64 ms), each little-endian.
#pragma once
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace ctml::workspace::detail {

/// Points per chunk: chunks start at multiples of this, and only the last one is partial.
inline constexpr std::int64_t metric_chunk_points = 4096;
inline constexpr std::size_t metric_point_bytes = 24;

inline void put_u64(std::string& out, std::uint64_t v) {
    char b[8];
    for (int i = 0; i < 8; ++i) {
        b[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
    }
    out.append(b, 8);
}

inline std::uint64_t get_u64(const char* p) {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) {
        v |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
    }
    return v;
}

inline void encode_point(std::string& out, double value, std::int64_t step, std::int64_t ts) {
    put_u64(out, std::bit_cast<std::uint64_t>(value));
    put_u64(out, static_cast<std::uint64_t>(step));
    put_u64(out, static_cast<std::uint64_t>(ts));
}

/// Calls f(value, step, ts) for each whole point of `data`.
template <class F>
void decode_points(std::string_view data, F&& f) {
    for (std::size_t i = 0; i + metric_point_bytes <= data.size(); i += metric_point_bytes) {
        const char* p = data.data() + i;
        f(std::bit_cast<double>(get_u64(p)), static_cast<std::int64_t>(get_u64(p + 8)),
          static_cast<std::int64_t>(get_u64(p + 16)));
    }
}

} // namespace ctml::workspace::detail
