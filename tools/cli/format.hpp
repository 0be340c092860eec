// SPDX-License-Identifier: MIT
// Output for people: aligned tables, "Key: value" blocks, times in UTC, numbers short.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ctml::cli {

/// Display width of UTF-8 text: code points (no wide-character table; names are ASCII).
inline std::size_t display_width(std::string_view s) {
    std::size_t n = 0;
    for (const char c : s) {
        n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
    }
    return n;
}

/// Control characters (a tag value with a newline) would break the table: shown escaped.
inline std::string printable(std::string_view s) {
    std::string out;
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7F) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += ch;
        }
    }
    return out;
}

/// @brief Columns padded to their widest cell, two spaces apart; the header in capitals.
class table {
public:
    explicit table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
    void add(std::vector<std::string> row) {
        for (auto& cell : row) {
            cell = printable(cell);
        }
        rows_.push_back(std::move(row));
    }
    bool empty() const noexcept { return rows_.empty(); }

    void print(std::ostream& out) const {
        std::vector<std::size_t> w(headers_.size(), 0);
        for (std::size_t c = 0; c < headers_.size(); ++c) {
            w[c] = display_width(headers_[c]);
            for (const auto& r : rows_) {
                if (c < r.size()) {
                    w[c] = std::max(w[c], display_width(r[c]));
                }
            }
        }
        const auto line = [&](const std::vector<std::string>& cells) {
            std::string s;
            for (std::size_t c = 0; c < headers_.size(); ++c) {
                const std::string& cell = c < cells.size() ? cells[c] : std::string();
                s += cell;
                if (c + 1 < headers_.size()) {
                    s.append(w[c] - display_width(cell) + 2, ' ');
                }
            }
            while (!s.empty() && s.back() == ' ') {
                s.pop_back();
            }
            out << s << '\n';
        };
        line(headers_);
        for (const auto& r : rows_) {
            line(r);
        }
    }

private:
    std::vector<std::string> headers_;
    std::vector<std::vector<std::string>> rows_;
};

/// @brief "Key:  value" lines with the values aligned.
inline void print_fields(std::ostream& out,
                         const std::vector<std::pair<std::string, std::string>>& fields) {
    std::size_t w = 0;
    for (const auto& f : fields) {
        w = std::max(w, display_width(f.first));
    }
    for (const auto& [k, v] : fields) {
        out << k << ':' << std::string(w - display_width(k) + 2, ' ') << printable(v) << '\n';
    }
}

/// A section heading between blocks of `ctml run show`.
inline void print_heading(std::ostream& out, std::string_view title) {
    out << '\n' << title << '\n';
}

namespace detail {
inline std::tm utc(std::int64_t ms) {
    const std::time_t t = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    return tm;
}
} // namespace detail

/// Milliseconds since the epoch as "2026-12-01 19:09:43" (UTC); 0 as "-".
inline std::string format_time(std::int64_t ms) {
    if (ms == 0) {
        return "-";
    }
    const std::tm tm = detail::utc(ms);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

/// Milliseconds since the epoch as ISO 8601 with milliseconds, "2026-12-01T19:09:43.123Z".
inline std::string iso_time(std::int64_t ms) {
    const std::tm tm = detail::utc(ms);
    char buf[40];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    const auto frac = static_cast<int>(((ms % 1000) + 1000) % 1000);
    char out[48];
    std::snprintf(out, sizeof out, "%s.%03dZ", buf, frac);
    return out;
}

/// A duration in milliseconds as "1h02m", "3m05s", "12.3s"; negative or 0 as "-".
inline std::string format_duration(std::int64_t ms) {
    if (ms <= 0) {
        return "-";
    }
    char buf[32];
    const std::int64_t s = ms / 1000;
    if (s >= 3600) {
        std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                      static_cast<long long>(s / 60 % 60));
    } else if (s >= 60) {
        std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                      static_cast<long long>(s % 60));
    } else {
        std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000.0);
    }
    return buf;
}

/// A metric value for people: 6 significant digits; NaN, inf, -inf spelled so.
inline std::string format_value(double v) {
    if (std::isnan(v)) {
        return "NaN";
    }
    if (std::isinf(v)) {
        return v > 0 ? "inf" : "-inf";
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

/// A byte count for people: "812 B", "47.8 KiB", "9.45 MiB".
inline std::string format_size(std::uint64_t bytes) {
    char buf[32];
    if (bytes < 1024) {
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
        return buf;
    }
    double v = static_cast<double>(bytes) / 1024;
    const char* unit = "KiB";
    for (const char* u : {"MiB", "GiB", "TiB"}) {
        if (v < 1024) {
            break;
        }
        v /= 1024;
        unit = u;
    }
    std::snprintf(buf, sizeof buf, v < 10 ? "%.2f %s" : (v < 100 ? "%.1f %s" : "%.0f %s"), v,
                  unit);
    return buf;
}

/// "a, b, c"; "-" for none.
inline std::string join(const std::vector<std::string>& parts, std::string_view sep = ", ") {
    if (parts.empty()) {
        return "-";
    }
    std::string s;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (i) {
            s += sep;
        }
        s += parts[i];
    }
    return s;
}

} // namespace ctml::cli
