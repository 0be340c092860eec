// SPDX-License-Identifier: MIT
// The whole host library and every CUDA header in one nvcc translation unit, warnings as errors
// (issue 8, defect 5: inside ctml::cuda an unqualified tanh(x) found the activation type
// ctml::tanh once <ctml/ctml.hpp> was included first). The class templates are instantiated
// explicitly so that every member body is compiled, for float and double, and the CUDA engine
// is checked against the ctml::engine concept. The test cases touch no device ("host" suite).
#include <ctml/ctml.hpp>

#include <ctml/engine/cuda.cuh>
#include <ctml/engine/cuda_support.hpp>
#include <ctml/kernels/cuda/check.cuh>
#include <ctml/kernels/cuda/device_buffer.cuh>
#include <ctml/kernels/cuda/elementwise.hpp>
#include <ctml/kernels/cuda/mlp_kernels.cuh>
#include <ctml/kernels/cuda/mlp_trainer.cuh>
#include <ctml/kernels/cuda/trainer_config.hpp>

#include <doctest/doctest.h>

#include "job.hpp"

namespace {

using keras_net = ctml::sequential<ctml::input<784>, ctml::dense<300, ctml::relu>,
                                   ctml::dense<100, ctml::relu>, ctml::dense<10, ctml::softmax>>;
using keras_job = ctml_test::job<keras_net, ctml::categorical_crossentropy, ctml::rmsprop<>>;
using tanh_net = ctml::sequential<ctml::input<16>, ctml::dense<ctml::dynamic, ctml::tanh>,
                                  ctml::dense<4, ctml::softmax>>;
using tanh_job = ctml_test::job<tanh_net, ctml::sparse_categorical_crossentropy,
                                ctml::sgd<0.1, 0.9, true>, double>;

static_assert(ctml::engine<ctml::cuda_engine<keras_job>>);
static_assert(ctml::engine<ctml::cuda_engine<tanh_job>>);

} // namespace

template class ctml::cuda::mlp_trainer<float>;
template class ctml::cuda::mlp_trainer<double>;
template class ctml::cuda_engine<keras_job>;
template class ctml::cuda_engine<tanh_job>;

TEST_CASE("ctml's tanh type and the CUDA tanh live side by side" * doctest::test_suite("host")) {
    // Both spellings in one scope: the activation type's apply and the host+device element
    // function compute the same value.
    CHECK(ctml::tanh::apply(0.5f) == ctml::cuda::activate<ctml::cuda::activation::tanh>(0.5f));
    CHECK(ctml::tanh::apply(-2.0) == ctml::cuda::activate<ctml::cuda::activation::tanh>(-2.0));
    CHECK(std::string(ctml::tanh::name) == ctml::cuda::to_string(ctml::cuda::activation::tanh));
}

TEST_CASE("the CUDA engine's types are the job's" * doctest::test_suite("host")) {
    using E = ctml::cuda_engine<tanh_job>;
    static_assert(E::device_kind == ctml::device::cuda);
    static_assert(std::is_same_v<E::scalar_type, double>);
    static_assert(std::is_same_v<E::network_type, tanh_job::network_type>);
    CHECK(ctml::cuda_activations<tanh_net>() ==
          std::vector<ctml::cuda::activation>{ctml::cuda::activation::tanh,
                                              ctml::cuda::activation::softmax});
}
