// SPDX-License-Identifier: MIT
// A job whose loss the CUDA engine has no kernel for (mean squared error): one error naming the
// losses it runs and where to train this one.
// expect: ctml::cuda_engine: the loss must be ctml::categorical_crossentropy or ctml::sparse_categorical_crossentropy
// expect: (--device cpu, ctml::cpu_engine)
#include "ctml/engine/cuda_support.hpp"
#include "ctml/train/run_config.hpp"

using net_t =
    ctml::sequential<ctml::input<16>, ctml::dense<8, ctml::tanh>, ctml::dense<4, ctml::softmax>>;

#ifdef CTML_COMPILE_FAIL
using loss_t = ctml::mean_squared_error;
#else
using loss_t = ctml::sparse_categorical_crossentropy;
#endif

using job = ctml::run_config<net_t, loss_t, ctml::adam<>, ctml::batch_size<8>>;

static_assert(ctml::check_cuda_job<job>());

int main() {
    return ctml::cuda_supports_v<job> ? 0 : 1;
}
