// SPDX-License-Identifier: MIT
// Something that is not an optimizer in the optimizer slot of run_config.
// expect: Optimizer must be an optimizer
#include "ctml/train/fit.hpp"
#include "ctml/optim/sgd.hpp"

using net_t =
    ctml::sequential<ctml::input<4>, ctml::dense<8, ctml::relu>, ctml::dense<3, ctml::softmax>>;

#ifdef CTML_COMPILE_FAIL
struct not_an_optimizer {
    double learning_rate = 0.1;
};
using opt_t = not_an_optimizer;
#else
using opt_t = ctml::sgd<>;
#endif

using job = ctml::run_config<net_t, ctml::categorical_crossentropy, opt_t, ctml::batch_size<2>>;

int main() {
    auto s = job::defaults();
    auto net = job::make_network(s);
    ctml::trainer<job> t(net, s);
    return static_cast<int>(t.settings().batch_size != 2);
}
