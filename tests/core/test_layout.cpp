// SPDX-License-Identifier: MIT
#include "ctml/core/layout.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstddef>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ctml/config.hpp"
#include "ctml/core/error.hpp"

namespace {
std::string layout_error(std::vector<std::size_t> widths, std::vector<bool> parametric = {}) {
    const std::unique_ptr<bool[]> p(new bool[parametric.size() + 1]);
    for (std::size_t i = 0; i < parametric.size(); ++i) {
        p[i] = parametric[i];
    }
    try {
        (void)ctml::parameter_layout(widths, std::span<const bool>(p.get(), parametric.size()),
                                     "--widths");
    } catch (const ctml::config_error& e) {
        return e.what();
    }
    FAIL("expected ctml::config_error");
    return {};
}
} // namespace

TEST_CASE("parameter_layout: the Keras network's offsets, kernel then bias per layer") {
    const std::array<std::size_t, 4> w{784, 300, 100, 10};
    const ctml::parameter_layout l(w);
    CHECK(l.layer_count() == 3);
    CHECK(l.parameter_count() == 266610);
    CHECK(l.kernel_offset(0) == 0);
    CHECK(l.kernel_size(0) == 784 * 300);
    CHECK(l.bias_offset(0) == 784 * 300);
    CHECK(l.bias_size(0) == 300);
    CHECK(l.kernel_offset(1) == 784 * 300 + 300);
    CHECK(l.bias_offset(1) == 784 * 300 + 300 + 300 * 100);
    CHECK(l.kernel_offset(2) == 784 * 300 + 300 + 300 * 100 + 100);
    CHECK(l.bias_offset(2) + l.bias_size(2) == l.parameter_count());
    CHECK(l.input_width() == 784);
    CHECK(l.output_width() == 10);
    CHECK(l.to_string() == "784-300-100-10");
    CHECK(l == ctml::parameter_layout(w));
    CHECK_FALSE(l == ctml::parameter_layout(std::array<std::size_t, 3>{784, 300, 10}));
}

TEST_CASE("parameter_layout: dropout layers take no parameters and keep their input width") {
    const std::array<std::size_t, 6> w{784, 300, 300, 100, 100, 10};
    const std::array<bool, 5> p{true, false, true, false, true};
    const ctml::parameter_layout l(w, p);
    CHECK(l.parameter_count() == 266610);
    CHECK_FALSE(l.has_parameters(1));
    CHECK(l.kernel_size(1) == 0);
    CHECK(l.bias_size(1) == 0);
    CHECK(l.kernel_offset(1) == 784 * 300 + 300);
    CHECK(l.kernel_offset(2) == 784 * 300 + 300); // the dropout takes no room
    CHECK(l.kernel_offset(4) == 784 * 300 + 300 + 300 * 100 + 100);
    CHECK_FALSE(l == ctml::parameter_layout(std::array<std::size_t, 6>{784, 300, 300, 100, 100, 10}));
    CHECK(layout_error({784, 300, 200, 10}, {true, false, true}) ==
          "--widths: layer 1 has no parameters, so its width 200 must equal its input width 300");
}

TEST_CASE("parameter_layout: widths outside [1, CTML_MAX_WIDTH] and malformed lists") {
    CHECK(layout_error({784, 23469140042887471u, 1}) ==
          "--widths: width 23469140042887471 of layer 0 is outside [1, 1048576] (CTML_MAX_WIDTH)");
    CHECK(layout_error({784, 5929310595120927305u, 10}) ==
          "--widths: width 5929310595120927305 of layer 0 is outside [1, 1048576] "
          "(CTML_MAX_WIDTH)");
    CHECK(layout_error({std::numeric_limits<std::size_t>::max(), 10}) ==
          "--widths: width 18446744073709551615 of the input is outside [1, 1048576] "
          "(CTML_MAX_WIDTH)");
    CHECK(layout_error({784, 0, 10}) ==
          "--widths: width 0 of layer 0 is outside [1, 1048576] (CTML_MAX_WIDTH)");
    CHECK(layout_error({784}) == "--widths: a network needs an input width and at least one layer");
    CHECK(layout_error({784, 10}, {true, true}) == "--widths: 2 parameter flags for 1 layers");
    CHECK_NOTHROW(ctml::parameter_layout(std::array<std::size_t, 2>{1, CTML_MAX_WIDTH}));
}

TEST_CASE("parameter_layout: the parameter count is bounded by CTML_MAX_PARAMETERS, exactly") {
    static_assert(CTML_MAX_PARAMETERS == std::size_t{1} << 28);
    // 16383 × 16384 + 16384 = 2^28: exactly the limit, accepted.
    const ctml::parameter_layout at_limit(std::array<std::size_t, 2>{16383, 16384});
    CHECK(at_limit.parameter_count() == CTML_MAX_PARAMETERS);
    CHECK(layout_error({16384, 16384}) ==
          "--widths: the network would have more than 268435456 parameters (CTML_MAX_PARAMETERS) "
          "at layer 0 (widths 16384-16384)");
    // Each layer below the limit, the sum above it.
    CHECK(layout_error({16383, 16384, 1}) ==
          "--widths: the network would have more than 268435456 parameters (CTML_MAX_PARAMETERS) "
          "at layer 1 (widths 16383-16384-1)");
    // The largest widths: 2^20 × 2^20 fits in 64 bits, and is refused.
    CHECK(layout_error({CTML_MAX_WIDTH, CTML_MAX_WIDTH}).find("CTML_MAX_PARAMETERS") !=
          std::string::npos);
}
