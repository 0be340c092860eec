// SPDX-License-Identifier: MIT
#include "ctml/core/buffer.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "ctml/config.hpp"
#include "ctml/core/error.hpp"

TEST_CASE("buffer: zero-initialised, aligned, sized; resize keeps a block of the same size") {
    ctml::buffer<float> b(37);
    CHECK(b.size() == 37);
    CHECK(reinterpret_cast<std::uintptr_t>(b.data()) % CTML_BUFFER_ALIGNMENT == 0);
    for (const float v : b) {
        CHECK(v == 0.0f);
    }
    b.fill(2.0f);
    const float* before = b.data();
    b.resize(37);
    CHECK(b.data() == before);
    CHECK(b[36] == 2.0f);
    b.resize(5);
    CHECK(b.size() == 5);
    CHECK(b[4] == 0.0f);
    ctml::buffer<float> c = b;
    CHECK(c.size() == 5);
    CHECK(c.data() != b.data());
    b.resize(0);
    CHECK(b.empty());
}

TEST_CASE("buffer: an element count whose byte size wraps is a ctml::error, not a small block") {
    // 5929310595120927305 floats: n * 4 wraps to 4 (mod 2^64), which once gave a 64-byte block
    // with size() == 5929310595120927305.
    for (const std::size_t n : {std::size_t{5929310595120927305u},
                                std::numeric_limits<std::size_t>::max(),
                                std::numeric_limits<std::size_t>::max() / 4 + 1,
                                std::size_t{1} << 61}) {
        CAPTURE(n);
        ctml::buffer<float> b(3);
        try {
            b.resize(n);
            FAIL("expected ctml::config_error");
        } catch (const ctml::config_error& e) {
            const std::string m = e.what();
            CHECK(m.find("buffer: " + std::to_string(n) + " elements of 4 bytes") == 0);
            CHECK(m.find("do not fit in the address space") != std::string::npos);
        }
        CHECK(b.empty()); // the old block is released, nothing claims a size it does not have
        CHECK(b.data() == nullptr);
    }
    CHECK_THROWS_AS(ctml::buffer<double>(std::numeric_limits<std::size_t>::max() / 8 + 1),
                    ctml::config_error);
}
