// SPDX-License-Identifier: MIT
// Typed, validated access to JSON documents parsed by simdjson's DOM API. Every error names the
// source (a file or a label) and the field path: `model.json: field "layers[2].units": ...`.
#pragma once
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "ctml/config.hpp"
#include "ctml/core/error.hpp"
#include "ctml/io/file.hpp"

namespace ctml::io {

class json_value;
class json_object;
class json_array;

namespace detail {

/// The parser owns the parsed tape that every element points into, so it lives on the heap and
/// is shared by all values taken from the document: a value stays valid after the document
/// object itself is gone.
struct json_state {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    std::string source;
};

inline std::string json_number_text(double d) {
    char buf[40];
    const auto r = std::to_chars(buf, buf + sizeof buf, d);
    std::string s(buf, r.ptr);
    // As the writer does: 3.0 shows as "3.0", so that it does not read as an integer.
    if (s.find_first_of(".en") == std::string::npos) {
        s += ".0";
    }
    return s;
}

/// What an element is, for "got ..." in messages: its type, and its value when short.
inline std::string json_describe(const simdjson::dom::element& e) {
    using simdjson::dom::element_type;
    switch (e.type()) {
    case element_type::ARRAY: return "array";
    case element_type::OBJECT: return "object";
    case element_type::INT64: return "integer " + std::to_string(e.get_int64().value_unsafe());
    case element_type::UINT64: return "integer " + std::to_string(e.get_uint64().value_unsafe());
    case element_type::DOUBLE: return "number " + json_number_text(e.get_double().value_unsafe());
    case element_type::BOOL: return e.get_bool().value_unsafe() ? "boolean true" : "boolean false";
    case element_type::NULL_VALUE: return "null";
    case element_type::STRING: {
        const std::string_view s = e.get_string().value_unsafe();
        constexpr std::size_t shown = 40;
        return "string \"" + std::string(s.substr(0, shown)) + (s.size() > shown ? "...\"" : "\"");
    }
    }
    return "unknown JSON type";
}

inline std::string json_child_path(const std::string& parent, std::string_view key) {
    return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

inline std::string json_index_path(const std::string& parent, std::size_t i) {
    return parent + "[" + std::to_string(i) + "]";
}

} // namespace detail

/// @brief Any JSON value, with where it came from (source and field path) for error messages.
class json_value {
public:
    json_value(std::shared_ptr<const detail::json_state> doc, simdjson::dom::element e,
               std::string path)
        : doc_(std::move(doc)), element_(e), path_(std::move(path)) {}

    /// The field path, `layers[2].units`; empty for the top-level value.
    const std::string& path() const noexcept { return path_; }
    /// The file name (or label) the document was parsed from.
    const std::string& source() const noexcept { return doc_->source; }
    /// simdjson's element, for anything these helpers do not cover. Valid while this value
    /// (or another from the same document) lives.
    const simdjson::dom::element& element() const noexcept { return element_; }

    bool is_null() const noexcept { return element_.is_null(); }
    bool is_string() const noexcept { return element_.is_string(); }
    bool is_number() const noexcept { return element_.is_number(); }
    bool is_bool() const noexcept { return element_.is_bool(); }
    bool is_array() const noexcept { return element_.is_array(); }
    bool is_object() const noexcept { return element_.is_object(); }

    std::string as_string() const {
        std::string_view s;
        if (element_.get_string().get(s) != simdjson::SUCCESS) {
            mismatch("a string");
        }
        return std::string(s);
    }

    /// A non-negative integer in [min, max]. 3.0 is not an integer here: the writer of the file
    /// meant a floating-point number.
    std::uint64_t as_uint(std::uint64_t min = 0,
                          std::uint64_t max = std::numeric_limits<std::uint64_t>::max()) const {
        std::uint64_t v = 0;
        if (element_.get_uint64().get(v) != simdjson::SUCCESS) {
            mismatch(range_text("an unsigned integer", min, max,
                                std::numeric_limits<std::uint64_t>::max()));
        }
        if (v < min || v > max) {
            mismatch(range_text("an unsigned integer", min, max,
                                std::numeric_limits<std::uint64_t>::max()));
        }
        return v;
    }

    /// An integer in [min, max].
    std::int64_t as_int(std::int64_t min = std::numeric_limits<std::int64_t>::min(),
                        std::int64_t max = std::numeric_limits<std::int64_t>::max()) const {
        std::int64_t v = 0;
        const bool full = min == std::numeric_limits<std::int64_t>::min() &&
                          max == std::numeric_limits<std::int64_t>::max();
        const std::string expected =
            full ? std::string("an integer")
                 : "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
        if (element_.get_int64().get(v) != simdjson::SUCCESS || v < min || v > max) {
            mismatch(expected);
        }
        return v;
    }

    /// Any JSON number (integers included) in [min, max].
    double as_double(double min = -std::numeric_limits<double>::infinity(),
                     double max = std::numeric_limits<double>::infinity()) const {
        double v = 0;
        const bool full = min == -std::numeric_limits<double>::infinity() &&
                          max == std::numeric_limits<double>::infinity();
        const std::string expected =
            full ? std::string("a number")
                 : "a number in [" + detail::json_number_text(min) + ", " +
                       detail::json_number_text(max) + "]";
        if (element_.get_double().get(v) != simdjson::SUCCESS || v < min || v > max) {
            mismatch(expected);
        }
        return v;
    }

    bool as_bool() const {
        bool v = false;
        if (element_.get_bool().get(v) != simdjson::SUCCESS) {
            mismatch("a boolean");
        }
        return v;
    }

    json_array as_array() const;
    json_object as_object() const;

    /// Throws ctml::format_error "<source>: field "<path>": <what>", for checks of your own.
    [[noreturn]] void fail(std::string_view what) const {
        throw format_error(source() + ": " +
                           (path_.empty() ? std::string("top level")
                                          : "field \"" + path_ + "\"") +
                           ": " + std::string(what));
    }

protected:
    [[noreturn]] void mismatch(const std::string& expected) const {
        fail("expected " + expected + ", got " + detail::json_describe(element_));
    }

    static std::string range_text(const char* what, std::uint64_t min, std::uint64_t max,
                                  std::uint64_t full_max) {
        if (min == 0 && max == full_max) {
            return what;
        }
        return std::string(what) + " in [" + std::to_string(min) + ", " + std::to_string(max) +
               "]";
    }

    std::shared_ptr<const detail::json_state> doc_;
    simdjson::dom::element element_;
    std::string path_;
};

/// @brief A JSON array; iterating yields json_value elements whose paths end in `[i]`.
class json_array : public json_value {
public:
    json_array(const json_value& v, simdjson::dom::array a) : json_value(v), array_(a) {}

    std::size_t size() const noexcept {
        // simdjson's count saturates at 0xFFFFFF; count by walking only past that.
        std::size_t n = array_.size();
        if (n == 0xFFFFFF) {
            n = static_cast<std::size_t>(std::distance(array_.begin(), array_.end()));
        }
        return n;
    }
    bool empty() const noexcept { return array_.begin() == array_.end(); }

    /// Element i; an error names the array and its size when i is past the end.
    json_value at(std::size_t i) const {
        simdjson::dom::element e;
        if (array_.at(i).get(e) != simdjson::SUCCESS) {
            fail("has " + std::to_string(size()) + " elements, no index " + std::to_string(i));
        }
        return json_value(doc_, e, detail::json_index_path(path_, i));
    }

    /// Checks the array has exactly n elements (or at least min and at most max).
    const json_array& expect_size(std::size_t n) const { return expect_size(n, n); }
    const json_array& expect_size(std::size_t min, std::size_t max) const {
        const std::size_t n = size();
        if (n < min || n > max) {
            fail("expected " +
                 (min == max ? std::to_string(min)
                             : "between " + std::to_string(min) + " and " + std::to_string(max)) +
                 " elements, got " + std::to_string(n));
        }
        return *this;
    }

    class iterator {
    public:
        using value_type = json_value;
        using difference_type = std::ptrdiff_t;
        iterator(const json_array* owner, simdjson::dom::array::iterator it, std::size_t i)
            : owner_(owner), it_(it), index_(i) {}
        json_value operator*() const {
            return json_value(owner_->doc_, *it_, detail::json_index_path(owner_->path_, index_));
        }
        iterator& operator++() {
            ++it_;
            ++index_;
            return *this;
        }
        bool operator==(const iterator& other) const noexcept { return it_ == other.it_; }
        bool operator!=(const iterator& other) const noexcept { return it_ != other.it_; }

    private:
        const json_array* owner_;
        simdjson::dom::array::iterator it_;
        std::size_t index_;
    };
    iterator begin() const { return iterator(this, array_.begin(), 0); }
    iterator end() const { return iterator(this, array_.end(), 0); }

private:
    simdjson::dom::array array_;
};

/// @brief A JSON object with typed getters for its members. `get_*` require the member;
/// `get_optional_*` return std::nullopt when the member is missing or null (Python writes None
/// as null), and still refuse a present value of the wrong type.
class json_object : public json_value {
public:
    json_object(const json_value& v, simdjson::dom::object o) : json_value(v), object_(o) {}

    std::size_t size() const noexcept { return object_.size(); }
    /// True when the member exists (a null member exists).
    bool contains(std::string_view key) const noexcept {
        simdjson::dom::element e;
        return object_.at_key(key).get(e) == simdjson::SUCCESS;
    }
    /// The member `key`; a missing one is an error naming its path.
    json_value at(std::string_view key) const {
        simdjson::dom::element e;
        if (object_.at_key(key).get(e) != simdjson::SUCCESS) {
            json_value(doc_, element_, detail::json_child_path(path_, key))
                .fail("missing (required)");
        }
        return json_value(doc_, e, detail::json_child_path(path_, key));
    }
    /// The member `key`, or std::nullopt when it is missing or null.
    std::optional<json_value> find(std::string_view key) const {
        simdjson::dom::element e;
        if (object_.at_key(key).get(e) != simdjson::SUCCESS || e.is_null()) {
            return std::nullopt;
        }
        return json_value(doc_, e, detail::json_child_path(path_, key));
    }

    std::string get_string(std::string_view key) const { return at(key).as_string(); }
    std::uint64_t get_uint(std::string_view key, std::uint64_t min = 0,
                           std::uint64_t max = std::numeric_limits<std::uint64_t>::max()) const {
        return at(key).as_uint(min, max);
    }
    std::int64_t get_int(std::string_view key,
                         std::int64_t min = std::numeric_limits<std::int64_t>::min(),
                         std::int64_t max = std::numeric_limits<std::int64_t>::max()) const {
        return at(key).as_int(min, max);
    }
    double get_double(std::string_view key,
                      double min = -std::numeric_limits<double>::infinity(),
                      double max = std::numeric_limits<double>::infinity()) const {
        return at(key).as_double(min, max);
    }
    bool get_bool(std::string_view key) const { return at(key).as_bool(); }
    json_array get_array(std::string_view key) const;
    json_object get_object(std::string_view key) const;

    std::optional<std::string> get_optional_string(std::string_view key) const {
        return map(key, [](const json_value& v) { return v.as_string(); });
    }
    std::optional<std::uint64_t>
    get_optional_uint(std::string_view key, std::uint64_t min = 0,
                      std::uint64_t max = std::numeric_limits<std::uint64_t>::max()) const {
        return map(key, [&](const json_value& v) { return v.as_uint(min, max); });
    }
    std::optional<std::int64_t>
    get_optional_int(std::string_view key,
                     std::int64_t min = std::numeric_limits<std::int64_t>::min(),
                     std::int64_t max = std::numeric_limits<std::int64_t>::max()) const {
        return map(key, [&](const json_value& v) { return v.as_int(min, max); });
    }
    std::optional<double>
    get_optional_double(std::string_view key,
                        double min = -std::numeric_limits<double>::infinity(),
                        double max = std::numeric_limits<double>::infinity()) const {
        return map(key, [&](const json_value& v) { return v.as_double(min, max); });
    }
    std::optional<bool> get_optional_bool(std::string_view key) const {
        return map(key, [](const json_value& v) { return v.as_bool(); });
    }
    std::optional<json_array> get_optional_array(std::string_view key) const;
    std::optional<json_object> get_optional_object(std::string_view key) const;

    /// The member names, in document order.
    std::vector<std::string> keys() const {
        std::vector<std::string> out;
        for (const auto& kv : object_) {
            out.emplace_back(kv.key);
        }
        return out;
    }

    /// Refuses members not in `allowed`, so a misspelt optional field is not silently ignored.
    const json_object& expect_only(std::initializer_list<std::string_view> allowed) const {
        for (const auto& kv : object_) {
            bool known = false;
            for (const std::string_view a : allowed) {
                known = known || a == kv.key;
            }
            if (!known) {
                std::string list;
                for (const std::string_view a : allowed) {
                    list += (list.empty() ? "" : ", ") + std::string(a);
                }
                json_value(doc_, kv.value, detail::json_child_path(path_, kv.key))
                    .fail("unknown field (expected one of: " + list + ")");
            }
        }
        return *this;
    }

private:
    template <class F>
    auto map(std::string_view key, F&& f) const -> std::optional<decltype(f(*find(key)))> {
        if (auto v = find(key)) {
            return f(*v);
        }
        return std::nullopt;
    }

    simdjson::dom::object object_;
};

inline json_array json_value::as_array() const {
    simdjson::dom::array a;
    if (element_.get_array().get(a) != simdjson::SUCCESS) {
        mismatch("an array");
    }
    return json_array(*this, a);
}

inline json_object json_value::as_object() const {
    simdjson::dom::object o;
    if (element_.get_object().get(o) != simdjson::SUCCESS) {
        mismatch("an object");
    }
    return json_object(*this, o);
}

inline json_array json_object::get_array(std::string_view key) const {
    return at(key).as_array();
}
inline json_object json_object::get_object(std::string_view key) const {
    return at(key).as_object();
}
inline std::optional<json_array> json_object::get_optional_array(std::string_view key) const {
    return map(key, [](const json_value& v) { return v.as_array(); });
}
inline std::optional<json_object> json_object::get_optional_object(std::string_view key) const {
    return map(key, [](const json_value& v) { return v.as_object(); });
}

/// @brief A parsed JSON document; root() and everything taken from it share its storage.
class json_document {
public:
    explicit json_document(std::shared_ptr<const detail::json_state> s) : state_(std::move(s)) {}
    const std::string& source() const noexcept { return state_->source; }
    json_value root() const { return json_value(state_, state_->root, ""); }

private:
    std::shared_ptr<const detail::json_state> state_;
};

/// @brief Parses `text`; `source` names it in every error (a file name, or "job description").
/// Invalid JSON throws ctml::format_error "<source>: invalid JSON: <simdjson's reason>".
inline json_document parse_json(std::string_view text, std::string source = "<string>") {
    auto state = std::make_shared<detail::json_state>();
    state->source = std::move(source);
    const simdjson::padded_string padded(text);
    // The DOM parser copies strings into its own buffer, so `padded` may go when parse returns.
    const auto err = state->parser.parse(padded).get(state->root);
    if (err != simdjson::SUCCESS) {
        throw format_error(state->source + ": invalid JSON: " + simdjson::error_message(err));
    }
    return json_document(std::move(state));
}

/// @brief Reads and parses the file `path` (a regular file of at most `max_bytes`,
/// CTML_MAX_JSON_BYTES by default); errors name the path as given. A missing, unreadable,
/// non-regular or oversized file throws ctml::file_error, invalid JSON ctml::format_error.
inline json_document load_json(const std::filesystem::path& path,
                               std::uint64_t max_bytes = CTML_MAX_JSON_BYTES) {
    return parse_json(read_file(path, max_bytes), path.string());
}

} // namespace ctml::io
