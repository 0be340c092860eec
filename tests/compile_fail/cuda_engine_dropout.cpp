// SPDX-License-Identifier: MIT
// A job with ctml::dropout asked of the CUDA engine: one error that says what to write instead.
// (engine/cuda.cuh's cuda_engine<Job> starts with this check; it is host code, so g++ proves it.)
// expect: ctml::cuda_engine: the network has a layer without parameters (ctml::dropout)
// expect: train this job on the CPU (--device cpu, ctml::cpu_engine)
#include "ctml/engine/cuda_support.hpp"
#include "ctml/train/run_config.hpp"

#ifdef CTML_COMPILE_FAIL
using net_t = ctml::sequential<ctml::input<784>, ctml::dense<300, ctml::relu>, ctml::dropout<0.2>,
                               ctml::dense<10, ctml::softmax>>;
#else
using net_t =
    ctml::sequential<ctml::input<784>, ctml::dense<300, ctml::relu>, ctml::dense<10, ctml::softmax>>;
#endif

using job = ctml::run_config<net_t, ctml::categorical_crossentropy, ctml::rmsprop<>,
                             ctml::batch_size<50>>;

static_assert(ctml::check_cuda_job<job>());

int main() {
    return ctml::cuda_supports_v<job> ? 0 : 1;
}
