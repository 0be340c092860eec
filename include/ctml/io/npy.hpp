// SPDX-License-Identifier: MIT
// numpy's .npy format (version 1.0 written; 1.0, 2.0 and 3.0 read): one C-ordered little-endian
// array of float32, float64, int32, int64 or uint8, of any rank.
#pragma once
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "ctml/config.hpp"
#include "ctml/core/error.hpp"
#include "ctml/io/file.hpp"

namespace ctml::io {

static_assert(std::endian::native == std::endian::little,
              "ctml's .npy/.npz code copies little-endian data as is; it needs a little-endian host");

/// @brief The element types ctml reads and writes, named by their numpy descr.
enum class npy_dtype : std::uint8_t { f4, f8, i4, i8, u1 };

/// numpy's descr string: "<f4", "<f8", "<i4", "<i8", "|u1".
constexpr std::string_view npy_descr(npy_dtype t) noexcept {
    switch (t) {
    case npy_dtype::f4: return "<f4";
    case npy_dtype::f8: return "<f8";
    case npy_dtype::i4: return "<i4";
    case npy_dtype::i8: return "<i8";
    case npy_dtype::u1: return "|u1";
    }
    return "?";
}

constexpr std::size_t npy_itemsize(npy_dtype t) noexcept {
    switch (t) {
    case npy_dtype::f4: return 4;
    case npy_dtype::f8: return 8;
    case npy_dtype::i4: return 4;
    case npy_dtype::i8: return 8;
    case npy_dtype::u1: return 1;
    }
    return 0;
}

/// @brief C++ scalars with a .npy dtype: float, double, 32- and 64-bit signed integers,
/// std::uint8_t. (`char` is not one: write std::uint8_t for bytes.)
template <class T>
concept npy_scalar =
    std::same_as<T, float> || std::same_as<T, double> || std::same_as<T, std::uint8_t> ||
    (std::signed_integral<T> && !std::same_as<T, char> && (sizeof(T) == 4 || sizeof(T) == 8));

/// npy_dtype_of<T>: the dtype stored for T.
template <npy_scalar T>
inline constexpr npy_dtype npy_dtype_of = std::same_as<T, float>    ? npy_dtype::f4
                                          : std::same_as<T, double> ? npy_dtype::f8
                                          : sizeof(T) == 1          ? npy_dtype::u1
                                          : sizeof(T) == 4          ? npy_dtype::i4
                                                                    : npy_dtype::i8;

/// @brief An array shape, outermost dimension first; empty for a 0-d (scalar) array.
using npy_shape = std::vector<std::size_t>;

namespace detail {

inline std::string npy_shape_text(const npy_shape& shape) {
    std::string s = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        s += (i ? ", " : "") + std::to_string(shape[i]);
    }
    return s + (shape.size() == 1 ? ",)" : ")");
}

/// Element count, or false when it overflows size_t (a hostile header).
inline bool npy_element_count(const npy_shape& shape, std::size_t& n) noexcept {
    n = 1;
    for (const std::size_t d : shape) {
        if (d != 0 && n > std::numeric_limits<std::size_t>::max() / d) {
            return false;
        }
        n *= d;
    }
    return true;
}

/// Whether converting every value of `from` to T keeps it exactly (plus f8 -> float, see as()).
template <npy_scalar T>
constexpr bool npy_converts(npy_dtype from) noexcept {
    constexpr npy_dtype to = npy_dtype_of<T>;
    if (from == to) {
        return true;
    }
    switch (to) {
    case npy_dtype::f8:
        return from == npy_dtype::f4 || from == npy_dtype::i4 || from == npy_dtype::u1;
    case npy_dtype::f4: return from == npy_dtype::f8 || from == npy_dtype::u1;
    case npy_dtype::i8: return from == npy_dtype::i4 || from == npy_dtype::u1;
    case npy_dtype::i4: return from == npy_dtype::u1;
    case npy_dtype::u1: return false;
    }
    return false;
}

template <class From, class To>
void npy_convert(const std::byte* src, std::size_t n, To* dst) noexcept {
    for (std::size_t i = 0; i < n; ++i) {
        From v;
        std::memcpy(&v, src + i * sizeof(From), sizeof(From));
        dst[i] = static_cast<To>(v);
    }
}

} // namespace detail

/// @brief One array read from a .npy file or an .npz entry: dtype, shape and the raw
/// little-endian C-ordered bytes. `source` names it in errors ("weights.npz: entry "b.npy"").
struct npy_array {
    npy_dtype dtype = npy_dtype::f4;
    npy_shape shape;
    std::vector<std::byte> data;
    std::string source;

    /// The number of elements (1 for a 0-d array).
    std::size_t size() const noexcept { return data.size() / npy_itemsize(dtype); }

    /// Copies the elements into `out` (which must hold exactly size() of them), converting
    /// only when no value changes: f4->f8, u1->any, i4->i8, i4->f8; and f8->f4, rounded to
    /// nearest, because numpy saves float64 by default and networks train in float. Every other
    /// pair (f4->i4, i8->f4, i8->i4, i4->f4, ...) throws ctml::format_error naming the source,
    /// the stored dtype and T, as does a size mismatch.
    template <npy_scalar T>
    void copy_to(std::span<T> out) const {
        if (!detail::npy_converts<T>(dtype)) {
            throw format_error(source + ": stored as " + std::string(npy_descr(dtype)) +
                               ", which does not convert exactly to " +
                               std::string(npy_descr(npy_dtype_of<T>)) +
                               " (ctml converts only when no value changes, and f8 to f4)");
        }
        if (out.size() != size()) {
            throw format_error(source + ": has " + std::to_string(size()) + " elements (shape " +
                               detail::npy_shape_text(shape) + "), destination holds " +
                               std::to_string(out.size()));
        }
        const std::size_t n = size();
        switch (dtype) {
        case npy_dtype::f4: detail::npy_convert<float>(data.data(), n, out.data()); break;
        case npy_dtype::f8: detail::npy_convert<double>(data.data(), n, out.data()); break;
        case npy_dtype::i4: detail::npy_convert<std::int32_t>(data.data(), n, out.data()); break;
        case npy_dtype::i8: detail::npy_convert<std::int64_t>(data.data(), n, out.data()); break;
        case npy_dtype::u1: detail::npy_convert<std::uint8_t>(data.data(), n, out.data()); break;
        }
    }

    /// The elements as a std::vector<T>, with copy_to()'s conversion rules.
    template <npy_scalar T>
    std::vector<T> as() const {
        std::vector<T> out(size());
        copy_to(std::span<T>(out));
        return out;
    }
};

/// @brief The bytes of a version 1.0 .npy file holding `shape` elements of T from `data`
/// (C order). The header is padded so that the data starts at a multiple of 64 bytes.
template <npy_scalar T>
std::string encode_npy(const npy_shape& shape, const T* data) {
    std::size_t n = 0;
    if (!detail::npy_element_count(shape, n) || n > std::numeric_limits<std::size_t>::max() /
                                                        sizeof(T)) {
        throw format_error("encode_npy: shape " + detail::npy_shape_text(shape) +
                           " has too many elements");
    }
    std::string header = "{'descr': '" + std::string(npy_descr(npy_dtype_of<T>)) +
                         "', 'fortran_order': False, 'shape': " + detail::npy_shape_text(shape) +
                         ", }";
    // numpy pads with spaces and ends with '\n' so that magic + lengths + header is 64-aligned.
    const std::size_t unpadded = 10 + header.size() + 1;
    header.append((64 - unpadded % 64) % 64, ' ');
    header += '\n';
    if (header.size() > 0xFFFF) {
        throw format_error("encode_npy: shape " + detail::npy_shape_text(shape) +
                           " makes a header longer than version 1.0 allows");
    }
    std::string out;
    out.reserve(10 + header.size() + n * sizeof(T));
    out.append("\x93NUMPY\x01\x00", 8);
    out += static_cast<char>(header.size() & 0xFF);
    out += static_cast<char>(header.size() >> 8);
    out += header;
    if (n > 0) {
        out.append(reinterpret_cast<const char*>(data), n * sizeof(T));
    }
    return out;
}

namespace detail {

/// A reader of numpy's header: a Python dict literal with the keys descr, fortran_order, shape.
class npy_header_parser {
public:
    npy_header_parser(std::string_view text, const std::string& source)
        : s_(text), source_(source) {}

    void parse(npy_dtype& dtype, npy_shape& shape) {
        bool seen_descr = false, seen_fortran = false, seen_shape = false;
        bool fortran = false;
        std::string descr;
        expect('{');
        for (;;) {
            skip_ws();
            if (peek() == '}') {
                ++i_;
                break;
            }
            const std::string key = string_literal();
            expect(':');
            if (key == "descr") {
                skip_ws();
                if (peek() == '[') {
                    fail("structured dtypes are not supported (ctml reads <f4, <f8, <i4, <i8, "
                         "|u1)");
                }
                descr = string_literal();
                seen_descr = true;
            } else if (key == "fortran_order") {
                fortran = boolean();
                seen_fortran = true;
            } else if (key == "shape") {
                shape = tuple();
                seen_shape = true;
            } else {
                fail("unexpected key '" + key + "'");
            }
            skip_ws();
            if (peek() == ',') {
                ++i_;
            } else if (peek() != '}') {
                fail("expected ',' or '}' at offset " + std::to_string(i_));
            }
        }
        skip_ws();
        if (i_ != s_.size()) {
            fail("unexpected text after the dictionary at offset " + std::to_string(i_));
        }
        if (!seen_descr || !seen_fortran || !seen_shape) {
            fail(std::string("missing key '") +
                 (!seen_descr ? "descr" : !seen_fortran ? "fortran_order" : "shape") + "'");
        }
        if (descr == "<f4") {
            dtype = npy_dtype::f4;
        } else if (descr == "<f8") {
            dtype = npy_dtype::f8;
        } else if (descr == "<i4") {
            dtype = npy_dtype::i4;
        } else if (descr == "<i8") {
            dtype = npy_dtype::i8;
        } else if (descr == "|u1" || descr == "<u1") {
            dtype = npy_dtype::u1;
        } else {
            throw format_error(source_ + ": unsupported dtype '" + descr +
                               "' (ctml reads <f4, <f8, <i4, <i8, |u1)");
        }
        if (fortran) {
            throw format_error(source_ +
                               ": fortran_order arrays are not supported; save a C-ordered array "
                               "(numpy: np.ascontiguousarray)");
        }
    }

private:
    char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
    void skip_ws() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t')) {
            ++i_;
        }
    }
    void expect(char c) {
        skip_ws();
        if (peek() != c) {
            fail(std::string("expected '") + c + "' at offset " + std::to_string(i_));
        }
        ++i_;
    }
    std::string string_literal() {
        skip_ws();
        const char q = peek();
        if (q != '\'' && q != '"') {
            fail("expected a quoted string at offset " + std::to_string(i_));
        }
        const std::size_t end = s_.find(q, i_ + 1);
        if (end == std::string_view::npos) {
            fail("unterminated string at offset " + std::to_string(i_));
        }
        std::string out(s_.substr(i_ + 1, end - i_ - 1));
        i_ = end + 1;
        return out;
    }
    bool boolean() {
        skip_ws();
        if (s_.substr(i_, 4) == "True") {
            i_ += 4;
            return true;
        }
        if (s_.substr(i_, 5) == "False") {
            i_ += 5;
            return false;
        }
        fail("expected True or False at offset " + std::to_string(i_));
    }
    npy_shape tuple() {
        npy_shape shape;
        expect('(');
        for (;;) {
            skip_ws();
            if (peek() == ')') {
                ++i_;
                return shape;
            }
            if (peek() < '0' || peek() > '9') {
                fail("expected a dimension at offset " + std::to_string(i_));
            }
            std::size_t d = 0;
            while (peek() >= '0' && peek() <= '9') {
                const auto digit = static_cast<std::size_t>(peek() - '0');
                if (d > (std::numeric_limits<std::size_t>::max() - digit) / 10) {
                    fail("dimension too large at offset " + std::to_string(i_));
                }
                d = d * 10 + digit;
                ++i_;
            }
            if (peek() == 'L') { // Python 2 long
                ++i_;
            }
            shape.push_back(d);
            skip_ws();
            if (peek() == ',') {
                ++i_;
            } else if (peek() != ')') {
                fail("expected ',' or ')' in shape at offset " + std::to_string(i_));
            }
        }
    }
    [[noreturn]] void fail(const std::string& what) const {
        std::string_view shown = s_;
        while (!shown.empty() && (shown.back() == ' ' || shown.back() == '\n')) {
            shown.remove_suffix(1); // numpy's padding
        }
        throw format_error(source_ + ": bad .npy header: " + what + " in \"" +
                           std::string(shown) + "\"");
    }

    std::string_view s_;
    const std::string& source_;
    std::size_t i_ = 0;
};

inline std::uint32_t npy_read_le(std::string_view b, std::size_t at, std::size_t n) noexcept {
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < n; ++k) {
        v |= std::uint32_t(static_cast<unsigned char>(b[at + k])) << (8 * k);
    }
    return v;
}

} // namespace detail

/// @brief What a .npy header declares: dtype, shape, where the data starts and how many bytes
/// it takes (overflow-checked), read before any data is.
struct npy_header {
    npy_dtype dtype = npy_dtype::f4;
    npy_shape shape;
    std::size_t data_offset = 0; ///< magic + version + length + header text
    std::size_t data_bytes = 0;  ///< product of the shape times the item size

    std::size_t element_count() const noexcept { return data_bytes / npy_itemsize(dtype); }
};

/// The longest .npy header ctml reads (numpy's own readers refuse headers over 10000 bytes by
/// default); it bounds what parse_npy_header and a header-only look into a deflated entry read.
inline constexpr std::size_t npy_max_header_bytes = std::size_t{1} << 20;

/// @brief Parses the header at the start of `bytes` (which need hold only the header, not the
/// data); ctml::format_error names `source` for bad magic, an unsupported version or dtype,
/// Fortran order, a malformed or truncated header, or a shape whose byte size overflows.
inline npy_header parse_npy_header(std::string_view bytes, const std::string& source) {
    if (bytes.size() < 6 || bytes.substr(0, 6) != std::string_view("\x93NUMPY", 6)) {
        throw format_error(source + ": bad .npy magic (not a numpy array file)");
    }
    if (bytes.size() < 10) {
        throw format_error(source + ": truncated .npy header (" + std::to_string(bytes.size()) +
                           " bytes)");
    }
    const auto major = static_cast<unsigned char>(bytes[6]);
    const auto minor = static_cast<unsigned char>(bytes[7]);
    if ((major != 1 && major != 2 && major != 3) || minor != 0) {
        throw format_error(source + ": unsupported .npy version " + std::to_string(major) + "." +
                           std::to_string(minor) + " (ctml reads 1.0, 2.0, 3.0)");
    }
    const std::size_t len_bytes = major == 1 ? 2 : 4;
    if (bytes.size() < 8 + len_bytes) {
        throw format_error(source + ": truncated .npy header (" + std::to_string(bytes.size()) +
                           " bytes)");
    }
    const std::size_t header_len = detail::npy_read_le(bytes, 8, len_bytes);
    if (header_len > npy_max_header_bytes) {
        throw format_error(source + ": .npy header of " + std::to_string(header_len) +
                           " bytes, more than the " + std::to_string(npy_max_header_bytes) +
                           " ctml reads");
    }
    npy_header h;
    h.data_offset = 8 + len_bytes + header_len;
    if (h.data_offset > bytes.size()) {
        throw format_error(source + ": truncated .npy header (declares " +
                           std::to_string(header_len) + " bytes, " +
                           std::to_string(bytes.size() - 8 - len_bytes) + " present)");
    }
    detail::npy_header_parser(bytes.substr(8 + len_bytes, header_len), source)
        .parse(h.dtype, h.shape);
    std::size_t n = 0;
    const std::size_t item = npy_itemsize(h.dtype);
    if (!detail::npy_element_count(h.shape, n) || n > std::numeric_limits<std::size_t>::max() / item) {
        throw format_error(source + ": shape " + detail::npy_shape_text(h.shape) +
                           " has too many elements");
    }
    h.data_bytes = n * item;
    return h;
}

/// @brief Parses the bytes of a .npy file; `source` names it in errors (bad magic, unsupported
/// version or dtype, Fortran order, a malformed header, truncated or surplus data), which are
/// ctml::format_error.
inline npy_array decode_npy(std::string_view bytes, std::string source) {
    const npy_header h = parse_npy_header(bytes, source);
    const std::size_t have = bytes.size() - h.data_offset;
    if (have != h.data_bytes) {
        throw format_error(source + ": " + (have < h.data_bytes ? "truncated data" : "surplus data") +
                           ": shape " + detail::npy_shape_text(h.shape) + " of " +
                           std::string(npy_descr(h.dtype)) + " needs " +
                           std::to_string(h.data_bytes) + " bytes, found " + std::to_string(have));
    }
    npy_array a;
    a.source = std::move(source);
    a.dtype = h.dtype;
    a.shape = h.shape;
    const auto* p = reinterpret_cast<const std::byte*>(bytes.data() + h.data_offset);
    a.data.assign(p, p + have);
    return a;
}

/// @brief Writes a .npy file atomically (see write_file_atomic).
template <npy_scalar T>
void save_npy(const std::filesystem::path& path, const npy_shape& shape, const T* data) {
    write_file_atomic(path, encode_npy(shape, data));
}

/// @brief Reads a .npy file of at most `max_bytes` (read_file's checks: a regular file, bounded);
/// errors name `path`.
inline npy_array load_npy(const std::filesystem::path& path,
                          std::uint64_t max_bytes = CTML_MAX_FILE_BYTES) {
    return decode_npy(read_file(path, max_bytes), path.string());
}

} // namespace ctml::io
