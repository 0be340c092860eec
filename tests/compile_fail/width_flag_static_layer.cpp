// SPDX-License-Identifier: MIT
// A run-time width default (ctml::width_flag) for a layer whose width is compiled.
// expect: must name a layer whose width is declared ctml::dynamic
#include "ctml/optim/sgd.hpp"
#include "ctml/train/run_config.hpp"

using net_t = ctml::sequential<ctml::input<4>, ctml::dense<ctml::dynamic, ctml::relu>,
                               ctml::dense<3, ctml::softmax>>;

#ifdef CTML_COMPILE_FAIL
constexpr std::size_t layer = 1;
#else
constexpr std::size_t layer = 0;
#endif

using job = ctml::run_config<net_t, ctml::categorical_crossentropy, ctml::sgd<>,
                             ctml::width_flag<layer, "hidden", 8>>;

int main() {
    const auto s = job::defaults();
    return static_cast<int>(s.widths[0] != 8);
}
