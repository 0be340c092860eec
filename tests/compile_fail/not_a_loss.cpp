// SPDX-License-Identifier: MIT
// A type that is not a loss in the loss slot of run_config.
// expect: Loss must be a loss
#include "ctml/optim/rmsprop.hpp"
#include "ctml/train/fit.hpp"

using net_t =
    ctml::sequential<ctml::input<4>, ctml::dense<8, ctml::relu>, ctml::dense<3, ctml::softmax>>;

#ifdef CTML_COMPILE_FAIL
struct hinge {
    static constexpr const char* name = "hinge"; // a name alone does not make a loss
};
using loss_t = hinge;
#else
using loss_t = ctml::categorical_crossentropy;
#endif

using job = ctml::run_config<net_t, loss_t, ctml::rmsprop<>, ctml::batch_size<2>>;

int main() {
    auto s = job::defaults();
    auto net = job::make_network(s);
    ctml::trainer<job> t(net, s);
    return static_cast<int>(t.settings().batch_size != 2);
}
