// SPDX-License-Identifier: MIT
// A sequential whose first entry is a layer instead of ctml::input<N>.
// expect: the first entry must be ctml::input<N>
#include "ctml/nn/network.hpp"

#ifdef CTML_COMPILE_FAIL
using net_t = ctml::sequential<ctml::dense<8, ctml::relu>, ctml::dense<3, ctml::softmax>>;
#else
using net_t =
    ctml::sequential<ctml::input<4>, ctml::dense<8, ctml::relu>, ctml::dense<3, ctml::softmax>>;
#endif

int main() {
    ctml::network<net_t> net;
    return static_cast<int>(net.parameter_count() != 4 * 8 + 8 + 8 * 3 + 3);
}
