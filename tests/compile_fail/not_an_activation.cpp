// SPDX-License-Identifier: MIT
// A type that is not an activation in the activation slot of dense.
// expect: Activation must be an activation
#include "ctml/nn/network.hpp"

#ifdef CTML_COMPILE_FAIL
struct swish {}; // no name, no apply/derivative
using act_t = swish;
#else
using act_t = ctml::relu;
#endif

using net_t = ctml::sequential<ctml::input<4>, ctml::dense<8, act_t>, ctml::dense<3>>;

int main() {
    ctml::network<net_t> net;
    return static_cast<int>(net.parameter_count() != 4 * 8 + 8 + 8 * 3 + 3);
}
