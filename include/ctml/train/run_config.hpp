// SPDX-License-Identifier: MIT
// run_config<Net, Loss, Optimizer, options...>: the static description of a training job. Its
// compiled values are defaults; a trainer's flags override them through run_settings.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "ctml/io/json.hpp"
#include "ctml/model/architecture.hpp"
#include "ctml/nn/losses.hpp"
#include "ctml/nn/network.hpp"
#include "ctml/optim/optimizer.hpp"
#include "ctml/train/trainer.hpp"

namespace ctml {

/// @brief Rows per training step (Keras' default is 32).
template <std::size_t N>
struct batch_size {
    static_assert(N > 0, "ctml::batch_size<N>: N must be at least 1");
    static constexpr std::size_t value = N;
};

/// @brief Passes over the training data.
template <std::size_t N>
struct epochs {
    static_assert(N > 0, "ctml::epochs<N>: N must be at least 1");
    static constexpr std::size_t value = N;
};

/// @brief The scalar type of parameters and activations (float unless told).
template <class T>
struct scalar {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "ctml::scalar<T>: T must be float or double");
    using type = T;
};

namespace detail {
template <template <auto> class Tmpl, class T>
struct is_value_option : std::false_type {};
template <template <auto> class Tmpl, auto N>
struct is_value_option<Tmpl, Tmpl<N>> : std::true_type {};

template <class T>
struct is_batch_size : std::false_type {};
template <std::size_t N>
struct is_batch_size<batch_size<N>> : std::true_type {};
template <class T>
struct is_epochs : std::false_type {};
template <std::size_t N>
struct is_epochs<epochs<N>> : std::true_type {};
template <class T>
struct is_scalar : std::false_type {};
template <class T>
struct is_scalar<scalar<T>> : std::true_type {};

template <template <class> class Is, class Default, class... Options>
struct find_option {
    using type = Default;
};
template <template <class> class Is, class Default, class First, class... Rest>
struct find_option<Is, Default, First, Rest...> {
    using type = std::conditional_t<Is<First>::value, First,
                                    typename find_option<Is, Default, Rest...>::type>;
};
} // namespace detail

namespace detail {
// The slots of run_config<>, checked in order so that only the first broken rule is reported.
template <class Net, class Loss, class Optimizer, class... Options>
constexpr bool check_run_config() {
    if constexpr (!architecture<Net>) {
        static_assert(dependent_false<Net>,
                      "ctml::run_config<Net, Loss, Optimizer, ...>: Net must be a network "
                      "architecture, ctml::sequential<ctml::input<N>, layers...>");
    } else if constexpr (!loss<Loss>) {
        static_assert(dependent_false<Loss>,
                      "ctml::run_config<Net, Loss, Optimizer, ...>: Loss must be a loss such as "
                      "ctml::categorical_crossentropy, ctml::sparse_categorical_crossentropy or "
                      "ctml::mean_squared_error");
    } else if constexpr (!optimizer<Optimizer>) {
        static_assert(dependent_false<Optimizer>,
                      "ctml::run_config<Net, Loss, Optimizer, ...>: Optimizer must be an "
                      "optimizer such as ctml::rmsprop<>, ctml::sgd<> or ctml::adam<>");
    } else if constexpr (!((is_batch_size<Options>::value || is_epochs<Options>::value ||
                            is_scalar<Options>::value) &&
                           ...)) {
        static_assert(dependent_false<Net>,
                      "ctml::run_config: options after the optimizer must be "
                      "ctml::batch_size<B>, ctml::epochs<E> or ctml::scalar<T>");
    }
    return true;
}

// Stands in for a rejected optimizer slot (see run_config): satisfies ctml::optimizer, does
// nothing.
struct no_optimizer {
    static constexpr std::string_view name = "none";
    static constexpr std::size_t state_slots = 0;
    template <class T>
    void update(T*, const T*, std::array<T*, 0>, std::size_t, std::size_t) const noexcept {}
    void set(std::string_view, double) {}
    template <class F>
    void visit_hyperparameters(F&&) const {}
};
} // namespace detail

/// @brief Run-time values of a job: the compiled defaults, overridden by flags.
template <class Optimizer>
struct run_settings {
    std::size_t batch_size;
    std::size_t epochs;
    std::uint64_t seed = 0;
    Optimizer optimizer{};
};

/// @brief The static description of a training job.
/// @tparam Net       a ctml::sequential<input<N>, layers...>
/// @tparam Loss      ctml::categorical_crossentropy, sparse_categorical_crossentropy, mean_squared_error
/// @tparam Optimizer ctml::rmsprop<>, ctml::sgd<>, ctml::adam<>
/// @tparam Options   any of ctml::batch_size<B> (32), ctml::epochs<E> (1), ctml::scalar<T> (float)
template <class Net, class Loss, class Optimizer, class... Options>
struct run_config {
    static_assert(detail::check_run_config<Net, Loss, Optimizer, Options...>());

    using architecture_type = Net;
    using loss_type = Loss;
    using optimizer_type = Optimizer;
    using scalar_type =
        typename detail::find_option<detail::is_scalar, scalar<float>, Options...>::type::type;

private:
    // After a failed check the types below are built from stand-ins, so that the one
    // static_assert above is the only error a wrong slot produces.
    using net_ = std::conditional_t<architecture<Net>, Net, sequential<input<1>, dense<1>>>;
    using loss_ = std::conditional_t<loss<Loss>, Loss, mean_squared_error>;
    using optimizer_ = std::conditional_t<optimizer<Optimizer>, Optimizer, detail::no_optimizer>;

public:
    using network_type = network<net_, scalar_type>;
    using trainer_type = trainer<net_, loss_, optimizer_, scalar_type>;
    using settings_type = run_settings<optimizer_>;

    static constexpr std::size_t batch_size =
        detail::find_option<detail::is_batch_size, ctml::batch_size<32>, Options...>::type::value;
    static constexpr std::size_t epochs =
        detail::find_option<detail::is_epochs, ctml::epochs<1>, Options...>::type::value;

    /// The compiled defaults as run-time settings, ready for flags to override.
    static settings_type defaults() { return settings_type{batch_size, epochs, 0, optimizer_{}}; }

    /// The job as one JSON object into `w`: architecture (with run-time widths), loss,
    /// optimizer and its hyperparameters, batch size, epochs, seed, scalar type.
    static void write_json(io::json_writer& w, const network_type& net, const settings_type& s) {
        w.begin_object();
        w.key("architecture");
        write_architecture(w, net);
        w.field("loss", loss_::name);
        w.key("optimizer").begin_object();
        w.field("name", optimizer_::name);
        s.optimizer.visit_hyperparameters([&](std::string_view k, double v) { w.field(k, v); });
        w.end_object();
        w.field("batch_size", s.batch_size);
        w.field("epochs", s.epochs);
        w.field("seed", s.seed);
        w.field("scalar", sizeof(scalar_type) == 4 ? "float32" : "float64");
        w.field("backend", "cpu");
        w.end_object();
    }

    /// The job as a JSON document: what job.json stores.
    static std::string to_json(const network_type& net, const settings_type& s,
                               io::json_style style = io::json_style::pretty) {
        io::json_writer w(style);
        write_json(w, net, s);
        return w.take();
    }
};

} // namespace ctml
