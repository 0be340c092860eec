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

// The input width, then each layer's output width: its own, or (a layer without parameters)
// the one before it; ctml::dynamic where not fixed at compile time.
template <std::size_t N, class... L>
constexpr std::array<std::size_t, sizeof...(L) + 1> resolved_widths() {
    constexpr std::array<std::size_t, sizeof...(L)> own{L::width...};
    constexpr std::array<bool, sizeof...(L)> parametric{static_cast<bool>(L::has_parameters)...};
    std::array<std::size_t, sizeof...(L) + 1> out{N};
    for (std::size_t i = 0; i < sizeof...(L); ++i) {
        out[i + 1] = parametric[i] ? own[i] : out[i];
    }
    return out;
}

// Index of the first layer whose declared input width differs from the static width before it;
// L (the layer count) when every layer chains.
template <std::size_t N, class... L>
constexpr std::size_t first_unchained() {
    constexpr std::array<std::size_t, sizeof...(L) + 1> out = resolved_widths<N, L...>();
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
                      "ctml::dense<Width, Activation>, ctml::linear<In, Out, Activation> or "
                      "ctml::dropout<Rate>");
    } else if constexpr (!std::tuple_element_t<sizeof...(Layers) - 1,
                                               std::tuple<Layers...>>::has_parameters) {
        static_assert(dependent_false<First>,
                      "ctml::sequential: the last layer must have parameters (the loss reads its "
                      "activation): end the network with ctml::dense<outputs, Activation>, not "
                      "with a ctml::dropout");
    } else if constexpr (first_unchained<First::width, Layers...>() != sizeof...(Layers)) {
        static_assert(dependent_false<First>,
                      "ctml::sequential: layer widths do not chain: a ctml::linear<In, Out> "
                      "declares In inputs, but the layer before it has a different width");
    } else if constexpr (((std::is_same_v<layer_activation_t<Layers>, softmax> ? 1 : 0) + ... +
                          0) !=
                         (std::is_same_v<layer_activation_t<std::tuple_element_t<
                                             sizeof...(Layers) - 1, std::tuple<Layers...>>>,
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
    using output_activation = detail::layer_activation_t<last_layer>;

    /// Widths in order: the input, then each layer's output (ctml::dynamic where not fixed; a
    /// layer without parameters has the width before it).
    static constexpr std::array<std::size_t, layer_count + 1> static_widths =
        detail::resolved_widths<First::width, Layers...>();
    /// Declared input width of each layer (ctml::inferred when taken from the previous one).
    static constexpr std::array<std::size_t, layer_count> declared_inputs{Layers::input_width...};
    /// Whether each layer has a kernel and a bias (false for ctml::dropout).
    static constexpr std::array<bool, layer_count> parametric{
        static_cast<bool>(Layers::has_parameters)...};
    /// Layers with parameters (the dense layers).
    static constexpr std::size_t parametric_count =
        (std::size_t{0} + ... + (Layers::has_parameters ? 1 : 0));
    static constexpr bool all_static = [] {
        for (const std::size_t w : static_widths) {
            if (w == dynamic) {
                return false;
            }
        }
        return true;
    }();

private:
    static constexpr std::size_t count_parameters() {
        std::size_t n = 0;
        for (std::size_t i = 0; i < layer_count; ++i) {
            if (parametric[i]) {
                n += static_widths[i] * static_widths[i + 1] + static_widths[i + 1];
            }
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
