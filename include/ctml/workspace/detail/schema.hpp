// SPDX-License-Identifier: MIT
// The SQLite store's schema, as forward migrations: migrations[i] takes a database from schema
// version i to i + 1 (0 = empty). A database records its version in schema_version; one written
// by a newer ctml (a version above the last here) is refused rather than misread. Never edit a
// migration that has shipped: add one.
#pragma once
#include <array>
#include <string_view>

namespace ctml::workspace::detail {

// Version 1: experiments, runs and their records, the model registry.
inline constexpr std::string_view schema_v1 = R"sql(
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version (version) VALUES (0);
CREATE TABLE experiments (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created INTEGER NOT NULL
);
CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  run_id TEXT NOT NULL UNIQUE,
  experiment INTEGER NOT NULL REFERENCES experiments(id),
  state TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  created INTEGER NOT NULL,
  started INTEGER NOT NULL DEFAULT 0,
  ended INTEGER NOT NULL DEFAULT 0,
  last_seen INTEGER NOT NULL DEFAULT 0,
  offline INTEGER NOT NULL DEFAULT 0,
  host TEXT NOT NULL DEFAULT '',
  boot_id TEXT NOT NULL DEFAULT '',
  pid INTEGER NOT NULL DEFAULT 0,
  pid_start INTEGER NOT NULL DEFAULT 0,
  ingested INTEGER NOT NULL DEFAULT 0,      -- bytes of events.jsonl already ingested
  environment TEXT NOT NULL DEFAULT '{}',
  job TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_experiment ON runs(experiment);
CREATE TABLE run_states (
  run INTEGER NOT NULL REFERENCES runs(id),
  seq INTEGER NOT NULL,
  state TEXT NOT NULL,
  time INTEGER NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (run, seq)
);
CREATE TABLE params (run INTEGER NOT NULL REFERENCES runs(id), key TEXT NOT NULL,
                     value TEXT NOT NULL, PRIMARY KEY (run, key));
CREATE TABLE tags (run INTEGER NOT NULL REFERENCES runs(id), key TEXT NOT NULL,
                   value TEXT NOT NULL, PRIMARY KEY (run, key));
-- One row per (run, metric name); points = how many it has.
CREATE TABLE metric_series (id INTEGER PRIMARY KEY, run INTEGER NOT NULL REFERENCES runs(id),
                            key TEXT NOT NULL, points INTEGER NOT NULL DEFAULT 0,
                            UNIQUE (run, key));
-- A series' points in chunks of up to 4096, from point number `first` on: `count` records of
-- 24 bytes, (value: IEEE double, step: int64, ts: int64 milliseconds), little-endian. NaN and
-- +-inf are kept bit for bit. Chunks, not rows, because a run may log millions of points:
-- one row per point costs seconds per million to write and read.
CREATE TABLE metric_chunks (series INTEGER NOT NULL REFERENCES metric_series(id),
                            first INTEGER NOT NULL, count INTEGER NOT NULL, data BLOB NOT NULL,
                            PRIMARY KEY (series, first)) WITHOUT ROWID;
CREATE TABLE images (run INTEGER NOT NULL REFERENCES runs(id), name TEXT NOT NULL,
                     path TEXT NOT NULL, ts INTEGER NOT NULL);
CREATE TABLE models (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL DEFAULT '',
  created INTEGER NOT NULL,
  next_version INTEGER NOT NULL DEFAULT 1   -- never decreases: numbers are never reused
);
CREATE TABLE model_versions (
  id INTEGER PRIMARY KEY,
  model INTEGER NOT NULL REFERENCES models(id),
  version INTEGER NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  created INTEGER NOT NULL,
  run_id TEXT NOT NULL DEFAULT '',
  experiment TEXT NOT NULL DEFAULT '',
  job TEXT NOT NULL DEFAULT '',
  metrics TEXT NOT NULL DEFAULT '{}',
  content_sha256 TEXT NOT NULL,
  UNIQUE (model, version)
);
CREATE TABLE model_files (mv INTEGER NOT NULL REFERENCES model_versions(id), path TEXT NOT NULL,
                          sha256 TEXT NOT NULL, size INTEGER NOT NULL, PRIMARY KEY (mv, path));
CREATE TABLE model_tags (mv INTEGER NOT NULL REFERENCES model_versions(id), key TEXT NOT NULL,
                         value TEXT NOT NULL, PRIMARY KEY (mv, key));
CREATE TABLE model_properties (mv INTEGER NOT NULL REFERENCES model_versions(id),
                               key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (mv, key));
CREATE TABLE model_aliases (model INTEGER NOT NULL REFERENCES models(id), alias TEXT NOT NULL,
                            version INTEGER NOT NULL, PRIMARY KEY (model, alias));
CREATE TABLE model_datasets (mv INTEGER NOT NULL REFERENCES model_versions(id),
                             name TEXT NOT NULL, version INTEGER NOT NULL);
)sql";

// Version 2: datasets (versions with a content hash, their files), the datasets a run used,
// and the files a run uploaded by name.
inline constexpr std::string_view schema_v2 = R"sql(
CREATE TABLE datasets (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created INTEGER NOT NULL,
  next_version INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE dataset_versions (
  id INTEGER PRIMARY KEY,
  dataset INTEGER NOT NULL REFERENCES datasets(id),
  version INTEGER NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  created INTEGER NOT NULL,
  content_sha256 TEXT NOT NULL,
  UNIQUE (dataset, version)
);
CREATE TABLE dataset_files (dv INTEGER NOT NULL REFERENCES dataset_versions(id),
                            path TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
                            source TEXT NOT NULL DEFAULT '', PRIMARY KEY (dv, path));
CREATE TABLE run_datasets (run INTEGER NOT NULL REFERENCES runs(id), name TEXT NOT NULL,
                           version INTEGER NOT NULL, PRIMARY KEY (run, name, version));
CREATE TABLE run_files (run INTEGER NOT NULL REFERENCES runs(id), path TEXT NOT NULL,
                        ts INTEGER NOT NULL, PRIMARY KEY (run, path));
)sql";

inline constexpr std::array<std::string_view, 2> migrations{schema_v1, schema_v2};

/// The schema version this ctml writes.
inline constexpr int schema_version = static_cast<int>(migrations.size());

} // namespace ctml::workspace::detail
