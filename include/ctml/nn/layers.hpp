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

/// @brief Inverted dropout (Keras' Dropout): while training, each value is kept with
/// probability 1 - Rate and scaled by 1 / (1 - Rate), or set to 0; in evaluate and predict it
/// passes values through unchanged. No parameters; its width is its input's. The mask is drawn
/// from the engine's ctml::rng, seeded from the job's seed, so a seed gives the same masks.
/// Supported by the CPU engine (engine/cpu.hpp).
/// @tparam Rate the fraction of values dropped, in [0, 1)
template <double Rate>
struct dropout {
    static_assert(Rate >= 0.0 && Rate < 1.0,
                  "ctml::dropout<Rate>: Rate is the fraction of values dropped, in [0, 1), "
                  "e.g. ctml::dropout<0.2>");
    static constexpr double rate = Rate;
    static constexpr std::size_t width = inferred;
    static constexpr std::size_t input_width = inferred;
    static constexpr std::string_view class_name = "Dropout";
    static constexpr bool has_parameters = false;
};

namespace detail {
template <class L>
struct is_dropout : std::false_type {};
template <double R>
struct is_dropout<dropout<R>> : std::true_type {};

template <class L>
concept parametric_layer = requires {
    typename L::activation_type;
    typename L::initializer_type;
} && L::has_parameters && activation<typename L::activation_type> &&
                           initializer<typename L::initializer_type>;
} // namespace detail

/// @brief ctml::dropout<Rate>, and nothing else.
template <class L>
inline constexpr bool is_dropout_v = detail::is_dropout<L>::value;

// Layer contract (what sequential<> accepts after its input<N>; the engines run it):
//
//   L::width           std::size_t: the output width, a number or ctml::dynamic (chosen at run
//                      time); ctml::inferred for a layer without parameters (width = input width)
//   L::input_width     std::size_t: the declared input width, ctml::inferred (the previous
//                      layer's), ctml::dynamic or a number that must equal the previous width
//   L::class_name      std::string_view: Keras' class name, written to the architecture JSON
//   L::has_parameters  bool. true: the layer owns a kernel (in × out, row-major) and a bias
//                      (out) in the network's one parameter buffer (core/layout.hpp) and computes
//                      y = f(x·W + b); it then also names
//     L::activation_type   a ctml::activation (nn/activations.hpp)
//     L::initializer_type  a ctml::initializer for the kernel (the bias starts at zero)
//                      false: no parameters, width == inferred. What such a layer does is the
//                      engine's to implement: the CPU engine knows ctml::dropout, and refuses
//                      any other parameter-free layer at compile time.
//   The last layer must have parameters (the loss reads its activation).
template <class L>
concept layer = requires {
    { L::width } -> std::convertible_to<std::size_t>;
    { L::input_width } -> std::convertible_to<std::size_t>;
    { L::class_name } -> std::convertible_to<std::string_view>;
    { L::has_parameters } -> std::convertible_to<bool>;
} && (detail::parametric_layer<L> || (!L::has_parameters && L::width == inferred));

namespace detail {
// The activation of a layer with parameters; identity for one without (so that rules over
// every layer's activation can be written as one fold).
template <class L, bool = L::has_parameters>
struct layer_activation {
    using type = identity;
};
template <class L>
struct layer_activation<L, true> {
    using type = typename L::activation_type;
};
template <class L>
using layer_activation_t = typename layer_activation<L>::type;
} // namespace detail

} // namespace ctml
