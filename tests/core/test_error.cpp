// SPDX-License-Identifier: MIT
#include "ctml/core/error.hpp"

#include <doctest/doctest.h>

#include <ostream>
#include <stdexcept>
#include <string>
#include <system_error>

namespace {
template <class E>
void check_kind(const E& e, ctml::error_code code, int status, const char* name) {
    CHECK(e.code() == code);
    CHECK(e.exit_status() == status);
    CHECK(ctml::error_code_name(e.code()) == name);
    CHECK(std::string(e.what()) == "what");
    const ctml::error& base = e;
    CHECK(base.code() == code);
    const std::runtime_error& std_base = e;
    CHECK(std::string(std_base.what()) == "what");
}
} // namespace

TEST_CASE("error: every kind has its stable code, exit status and name") {
    check_kind(ctml::error("what"), ctml::error_code::unknown, 1, "unknown");
    check_kind(ctml::config_error("what"), ctml::error_code::config, 2, "config");
    check_kind(ctml::data_error("what"), ctml::error_code::data, 3, "data");
    check_kind(ctml::format_error("what"), ctml::error_code::format, 4, "format");
    check_kind(ctml::file_error("what"), ctml::error_code::file, 5, "file");
    check_kind(ctml::workspace_error("what"), ctml::error_code::workspace, 6, "workspace");
    check_kind(ctml::compute_error("what"), ctml::error_code::compute, 7, "compute");
    CHECK(ctml::error_code_name(static_cast<ctml::error_code>(99)) == "unknown");
}

TEST_CASE("error: file_error keeps the operating system's error") {
    const ctml::file_error e("x: cannot open", std::make_error_code(std::errc::permission_denied));
    CHECK((e.os_error() == std::errc::permission_denied));
    CHECK_FALSE(static_cast<bool>(ctml::file_error("y").os_error()));
    try {
        throw ctml::file_error("z", std::make_error_code(std::errc::no_such_file_or_directory));
    } catch (const ctml::error& base) {
        CHECK(base.code() == ctml::error_code::file);
        CHECK((dynamic_cast<const ctml::file_error&>(base).os_error() ==
               std::errc::no_such_file_or_directory));
    }
}
