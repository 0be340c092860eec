// SPDX-License-Identifier: MIT
// Output for programs (--json): the workspace's values as JSON objects, one document per
// command on stdout. Times of records are ISO 8601 UTC strings ("2026-12-01T19:09:43.123Z");
// metric points carry MLflow's integer millisecond "timestamp". Metric values that JSON cannot
// spell (NaN, +-inf) are written as the strings "NaN", "Infinity", "-Infinity", as protobuf's
// JSON mapping (and so MLflow's REST API) writes them.
#pragma once
#include <cmath>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <ctml/io/json.hpp>
#include <ctml/io/json_read.hpp>
#include <ctml/workspace/types.hpp>

#include "cli/format.hpp"

namespace ctml::cli {

using io::json_writer;

inline void json_number(json_writer& w, double v) {
    if (std::isnan(v)) {
        w.value("NaN");
    } else if (std::isinf(v)) {
        w.value(v > 0 ? "Infinity" : "-Infinity");
    } else {
        w.value(v);
    }
}

/// A record's time: an ISO string, or null for "never" (0).
inline void json_time(json_writer& w, std::string_view key, std::int64_t ms) {
    w.key(key);
    if (ms == 0) {
        w.null();
    } else {
        w.value(iso_time(ms));
    }
}

inline void json_string_map(json_writer& w, std::string_view key,
                            const std::map<std::string, std::string>& m) {
    w.key(key).begin_object();
    for (const auto& [k, v] : m) {
        w.field(k, v);
    }
    w.end_object();
}

/// Copies an already-valid JSON text (the stored environment or job description) into `w` as
/// a value, so the output stays one document a JSON parser reads; empty text becomes null.
inline void json_embed(json_writer& w, std::string_view text, std::string_view what) {
    if (text.empty()) {
        w.null();
        return;
    }
    const io::json_document doc = io::parse_json(text, std::string(what));
    struct copier {
        json_writer& w;
        void operator()(const simdjson::dom::element& e) const {
            using t = simdjson::dom::element_type;
            switch (e.type()) {
            case t::OBJECT: {
                w.begin_object();
                // A named copy: ranging over value_unsafe() of the temporary result dangles.
                const simdjson::dom::object object = e.get_object().value_unsafe();
                for (const auto field : object) {
                    w.key(field.key);
                    (*this)(field.value);
                }
                w.end_object();
                break;
            }
            case t::ARRAY: {
                w.begin_array();
                const simdjson::dom::array array = e.get_array().value_unsafe();
                for (const auto item : array) {
                    (*this)(item);
                }
                w.end_array();
                break;
            }
            case t::STRING: w.value(e.get_string().value_unsafe()); break;
            case t::INT64: w.value(e.get_int64().value_unsafe()); break;
            case t::UINT64: w.value(e.get_uint64().value_unsafe()); break;
            case t::DOUBLE: w.value(e.get_double().value_unsafe()); break;
            case t::BOOL: w.value(e.get_bool().value_unsafe()); break;
            case t::NULL_VALUE: w.null(); break;
            }
        }
    };
    copier{w}(doc.root().element());
}

inline void json_files(json_writer& w, std::string_view key,
                       const std::vector<workspace::file_info>& files) {
    w.key(key).begin_array();
    for (const auto& f : files) {
        w.begin_object().field("path", f.path).field("size", f.size);
        w.key("sha256");
        if (f.sha256.empty()) {
            w.null();
        } else {
            w.value(f.sha256);
        }
        w.end_object();
    }
    w.end_array();
}

inline void json_datasets(json_writer& w, std::string_view key,
                          const std::vector<workspace::dataset_ref>& refs) {
    w.key(key).begin_array();
    for (const auto& d : refs) {
        w.begin_object()
            .field("name", d.name)
            .field("version", d.version)
            .field("id", d.name + ":" + std::to_string(d.version))
            .end_object();
    }
    w.end_array();
}

inline void json_run_info_fields(json_writer& w, const workspace::run_info& r) {
    w.field("id", r.id).field("experiment", r.experiment);
    w.field("state", std::string(run::to_string(r.state)));
    w.key("reason");
    if (r.reason.empty()) {
        w.null();
    } else {
        w.value(r.reason);
    }
    json_time(w, "created", r.created);
    json_time(w, "started", r.started);
    json_time(w, "ended", r.ended);
    json_time(w, "last_seen", r.last_seen);
    w.field("offline", r.offline).field("host", r.host).field("pid", r.pid);
}

/// Points in logging order, grouped by series: {"Loss": [{"step", "value", "timestamp"}, ...]}.
inline void json_metric_series(json_writer& w, std::string_view key,
                               const std::vector<workspace::metric_point>& points) {
    std::map<std::string, std::vector<const workspace::metric_point*>> series;
    for (const auto& p : points) {
        series[p.name].push_back(&p);
    }
    w.key(key).begin_object();
    for (const auto& [name, list] : series) {
        w.key(name).begin_array();
        for (const auto* p : list) {
            w.begin_object().field("step", p->step).key("value");
            json_number(w, p->value);
            w.field("timestamp", p->timestamp).end_object();
        }
        w.end_array();
    }
    w.end_object();
}

inline void json_model_version(json_writer& w, const workspace::model_version& v) {
    w.begin_object()
        .field("id", v.id())
        .field("name", v.name)
        .field("version", v.version)
        .field("description", v.description);
    json_time(w, "created", v.created);
    json_string_map(w, "tags", v.tags);
    json_string_map(w, "properties", v.properties);
    w.key("aliases").begin_array();
    for (const auto& a : v.aliases) {
        w.value(a);
    }
    w.end_array();
    json_files(w, "files", v.files);
    w.field("content_sha256", v.content_sha256);
    w.key("run");
    if (v.run_id.empty()) {
        w.null();
    } else {
        w.value(v.run_id);
    }
    w.field("experiment", v.experiment);
    json_datasets(w, "datasets", v.datasets);
    w.key("job");
    json_embed(w, v.job_json, "model " + v.id() + " job description");
    w.key("metrics").begin_object();
    for (const auto& [k, value] : v.metrics) {
        w.key(k);
        json_number(w, value);
    }
    w.end_object();
    w.end_object();
}

inline void json_dataset_version(json_writer& w, const workspace::dataset_version& v) {
    w.begin_object()
        .field("id", v.id())
        .field("name", v.name)
        .field("version", v.version)
        .field("description", v.description);
    json_time(w, "created", v.created);
    w.field("content_sha256", v.content_sha256);
    w.key("files").begin_array();
    for (const auto& f : v.files) {
        w.begin_object()
            .field("path", f.path)
            .field("size", f.size)
            .field("sha256", f.sha256)
            .field("source", f.source)
            .end_object();
    }
    w.end_array();
    w.end_object();
}

} // namespace ctml::cli
