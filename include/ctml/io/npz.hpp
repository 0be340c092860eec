// SPDX-License-Identifier: MIT
// numpy's .npz: a ZIP archive of .npy entries. ctml writes it stored (uncompressed), with a
// fixed timestamp so that equal weights give equal bytes (content hashes stay stable); it reads
// stored and deflated entries, with or without ZIP64 records (numpy always writes ZIP64 extras),
// whole (load_npz) or entry by entry with every header checked first (open_npz, npz_archive).
// The ZIP reader itself is io/detail/zip.hpp.
#pragma once
#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <ranges>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ctml/config.hpp"
#include "ctml/core/error.hpp"
#include "ctml/io/file.hpp"
#include "ctml/io/detail/zip.hpp"
#include "ctml/io/npy.hpp"

namespace ctml::io {

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

/// @brief An .npz held in memory whose entries are read one at a time: header() reads only an
/// entry's .npy header (inflating at most npy_max_header_bytes of a deflated entry) and checks
/// that the sizes it declares agree with the archive's, so a caller can check every shape
/// before allocating anything; read() then inflates, CRC-checks and decodes one entry. All
/// errors are ctml::format_error naming the source and the entry.
class npz_archive {
public:
    /// Parses the central directory of `bytes` (names must be unique `<name>.npy` entries).
    npz_archive(std::string bytes, std::string source)
        : bytes_(std::make_shared<const std::string>(std::move(bytes))),
          source_(std::move(source)) {
        detail::zip_reader z(*bytes_, source_);
        entries_ = z.directory();
        constexpr std::string_view ext = ".npy";
        for (const detail::zip_entry& e : entries_) {
            if (e.name.size() <= ext.size() || !e.name.ends_with(ext)) {
                z.fail_entry(e.name, "not an .npy array (an .npz holds only <name>.npy entries)");
            }
        }
    }

    const std::string& source() const noexcept { return source_; }
    std::size_t size() const noexcept { return entries_.size(); }

    /// The entry names without ".npy", in archive order.
    std::vector<std::string> names() const {
        std::vector<std::string> out;
        for (const detail::zip_entry& e : entries_) {
            out.push_back(e.name.substr(0, e.name.size() - 4));
        }
        return out;
    }

    bool contains(std::string_view name) const noexcept { return find(name) != nullptr; }

    /// The .npy header of entry `name` (without ".npy"), from its first bytes only. Throws when
    /// the entry is missing (listing those present), when its header is malformed, and when
    /// the data the header declares is not exactly what the entry holds.
    npy_header header(std::string_view name) const {
        const detail::zip_entry& e = entry(name);
        const detail::zip_reader z(*bytes_, source_);
        const std::string where = entry_source(e);
        const npy_header h = parse_npy_header(z.prefix(e, npy_max_header_bytes), where);
        if (e.usize < h.data_offset || e.usize - h.data_offset != h.data_bytes) {
            const std::uint64_t have = e.usize < h.data_offset ? 0 : e.usize - h.data_offset;
            throw format_error(where + ": " + (have < h.data_bytes ? "truncated data" : "surplus data") +
                               ": shape " + detail::npy_shape_text(h.shape) + " of " +
                               std::string(npy_descr(h.dtype)) + " needs " +
                               std::to_string(h.data_bytes) + " bytes, the entry holds " +
                               std::to_string(have));
        }
        return h;
    }

    /// Entry `name` (without ".npy"), inflated, CRC-checked and decoded.
    npy_array read(std::string_view name) const { return read_entry(entry(name)); }

    /// Every entry, in archive order.
    npz_file read_all() const {
        std::vector<npz_entry> out;
        out.reserve(entries_.size());
        for (const detail::zip_entry& e : entries_) {
            out.push_back({e.name.substr(0, e.name.size() - 4), read_entry(e)});
        }
        return npz_file(source_, std::move(out));
    }

private:
    const detail::zip_entry* find(std::string_view name) const noexcept {
        for (const detail::zip_entry& e : entries_) {
            if (e.name.size() == name.size() + 4 && e.name.starts_with(name)) {
                return &e;
            }
        }
        return nullptr;
    }
    const detail::zip_entry& entry(std::string_view name) const {
        if (const detail::zip_entry* e = find(name)) {
            return *e;
        }
        std::string list;
        for (const std::string& n : names()) {
            list += (list.empty() ? "" : ", ") + n;
        }
        throw format_error(source_ + ": no entry \"" + std::string(name) + "\" (" +
                           (list.empty() ? std::string("the archive is empty")
                                         : "entries: " + list) +
                           ")");
    }
    std::string entry_source(const detail::zip_entry& e) const {
        return source_ + ": entry \"" + e.name + "\"";
    }
    npy_array read_entry(const detail::zip_entry& e) const {
        std::string storage;
        const std::string_view data = detail::zip_reader(*bytes_, source_).content(e, storage);
        return decode_npy(data, entry_source(e));
    }

    std::shared_ptr<const std::string> bytes_;
    std::string source_;
    std::vector<detail::zip_entry> entries_;
};

/// @brief Reads an .npz held in memory; `source` names it in errors. Every entry must be a
/// stored or deflated `<name>.npy` with a matching CRC-32; errors are ctml::format_error naming
/// the source, the entry and the problem.
inline npz_file parse_npz(std::string_view bytes, std::string source) {
    return npz_archive(std::string(bytes), std::move(source)).read_all();
}

/// @brief Opens the .npz file `path` (at most `max_bytes`, a regular file: read_file's checks)
/// for reading entry by entry.
inline npz_archive open_npz(const std::filesystem::path& path,
                            std::uint64_t max_bytes = CTML_MAX_FILE_BYTES) {
    return npz_archive(read_file(path, max_bytes), path.string());
}

/// @brief Reads the .npz file `path` (written by ctml, `np.savez` or `np.savez_compressed`;
/// at most `max_bytes`).
inline npz_file load_npz(const std::filesystem::path& path,
                         std::uint64_t max_bytes = CTML_MAX_FILE_BYTES) {
    return open_npz(path, max_bytes).read_all();
}

} // namespace ctml::io
