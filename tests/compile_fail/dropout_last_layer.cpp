// SPDX-License-Identifier: MIT
// A network that ends with a dropout: the loss needs the last layer's activation.
// expect: the last layer must have parameters
#include "ctml/nn/network.hpp"

#ifdef CTML_COMPILE_FAIL
using net_t = ctml::sequential<ctml::input<4>, ctml::dense<8, ctml::relu>, ctml::dense<3, ctml::softmax>,
                               ctml::dropout<0.5>>;
#else
using net_t = ctml::sequential<ctml::input<4>, ctml::dense<8, ctml::relu>, ctml::dropout<0.5>,
                               ctml::dense<3, ctml::softmax>>;
#endif

int main() {
    ctml::network<net_t> net;
    return static_cast<int>(net.parameter_count() != 4 * 8 + 8 + 8 * 3 + 3);
}
