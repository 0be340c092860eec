// SPDX-License-Identifier: MIT
// A streaming JSON writer. simdjson (our reader) writes nothing, so writing is ours.
#pragma once
#include <charconv>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include "ctml/core/error.hpp"

namespace ctml::io {

/// @brief Layout of the writer's output: `pretty` indents like Python's `json.dumps(indent=2)`
/// and ends with a newline; `compact` has no whitespace at all.
enum class json_style { pretty, compact };

namespace detail {

/// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not one (overlong forms,
/// surrogates and code points above U+10FFFF are invalid, as RFC 3629 says).
inline std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = byte(i);
    if (c < 0x80) {
        return 1;
    }
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF; // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (i + n > s.size() || byte(i + 1) < lo || byte(i + 1) > hi) {
        return 0;
    }
    for (std::size_t k = 2; k < n; ++k) {
        if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) {
            return 0;
        }
    }
    return n;
}

} // namespace detail

/// @brief Writes one JSON value (usually an object) into a string, element by element.
///
///     json_writer w;
///     w.begin_object().field("name", "dense_1").key("shape").begin_array()
///      .value(784).value(300).end_array().end_object();
///     write_file_atomic("model.json", w.str());
///
/// Strings are escaped (quote, backslash, control characters) and must be valid UTF-8, which
/// passes through unescaped. Doubles and floats are written in the shortest form that reads back
/// to the same value of that type (a float's 0.1f is written "0.1"), always with a '.' or an
/// exponent so that a reader sees a floating-point number; integers are written exactly.
/// NaN and infinity have no JSON spelling and are refused. Every misuse (a value in an object
/// without a key, a mismatched end, a second top-level value, reading an unfinished document)
/// throws ctml::format_error naming the field path, e.g. `layers[2].units`.
class json_writer {
public:
    explicit json_writer(json_style style = json_style::pretty, unsigned indent = 2)
        : style_(style), indent_(indent) {}

    json_writer& begin_object() { return open('{', true); }
    json_writer& end_object() { return close('}', true); }
    json_writer& begin_array() { return open('[', false); }
    json_writer& end_array() { return close(']', false); }

    /// The name of the next member of the innermost object.
    json_writer& key(std::string_view name) {
        if (stack_.empty() || !stack_.back().is_object) {
            fail("key(\"" + std::string(name) + "\") outside an object");
        }
        frame& f = stack_.back();
        if (f.key_pending) {
            fail("key(\"" + std::string(name) + "\") right after key(\"" + f.key +
                 "\"), which has no value yet");
        }
        f.key.assign(name);
        check_utf8(name, "key");
        separate(f);
        write_string(name);
        out_ += style_ == json_style::pretty ? ": " : ":";
        f.key_pending = true;
        return *this;
    }

    json_writer& value(std::string_view s) {
        check_utf8(s, "string");
        before_value();
        write_string(s);
        return after_value();
    }
    json_writer& value(const char* s) { return value(std::string_view(s)); }
    json_writer& value(const std::string& s) { return value(std::string_view(s)); }
    json_writer& value(bool b) { return scalar(b ? "true" : "false"); }
    json_writer& value(std::nullptr_t) { return scalar("null"); }
    json_writer& null() { return scalar("null"); }
    json_writer& value(double d) { return floating(d); }
    json_writer& value(float f) { return floating(f); }
    /// Integers of any width; `char` is refused at compile time (a character, not a number).
    template <std::integral T>
        requires(!std::same_as<T, bool> && !std::same_as<T, char>)
    json_writer& value(T v) {
        char buf[24];
        const auto r = std::to_chars(buf, buf + sizeof buf, v);
        return scalar(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
    }

    /// key(name) followed by value(v).
    template <class T>
    json_writer& field(std::string_view name, const T& v) {
        key(name);
        return value(v);
    }

    /// True once one complete top-level value has been written.
    bool complete() const noexcept { return stack_.empty() && top_level_done_; }

    /// The finished document; throws if it is not complete().
    const std::string& str() const {
        require_complete();
        return out_;
    }
    /// Moves the finished document out; the writer is empty afterwards.
    std::string take() {
        require_complete();
        std::string s = std::move(out_);
        out_.clear();
        stack_.clear();
        top_level_done_ = false;
        return s;
    }

private:
    struct frame {
        bool is_object;
        std::size_t count = 0;    // members or elements begun so far
        std::string key;          // the current member's key (objects)
        bool key_pending = false; // a key was written and awaits its value
    };

    json_writer& open(char bracket, bool is_object) {
        before_value();
        out_ += bracket;
        stack_.push_back(frame{is_object, 0, {}, false});
        return *this;
    }

    json_writer& close(char bracket, bool is_object) {
        const char* name = is_object ? "end_object()" : "end_array()";
        if (stack_.empty()) {
            fail(std::string(name) + " with nothing open");
        }
        const frame& f = stack_.back();
        if (f.is_object != is_object) {
            fail(std::string(name) + " closes an " + (f.is_object ? "object" : "array"));
        }
        if (f.key_pending) {
            fail(std::string(name) + " right after key(\"" + f.key + "\"), which has no value");
        }
        const bool empty = f.count == 0;
        stack_.pop_back();
        if (!empty) {
            newline();
        }
        out_ += bracket;
        return after_value();
    }

    json_writer& scalar(std::string_view text) {
        before_value();
        out_ += text;
        return after_value();
    }

    template <std::floating_point T>
    json_writer& floating(T v) {
        if (!std::isfinite(v)) {
            fail(std::string(std::isnan(v) ? "NaN" : "infinity") +
                     " cannot be written as JSON (it has no spelling for it)",
                 true);
        }
        char buf[40];
        const auto r = std::to_chars(buf, buf + sizeof buf, v);
        std::string_view text(buf, static_cast<std::size_t>(r.ptr - buf));
        before_value();
        out_ += text;
        if (text.find_first_of(".e") == std::string_view::npos) {
            out_ += ".0";
        }
        return after_value();
    }

    void before_value() {
        if (stack_.empty()) {
            if (top_level_done_) {
                fail("a second top-level value; a JSON document holds one");
            }
            return;
        }
        frame& f = stack_.back();
        if (f.is_object) {
            if (!f.key_pending) {
                fail("a value inside an object needs key() first", true);
            }
            f.key_pending = false;
        } else {
            separate(f);
        }
    }

    json_writer& after_value() {
        if (stack_.empty()) {
            top_level_done_ = true;
            if (style_ == json_style::pretty) {
                out_ += '\n';
            }
        }
        return *this;
    }

    // Comma and line break before a member or an element.
    void separate(frame& f) {
        if (f.count++ > 0) {
            out_ += ',';
        }
        newline();
    }

    void newline() {
        if (style_ == json_style::pretty) {
            out_ += '\n';
            out_.append(stack_.size() * indent_, ' ');
        }
    }

    void write_string(std::string_view s) {
        static constexpr char hex[] = "0123456789abcdef";
        out_ += '"';
        for (const char ch : s) {
            const auto c = static_cast<unsigned char>(ch);
            switch (c) {
            case '"': out_ += "\\\""; break;
            case '\\': out_ += "\\\\"; break;
            case '\b': out_ += "\\b"; break;
            case '\f': out_ += "\\f"; break;
            case '\n': out_ += "\\n"; break;
            case '\r': out_ += "\\r"; break;
            case '\t': out_ += "\\t"; break;
            default:
                if (c < 0x20) {
                    out_ += "\\u00";
                    out_ += hex[c >> 4];
                    out_ += hex[c & 0xF];
                } else {
                    out_ += ch;
                }
            }
        }
        out_ += '"';
    }

    void check_utf8(std::string_view s, const char* what) const {
        for (std::size_t i = 0; i < s.size();) {
            const std::size_t n = detail::utf8_sequence_length(s, i);
            if (n == 0) {
                static constexpr char hex[] = "0123456789abcdef";
                const auto c = static_cast<unsigned char>(s[i]);
                fail(std::string(what) + " is not valid UTF-8 (byte 0x" + hex[c >> 4] +
                         hex[c & 0xF] + " at offset " + std::to_string(i) + ")",
                     true);
            }
            i += n;
        }
    }

    // The path of the value being written: `a.b[3].c`.
    std::string path() const {
        std::string p;
        for (std::size_t i = 0; i < stack_.size(); ++i) {
            const frame& f = stack_[i];
            const bool innermost = i + 1 == stack_.size();
            if (f.is_object) {
                // An outer object's key names the member being written; the innermost one's
                // only while its value is pending (otherwise it is the previous member's).
                if (innermost && !f.key_pending) {
                    continue;
                }
                if (!p.empty()) {
                    p += '.';
                }
                p += f.key;
            } else {
                // The innermost array's next element is `count`; outer ones hold the element
                // being written, `count - 1`.
                p += '[' + std::to_string(innermost ? f.count : f.count - 1) + ']';
            }
        }
        return p;
    }

    [[noreturn]] void fail(const std::string& what, bool at_field = false) const {
        std::string where;
        if (at_field || !stack_.empty()) {
            const std::string p = path();
            where = p.empty() ? "top level: " : "field \"" + p + "\": ";
        }
        throw format_error("json_writer: " + where + what);
    }

    void require_complete() const {
        if (!complete()) {
            fail(stack_.empty() ? std::string("the document is empty")
                                : "the document is unfinished (" + std::to_string(stack_.size()) +
                                      " open object(s)/array(s))");
        }
    }

    json_style style_;
    unsigned indent_;
    std::string out_;
    std::vector<frame> stack_;
    bool top_level_done_ = false;
};

} // namespace ctml::io
