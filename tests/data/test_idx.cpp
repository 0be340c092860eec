// SPDX-License-Identifier: MIT
#include "ctml/data/idx.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <system_error>

#include <atomic>
#include <cstdlib>
#include <new>

#include "idx_files.hpp"

// GCC 12 at -O3 sees the replaced operator delete's free() inlined against operator new and
// reports a mismatch that is not there (both sides are the replacements below).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

// Every allocation through operator new is measured, so the hostile-header tests can show that
// no buffer is sized from what a header claims.
namespace {
std::atomic<std::size_t> largest_allocation{0};
}

void* operator new(std::size_t n) {
    std::size_t prev = largest_allocation.load(std::memory_order_relaxed);
    while (n > prev && !largest_allocation.compare_exchange_weak(prev, n)) {
    }
    if (void* p = std::malloc(n == 0 ? 1 : n)) {
        return p;
    }
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

using namespace ctml_test;
using ctml::format_error;

namespace {

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

// Message of reading p, which must fail with a format_error naming p.
std::string format_failure(const fs::path& p) {
    const std::string msg = thrown<format_error>([&] { ctml::read_idx(p); });
    CHECK_MESSAGE(contains(msg, p.string()), "message does not name the file: ", msg);
    return msg;
}

} // namespace

TEST_CASE("read_idx: round trip of unsigned-byte files of 1 to 5 dimensions, raw and gzip") {
    temp_dir dir("idx");
    for (const bool gz : {false, true}) {
        CAPTURE(gz);
        const bytes d1 = pattern(7);
        write_file(dir / "a", idx_bytes(0x08, {7}, d1), gz);
        auto a = ctml::read_idx(dir / "a");
        CHECK(a.dims == std::vector<std::size_t>{7});
        CHECK(a.data == d1);

        const bytes d3 = pattern(5 * 28 * 28, 3);
        write_file(dir / "b", idx_bytes(0x08, {5, 28, 28}, d3), gz);
        auto b = ctml::read_idx(dir / "b");
        CHECK(b.dims == std::vector<std::size_t>{5, 28, 28});
        CHECK(b.size() == d3.size());
        CHECK(b.data == d3);

        const bytes d5 = pattern(2 * 3 * 4 * 5 * 6, 5);
        write_file(dir / "c", idx_bytes(0x08, {2, 3, 4, 5, 6}, d5), gz);
        auto c = ctml::read_idx(dir / "c");
        CHECK(c.dims == std::vector<std::size_t>{2, 3, 4, 5, 6});
        CHECK(c.data == d5);
    }
}

TEST_CASE("read_idx: gzip is recognised by content, not by name") {
    temp_dir dir("idx");
    const bytes d = pattern(300);
    write_gz(dir / "plain-name", idx_bytes(0x08, {300}, d));
    write_raw(dir / "raw-named.gz", idx_bytes(0x08, {300}, d));
    CHECK(ctml::read_idx(dir / "plain-name").data == d);
    CHECK(ctml::read_idx(dir / "raw-named.gz").data == d);
}

TEST_CASE("read_idx: a file larger than one read chunk, and a gzip file of several members") {
    temp_dir dir("idx");
    const bytes big = pattern(3 * 1000 * 2000, 11);  // more than the 4 MiB read chunk
    const bytes file = idx_bytes(0x08, {3, 1000, 2000}, big);
    write_gz(dir / "big.gz", file);
    CHECK(ctml::read_idx(dir / "big.gz").data == big);

    // `cat a.gz b.gz` is a valid gzip file; split the IDX bytes over two members.
    const std::size_t cut = 1234567;
    write_gz(dir / "two.gz", bytes(file.begin(), file.begin() + cut));
    write_gz(dir / "two.gz", bytes(file.begin() + cut, file.end()), "ab");
    CHECK(ctml::read_idx(dir / "two.gz").data == big);
}

TEST_CASE("read_idx: wrong magic, element type and dimensions name the file and the problem") {
    temp_dir dir("idx");
    for (const bool gz : {false, true}) {
        CAPTURE(gz);
        const std::string ext = gz ? ".gz" : "";

        bytes bad_magic = idx_bytes(0x08, {4}, pattern(4));
        bad_magic[0] = 0x12;
        bad_magic[1] = 0x34;
        write_file(dir / ("magic" + ext), bad_magic, gz);
        auto msg = format_failure(dir / ("magic" + ext));
        CHECK(contains(msg, "wrong magic"));
        CHECK(contains(msg, "0x12 0x34"));

        write_file(dir / ("float" + ext), idx_bytes(0x0D, {2}, bytes(8, 0)), gz);
        msg = format_failure(dir / ("float" + ext));
        CHECK(contains(msg, "element type 0x0D (32-bit float)"));
        CHECK(contains(msg, "only 0x08 (unsigned byte) is supported"));

        write_file(dir / ("int" + ext), idx_bytes(0x0C, {2}, bytes(8, 0)), gz);
        CHECK(contains(format_failure(dir / ("int" + ext)), "0x0C (32-bit integer)"));

        write_file(dir / ("nodims" + ext), idx_bytes(0x08, {}, {}), gz);
        CHECK(contains(format_failure(dir / ("nodims" + ext)), "declares 0 dimensions"));

        write_file(dir / ("zerodim" + ext), idx_bytes(0x08, {3, 0, 2}, {}), gz);
        CHECK(contains(format_failure(dir / ("zerodim" + ext)), "dimension 1 of the IDX header is 0"));
    }
}

TEST_CASE("read_idx: truncated header, truncated data and trailing bytes, raw and gzip") {
    temp_dir dir("idx");
    for (const bool gz : {false, true}) {
        CAPTURE(gz);
        const std::string ext = gz ? ".gz" : "";

        write_file(dir / ("empty" + ext), {}, gz);
        auto msg = format_failure(dir / ("empty" + ext));
        CHECK(contains(msg, "truncated IDX header: the file holds 0 bytes, the header needs 4"));

        bytes header = idx_bytes(0x08, {2, 3, 4}, {});
        header.resize(12);  // 2 of the 3 dimensions
        write_file(dir / ("header" + ext), header, gz);
        msg = format_failure(dir / ("header" + ext));
        CHECK(contains(msg, "truncated IDX header: the file holds 12 bytes, the header needs 16"));

        write_file(dir / ("short" + ext), idx_bytes(0x08, {2, 5}, pattern(7)), gz);
        msg = format_failure(dir / ("short" + ext));
        CHECK(contains(msg, "truncated data"));
        CHECK(contains(msg, "2 x 5 declare 10 bytes"));
        CHECK(contains(msg, "the file holds only 7"));

        write_file(dir / ("long" + ext), idx_bytes(0x08, {2, 5}, pattern(13)), gz);
        msg = format_failure(dir / ("long" + ext));
        CHECK(contains(msg, "trailing bytes"));
        CHECK(contains(msg, gz ? "3 bytes after the 10 bytes" : "declare 10 bytes of data, the file holds 13"));
    }
}

TEST_CASE("read_idx: corrupt and truncated gzip streams") {
    temp_dir dir("idx");
    const bytes file = idx_bytes(0x08, {20, 28, 28}, pattern(20 * 28 * 28, 7));
    write_gz(dir / "good.gz", file);
    const bytes gz = read_all(dir / "good.gz");
    REQUIRE(gz.size() > 100);

    SUBCASE("a flipped byte inside the compressed data") {
        bytes b = gz;
        b[b.size() / 2] ^= 0xFF;
        write_raw(dir / "flip.gz", b);
        CHECK(contains(format_failure(dir / "flip.gz"), "corrupt gzip stream"));
    }
    SUBCASE("a flipped byte in the CRC of the trailer") {
        bytes b = gz;
        b[b.size() - 6] ^= 0x01;
        write_raw(dir / "crc.gz", b);
        const auto msg = format_failure(dir / "crc.gz");
        CHECK(contains(msg, "corrupt gzip stream (zlib: incorrect data check)"));
    }
    SUBCASE("cut in the middle and cut before the trailer") {
        write_raw(dir / "half.gz", bytes(gz.begin(), gz.begin() + static_cast<long>(gz.size() / 2)));
        CHECK(contains(format_failure(dir / "half.gz"), "truncated gzip stream"));
        write_raw(dir / "notrailer.gz", bytes(gz.begin(), gz.end() - 4));
        CHECK(contains(format_failure(dir / "notrailer.gz"), "truncated gzip stream"));
        write_raw(dir / "magiconly.gz", bytes(gz.begin(), gz.begin() + 2));
        CHECK(contains(format_failure(dir / "magiconly.gz"), "truncated gzip stream"));
    }
    SUBCASE("bytes after the end of the gzip stream") {
        bytes b = gz;
        b.insert(b.end(), {0x00, 0x00, 0x00});
        write_raw(dir / "after.gz", b);
        CHECK(contains(format_failure(dir / "after.gz"),
                       "corrupt gzip stream (unexpected bytes after the end"));
    }
}

TEST_CASE("read_idx: hostile dimensions are refused without a large allocation") {
    temp_dir dir("idx");
    constexpr std::uint32_t huge = 0xFFFFFFFFu;
    constexpr std::size_t one_mib = std::size_t{1} << 20;
    for (const bool gz : {false, true}) {
        CAPTURE(gz);
        const std::string ext = gz ? ".gz" : "";

        write_file(dir / ("h3" + ext), idx_bytes(0x08, {huge, huge, huge}, pattern(64)), gz);
        largest_allocation = 0;
        auto msg = format_failure(dir / ("h3" + ext));
        CHECK(largest_allocation.load() < one_mib);
        CHECK(contains(msg, "4294967295 x 4294967295 x 4294967295 declare more than 2^64"));
        CHECK(contains(msg, "CTML_IDX_MAX_ELEMENTS"));

        write_file(dir / ("h2" + ext), idx_bytes(0x08, {huge, huge}, pattern(64)), gz);
        largest_allocation = 0;
        msg = format_failure(dir / ("h2" + ext));
        CHECK(largest_allocation.load() < one_mib);
        CHECK(contains(msg, "declare 18446744065119617025 elements"));

        write_file(dir / ("h1" + ext), idx_bytes(0x08, {huge}, pattern(64)), gz);
        largest_allocation = 0;
        msg = format_failure(dir / ("h1" + ext));
        CHECK(largest_allocation.load() < one_mib);
        CHECK(contains(msg, "declare 4294967295 elements, more than the limit"));

        // Within the limit, but the file does not hold the data: found out while reading, with
        // buffers sized by the data that arrived, not by the header.
        constexpr auto at_limit = static_cast<std::uint32_t>(CTML_IDX_MAX_ELEMENTS);
        write_file(dir / ("lie" + ext), idx_bytes(0x08, {at_limit}, pattern(1000)), gz);
        largest_allocation = 0;
        msg = format_failure(dir / ("lie" + ext));
        CHECK(largest_allocation.load() < one_mib);
        CHECK(contains(msg, "truncated data"));
        CHECK(contains(msg, "holds only 1000"));
    }
}

TEST_CASE("read_idx: a missing file, a folder, a FIFO or a device is a file_error naming it") {
    temp_dir dir("idx");
    auto msg = thrown<ctml::file_error>([&] { ctml::read_idx(dir / "nope"); });
    CHECK(contains(msg, (dir / "nope").string()));
    CHECK(contains(msg, "cannot open"));
    msg = thrown<ctml::file_error>([&] { ctml::read_idx(dir.path()); });
    CHECK(contains(msg, "is a folder"));
    // A FIFO would block a plain open until a writer came, and /dev/zero never ends.
    REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
    msg = thrown<ctml::file_error>([&] { ctml::read_idx(dir / "fifo"); });
    CHECK(contains(msg, (dir / "fifo").string() + ": not a regular file"));
    msg = thrown<ctml::file_error>([&] { ctml::read_idx("/dev/zero"); });
    CHECK(contains(msg, "/dev/zero: not a regular file"));
    try {
        ctml::read_idx(dir / "nope");
    } catch (const ctml::file_error& e) {
        CHECK(e.code() == ctml::error_code::file);
        CHECK((e.os_error() == std::errc::no_such_file_or_directory));
    }
}
