// SPDX-License-Identifier: MIT
// numpy's .npz: a ZIP archive of .npy entries. ctml writes it stored (uncompressed), with a
// fixed timestamp so that equal weights give equal bytes (content hashes stay stable); it reads
// stored and deflated entries, with or without ZIP64 records (numpy always writes ZIP64 extras).
#pragma once
#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <ranges>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <zlib.h>

#include "ctml/core/error.hpp"
#include "ctml/io/file.hpp"
#include "ctml/io/npy.hpp"

namespace ctml::io {

namespace detail {

inline constexpr std::uint32_t zip_local_sig = 0x04034b50;
inline constexpr std::uint32_t zip_central_sig = 0x02014b50;
inline constexpr std::uint32_t zip_eocd_sig = 0x06054b50;
inline constexpr std::uint32_t zip64_eocd_sig = 0x06064b50;
inline constexpr std::uint32_t zip64_locator_sig = 0x07064b50;
inline constexpr std::uint64_t zip_max32 = 0xFFFFFFFF;
inline constexpr std::uint16_t zip_dos_date_1980 = (0 << 9) | (1 << 5) | 1; // 1980-01-01

inline std::uint32_t zip_crc32(std::string_view bytes) noexcept {
    return static_cast<std::uint32_t>(
        ::crc32_z(0L, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
}

inline void zip_put(std::string& out, std::uint64_t v, int bytes) {
    for (int k = 0; k < bytes; ++k) {
        out += static_cast<char>((v >> (8 * k)) & 0xFF);
    }
}

} // namespace detail

/// @brief Collects named arrays and writes them as an .npz that `np.load` opens. Each name
/// becomes the entry `<name>.npy`; names may contain '/' ("dense_1/kernel"), as numpy allows.
/// Data is copied when added, so the source may change afterwards.
class npz_writer {
public:
    /// Adds `shape` elements of T read from `data` (C order). Throws ctml::format_error for an
    /// empty or duplicate name.
    template <npy_scalar T>
    npz_writer& add(std::string_view name, const npy_shape& shape, const T* data) {
        check_name(name);
        entries_.push_back({std::string(name) + ".npy", encode_npy(shape, data)});
        return *this;
    }

    /// Adds a contiguous range (std::vector<float>, std::span, ctml::buffer, ...) whose size
    /// must equal the product of `shape`.
    template <std::ranges::contiguous_range R>
        requires npy_scalar<std::ranges::range_value_t<R>>
    npz_writer& add(std::string_view name, const npy_shape& shape, const R& data) {
        std::size_t n = 0;
        if (!detail::npy_element_count(shape, n) || n != std::ranges::size(data)) {
            throw format_error("npz_writer: entry \"" + std::string(name) + "\": shape " +
                               detail::npy_shape_text(shape) + " does not match " +
                               std::to_string(std::ranges::size(data)) + " elements");
        }
        return add(name, shape, std::ranges::data(data));
    }

    /// Adds an array read elsewhere (for example from another .npz), unchanged.
    npz_writer& add(std::string_view name, const npy_array& a) {
        switch (a.dtype) {
        case npy_dtype::f4: return add(name, a.shape, a.as<float>().data());
        case npy_dtype::f8: return add(name, a.shape, a.as<double>().data());
        case npy_dtype::i4: return add(name, a.shape, a.as<std::int32_t>().data());
        case npy_dtype::i8: return add(name, a.shape, a.as<std::int64_t>().data());
        case npy_dtype::u1: return add(name, a.shape, a.as<std::uint8_t>().data());
        }
        return *this;
    }

    std::size_t size() const noexcept { return entries_.size(); }

    /// Writes ZIP64 records even where sizes fit in 32 bits, as numpy does. ZIP64 is used
    /// anyway when an entry, an offset or the archive passes 4 GiB or there are 65535 entries.
    npz_writer& force_zip64(bool on = true) noexcept {
        force_zip64_ = on;
        return *this;
    }

    /// The archive's bytes.
    std::string bytes() const {
        std::string out, central;
        for (const entry& e : entries_) {
            const std::uint64_t offset = out.size();
            const std::uint64_t size = e.npy.size();
            const std::uint32_t crc = detail::zip_crc32(e.npy);
            const bool z64_size = force_zip64_ || size >= detail::zip_max32;
            const bool z64_offset = force_zip64_ || offset >= detail::zip_max32;
            const std::uint16_t flags = utf8_name(e.name) ? 0x0800 : 0;
            const std::uint16_t version = (z64_size || z64_offset) ? 45 : 20;

            detail::zip_put(out, detail::zip_local_sig, 4);
            detail::zip_put(out, version, 2);
            detail::zip_put(out, flags, 2);
            detail::zip_put(out, 0, 2); // stored
            detail::zip_put(out, 0, 2); // time 00:00:00
            detail::zip_put(out, detail::zip_dos_date_1980, 2);
            detail::zip_put(out, crc, 4);
            detail::zip_put(out, z64_size ? detail::zip_max32 : size, 4);
            detail::zip_put(out, z64_size ? detail::zip_max32 : size, 4);
            detail::zip_put(out, e.name.size(), 2);
            detail::zip_put(out, z64_size ? 20 : 0, 2);
            out += e.name;
            if (z64_size) { // the local ZIP64 extra holds both sizes
                detail::zip_put(out, 0x0001, 2);
                detail::zip_put(out, 16, 2);
                detail::zip_put(out, size, 8);
                detail::zip_put(out, size, 8);
            }
            out += e.npy;

            const std::uint16_t extra = (z64_size ? 16 : 0) + (z64_offset ? 8 : 0);
            detail::zip_put(central, detail::zip_central_sig, 4);
            detail::zip_put(central, (3 << 8) | 45, 2); // made by: Unix, spec 4.5
            detail::zip_put(central, version, 2);
            detail::zip_put(central, flags, 2);
            detail::zip_put(central, 0, 2);
            detail::zip_put(central, 0, 2);
            detail::zip_put(central, detail::zip_dos_date_1980, 2);
            detail::zip_put(central, crc, 4);
            detail::zip_put(central, z64_size ? detail::zip_max32 : size, 4);
            detail::zip_put(central, z64_size ? detail::zip_max32 : size, 4);
            detail::zip_put(central, e.name.size(), 2);
            detail::zip_put(central, extra ? extra + 4 : 0, 2);
            detail::zip_put(central, 0, 2);                // comment length
            detail::zip_put(central, 0, 2);                // disk
            detail::zip_put(central, 0, 2);                // internal attributes
            detail::zip_put(central, 0100644u << 16, 4); // regular file, rw-r--r--
            detail::zip_put(central, z64_offset ? detail::zip_max32 : offset, 4);
            central += e.name;
            if (extra) { // fields in the order the spec gives, only those marked 0xFFFFFFFF
                detail::zip_put(central, 0x0001, 2);
                detail::zip_put(central, extra, 2);
                if (z64_size) {
                    detail::zip_put(central, size, 8);
                    detail::zip_put(central, size, 8);
                }
                if (z64_offset) {
                    detail::zip_put(central, offset, 8);
                }
            }
        }
        const std::uint64_t cd_offset = out.size();
        const std::uint64_t cd_size = central.size();
        const std::uint64_t count = entries_.size();
        out += central;
        const bool z64_end = force_zip64_ || count >= 0xFFFF || cd_offset >= detail::zip_max32 ||
                             cd_size >= detail::zip_max32;
        if (z64_end) {
            const std::uint64_t record_at = out.size();
            detail::zip_put(out, detail::zip64_eocd_sig, 4);
            detail::zip_put(out, 44, 8); // size of the rest of this record
            detail::zip_put(out, (3 << 8) | 45, 2);
            detail::zip_put(out, 45, 2);
            detail::zip_put(out, 0, 4);
            detail::zip_put(out, 0, 4);
            detail::zip_put(out, count, 8);
            detail::zip_put(out, count, 8);
            detail::zip_put(out, cd_size, 8);
            detail::zip_put(out, cd_offset, 8);
            detail::zip_put(out, detail::zip64_locator_sig, 4);
            detail::zip_put(out, 0, 4);
            detail::zip_put(out, record_at, 8);
            detail::zip_put(out, 1, 4); // total disks
        }
        detail::zip_put(out, detail::zip_eocd_sig, 4);
        detail::zip_put(out, 0, 2);
        detail::zip_put(out, 0, 2);
        detail::zip_put(out, z64_end ? 0xFFFF : count, 2);
        detail::zip_put(out, z64_end ? 0xFFFF : count, 2);
        detail::zip_put(out, z64_end ? detail::zip_max32 : cd_size, 4);
        detail::zip_put(out, z64_end ? detail::zip_max32 : cd_offset, 4);
        detail::zip_put(out, 0, 2); // comment length
        return out;
    }

    /// Writes the archive to `path` atomically (write_file_atomic).
    void save(const std::filesystem::path& path) const { write_file_atomic(path, bytes()); }

private:
    struct entry {
        std::string name; // with ".npy"
        std::string npy;
    };

    void check_name(std::string_view name) const {
        if (name.empty()) {
            throw format_error("npz_writer: an entry needs a non-empty name");
        }
        if (name.size() > 0xFFFF - 4) {
            throw format_error("npz_writer: entry name longer than ZIP allows");
        }
        const std::string full = std::string(name) + ".npy";
        for (const entry& e : entries_) {
            if (e.name == full) {
                throw format_error("npz_writer: duplicate entry \"" + std::string(name) + "\"");
            }
        }
    }

    static bool utf8_name(const std::string& s) noexcept {
        return std::any_of(s.begin(), s.end(),
                           [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
    }

    std::vector<entry> entries_;
    bool force_zip64_ = false;
};

/// @brief One named array of an .npz; `name` has no ".npy".
struct npz_entry {
    std::string name;
    npy_array array;
};

/// @brief The arrays of an .npz, in archive order, each CRC-checked and decoded.
class npz_file {
public:
    npz_file() = default;
    npz_file(std::string source, std::vector<npz_entry> entries)
        : source_(std::move(source)), entries_(std::move(entries)) {}

    const std::string& source() const noexcept { return source_; }
    std::size_t size() const noexcept { return entries_.size(); }
    const std::vector<npz_entry>& entries() const noexcept { return entries_; }

    bool contains(std::string_view name) const noexcept { return find(name) != nullptr; }

    /// The array `name` (without ".npy"); when missing, ctml::format_error lists those present.
    const npy_array& at(std::string_view name) const {
        if (const npy_array* a = find(name)) {
            return *a;
        }
        std::string list;
        for (const npz_entry& e : entries_) {
            list += (list.empty() ? "" : ", ") + e.name;
        }
        throw format_error(source_ + ": no entry \"" + std::string(name) + "\" (" +
                           (list.empty() ? std::string("the archive is empty")
                                         : "entries: " + list) +
                           ")");
    }

    /// The entry names, in archive order.
    std::vector<std::string> names() const {
        std::vector<std::string> out;
        for (const npz_entry& e : entries_) {
            out.push_back(e.name);
        }
        return out;
    }

private:
    const npy_array* find(std::string_view name) const noexcept {
        for (const npz_entry& e : entries_) {
            if (e.name == name) {
                return &e.array;
            }
        }
        return nullptr;
    }

    std::string source_;
    std::vector<npz_entry> entries_;
};

namespace detail {

/// Reads a ZIP archive held in memory; every error names the source and, past the directory,
/// the entry.
class zip_reader {
public:
    zip_reader(std::string_view bytes, const std::string& source) : b_(bytes), source_(source) {}

    std::vector<npz_entry> read() {
        locate_directory();
        std::vector<npz_entry> out;
        std::size_t at = cd_offset_;
        for (std::uint64_t i = 0; i < count_; ++i) {
            npz_entry e = read_entry(at);
            for (const npz_entry& prior : out) {
                if (prior.name == e.name) {
                    fail("entry \"" + e.name + ".npy\" appears twice");
                }
            }
            out.push_back(std::move(e));
        }
        if (at != cd_end_) {
            fail("central directory holds more than the " + std::to_string(count_) +
                 " entries it declares");
        }
        return out;
    }

private:
    struct central_entry {
        std::string name;
        std::uint16_t flags = 0, method = 0;
        std::uint32_t crc = 0;
        std::uint64_t csize = 0, usize = 0, offset = 0;
    };

    std::uint64_t le(std::size_t at, int n) const {
        if (at > b_.size() || b_.size() - at < static_cast<std::size_t>(n)) {
            fail("truncated (a record at offset " + std::to_string(at) + " runs past the end)");
        }
        std::uint64_t v = 0;
        for (int k = 0; k < n; ++k) {
            v |= std::uint64_t(static_cast<unsigned char>(b_[at + k])) << (8 * k);
        }
        return v;
    }

    void locate_directory() {
        constexpr std::size_t eocd_size = 22;
        if (b_.size() < eocd_size) {
            fail("not a ZIP archive, or truncated (" + std::to_string(b_.size()) + " bytes)");
        }
        // The end record sits before a comment of at most 65535 bytes; the one whose comment
        // length reaches exactly to the end of the file is it.
        std::size_t eocd = std::string_view::npos;
        const std::size_t last = b_.size() - eocd_size;
        const std::size_t first = last > 0xFFFF ? last - 0xFFFF : 0;
        for (std::size_t p = last + 1; p-- > first;) {
            if (le(p, 4) == zip_eocd_sig && p + eocd_size + le(p + 20, 2) == b_.size()) {
                eocd = p;
                break;
            }
        }
        if (eocd == std::string_view::npos) {
            fail("not a ZIP archive, or truncated (no end-of-central-directory record)");
        }
        if (le(eocd + 4, 2) != 0 || le(eocd + 6, 2) != 0) {
            fail("multi-disk ZIP archives are not supported");
        }
        count_ = le(eocd + 10, 2);
        std::uint64_t cd_size = le(eocd + 12, 4);
        cd_offset_ = le(eocd + 16, 4);
        std::size_t cd_limit = eocd;
        if (count_ == 0xFFFF || cd_size == zip_max32 || cd_offset_ == zip_max32) {
            if (eocd >= 20 && le(eocd - 20, 4) == zip64_locator_sig) {
                const std::uint64_t rec = le(eocd - 20 + 8, 8);
                if (rec > eocd - 20 || le(static_cast<std::size_t>(rec), 4) != zip64_eocd_sig) {
                    fail("bad ZIP64 end-of-central-directory locator");
                }
                const auto r = static_cast<std::size_t>(rec);
                count_ = le(r + 32, 8);
                cd_size = le(r + 40, 8);
                cd_offset_ = le(r + 48, 8);
                cd_limit = r;
            }
        }
        if (cd_offset_ > cd_limit || cd_size > cd_limit - cd_offset_) {
            fail("truncated or corrupt: central directory (offset " + std::to_string(cd_offset_) +
                 ", " + std::to_string(cd_size) + " bytes) lies outside the " +
                 std::to_string(b_.size()) + "-byte file");
        }
        cd_end_ = static_cast<std::size_t>(cd_offset_ + cd_size);
        // Each central record takes at least 46 bytes, which bounds a hostile count.
        if (count_ > cd_size / 46) {
            fail("central directory declares " + std::to_string(count_) +
                 " entries but has room for " + std::to_string(cd_size / 46));
        }
    }

    central_entry read_central(std::size_t& at) const {
        if (at + 46 > cd_end_ || le(at, 4) != zip_central_sig) {
            fail("corrupt central directory at offset " + std::to_string(at));
        }
        central_entry c;
        c.flags = static_cast<std::uint16_t>(le(at + 8, 2));
        c.method = static_cast<std::uint16_t>(le(at + 10, 2));
        c.crc = static_cast<std::uint32_t>(le(at + 16, 4));
        c.csize = le(at + 20, 4);
        c.usize = le(at + 24, 4);
        const std::size_t name_len = le(at + 28, 2), extra_len = le(at + 30, 2),
                          comment_len = le(at + 32, 2);
        c.offset = le(at + 42, 4);
        const std::size_t name_at = at + 46;
        if (name_at + name_len + extra_len + comment_len > cd_end_) {
            fail("corrupt central directory at offset " + std::to_string(at));
        }
        c.name.assign(b_.substr(name_at, name_len));
        read_zip64_extra(c, name_at + name_len, extra_len);
        at = name_at + name_len + extra_len + comment_len;
        return c;
    }

    // ZIP64 extra (id 1): the 64-bit values of exactly those fields that read 0xFFFFFFFF.
    void read_zip64_extra(central_entry& c, std::size_t at, std::size_t len) const {
        const std::size_t end = at + len;
        while (at + 4 <= end) {
            const std::uint64_t id = le(at, 2);
            const std::size_t size = le(at + 2, 2);
            std::size_t p = at + 4;
            if (p + size > end) {
                fail_entry(c.name, "corrupt extra field in the central directory");
            }
            if (id == 0x0001) {
                for (std::uint64_t* field : {&c.usize, &c.csize, &c.offset}) {
                    if (*field == zip_max32) {
                        if (p + 8 > at + 4 + size) {
                            fail_entry(c.name, "ZIP64 extra field too short");
                        }
                        *field = le(p, 8);
                        p += 8;
                    }
                }
            }
            at += 4 + size;
        }
    }

    npz_entry read_entry(std::size_t& at) const {
        const central_entry c = read_central(at);
        if (c.flags & 0x0001) {
            fail_entry(c.name, "encrypted entries are not supported");
        }
        if (c.method != 0 && c.method != 8) {
            fail_entry(c.name, "compression method " + std::to_string(c.method) +
                                   " is not supported (stored or deflated only)");
        }
        if (c.offset > cd_offset_ || le(static_cast<std::size_t>(c.offset), 4) != zip_local_sig) {
            fail_entry(c.name, "bad local header at offset " + std::to_string(c.offset));
        }
        const auto off = static_cast<std::size_t>(c.offset);
        const std::size_t name_len = le(off + 26, 2), extra_len = le(off + 28, 2);
        if (b_.substr(off + 30, name_len) != c.name) {
            fail_entry(c.name, "local header names \"" + std::string(b_.substr(off + 30, name_len)) +
                                   "\"");
        }
        const std::size_t data_at = off + 30 + name_len + extra_len;
        if (data_at > cd_offset_ || c.csize > cd_offset_ - data_at) {
            fail_entry(c.name, "truncated: " + std::to_string(c.csize) +
                                   " bytes of data at offset " + std::to_string(data_at) +
                                   " run into the central directory at " +
                                   std::to_string(cd_offset_));
        }
        const std::string_view raw = b_.substr(data_at, static_cast<std::size_t>(c.csize));
        std::string inflated;
        std::string_view data = raw;
        if (c.method == 0) {
            if (c.usize != c.csize) {
                fail_entry(c.name, "stored entry with different compressed and uncompressed sizes");
            }
        } else {
            inflated = inflate_raw(c, raw);
            data = inflated;
        }
        const std::uint32_t crc = zip_crc32(data);
        if (crc != c.crc) {
            fail_entry(c.name, "CRC-32 mismatch (stored " + hex(c.crc) + ", computed " + hex(crc) +
                                   "): the archive is corrupt");
        }
        constexpr std::string_view ext = ".npy";
        if (c.name.size() <= ext.size() || !c.name.ends_with(ext)) {
            fail_entry(c.name, "not an .npy array (an .npz holds only <name>.npy entries)");
        }
        npz_entry e;
        e.name = c.name.substr(0, c.name.size() - ext.size());
        e.array = decode_npy(data, source_ + ": entry \"" + c.name + "\"");
        return e;
    }

    std::string inflate_raw(const central_entry& c, std::string_view in) const {
        // Deflate cannot exceed about 1032:1; a larger claim is a corrupt or hostile entry.
        if (c.usize / 1032 > c.csize + 64) {
            fail_entry(c.name, "claims " + std::to_string(c.usize) + " bytes from " +
                                   std::to_string(c.csize) + " compressed");
        }
        std::string out(static_cast<std::size_t>(c.usize), '\0');
        z_stream zs{};
        if (inflateInit2(&zs, -15) != Z_OK) {
            fail_entry(c.name, "zlib inflateInit2 failed");
        }
        zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
        zs.next_out = reinterpret_cast<Bytef*>(out.data());
        int ret = Z_OK;
        while (ret == Z_OK) {
            // zlib counts in uInt; feed at most 1 GiB at a time.
            constexpr std::uint64_t chunk = 1u << 30;
            zs.avail_in = static_cast<uInt>(std::min<std::uint64_t>(in.size() - zs.total_in, chunk));
            zs.avail_out =
                static_cast<uInt>(std::min<std::uint64_t>(out.size() - zs.total_out, chunk));
            const uLong before_in = zs.total_in, before_out = zs.total_out;
            ret = ::inflate(&zs, Z_NO_FLUSH);
            if (ret == Z_OK && zs.total_in == before_in && zs.total_out == before_out) {
                ret = Z_BUF_ERROR; // no progress: input ended or output full before stream end
            }
        }
        const std::string msg = zs.msg ? zs.msg : "";
        const uLong produced = zs.total_out;
        ::inflateEnd(&zs);
        if (ret != Z_STREAM_END) {
            fail_entry(c.name, "corrupt deflate data (" +
                                   (msg.empty() ? std::string("stream ends early or inflates to "
                                                              "more than the declared ") +
                                                      std::to_string(c.usize) + " bytes"
                                                : msg) +
                                   ")");
        }
        if (produced != c.usize) {
            fail_entry(c.name, "inflates to " + std::to_string(produced) + " bytes, directory says " +
                                   std::to_string(c.usize));
        }
        return out;
    }

    static std::string hex(std::uint32_t v) {
        static constexpr char digits[] = "0123456789abcdef";
        std::string s = "0x";
        for (int k = 28; k >= 0; k -= 4) {
            s += digits[(v >> k) & 0xF];
        }
        return s;
    }

    [[noreturn]] void fail(const std::string& what) const {
        throw format_error(source_ + ": " + what);
    }
    [[noreturn]] void fail_entry(const std::string& name, const std::string& what) const {
        throw format_error(source_ + ": entry \"" + name + "\": " + what);
    }

    std::string_view b_;
    const std::string& source_;
    std::uint64_t count_ = 0;
    std::uint64_t cd_offset_ = 0;
    std::size_t cd_end_ = 0;
};

} // namespace detail

/// @brief Reads an .npz held in memory; `source` names it in errors. Every entry must be a
/// stored or deflated `<name>.npy` with a matching CRC-32; errors are ctml::format_error naming
/// the source, the entry and the problem.
inline npz_file parse_npz(std::string_view bytes, std::string source) {
    auto entries = detail::zip_reader(bytes, source).read();
    return npz_file(std::move(source), std::move(entries));
}

/// @brief Reads the .npz file `path` (written by ctml, `np.savez` or `np.savez_compressed`).
inline npz_file load_npz(const std::filesystem::path& path) {
    return parse_npz(read_file(path), path.string());
}

} // namespace ctml::io
