// SPDX-License-Identifier: MIT
// sequential<input<N>, L...>: a network architecture as one flat pack of layer types. It holds no
// data; ctml::network<Arch, T> holds the parameters.
#pragma once
#include <array>
#include <cstddef>
#include <string_view>
#include <tuple>
#include <type_traits>

#include "ctml/core/extent.hpp"
#include "ctml/nn/layers.hpp"

namespace ctml {

namespace detail {
template <class T>
struct is_input : std::false_type {};
template <std::size_t N>
struct is_input<input<N>> : std::true_type {};

// Index of the first layer whose declared input width differs from the static width before it;
// L (the layer count) when every layer chains.
template <std::size_t N, class... L>
constexpr std::size_t first_unchained() {
    constexpr std::array<std::size_t, sizeof...(L) + 1> out{N, L::width...};
    constexpr std::array<std::size_t, sizeof...(L)> in{L::input_width...};
    for (std::size_t i = 0; i < sizeof...(L); ++i) {
        if (in[i] != inferred && in[i] != dynamic && out[i] != dynamic && in[i] != out[i]) {
            return i;
        }
    }
    return sizeof...(L);
}

// The rules of sequential<>, checked in order inside a function: only the first broken rule is
// reported, once, and the sequential type itself stays valid (clang marks a class whose own
// static_assert failed as invalid and then reports every later use of it as another error).
template <class First, class... Layers>
constexpr bool check_sequential() {
    if constexpr (!is_input<First>::value) {
        static_assert(dependent_false<First>,
                      "ctml::sequential: the first entry must be ctml::input<N>, the number of "
                      "input features, e.g. sequential<input<784>, dense<100, relu>, ...>");
    } else if constexpr (sizeof...(Layers) == 0) {
        static_assert(dependent_false<First>, "ctml::sequential: add at least one layer after "
                                              "input<N>, e.g. dense<10, softmax>");
    } else if constexpr (!(layer<Layers> && ...)) {
        static_assert(dependent_false<First>,
                      "ctml::sequential: every entry after input<N> must be a layer such as "
                      "ctml::dense<Width, Activation> or ctml::linear<In, Out, Activation>");
    } else if constexpr (first_unchained<First::width, Layers...>() != sizeof...(Layers)) {
        static_assert(dependent_false<First>,
                      "ctml::sequential: layer widths do not chain: a ctml::linear<In, Out> "
                      "declares In inputs, but the layer before it has a different width");
    } else if constexpr (((std::is_same_v<typename Layers::activation_type, softmax> ? 1 : 0) +
                          ... + 0) !=
                         (std::is_same_v<typename std::tuple_element_t<
                                             sizeof...(Layers) - 1,
                                             std::tuple<Layers...>>::activation_type,
                                         softmax>
                              ? 1
                              : 0)) {
        static_assert(dependent_false<First>,
                      "ctml::sequential: softmax is only allowed in the last layer; use relu, "
                      "tanh or sigmoid in hidden layers");
    }
    return true;
}
} // namespace detail

template <class First, class... Layers>
struct sequential {
    static_assert(detail::check_sequential<First, Layers...>());

    using input_type = First;
    using layer_types = std::tuple<Layers...>;
    static constexpr std::size_t layer_count = sizeof...(Layers);
    static constexpr std::size_t input_width = First::width;

    template <std::size_t I>
    using layer_type = std::tuple_element_t<I, layer_types>;
    using last_layer = layer_type<layer_count - 1>;
    using output_activation = typename last_layer::activation_type;

    /// Widths in order: the input, then each layer's output (ctml::dynamic where not fixed).
    static constexpr std::array<std::size_t, layer_count + 1> static_widths{First::width,
                                                                            Layers::width...};
    /// Declared input width of each layer (ctml::inferred when taken from the previous one).
    static constexpr std::array<std::size_t, layer_count> declared_inputs{Layers::input_width...};
    static constexpr bool all_static = ((Layers::width != dynamic) && ...);

private:
    static constexpr std::size_t count_parameters() {
        std::size_t n = 0;
        for (std::size_t i = 0; i < layer_count; ++i) {
            n += static_widths[i] * static_widths[i + 1] + static_widths[i + 1];
        }
        return n;
    }

public:
    /// Number of trainable parameters, known at compile time when every width is static;
    /// ctml::dynamic otherwise (ask the network object instead).
    static constexpr std::size_t parameter_count = all_static ? count_parameters() : dynamic;
};

namespace detail {
template <class T>
struct is_sequential : std::false_type {};
template <class... L>
struct is_sequential<sequential<L...>> : std::true_type {};
} // namespace detail

/// @brief A network architecture: a ctml::sequential<input<N>, layers...>.
template <class A>
concept architecture = detail::is_sequential<A>::value;

} // namespace ctml
