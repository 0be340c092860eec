// SPDX-License-Identifier: MIT
#include "ctml/io/npy.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "io_test_util.hpp"

using namespace ctml::io;
using ctml_test::scratch_dir;

namespace {

template <class T>
void check_round_trip(const npy_shape& shape) {
    std::size_t n = 1;
    for (const auto d : shape) {
        n *= d;
    }
    std::vector<T> values(n);
    for (std::size_t i = 0; i < n; ++i) {
        values[i] = static_cast<T>(static_cast<double>(i) * (std::is_floating_point_v<T> ? 0.37 : 1) -
                                   (std::is_signed_v<T> ? 3 : 0));
    }
    const std::string bytes = encode_npy(shape, values.data());
    const std::size_t header_len = static_cast<unsigned char>(bytes[8]) |
                                   (static_cast<unsigned char>(bytes[9]) << 8);
    CHECK((10 + header_len) % 64 == 0);
    CHECK(bytes[9 + header_len] == '\n');
    CHECK(bytes.size() == 10 + header_len + n * sizeof(T));
    const npy_array a = decode_npy(bytes, "x.npy");
    CHECK(a.dtype == npy_dtype_of<T>);
    CHECK(a.shape == shape);
    CHECK(a.size() == n);
    CHECK(a.as<T>() == values);
}

std::string header_of(const std::string& npy) {
    const std::size_t len = static_cast<unsigned char>(npy[8]) |
                            (static_cast<unsigned char>(npy[9]) << 8);
    return npy.substr(10, len);
}

// A .npy whose header is `dict` (padded as numpy does) followed by `data_bytes` bytes.
std::string npy_with_header(const std::string& dict, std::size_t data_bytes) {
    std::string h = dict;
    h.append((64 - (10 + h.size() + 1) % 64) % 64, ' ');
    h += '\n';
    std::string out("\x93NUMPY\x01\x00", 8);
    out += static_cast<char>(h.size() & 0xFF);
    out += static_cast<char>(h.size() >> 8);
    return out + h + std::string(data_bytes, '\0');
}

} // namespace

TEST_CASE("npy: round trip for every dtype and several ranks") {
    for (const npy_shape& shape : {npy_shape{}, npy_shape{5}, npy_shape{3, 4}, npy_shape{2, 3, 4},
                                   npy_shape{0, 3}, npy_shape{1, 1, 1, 1, 2}}) {
        CAPTURE(shape.size());
        check_round_trip<float>(shape);
        check_round_trip<double>(shape);
        check_round_trip<std::int32_t>(shape);
        check_round_trip<std::int64_t>(shape);
        check_round_trip<std::uint8_t>(shape);
    }
}

TEST_CASE("npy: header text is what numpy writes") {
    const float f[3] = {1, 2, 3};
    CHECK(header_of(encode_npy({3}, f)).rfind(
              "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 0) == 0);
    const std::uint8_t u[6] = {};
    CHECK(header_of(encode_npy({2, 3}, u)).rfind(
              "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }", 0) == 0);
    const double d = 4.5;
    CHECK(header_of(encode_npy({}, &d)).rfind(
              "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", 0) == 0);
}

TEST_CASE("npy: conversions happen only when no value changes, plus f8 to f4") {
    const double d[3] = {0.1, -2.5, 1e300};
    const npy_array a = decode_npy(encode_npy({3}, d), "w.npy");
    CHECK(a.as<float>() == std::vector<float>{0.1f, -2.5f, std::numeric_limits<float>::infinity()});
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, a.as<std::int64_t>()) ==
          "w.npy: stored as <f8, which does not convert exactly to <i8 (ctml converts only when "
          "no value changes, and f8 to f4)");

    const std::uint8_t u[2] = {0, 255};
    const npy_array b = decode_npy(encode_npy({2}, u), "u.npy");
    CHECK(b.as<float>() == std::vector<float>{0, 255});
    CHECK(b.as<double>() == std::vector<double>{0, 255});
    CHECK(b.as<std::int32_t>() == std::vector<std::int32_t>{0, 255});
    CHECK(b.as<std::int64_t>() == std::vector<std::int64_t>{0, 255});

    const std::int32_t i[2] = {-7, 16777217};
    const npy_array c = decode_npy(encode_npy({2}, i), "i.npy");
    CHECK(c.as<double>() == std::vector<double>{-7, 16777217});
    CHECK(c.as<std::int64_t>() == std::vector<std::int64_t>{-7, 16777217});
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, c.as<float>()) ==
          "i.npy: stored as <i4, which does not convert exactly to <f4 (ctml converts only when "
          "no value changes, and f8 to f4)");
    CHECK_THROWS_AS(c.as<std::uint8_t>(), ctml::format_error);

    const float f[1] = {0.5f};
    const npy_array e = decode_npy(encode_npy({1}, f), "f.npy");
    CHECK(e.as<double>() == std::vector<double>{0.5});
    CHECK_THROWS_AS(e.as<std::int32_t>(), ctml::format_error);
    const std::int64_t l[1] = {1};
    CHECK_THROWS_AS(decode_npy(encode_npy({1}, l), "l.npy").as<std::int32_t>(),
                    ctml::format_error);
    CHECK_THROWS_AS(decode_npy(encode_npy({1}, l), "l.npy").as<double>(), ctml::format_error);

    std::vector<float> dst(2);
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, a.copy_to(std::span<float>(dst))) ==
          "w.npy: has 3 elements (shape (3,)), destination holds 2");
    dst.resize(3);
    a.copy_to(std::span<float>(dst));
    CHECK(dst[1] == -2.5f);
}

TEST_CASE("npy: malformed files are refused with the source and the problem") {
    const float f[6] = {1, 2, 3, 4, 5, 6};
    const std::string good = encode_npy({2, 3}, f);
    const auto msg = [](const std::string& bytes) {
        return CTML_THROW_MESSAGE(ctml::format_error, decode_npy(bytes, "w.npy"));
    };
    CHECK(msg("PK\x03\x04 not npy") == "w.npy: bad .npy magic (not a numpy array file)");
    CHECK(msg("") == "w.npy: bad .npy magic (not a numpy array file)");
    CHECK(msg(good.substr(0, 9)) == "w.npy: truncated .npy header (9 bytes)");
    CHECK(msg(good.substr(0, 40)) == "w.npy: truncated .npy header (declares 118 bytes, 30 present)");
    CHECK(msg(good.substr(0, good.size() - 1)) ==
          "w.npy: truncated data: shape (2, 3) of <f4 needs 24 bytes, found 23");
    CHECK(msg(good + "xx") == "w.npy: surplus data: shape (2, 3) of <f4 needs 24 bytes, found 26");

    std::string v4 = good;
    v4[6] = 4;
    CHECK(msg(v4) == "w.npy: unsupported .npy version 4.0 (ctml reads 1.0, 2.0, 3.0)");

    CHECK(msg(npy_with_header("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8)) ==
          "w.npy: unsupported dtype '>f4' (ctml reads <f4, <f8, <i4, <i8, |u1)");
    CHECK(msg(npy_with_header("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", 4)) ==
          "w.npy: unsupported dtype '<f2' (ctml reads <f4, <f8, <i4, <i8, |u1)");
    CHECK(msg(npy_with_header("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", 2)) ==
          "w.npy: unsupported dtype '|b1' (ctml reads <f4, <f8, <i4, <i8, |u1)");
    CHECK(msg(npy_with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16)) ==
          "w.npy: fortran_order arrays are not supported; save a C-ordered array (numpy: "
          "np.ascontiguousarray)");
    CHECK(msg(npy_with_header("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (), }",
                              4))
              .rfind("w.npy: bad .npy header: structured dtypes are not supported", 0) == 0);
    CHECK(msg(npy_with_header("{'descr': '<f4', 'shape': (2,), }", 8)) ==
          "w.npy: bad .npy header: missing key 'fortran_order' in \"{'descr': '<f4', 'shape': "
          "(2,), }\"");
    CHECK(msg(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}",
                              8))
              .rfind("w.npy: bad .npy header: unexpected key 'x' in ", 0) == 0);
    CHECK(msg(npy_with_header("{'descr': '<f4', 'fortran_order': Nope, 'shape': (2,), }", 8))
              .rfind("w.npy: bad .npy header: expected True or False at offset 34 in ", 0) == 0);
    CHECK(msg(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", 8))
              .rfind("w.npy: bad .npy header: expected a dimension at offset 54 in ", 0) == 0);
    CHECK(msg(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,) }x", 8))
              .rfind("w.npy: bad .npy header: unexpected text after the dictionary", 0) == 0);
    CHECK(msg(npy_with_header("{'descr': '<f4, 'fortran_order': False, 'shape': (2,), }", 8))
              .rfind("w.npy: bad .npy header: ", 0) == 0);
    CHECK(msg(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': "
                              "(99999999999, 99999999999), }",
                              8)) ==
          "w.npy: shape (99999999999, 99999999999) has too many elements");
    CHECK(msg(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': "
                              "(999999999999999999999,), }",
                              8))
              .rfind("w.npy: bad .npy header: dimension too large", 0) == 0);

    // numpy's other spellings: version 2.0 (4-byte length), double quotes, Python 2 longs.
    std::string h = "{\"descr\": \"<i8\", \"shape\": (2L,), \"fortran_order\": False}";
    h.append((64 - (12 + h.size() + 1) % 64) % 64, ' ');
    h += '\n';
    std::string v2("\x93NUMPY\x02\x00", 8);
    v2 += static_cast<char>(h.size());
    v2 += std::string(3, '\0');
    const std::int64_t data[2] = {-1, std::numeric_limits<std::int64_t>::max()};
    v2 += h + std::string(reinterpret_cast<const char*>(data), 16);
    const npy_array a = decode_npy(v2, "v2.npy");
    CHECK(a.shape == npy_shape{2});
    CHECK(a.as<std::int64_t>() == std::vector<std::int64_t>{-1, data[1]});
}

TEST_CASE("npy: save_npy / load_npy") {
    scratch_dir dir;
    const std::vector<double> v = {1.5, -0.0, 3e-310};
    save_npy(dir / "a.npy", {3, 1}, v.data());
    const npy_array a = load_npy(dir / "a.npy");
    CHECK(a.source == (dir / "a.npy").string());
    CHECK(a.shape == npy_shape{3, 1});
    CHECK(std::memcmp(a.as<double>().data(), v.data(), 3 * sizeof(double)) == 0);
    CHECK_THROWS_AS(load_npy(dir / "b.npy"), ctml::file_error);
}
