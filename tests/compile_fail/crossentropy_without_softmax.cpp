// SPDX-License-Identifier: MIT
// A cross-entropy loss on a network whose last layer is not softmax.
// expect: a cross-entropy loss needs softmax in the last layer
#include "ctml/optim/sgd.hpp"
#include "ctml/train/trainer.hpp"

#ifdef CTML_COMPILE_FAIL
using net_t =
    ctml::sequential<ctml::input<4>, ctml::dense<8, ctml::relu>, ctml::dense<3, ctml::sigmoid>>;
#else
using net_t =
    ctml::sequential<ctml::input<4>, ctml::dense<8, ctml::relu>, ctml::dense<3, ctml::softmax>>;
#endif

int main() {
    ctml::network<net_t> net;
    ctml::trainer<net_t, ctml::categorical_crossentropy, ctml::sgd<>> t(net, 2);
    return static_cast<int>(t.batch_size() != 2);
}
