// SPDX-License-Identifier: MIT
// The ZIP container under .npz: record constants and writing helpers for npz_writer, and a reader
// of an archive held in memory. The reader lists the central directory (every size, offset and
// method checked against the archive's own length before anything is allocated) and hands out
// one entry's bytes on request: a view for a stored entry, an inflated copy (bounded by the
// declared size, itself bounded by the deflate ratio) for a deflated one, CRC-checked.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <zlib.h>

#include "ctml/core/error.hpp"

namespace ctml::io::detail {

inline constexpr std::uint32_t zip_local_sig = 0x04034b50;
inline constexpr std::uint32_t zip_central_sig = 0x02014b50;
inline constexpr std::uint32_t zip_eocd_sig = 0x06054b50;
inline constexpr std::uint32_t zip64_eocd_sig = 0x06064b50;
inline constexpr std::uint32_t zip64_locator_sig = 0x07064b50;
inline constexpr std::uint64_t zip_max32 = 0xFFFFFFFF;
inline constexpr std::uint16_t zip_dos_date_1980 = (0 << 9) | (1 << 5) | 1; // 1980-01-01
/// Deflate cannot expand data by more than about 1032:1; an entry that claims more (plus a
/// little slack for tiny entries) is corrupt or hostile and is refused before inflating.
inline constexpr std::uint64_t zip_max_deflate_ratio = 1032;

inline std::uint32_t zip_crc32(std::string_view bytes) noexcept {
    return static_cast<std::uint32_t>(
        ::crc32_z(0L, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
}

inline void zip_put(std::string& out, std::uint64_t v, int bytes) {
    for (int k = 0; k < bytes; ++k) {
        out += static_cast<char>((v >> (8 * k)) & 0xFF);
    }
}

/// One entry of the central directory, checked: its data lies inside the archive.
struct zip_entry {
    std::string name;
    std::uint16_t flags = 0, method = 0; ///< method 0: stored, 8: deflated
    std::uint32_t crc = 0;
    std::uint64_t csize = 0, usize = 0, offset = 0;
    std::size_t data_at = 0; ///< where the (compressed) data starts in the archive
};

/// Reads a ZIP archive held in memory; every error is a ctml::format_error naming the source
/// and, past the directory, the entry.
class zip_reader {
public:
    zip_reader(std::string_view bytes, const std::string& source) : b_(bytes), source_(source) {}

    /// The central directory in archive order: stored or deflated entries only, not encrypted,
    /// unique names, data inside the archive, and a declared size the deflate ratio allows.
    /// Reads headers only, allocates in proportion to the directory's size.
    std::vector<zip_entry> directory() {
        locate_directory();
        std::vector<zip_entry> out;
        out.reserve(static_cast<std::size_t>(count_));
        std::size_t at = static_cast<std::size_t>(cd_offset_);
        for (std::uint64_t i = 0; i < count_; ++i) {
            out.push_back(read_entry(at));
        }
        if (at != cd_end_) {
            fail("central directory holds more than the " + std::to_string(count_) +
                 " entries it declares");
        }
        std::vector<std::string_view> names;
        names.reserve(out.size());
        for (const zip_entry& e : out) {
            names.push_back(e.name);
        }
        std::sort(names.begin(), names.end());
        if (const auto d = std::adjacent_find(names.begin(), names.end()); d != names.end()) {
            fail("entry \"" + std::string(*d) + "\" appears twice");
        }
        return out;
    }

    /// The entry's compressed bytes (a view into the archive).
    std::string_view raw(const zip_entry& e) const noexcept {
        return b_.substr(e.data_at, static_cast<std::size_t>(e.csize));
    }

    /// The entry's whole content, CRC-checked: a view into the archive for a stored entry, else
    /// inflated into `storage` (exactly the declared size, never more).
    std::string_view content(const zip_entry& e, std::string& storage) const {
        std::string_view data = raw(e);
        if (e.method != 0) {
            storage = inflate(e, static_cast<std::size_t>(e.usize), true);
            data = storage;
        }
        const std::uint32_t crc = zip_crc32(data);
        if (crc != e.crc) {
            fail_entry(e.name, "CRC-32 mismatch (stored " + hex(e.crc) + ", computed " + hex(crc) +
                                   "): the archive is corrupt");
        }
        return data;
    }

    /// At most the first `limit` bytes of the entry's content (not CRC-checked: the whole
    /// content is needed for that), for reading a header before deciding to read the rest.
    std::string prefix(const zip_entry& e, std::size_t limit) const {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(limit, e.usize));
        if (e.method == 0) {
            return std::string(raw(e).substr(0, n));
        }
        return inflate(e, n, false);
    }

    [[noreturn]] void fail(const std::string& what) const {
        throw format_error(source_ + ": " + what);
    }
    [[noreturn]] void fail_entry(const std::string& name, const std::string& what) const {
        throw format_error(source_ + ": entry \"" + name + "\": " + what);
    }

private:
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

    zip_entry read_central(std::size_t& at) const {
        if (at + 46 > cd_end_ || le(at, 4) != zip_central_sig) {
            fail("corrupt central directory at offset " + std::to_string(at));
        }
        zip_entry c;
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
    void read_zip64_extra(zip_entry& c, std::size_t at, std::size_t len) const {
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

    zip_entry read_entry(std::size_t& at) const {
        zip_entry c = read_central(at);
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
        c.data_at = off + 30 + name_len + extra_len;
        if (c.data_at > cd_offset_ || c.csize > cd_offset_ - c.data_at) {
            fail_entry(c.name, "truncated: " + std::to_string(c.csize) +
                                   " bytes of data at offset " + std::to_string(c.data_at) +
                                   " run into the central directory at " +
                                   std::to_string(cd_offset_));
        }
        if (c.method == 0 && c.usize != c.csize) {
            fail_entry(c.name, "stored entry with different compressed and uncompressed sizes");
        }
        if (c.method == 8 && c.usize / zip_max_deflate_ratio > c.csize + 64) {
            fail_entry(c.name, "claims " + std::to_string(c.usize) + " bytes from " +
                                   std::to_string(c.csize) + " compressed");
        }
        return c;
    }

    // Inflates the entry into exactly `n` bytes. `whole`: the stream must end there and match
    // the declared size; otherwise stopping at n bytes is the point.
    std::string inflate(const zip_entry& c, std::size_t n, bool whole) const {
        const std::string_view in = raw(c);
        std::string out(n, '\0');
        z_stream zs{};
        if (inflateInit2(&zs, -15) != Z_OK) {
            fail_entry(c.name, "zlib inflateInit2 failed");
        }
        zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
        zs.next_out = reinterpret_cast<Bytef*>(out.data());
        int ret = Z_OK;
        while (ret == Z_OK) {
            if (!whole && zs.total_out == n) {
                break;
            }
            // zlib counts in uInt; feed at most 1 GiB at a time.
            constexpr std::uint64_t chunk = 1u << 30;
            zs.avail_in = static_cast<uInt>(std::min<std::uint64_t>(in.size() - zs.total_in, chunk));
            zs.avail_out = static_cast<uInt>(std::min<std::uint64_t>(n - zs.total_out, chunk));
            const uLong before_in = zs.total_in, before_out = zs.total_out;
            ret = ::inflate(&zs, Z_NO_FLUSH);
            if (ret == Z_OK && zs.total_in == before_in && zs.total_out == before_out) {
                ret = Z_BUF_ERROR; // no progress: input ended or output full before stream end
            }
        }
        const std::string msg = zs.msg ? zs.msg : "";
        const uLong produced = zs.total_out;
        ::inflateEnd(&zs);
        if (!whole && (ret == Z_OK || ret == Z_STREAM_END || ret == Z_BUF_ERROR)) {
            out.resize(produced); // a short stream: the caller sees fewer bytes than asked
            return out;
        }
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

    std::string_view b_;
    const std::string& source_;
    std::uint64_t count_ = 0;
    std::uint64_t cd_offset_ = 0;
    std::size_t cd_end_ = 0;
};

} // namespace ctml::io::detail
