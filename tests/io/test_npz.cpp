// SPDX-License-Identifier: MIT
#include "ctml/io/npz.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <zlib.h>

#include "ctml/core/buffer.hpp"
#include "ctml/io/file.hpp"
#include "io_test_util.hpp"

using namespace ctml::io;
using ctml_test::scratch_dir;

namespace {

// ---- byte surgery on a one-entry archive "a.npy" written by npz_writer (no ZIP64) ----
// Layout: local header (30) + name (5) + data, then central header (46) + name, then the end
// record (22).
constexpr std::size_t name_len = 5;
constexpr std::size_t data_at = 30 + name_len;

std::uint32_t get32(const std::string& z, std::size_t at) {
    std::uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
        v |= std::uint32_t(static_cast<unsigned char>(z[at + k])) << (8 * k);
    }
    return v;
}
void put(std::string& z, std::size_t at, std::uint64_t v, int bytes) {
    for (int k = 0; k < bytes; ++k) {
        z[at + k] = static_cast<char>((v >> (8 * k)) & 0xFF);
    }
}
std::size_t data_size(const std::string& z) { return get32(z, 18); }
std::size_t central_at(const std::string& z) { return get32(z, z.size() - 22 + 16); }

// Recomputes the CRC of the (stored) entry so that only the change under test is wrong.
void fix_crc(std::string& z) {
    const auto crc = static_cast<std::uint32_t>(
        ::crc32(0L, reinterpret_cast<const Bytef*>(z.data() + data_at),
                static_cast<uInt>(data_size(z))));
    put(z, 14, crc, 4);
    put(z, central_at(z) + 16, crc, 4);
}

void replace_in_data(std::string& z, const std::string& from, const std::string& to) {
    REQUIRE(from.size() == to.size());
    const std::size_t at = z.find(from, data_at);
    REQUIRE(at != std::string::npos);
    REQUIRE(at < data_at + data_size(z));
    z.replace(at, from.size(), to);
    fix_crc(z);
}

std::string deflate_raw(std::string_view in) {
    z_stream zs{};
    REQUIRE(deflateInit2(&zs, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string out(deflateBound(&zs, in.size()), '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}

// The same one-entry archive with its entry deflated (method 8) holding `compressed`.
std::string with_deflated(const std::string& z, const std::string& compressed) {
    const std::size_t size = data_size(z), cd = central_at(z);
    std::string local = z.substr(0, data_at);
    put(local, 8, 8, 2);
    put(local, 18, compressed.size(), 4);
    std::string central = z.substr(cd, z.size() - 22 - cd);
    put(central, 10, 8, 2);
    put(central, 20, compressed.size(), 4);
    std::string end = z.substr(z.size() - 22);
    put(end, 16, data_at + compressed.size(), 4);
    (void)size;
    return local + compressed + central + end;
}

std::string one_entry_archive() {
    const float f[6] = {1, 2, 3, 4, 5, 6};
    npz_writer w;
    w.add("a", {2, 3}, f);
    return w.bytes();
}

std::string load_error(const std::string& bytes) {
    return CTML_THROW_MESSAGE(ctml::format_error, parse_npz(bytes, "w.npz"));
}

// ---- numpy cross-checks ----
bool have_numpy() {
    return ctml_test::run_command("/usr/bin/python3 -c 'import numpy' 2>/dev/null").status == 0;
}

std::string shape_repr(const npy_shape& s) {
    std::string r = "(";
    for (std::size_t i = 0; i < s.size(); ++i) {
        r += (i ? ", " : "") + std::to_string(s[i]);
    }
    return r + (s.size() == 1 ? ",)" : ")");
}

std::string describe(const std::string& name, const npy_array& a) {
    return name + "|" + std::string(npy_descr(a.dtype)) + "|" + shape_repr(a.shape) + "|" +
           ctml_test::hex(a.data.data(), a.data.size()) + "\n";
}

// Python that prints each array of an .npz as name|descr|shape|hex, in archive order.
const char* const describe_py = R"(
def describe(path):
    import numpy as np
    out = []
    with np.load(path) as f:
        for k in f.files:
            a = f[k]
            out.append('%s|%s|%s|%s\n' % (k, a.dtype.str, a.shape, a.tobytes().hex()))
    return ''.join(out)
)";

std::string run_python(const scratch_dir& dir, const std::string& code, const std::string& args) {
    const auto script = dir / "check.py";
    write_file_atomic(script, std::string(describe_py) + code);
    const auto r =
        ctml_test::run_command("/usr/bin/python3 " + script.string() + " " + args + " 2>&1");
    INFO(r.out);
    REQUIRE(r.status == 0);
    return r.out;
}

} // namespace

TEST_CASE("npz: round trip of several arrays, names with '/', archive order kept") {
    const std::vector<float> kernel = {0.25f, -1.5f, 3.0f, 1e-40f, -0.0f, 7.0f};
    const std::vector<double> bias = {0.1, std::numeric_limits<double>::max()};
    const std::int32_t idx[3] = {-1, 0, std::numeric_limits<std::int32_t>::max()};
    const std::int64_t big[1] = {std::numeric_limits<std::int64_t>::min()};
    ctml::buffer<std::uint8_t> pixels(4);
    pixels[3] = 255;
    npz_writer w;
    w.add("dense_1/kernel", {3, 2}, kernel)
        .add("dense_1/bias", {2}, bias.data())
        .add("idx", {3}, idx)
        .add("scalar", {}, big)
        .add("pixels", {2, 2}, pixels)
        .add("empty", {0, 5}, static_cast<const float*>(nullptr));
    CHECK(w.size() == 6);
    scratch_dir dir;
    w.save(dir / "weights.npz");
    const npz_file f = load_npz(dir / "weights.npz");
    CHECK(f.source() == (dir / "weights.npz").string());
    CHECK(f.names() == std::vector<std::string>{"dense_1/kernel", "dense_1/bias", "idx", "scalar",
                                                "pixels", "empty"});
    CHECK(f.at("dense_1/kernel").shape == npy_shape{3, 2});
    CHECK(f.at("dense_1/kernel").as<float>() == kernel);
    CHECK(f.at("dense_1/bias").as<double>() == bias);
    CHECK(f.at("idx").as<std::int32_t>() == std::vector<std::int32_t>(idx, idx + 3));
    CHECK(f.at("scalar").shape.empty());
    CHECK(f.at("scalar").as<std::int64_t>() == std::vector<std::int64_t>{big[0]});
    CHECK(f.at("pixels").as<std::uint8_t>() == std::vector<std::uint8_t>{0, 0, 0, 255});
    CHECK(f.at("empty").size() == 0);
    CHECK(f.at("empty").shape == npy_shape{0, 5});
    CHECK(f.contains("idx"));
    CHECK(!f.contains("idx.npy"));
    CHECK(f.at("dense_1/kernel").source ==
          (dir / "weights.npz").string() + ": entry \"dense_1/kernel.npy\"");

    // Re-saving what was read gives the same bytes: the output is deterministic.
    npz_writer again;
    for (const npz_entry& e : f.entries()) {
        again.add(e.name, e.array);
    }
    CHECK(again.bytes() == ctml::io::read_file(dir / "weights.npz"));
}

TEST_CASE("npz: ZIP64 records, archive comments and deflated entries read back") {
    const double d[4] = {1, 2, 3, 4};
    npz_writer w;
    w.add("x", {4}, d).add("y", {2, 2}, d).force_zip64();
    const std::string z = w.bytes();
    CHECK(z.find(std::string("PK\x06\x06", 4)) != std::string::npos); // ZIP64 end record
    const npz_file f = parse_npz(z, "z64.npz");
    CHECK(f.names() == std::vector<std::string>{"x", "y"});
    CHECK(f.at("y").as<double>() == std::vector<double>(d, d + 4));

    std::string commented = one_entry_archive() + "hello";
    put(commented, commented.size() - 5 - 2, 5, 2);
    CHECK(parse_npz(commented, "c.npz").at("a").as<float>().size() == 6);

    const std::string stored = one_entry_archive();
    const std::string deflated =
        with_deflated(stored, deflate_raw(std::string_view(stored).substr(data_at, data_size(stored))));
    CHECK(parse_npz(deflated, "d.npz").at("a").as<float>() ==
          std::vector<float>{1, 2, 3, 4, 5, 6});
}

TEST_CASE("npz_writer: refuses bad names and sizes") {
    const float f[2] = {1, 2};
    npz_writer w;
    w.add("a", {2}, f);
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, w.add("a", {2}, f)) ==
          "npz_writer: duplicate entry \"a\"");
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, w.add("", {2}, f)) ==
          "npz_writer: an entry needs a non-empty name");
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, w.add("b", {3}, std::vector<float>{1, 2})) ==
          "npz_writer: entry \"b\": shape (3,) does not match 2 elements");
    CHECK(w.size() == 1);
}

TEST_CASE("npz: missing entries list what is there") {
    const float f[2] = {1, 2};
    npz_writer w;
    w.add("dense_1/kernel", {2}, f).add("dense_1/bias", {1}, f);
    const npz_file z = parse_npz(w.bytes(), "weights.npz");
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, z.at("dense_2/kernel")) ==
          "weights.npz: no entry \"dense_2/kernel\" (entries: dense_1/kernel, dense_1/bias)");
    const npz_file empty = parse_npz(npz_writer{}.bytes(), "empty.npz");
    CHECK(empty.size() == 0);
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, empty.at("x")) ==
          "empty.npz: no entry \"x\" (the archive is empty)");
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, z.at("dense_1/kernel").as<std::int32_t>()) ==
          "weights.npz: entry \"dense_1/kernel.npy\": stored as <f4, which does not convert "
          "exactly to <i4 (ctml converts only when no value changes, and f8 to f4)");
}

TEST_CASE("npz: malformed archives name the file, the entry and the problem") {
    const std::string good = one_entry_archive();
    REQUIRE(good.size() == data_at + 152 + 46 + name_len + 22);

    SUBCASE("not a zip, or truncated") {
        CHECK(load_error("") == "w.npz: not a ZIP archive, or truncated (0 bytes)");
        CHECK(load_error(std::string(100, 'x')) ==
              "w.npz: not a ZIP archive, or truncated (no end-of-central-directory record)");
        for (const std::size_t n : {std::size_t{10}, std::size_t{100}, good.size() - 22,
                                    good.size() - 1}) {
            CAPTURE(n);
            CHECK(load_error(good.substr(0, n)).rfind("w.npz: not a ZIP archive, or truncated", 0) ==
                  0);
        }
        // End record intact, but bytes missing before it: the directory offset is wrong.
        std::string cut = good;
        cut.erase(40, 30);
        CHECK(load_error(cut) == "w.npz: truncated or corrupt: central directory (offset 187, 51 "
                                 "bytes) lies outside the 230-byte file");
    }
    SUBCASE("CRC mismatch") {
        std::string z = good;
        z[z.size() - 22 - 51 - 1] ^= 0x40; // the last data byte
        CHECK(load_error(z).rfind("w.npz: entry \"a.npy\": CRC-32 mismatch (stored 0x", 0) == 0);
        CHECK(load_error(z).find("): the archive is corrupt") != std::string::npos);
    }
    SUBCASE("bad .npy magic") {
        std::string z = good;
        replace_in_data(z, "NUMPY", "NUMPX");
        CHECK(load_error(z) == "w.npz: entry \"a.npy\": bad .npy magic (not a numpy array file)");
    }
    SUBCASE("bad .npy header") {
        std::string z = good;
        replace_in_data(z, "'descr'", "'dexcr'");
        CHECK(load_error(z) ==
              "w.npz: entry \"a.npy\": bad .npy header: unexpected key 'dexcr' in \"{'dexcr': "
              "'<f4', 'fortran_order': False, 'shape': (2, 3), }\"");
    }
    SUBCASE("unsupported dtype and Fortran order") {
        std::string z = good;
        replace_in_data(z, "'<f4'", "'>f4'");
        CHECK(load_error(z) ==
              "w.npz: entry \"a.npy\": unsupported dtype '>f4' (ctml reads <f4, <f8, <i4, <i8, "
              "|u1)");
        std::string f = good;
        replace_in_data(f, "False,", "True, ");
        CHECK(load_error(f).rfind("w.npz: entry \"a.npy\": fortran_order arrays are not supported",
                                  0) == 0);
    }
    SUBCASE("entry that is not .npy, unsupported method, broken headers") {
        std::string z = good;
        z.replace(30 + 2, 3, "txt");
        z.replace(central_at(z) + 46 + 2, 3, "txt");
        CHECK(load_error(z) == "w.npz: entry \"a.txt\": not an .npy array (an .npz holds only "
                               "<name>.npy entries)");
        std::string m = good;
        put(m, central_at(m) + 10, 12, 2);
        CHECK(load_error(m) == "w.npz: entry \"a.npy\": compression method 12 is not supported "
                               "(stored or deflated only)");
        std::string e = good;
        put(e, central_at(e) + 8, 1, 2);
        CHECK(load_error(e) == "w.npz: entry \"a.npy\": encrypted entries are not supported");
        std::string l = good;
        l[0] = 'X';
        CHECK(load_error(l) == "w.npz: entry \"a.npy\": bad local header at offset 0");
        std::string c = good;
        c[central_at(c)] = 'X';
        CHECK(load_error(c) == "w.npz: corrupt central directory at offset 187");
        std::string n = good;
        put(n, n.size() - 22 + 10, 2, 2); // the end record claims two entries
        CHECK(load_error(n) == "w.npz: central directory declares 2 entries but has room for 1");
        std::string big = good;
        put(big, 18, 100000, 4); // local size unused; central size decides
        put(big, central_at(big) + 20, 100000, 4);
        put(big, central_at(big) + 24, 100000, 4);
        CHECK(load_error(big) == "w.npz: entry \"a.npy\": truncated: 100000 bytes of data at offset "
                                 "35 run into the central directory at 187");
    }
    SUBCASE("corrupt deflate streams") {
        const std::string data = good.substr(data_at, data_size(good));
        const std::string packed = deflate_raw(data);
        CHECK(load_error(with_deflated(good, packed.substr(0, packed.size() / 2))) ==
              "w.npz: entry \"a.npy\": corrupt deflate data (stream ends early or inflates to "
              "more than the declared 152 bytes)");
        CHECK(load_error(with_deflated(good, std::string(20, '\xff')))
                  .rfind("w.npz: entry \"a.npy\": corrupt deflate data (invalid", 0) == 0);
        std::string longer = with_deflated(good, packed);
        put(longer, central_at(longer) + 24, 200, 4);
        CHECK(load_error(longer) == "w.npz: entry \"a.npy\": inflates to 152 bytes, directory "
                                    "says 200");
        std::string shorter = with_deflated(good, packed);
        put(shorter, central_at(shorter) + 24, 100, 4);
        CHECK(load_error(shorter) ==
              "w.npz: entry \"a.npy\": corrupt deflate data (stream ends early or inflates to "
              "more than the declared 100 bytes)");
        std::string bomb = with_deflated(good, packed);
        put(bomb, central_at(bomb) + 24, 0xFFFFFFF0u, 4);
        CHECK(load_error(bomb).rfind("w.npz: entry \"a.npy\": claims 4294967280 bytes from", 0) ==
              0);
    }
    SUBCASE("missing file") {
        scratch_dir dir;
        CHECK_THROWS_AS(load_npz(dir / "nope.npz"), ctml::file_error);
    }
}

TEST_CASE("npz: numpy reads what ctml writes, exactly") {
    if (!have_numpy()) {
        MESSAGE("skipped: /usr/bin/python3 has no numpy");
        return;
    }
    std::mt19937 gen(7);
    std::normal_distribution<float> normal(0.f, 0.05f);
    std::vector<float> kernel(784 * 30);
    for (float& x : kernel) {
        x = normal(gen);
    }
    kernel[0] = -0.0f;
    kernel[1] = std::numeric_limits<float>::denorm_min();
    kernel[2] = std::numeric_limits<float>::max();
    kernel[3] = std::numeric_limits<float>::quiet_NaN();
    const std::vector<double> bias = {0.1, -1e-310, 1e308};
    const std::vector<std::int32_t> i4 = {std::numeric_limits<std::int32_t>::min(), 0, 42};
    const std::vector<std::int64_t> i8 = {std::numeric_limits<std::int64_t>::max(), -1};
    std::vector<std::uint8_t> u1(256);
    for (int i = 0; i < 256; ++i) {
        u1[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i);
    }
    const double scalar = 2.5;

    for (const bool zip64 : {false, true}) {
        CAPTURE(zip64);
        npz_writer w;
        w.add("dense_1/kernel", {784, 30}, kernel)
            .add("dense_1/bias", {3}, bias)
            .add("i4", {1, 3, 1}, i4)
            .add("i8", {2}, i8)
            .add("u1", {16, 16}, u1)
            .add("scalar", {}, &scalar)
            .add("empty", {0, 3}, static_cast<const float*>(nullptr))
            .force_zip64(zip64);
        scratch_dir dir;
        w.save(dir / "ctml.npz");
        const npz_file mine = load_npz(dir / "ctml.npz");
        std::string expected;
        for (const npz_entry& e : mine.entries()) {
            expected += describe(e.name, e.array);
        }
        CHECK(mine.at("dense_1/kernel").data.size() == kernel.size() * 4);
        CHECK(std::memcmp(mine.at("dense_1/kernel").data.data(), kernel.data(),
                          kernel.size() * 4) == 0);
        const std::string out = run_python(dir, R"(
import sys, zipfile
assert zipfile.ZipFile(sys.argv[1]).testzip() is None  # every CRC checks out
sys.stdout.write(describe(sys.argv[1]))
)",
                                           (dir / "ctml.npz").string());
        CHECK(out == expected);
    }
}

TEST_CASE("npz: ctml reads numpy's savez and savez_compressed exactly") {
    if (!have_numpy()) {
        MESSAGE("skipped: /usr/bin/python3 has no numpy");
        return;
    }
    scratch_dir dir;
    const std::string out = run_python(dir, R"(
import sys, os
import numpy as np
d = sys.argv[1]
rng = np.random.default_rng(3)
arrays = {
    'dense_1/kernel': rng.normal(0, 0.05, (784, 30)).astype(np.float32),
    'dense_1/bias': np.array([0.1, -0.0, 5e-324, np.inf, -np.inf, np.nan, 1e308]),
    'i4': np.array([[-2**31, 2**31 - 1], [0, 7]], dtype=np.int32),
    'i8': np.array([-2**63, 2**63 - 1, 0], dtype=np.int64),
    'u1': np.arange(256, dtype=np.uint8).reshape(2, 8, 16),
    'scalar': np.float32(2.5),
    'empty': np.zeros((0, 4), dtype=np.float32),
    'zeros': np.zeros(100000, dtype=np.float64),
}
np.savez(os.path.join(d, 'stored.npz'), **arrays)
np.savez_compressed(os.path.join(d, 'deflated.npz'), **arrays)
np.savez(os.path.join(d, 'fortran.npz'), w=np.asfortranarray(np.ones((3, 2), np.float32)))
np.savez(os.path.join(d, 'bool.npz'), m=np.array([True, False]))
np.savez(os.path.join(d, 'big_endian.npz'), b=np.array([1.0], dtype='>f4'))
sys.stdout.write(describe(os.path.join(d, 'stored.npz')))
)",
                                           dir.path().string());
    const npz_file stored = load_npz(dir / "stored.npz");
    const npz_file deflated = load_npz(dir / "deflated.npz");
    std::string from_stored, from_deflated;
    for (const npz_entry& e : stored.entries()) {
        from_stored += describe(e.name, e.array);
    }
    for (const npz_entry& e : deflated.entries()) {
        from_deflated += describe(e.name, e.array);
    }
    CHECK(stored.size() == 8);
    CHECK(from_stored == out);
    CHECK(from_deflated == out);
    // The compressed file really is deflated (the 800 kB of zeros shrink).
    CHECK(read_file(dir / "deflated.npz").size() * 4 < read_file(dir / "stored.npz").size());
    CHECK(stored.at("dense_1/kernel").as<float>().size() == 784 * 30);
    CHECK(std::isnan(deflated.at("dense_1/bias").as<double>()[5]));

    const std::string fortran = (dir / "fortran.npz").string();
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, load_npz(fortran)) ==
          fortran + ": entry \"w.npy\": fortran_order arrays are not supported; save a C-ordered "
                    "array (numpy: np.ascontiguousarray)");
    const std::string boolean = (dir / "bool.npz").string();
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, load_npz(boolean)) ==
          boolean + ": entry \"m.npy\": unsupported dtype '|b1' (ctml reads <f4, <f8, <i4, <i8, "
                    "|u1)");
    const std::string big = (dir / "big_endian.npz").string();
    CHECK(CTML_THROW_MESSAGE(ctml::format_error, load_npz(big)) ==
          big + ": entry \"b.npy\": unsupported dtype '>f4' (ctml reads <f4, <f8, <i4, <i8, |u1)");
}
