// SPDX-License-Identifier: MIT
#pragma once
#include <concepts>
#include <cstddef>
#include <string_view>
#include <type_traits>

#include "ctml/core/extent.hpp"
#include "ctml/nn/activations.hpp"
#include "ctml/nn/initializers.hpp"

namespace ctml {

/// @brief The first entry of a ctml::sequential: N input features per sample.
template <std::size_t N>
struct input {
    static_assert(N != 0, "ctml::input<N>: N is the number of input features and must be > 0");
    static constexpr std::size_t width = N;
};

/// @brief Width of a layer's input when it is taken from the previous layer.
inline constexpr std::size_t inferred = 0;

namespace detail {
template <std::size_t Width, class Activation, class Init>
constexpr bool check_dense() {
    if constexpr (Width == 0) {
        static_assert(dependent_false<Activation>,
                      "ctml::dense<Width, ...>: Width must be > 0 (or ctml::dynamic)");
    } else if constexpr (!activation<Activation>) {
        static_assert(dependent_false<Activation>,
                      "ctml::dense<Width, Activation>: Activation must be an activation such as "
                      "ctml::relu, ctml::tanh, ctml::sigmoid, ctml::softmax or ctml::identity");
    } else if constexpr (!initializer<Init>) {
        static_assert(dependent_false<Init>,
                      "ctml::dense<Width, Activation, Init>: Init must be an initializer such as "
                      "ctml::glorot_uniform, ctml::he_normal, ctml::lecun_normal or ctml::zeros");
    }
    return true;
}
} // namespace detail

/// @brief A fully connected layer, Keras' Dense: y = f(x·W + b), W is in × Width, b has Width
/// entries. Width is a compile-time constant or ctml::dynamic (set on the network at run time).
/// @tparam Width       output features (or ctml::dynamic)
/// @tparam Activation  ctml::identity, relu, tanh, sigmoid or softmax
/// @tparam Init        kernel initializer; the bias starts at zero
template <std::size_t Width, class Activation = identity, class Init = glorot_uniform>
struct dense {
    // Checked in a function, and a broken slot replaced by a stand-in below, so that the one
    // static_assert is the only error (no "not a layer" from sequential<> after it).
    static_assert(detail::check_dense<Width, Activation, Init>());
    static constexpr std::size_t width = Width;
    static constexpr std::size_t input_width = inferred;
    using activation_type = std::conditional_t<activation<Activation>, Activation, identity>;
    using initializer_type = std::conditional_t<initializer<Init>, Init, glorot_uniform>;
    static constexpr std::string_view class_name = "Dense";
    /// A kernel and a bias (ctml::dropout has none).
    static constexpr bool has_parameters = true;
};

/// @brief Chainer's L.Linear(In, Out) followed by an activation: a dense layer that states its
/// input width, so a width that does not chain with the previous layer is a compile error.
/// Initialized like Chainer (LeCun normal) unless told otherwise.
template <std::size_t In, std::size_t Out, class Activation = identity, class Init = lecun_normal>
struct linear : dense<Out, Activation, Init> {
    static_assert(In != 0, "ctml::linear<In, Out>: In must be > 0 (or ctml::dynamic)");
    static constexpr std::size_t input_width = In;
};

/// @brief What sequential<> accepts after its input<N>: a layer type with a width, a declared
/// input width (ctml::inferred or a number), an activation and an initializer.
template <class L>
concept layer = requires {
    { L::width } -> std::convertible_to<std::size_t>;
    { L::input_width } -> std::convertible_to<std::size_t>;
    { L::class_name } -> std::convertible_to<std::string_view>;
    typename L::activation_type;
    typename L::initializer_type;
} && activation<typename L::activation_type> && initializer<typename L::initializer_type>;

} // namespace ctml
