// SPDX-License-Identifier: MIT
// A ctml::linear<In, Out> whose In differs from the width of the layer before it.
// expect: layer widths do not chain
#include "ctml/nn/network.hpp"

#ifdef CTML_COMPILE_FAIL
using net_t = ctml::sequential<ctml::input<784>, ctml::dense<100, ctml::relu>,
                               ctml::linear<300, 10, ctml::softmax>>;
#else
using net_t = ctml::sequential<ctml::input<784>, ctml::dense<100, ctml::relu>,
                               ctml::linear<100, 10, ctml::softmax>>;
#endif

int main() {
    ctml::network<net_t> net;
    return static_cast<int>(net.parameter_count() == 0);
}
