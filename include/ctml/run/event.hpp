// SPDX-License-Identifier: MIT
// The event file a trainer appends to (`<run dir>/events.jsonl`) and the store ingests: one JSON
// object per line, written only whole lines at a time by one writer, never rewritten. Why a file
// and not the database: the trainer half stays free of SQLite and libcurl, works on a node that
// shares only a folder with the store, and a writer killed at any point leaves at most one
// partial last line, which readers skip.
//
// Every line: {"t": <type>, "ts": <milliseconds since the Unix epoch>, ...}. Types (format 1):
//   "start"   run, exp, pid, pid_start (clock ticks since boot, /proc/<pid>/stat field 22),
//             host, boot (kernel boot id), offline (bool), format (1)
//   "env"     env: object (compiler, flags, BLAS, host, CPU; see ctml/run/environment.hpp)
//   "job"     job: string (the job description JSON, opaque)
//   "param"   k, v: strings          "tag"  k, v: strings
//   "m"       k: name, v: number or one of the strings "NaN", "Infinity", "-Infinity"
//             (JSON has no spelling for them), s: step (integer)
//   "image"   k: name, path: relative to the run folder     "file"  path
//   "dataset" k: dataset name, ver: version
//   "hb"      nothing else (the writer lives)
//   "state"   state: "Running", "Finalizing", ..., reason: string
//   "end"     state: "Completed" | "Failed" | "Canceled", reason: string
// Readers ignore members they do not know (a later format may add some) but refuse a line whose
// known members have the wrong type.
#pragma once
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "ctml/core/error.hpp"
#include "ctml/io/json.hpp"
#include "ctml/run/state.hpp"

namespace ctml::run {

/// Version of the event format written by this header.
inline constexpr int event_format_version = 1;

/// @brief What an event line records.
enum class event_kind { start, environment, job, param, tag, metric, image, file, dataset,
                        heartbeat, state, end };

/// @brief One decoded event line. Which members are meaningful depends on kind (see the top of
/// this file); the others are empty or zero.
struct event {
    event_kind kind = event_kind::heartbeat;
    std::int64_t time_ms = 0; ///< "ts"
    std::string key;          ///< param/tag/metric/image/dataset name
    std::string text;         ///< param/tag value, image/file path, reason, job, env (raw JSON)
    double value = 0;         ///< metric value
    std::int64_t number = 0;  ///< metric step, dataset version
    run_state state = run_state::running; ///< "state" / "end"
    // "start"
    std::string run_id, experiment, host, boot_id;
    std::int64_t pid = 0;
    std::uint64_t pid_start = 0;
    bool offline = false;
};

/// @brief What parse_events did with a block of bytes.
struct event_parse_result {
    std::size_t consumed = 0;  ///< bytes up to and including the last complete line
    std::size_t events = 0;    ///< lines decoded
    std::size_t malformed = 0; ///< complete lines skipped (bad JSON or bad members)
    std::string first_error;   ///< why the first malformed line was skipped, with its offset
};

namespace detail {

/// Appends `v` as JSON: the shortest round-trip form, or the strings "NaN", "Infinity",
/// "-Infinity".
inline void append_json_number(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "\"NaN\"";
    } else if (std::isinf(v)) {
        out += v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
    } else {
        char buf[40];
        const auto r = std::to_chars(buf, buf + sizeof buf, v);
        const std::string_view text(buf, static_cast<std::size_t>(r.ptr - buf));
        out += text;
        // Always a floating-point spelling: "-0" would read back as the integer 0.
        if (text.find_first_of(".e") == std::string_view::npos) {
            out += ".0";
        }
    }
}

inline void append_json_int(std::string& out, std::int64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

/// Appends `s` as a JSON string. Invalid UTF-8 bytes become U+FFFD so that a bad name from a
/// trainer can never make the line unreadable.
inline void append_json_string(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20 || c == 0x7F) {
                    out += "\\u00";
                    out += hex[c >> 4];
                    out += hex[c & 0xF];
                } else {
                    out += static_cast<char>(c);
                }
            }
            ++i;
            continue;
        }
        // One multi-byte sequence, validated as the JSON writer does (RFC 3629).
        const std::size_t n = io::detail::utf8_sequence_length(s, i);
        if (n != 0) {
            out.append(s.substr(i, n));
            i += n;
        } else {
            out += "\xEF\xBF\xBD";
            ++i;
        }
    }
    out += '"';
}

inline std::string_view event_type_name(event_kind k) noexcept {
    switch (k) {
    case event_kind::start: return "start";
    case event_kind::environment: return "env";
    case event_kind::job: return "job";
    case event_kind::param: return "param";
    case event_kind::tag: return "tag";
    case event_kind::metric: return "m";
    case event_kind::image: return "image";
    case event_kind::file: return "file";
    case event_kind::dataset: return "dataset";
    case event_kind::heartbeat: return "hb";
    case event_kind::state: return "state";
    case event_kind::end: return "end";
    }
    return "hb";
}

struct event_decoder {
    simdjson::dom::parser parser;

    static bool kind_from(std::string_view t, event_kind& k) {
        for (int i = 0; i <= static_cast<int>(event_kind::end); ++i) {
            if (event_type_name(static_cast<event_kind>(i)) == t) {
                k = static_cast<event_kind>(i);
                return true;
            }
        }
        return false;
    }

    // The metric lines our writer formats, {"t":"m","ts":N,"k":"NAME","v":X,"s":N}, decoded
    // without a JSON parser (they are nearly every line of a long run); anything else (an
    // escape in the name, another member order) returns false and goes through simdjson.
    static bool fast_metric(std::string_view line, event& e) {
        constexpr std::string_view head = "{\"t\":\"m\",\"ts\":";
        if (line.substr(0, head.size()) != head) {
            return false;
        }
        const char* p = line.data() + head.size();
        const char* end = line.data() + line.size();
        const auto expect = [&](std::string_view lit) {
            if (static_cast<std::size_t>(end - p) < lit.size() ||
                std::string_view(p, lit.size()) != lit) {
                return false;
            }
            p += lit.size();
            return true;
        };
        auto r = std::from_chars(p, end, e.time_ms);
        if (r.ec != std::errc()) {
            return false;
        }
        p = r.ptr;
        if (!expect(",\"k\":\"")) {
            return false;
        }
        const char* key = p;
        while (p < end && *p != '"' && *p != '\\' && static_cast<unsigned char>(*p) >= 0x20) {
            ++p;
        }
        if (p == end || *p != '"') {
            return false;
        }
        e.key.assign(key, static_cast<std::size_t>(p - key));
        ++p;
        if (!expect(",\"v\":")) {
            return false;
        }
        if (p < end && *p == '"') {
            if (expect("\"NaN\"")) {
                e.value = std::numeric_limits<double>::quiet_NaN();
            } else if (expect("\"Infinity\"")) {
                e.value = std::numeric_limits<double>::infinity();
            } else if (expect("\"-Infinity\"")) {
                e.value = -std::numeric_limits<double>::infinity();
            } else {
                return false;
            }
        } else {
            r = std::from_chars(p, end, e.value);
            if (r.ec != std::errc() || !std::isfinite(e.value)) {
                return false;
            }
            p = r.ptr;
        }
        if (!expect(",\"s\":")) {
            return false;
        }
        r = std::from_chars(p, end, e.number);
        if (r.ec != std::errc()) {
            return false;
        }
        p = r.ptr;
        if (!expect("}") || p != end) {
            return false;
        }
        // Keys must be valid UTF-8 as a JSON parser would require; the writer guarantees it,
        // a damaged file goes the slow way.
        for (const char c : e.key) {
            if (static_cast<unsigned char>(c) >= 0x80) {
                return false;
            }
        }
        e.kind = event_kind::metric;
        return true;
    }

    // Decodes one line into `e`; returns an empty string or why the line is refused.
    std::string decode(std::string_view line, event& e) {
        if (fast_metric(line, e)) {
            return {};
        }
        simdjson::dom::element root;
        if (auto err = parser.parse(line.data(), line.size()).get(root)) {
            return std::string("invalid JSON: ") + simdjson::error_message(err);
        }
        simdjson::dom::object o;
        if (root.get_object().get(o)) {
            return "not a JSON object";
        }
        std::string_view t;
        if (o["t"].get_string().get(t)) {
            return "member \"t\" missing or not a string";
        }
        if (!kind_from(t, e.kind)) {
            return "unknown event type \"" + std::string(t) + "\"";
        }
        if (o["ts"].get_int64().get(e.time_ms)) {
            return "member \"ts\" missing or not an integer";
        }
        std::string why;
        const auto str = [&](const char* name, std::string& out, bool required) {
            std::string_view v;
            auto r = o[name];
            if (r.error() == simdjson::NO_SUCH_FIELD) {
                if (required && why.empty()) {
                    why = std::string("member \"") + name + "\" missing";
                }
                return;
            }
            if (r.get_string().get(v)) {
                if (why.empty()) {
                    why = std::string("member \"") + name + "\" is not a string";
                }
                return;
            }
            out.assign(v);
        };
        const auto integer = [&](const char* name, std::int64_t& out) {
            if (o[name].get_int64().get(out) && why.empty()) {
                why = std::string("member \"") + name + "\" missing or not an integer";
            }
        };
        const auto state = [&]() {
            std::string s;
            str("state", s, true);
            if (!why.empty()) {
                return;
            }
            if (const auto st = parse_run_state(s)) {
                e.state = *st;
            } else {
                why = "member \"state\": unknown state \"" + s + "\"";
            }
            str("reason", e.text, false);
        };
        switch (e.kind) {
        case event_kind::start: {
            str("run", e.run_id, true);
            str("exp", e.experiment, true);
            str("host", e.host, false);
            str("boot", e.boot_id, false);
            integer("pid", e.pid);
            std::uint64_t ps = 0;
            if (o["pid_start"].get_uint64().get(ps) && why.empty()) {
                why = "member \"pid_start\" missing or not an unsigned integer";
            }
            e.pid_start = ps;
            bool off = false;
            if (!o["offline"].get_bool().get(off)) {
                e.offline = off;
            }
            break;
        }
        case event_kind::environment: {
            simdjson::dom::object env;
            if (o["env"].get_object().get(env)) {
                why = "member \"env\" missing or not an object";
            } else {
                e.text = simdjson::minify(env);
            }
            break;
        }
        case event_kind::job: str("job", e.text, true); break;
        case event_kind::param:
        case event_kind::tag:
            str("k", e.key, true);
            str("v", e.text, true);
            break;
        case event_kind::metric: {
            str("k", e.key, true);
            integer("s", e.number);
            simdjson::dom::element v;
            if (o["v"].get(v)) {
                if (why.empty()) {
                    why = "member \"v\" missing";
                }
            } else if (v.is_number()) {
                e.value = v.get_double().value_unsafe();
            } else if (v.is_string()) {
                const std::string_view s = v.get_string().value_unsafe();
                if (s == "NaN") {
                    e.value = std::numeric_limits<double>::quiet_NaN();
                } else if (s == "Infinity") {
                    e.value = std::numeric_limits<double>::infinity();
                } else if (s == "-Infinity") {
                    e.value = -std::numeric_limits<double>::infinity();
                } else if (why.empty()) {
                    why = "member \"v\": the string \"" + std::string(s) +
                          "\" is not NaN, Infinity or -Infinity";
                }
            } else if (why.empty()) {
                why = "member \"v\" is not a number";
            }
            break;
        }
        case event_kind::image:
            str("k", e.key, true);
            str("path", e.text, true);
            break;
        case event_kind::file: str("path", e.text, true); break;
        case event_kind::dataset:
            str("k", e.key, true);
            integer("ver", e.number);
            break;
        case event_kind::heartbeat: break;
        case event_kind::state:
        case event_kind::end: state(); break;
        }
        return why;
    }
};

} // namespace detail

/// @brief Decodes the complete lines of `bytes` (an event file, or the part of it after an
/// offset), calling `on_event(const event&, std::size_t line_end_offset)` for each; a trailing
/// partial line is left (consumed stops before it) and malformed complete lines are counted
/// and skipped. `base_offset` is added to offsets in messages. Reuse one decoder across calls.
template <class OnEvent>
event_parse_result parse_events(std::string_view bytes, OnEvent&& on_event,
                                std::size_t base_offset = 0) {
    thread_local detail::event_decoder decoder;
    event_parse_result r;
    std::size_t pos = 0;
    event e;
    while (pos < bytes.size()) {
        const std::size_t nl = bytes.find('\n', pos);
        if (nl == std::string_view::npos) {
            break;
        }
        const std::string_view line = bytes.substr(pos, nl - pos);
        if (!line.empty()) {
            // Reset without freeing: the strings keep their buffers from line to line.
            e.kind = event_kind::heartbeat;
            e.time_ms = e.number = e.pid = 0;
            e.value = 0;
            e.pid_start = 0;
            e.offline = false;
            e.state = run_state::running;
            for (std::string* str : {&e.key, &e.text, &e.run_id, &e.experiment, &e.host,
                                     &e.boot_id}) {
                str->clear();
            }
            const std::string why = decoder.decode(line, e);
            if (why.empty()) {
                ++r.events;
                on_event(static_cast<const event&>(e), nl + 1);
            } else {
                if (r.malformed++ == 0) {
                    r.first_error = "byte " + std::to_string(base_offset + pos) + ": " + why;
                }
            }
        }
        pos = nl + 1;
        r.consumed = pos;
    }
    return r;
}

} // namespace ctml::run
