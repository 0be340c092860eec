// SPDX-License-Identifier: MIT
// A dropout rate outside [0, 1): everything would be dropped.
// expect: Rate is the fraction of values dropped, in [0, 1)
#include "ctml/nn/network.hpp"

#ifdef CTML_COMPILE_FAIL
constexpr double rate = 1.0;
#else
constexpr double rate = 0.5;
#endif

using net_t = ctml::sequential<ctml::input<4>, ctml::dense<8, ctml::relu>, ctml::dropout<rate>,
                               ctml::dense<3, ctml::softmax>>;

int main() {
    ctml::network<net_t> net;
    return static_cast<int>(net.width(2) != 8);
}
