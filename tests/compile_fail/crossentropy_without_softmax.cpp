// SPDX-License-Identifier: MIT
// A cross-entropy loss on a network whose last layer is not softmax.
// expect: a cross-entropy loss needs softmax in the last layer
#include "ctml/optim/sgd.hpp"
#include "ctml/train/fit.hpp"

#ifdef CTML_COMPILE_FAIL
using net_t =
    ctml::sequential<ctml::input<4>, ctml::dense<8, ctml::relu>, ctml::dense<3, ctml::sigmoid>>;
#else
using net_t =
    ctml::sequential<ctml::input<4>, ctml::dense<8, ctml::relu>, ctml::dense<3, ctml::softmax>>;
#endif

using job = ctml::run_config<net_t, ctml::categorical_crossentropy, ctml::sgd<>,
                             ctml::batch_size<2>>;

int main() {
    auto s = job::defaults();
    auto net = job::make_network(s);
    ctml::trainer<job> t(net, s);
    return static_cast<int>(t.settings().batch_size != 2);
}
