// SPDX-License-Identifier: MIT
#include "ctml/data/find.hpp"

#include <doctest/doctest.h>

#include "idx_files.hpp"

using namespace ctml_test;

TEST_CASE("find_data_files: recursive search, raw or .gz, deterministic choice") {
    temp_dir dir("find");
    fs::create_directories(dir / "a/b/c");
    fs::create_directories(dir / "z");
    write_raw(dir / "a/b/c/deep", {1});
    write_raw(dir / "a/b/raw-and-gz", {1});
    write_raw(dir / "a/b/raw-and-gz.gz", {1});
    write_raw(dir / "a/shallow", {1});
    write_raw(dir / "a/b/c/shallow.gz", {1});
    write_raw(dir / "a/same-depth", {1});
    write_raw(dir / "z/same-depth", {1});
    write_raw(dir / "a/b/near-miss.gzip", {1});
    fs::create_directories(dir / "a/folder-not-file");

    const std::string_view names[] = {"deep",         "raw-and-gz", "shallow", "same-depth",
                                      "near-miss",    "absent",     "folder-not-file"};
    const auto found = ctml::find_data_files(dir.path(), names);
    REQUIRE(found.size() == 7);
    CHECK(found[0] == dir / "a/b/c/deep");
    CHECK(found[1] == dir / "a/b/raw-and-gz.gz");
    CHECK(found[2] == dir / "a/shallow");
    CHECK(found[3] == dir / "a/same-depth");
    CHECK_FALSE(found[4].has_value());
    CHECK_FALSE(found[5].has_value());
    CHECK_FALSE(found[6].has_value());
}

TEST_CASE("find_data_file: a missing file or folder is a data_error naming both") {
    temp_dir dir("find");
    auto msg = thrown<ctml::data_error>([&] { ctml::find_data_file(dir.path(), "t10k-x"); });
    CHECK(msg.find("t10k-x (or t10k-x.gz) not found under " + dir.path().string()) !=
          std::string::npos);
    msg = thrown<ctml::data_error>([&] { ctml::find_data_file(dir / "nowhere", "t10k-x"); });
    CHECK(msg.find((dir / "nowhere").string() + ": data folder does not exist") !=
          std::string::npos);
}
