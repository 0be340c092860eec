// SPDX-License-Identifier: MIT
// What the CUDA engine (engine/cuda.cuh) can run, decided from a job's types, and how a job's
// types and settings become the engine's run-time configuration. Plain C++: a host compiler
// checks a job here (the trait, the one static_assert, the optimizer mapping) without nvcc or a
// GPU, and so do the tests.
//
//   ctml::cuda_supports_v<Job>     true when cuda_engine<Job> compiles (SFINAE-friendly)
//   ctml::check_cuda_job<Job>()    static_asserts the first rule Job breaks, with what to write
//                                  instead; true otherwise
//   ctml::cuda_activations<Arch>() the layers' activations as ctml::cuda::activation values
//   ctml::cuda_optimizer(o)        a ctml::sgd / rmsprop / adam value as the engine's
//                                  optimizer_config (kind and hyperparameters)
#pragma once
#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "ctml/core/extent.hpp"
#include "ctml/kernels/cuda/elementwise.hpp"
#include "ctml/kernels/cuda/trainer_config.hpp"
#include "ctml/nn/activations.hpp"
#include "ctml/nn/losses.hpp"
#include "ctml/nn/sequential.hpp"
#include "ctml/optim/adam.hpp"
#include "ctml/optim/rmsprop.hpp"
#include "ctml/optim/sgd.hpp"

namespace ctml {

namespace detail {

// The CUDA kernels' code for each of ctml's activation types; none for any other type.
template <class Act>
struct cuda_activation_of {
    static constexpr bool known = false;
};
template <cuda::activation A>
struct cuda_activation_known {
    static constexpr bool known = true;
    static constexpr cuda::activation value = A;
};
template <>
struct cuda_activation_of<identity> : cuda_activation_known<cuda::activation::identity> {};
template <>
struct cuda_activation_of<relu> : cuda_activation_known<cuda::activation::relu> {};
template <>
struct cuda_activation_of<tanh> : cuda_activation_known<cuda::activation::tanh> {};
template <>
struct cuda_activation_of<sigmoid> : cuda_activation_known<cuda::activation::sigmoid> {};
template <>
struct cuda_activation_of<softmax> : cuda_activation_known<cuda::activation::softmax> {};

template <class O>
struct cuda_optimizer_of {
    static constexpr bool known = false;
};
template <double Lr, double Momentum, bool Nesterov>
struct cuda_optimizer_of<sgd<Lr, Momentum, Nesterov>> {
    static constexpr bool known = true;
};
template <double Lr, double Rho, double Eps>
struct cuda_optimizer_of<rmsprop<Lr, Rho, Eps>> {
    static constexpr bool known = true;
};
template <double Lr, double B1, double B2, double Eps>
struct cuda_optimizer_of<adam<Lr, B1, B2, Eps>> {
    static constexpr bool known = true;
};

template <class L, bool = L::has_parameters>
struct cuda_layer_activation_known : std::false_type {};
template <class L>
struct cuda_layer_activation_known<L, true>
    : std::bool_constant<cuda_activation_of<typename L::activation_type>::known> {};

template <class Tuple>
struct cuda_layers;
template <class... L>
struct cuda_layers<std::tuple<L...>> {
    static constexpr bool all_parametric = (L::has_parameters && ...);
    static constexpr bool all_activations_known = (cuda_layer_activation_known<L>::value && ...);
};

template <class Arch>
constexpr bool cuda_last_is_logits() {
    using act = typename Arch::last_layer::activation_type;
    return std::is_same_v<act, softmax> || std::is_same_v<act, identity>;
}

// The rules in order; each is only evaluated once the ones before it hold.
template <class Job>
constexpr int cuda_first_broken_rule() {
    using arch = typename Job::architecture_type;
    using layers = cuda_layers<typename arch::layer_types>;
    if constexpr (!layers::all_parametric) {
        return 1;
    } else if constexpr (!Job::loss_type::fuses_softmax) {
        return 2;
    } else if constexpr (!layers::all_activations_known) {
        return 3;
    } else if constexpr (!cuda_last_is_logits<arch>()) {
        return 4;
    } else if constexpr (!cuda_optimizer_of<typename Job::optimizer_type>::known) {
        return 5;
    } else if constexpr (!std::is_same_v<typename Job::scalar_type, float> &&
                         !std::is_same_v<typename Job::scalar_type, double>) {
        return 6;
    } else {
        return 0;
    }
}

} // namespace detail

/// @brief Whether ctml::cuda_engine<Job> can run the job Job (a ctml::run_config).
template <class Job>
inline constexpr bool cuda_supports_v = detail::cuda_first_broken_rule<Job>() == 0;

/// @brief true for a job the CUDA engine runs; otherwise one static_assert naming the first rule
/// the job breaks and what to write instead (cuda_engine<Job> calls it).
template <class Job>
constexpr bool check_cuda_job() {
    constexpr int rule = detail::cuda_first_broken_rule<Job>();
    if constexpr (rule == 1) {
        static_assert(dependent_false<Job>,
                      "ctml::cuda_engine: the network has a layer without parameters "
                      "(ctml::dropout), which the CUDA engine does not run yet; remove the "
                      "dropout layers to train on the GPU, or train this job on the CPU "
                      "(--device cpu, ctml::cpu_engine), which supports dropout");
    } else if constexpr (rule == 2) {
        static_assert(dependent_false<Job>,
                      "ctml::cuda_engine: the loss must be ctml::categorical_crossentropy or "
                      "ctml::sparse_categorical_crossentropy (softmax cross-entropy fused on the "
                      "GPU); train a job with ctml::mean_squared_error or another loss on the "
                      "CPU (--device cpu, ctml::cpu_engine)");
    } else if constexpr (rule == 3) {
        static_assert(dependent_false<Job>,
                      "ctml::cuda_engine: every layer's activation must be ctml::identity, "
                      "ctml::relu, ctml::tanh, ctml::sigmoid or (last layer) ctml::softmax; the "
                      "CUDA kernels have no code for another activation type, so train this job "
                      "on the CPU (--device cpu, ctml::cpu_engine)");
    } else if constexpr (rule == 4) {
        static_assert(dependent_false<Job>,
                      "ctml::cuda_engine: the last layer's activation must be ctml::softmax (or "
                      "ctml::identity: logits), fused with the cross-entropy loss");
    } else if constexpr (rule == 5) {
        static_assert(dependent_false<Job>,
                      "ctml::cuda_engine: the optimizer must be ctml::sgd<...>, "
                      "ctml::rmsprop<...> or ctml::adam<...> (the GPU's fused update knows "
                      "these); train a job with another optimizer on the CPU (--device cpu, "
                      "ctml::cpu_engine)");
    } else if constexpr (rule == 6) {
        static_assert(dependent_false<Job>,
                      "ctml::cuda_engine: the scalar must be float or double "
                      "(ctml::scalar<float>)");
    }
    return true;
}

/// @brief The activation of each layer of Arch, as the CUDA kernels' run-time code.
template <class Arch>
std::vector<cuda::activation> cuda_activations() {
    return []<std::size_t... I>(std::index_sequence<I...>) {
        return std::vector<cuda::activation>{detail::cuda_activation_of<
            typename Arch::template layer_type<I>::activation_type>::value...};
    }(std::make_index_sequence<Arch::layer_count>{});
}

/// @brief A job's optimizer value (its type's defaults, overridden by flags) as the CUDA
/// engine's optimizer configuration.
template <double Lr, double Momentum, bool Nesterov>
cuda::optimizer_config cuda_optimizer(const sgd<Lr, Momentum, Nesterov>& o) {
    return cuda::optimizer_config::sgd(o.learning_rate, o.momentum, o.nesterov);
}
template <double Lr, double Rho, double Eps>
cuda::optimizer_config cuda_optimizer(const rmsprop<Lr, Rho, Eps>& o) {
    return cuda::optimizer_config::rmsprop(o.learning_rate, o.rho, o.epsilon);
}
template <double Lr, double B1, double B2, double Eps>
cuda::optimizer_config cuda_optimizer(const adam<Lr, B1, B2, Eps>& o) {
    return cuda::optimizer_config::adam(o.learning_rate, o.beta_1, o.beta_2, o.epsilon);
}

} // namespace ctml
