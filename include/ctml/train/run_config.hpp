// SPDX-License-Identifier: MIT
// run_config<Net, Loss, Optimizer, options...>: the description of a training job, and the one
// run-time value it yields (settings_type: batch size, epochs, seed, optimizer hyperparameters,
// dynamic widths, threads, device). The compiled options are the defaults; the trainer's flags
// take their names and defaults from them (declare_flags / settings_from), and the JSON that
// job.json and model.json store is to_json / from_json of the same value.
#pragma once
#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "ctml/config.hpp"
#include "ctml/core/device.hpp"
#include "ctml/core/error.hpp"
#include "ctml/core/extent.hpp"
#include "ctml/io/json.hpp"
#include "ctml/io/json_read.hpp"
#include "ctml/model/architecture.hpp"
#include "ctml/nn/layers.hpp"
#include "ctml/nn/losses.hpp"
#include "ctml/nn/network.hpp"
#include "ctml/nn/widths.hpp"
#include "ctml/optim/optimizer.hpp"
#include "ctml/train/flags.hpp"

namespace ctml {

namespace detail {
/// A string literal as a template argument: ctml::batch_size<128, "batchsize">.
template <std::size_t N>
struct fixed_string {
    char text[N]{};
    constexpr fixed_string(const char (&s)[N]) noexcept {
        for (std::size_t i = 0; i < N; ++i) {
            text[i] = s[i];
        }
    }
    constexpr std::string_view view() const noexcept { return {text, N - 1}; }
};
struct batch_size_option {};
struct epochs_option {};
struct seed_option {};
struct scalar_option {};
struct width_flag_option {};
} // namespace detail

/// Largest batch size a flag or a job's JSON may ask for (the engine allocates batch × width
/// activations per layer).
inline constexpr std::size_t max_batch_size = std::size_t{1} << 16;
/// Largest thread count a flag or a job's JSON may ask for (each is an OS thread).
inline constexpr std::size_t max_threads = 1024;

/// @brief Rows per training step (Keras' default is 32), set by the flag --Flag.
template <std::size_t N, detail::fixed_string Flag = "batch-size">
struct batch_size {
    static_assert(N > 0 && N <= max_batch_size,
                  "ctml::batch_size<N>: N must be in [1, ctml::max_batch_size]");
    using option_kind = detail::batch_size_option;
    static constexpr std::size_t value = N;
    static constexpr std::string_view flag = Flag.view();
};

/// @brief Passes over the training data, set by the flag --Flag.
template <std::size_t N, detail::fixed_string Flag = "epochs">
struct epochs {
    static_assert(N > 0, "ctml::epochs<N>: N must be at least 1");
    using option_kind = detail::epochs_option;
    static constexpr std::size_t value = N;
    static constexpr std::string_view flag = Flag.view();
};

/// @brief The seed of the weight initialization, the shuffling and the dropout masks (0 unless
/// told), set by the flag --Flag.
template <std::uint64_t N, detail::fixed_string Flag = "seed">
struct seed {
    using option_kind = detail::seed_option;
    static constexpr std::uint64_t value = N;
    static constexpr std::string_view flag = Flag.view();
};

/// @brief The run-time default of the ctml::dynamic layer `Layer` (0-based) and the flag that
/// sets it: ctml::width_flag<0, "first-layer-neurons", 100>.
template <std::size_t Layer, detail::fixed_string Flag, std::size_t Default>
struct width_flag {
    static_assert(Default > 0 && Default <= CTML_MAX_WIDTH,
                  "ctml::width_flag<Layer, Flag, Default>: Default must be in [1, CTML_MAX_WIDTH]");
    using option_kind = detail::width_flag_option;
    static constexpr std::size_t layer = Layer;
    static constexpr std::string_view flag = Flag.view();
    static constexpr std::size_t value = Default;
};

/// @brief The scalar type of parameters and activations (float unless told).
template <class T>
struct scalar {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "ctml::scalar<T>: T must be float or double");
    using option_kind = detail::scalar_option;
    using type = T;
};

/// @brief The one run-time value of a job: what the trainer, the engines, the flags and the
/// job's JSON share. run_config<...>::defaults() fills it from the compiled options.
template <class Arch, class Optimizer>
struct run_settings {
    using architecture_type = Arch;
    using optimizer_type = Optimizer;
    std::size_t batch_size = 32;
    std::size_t epochs = 1;
    std::uint64_t seed = 0;
    Optimizer optimizer{};
    layer_widths<Arch> widths{};
    std::size_t threads = 0; ///< step threads; 0: ctml::num_threads() (all cores unless set)
    ctml::device device = device::cpu;
};

namespace detail {
// Each option names its kind; detecting it by that member, not by partial specializations on
// its class-type template parameter (the flag name), keeps run_config usable under nvcc 13,
// whose front end rejects those.
template <class T, class Kind>
constexpr bool is_option_of() {
    if constexpr (requires { typename T::option_kind; }) {
        return std::is_same_v<typename T::option_kind, Kind>;
    } else {
        return false;
    }
}
template <class T>
struct is_batch_size : std::bool_constant<is_option_of<T, batch_size_option>()> {};
template <class T>
struct is_epochs : std::bool_constant<is_option_of<T, epochs_option>()> {};
template <class T>
struct is_seed : std::bool_constant<is_option_of<T, seed_option>()> {};
template <class T>
struct is_scalar : std::bool_constant<is_option_of<T, scalar_option>()> {};
template <class T>
struct is_width_flag : std::bool_constant<is_option_of<T, width_flag_option>()> {};

template <template <class> class Is, class Default, class... Options>
struct find_option {
    using type = Default;
};
template <template <class> class Is, class Default, class First, class... Rest>
struct find_option<Is, Default, First, Rest...> {
    using type = std::conditional_t<Is<First>::value, First,
                                    typename find_option<Is, Default, Rest...>::type>;
};

template <class Net, class... Options>
constexpr bool width_flags_fit() {
    bool ok = true;
    (
        [&] {
            if constexpr (is_width_flag<Options>::value) {
                ok = ok && Options::layer < Net::layer_count &&
                     Net::parametric[Options::layer] &&
                     Net::static_widths[Options::layer + 1] == dynamic;
            }
        }(),
        ...);
    return ok;
}

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
                            is_seed<Options>::value || is_scalar<Options>::value ||
                            is_width_flag<Options>::value) &&
                           ...)) {
        static_assert(dependent_false<Net>,
                      "ctml::run_config: options after the optimizer must be "
                      "ctml::batch_size<B>, ctml::epochs<E>, ctml::seed<S>, ctml::scalar<T> or "
                      "ctml::width_flag<Layer, \"flag\", Default>");
    } else if constexpr (!width_flags_fit<Net, Options...>()) {
        static_assert(dependent_false<Net>,
                      "ctml::run_config: ctml::width_flag<Layer, ...> must name a layer whose "
                      "width is declared ctml::dynamic");
    } else if constexpr (Loss::fuses_softmax &&
                         !std::is_same_v<typename Net::output_activation, softmax>) {
        static_assert(dependent_false<Loss>,
                      "ctml: a cross-entropy loss needs softmax in the last layer: end the network "
                      "with ctml::dense<classes, ctml::softmax>");
    }
    return true;
}

// "learning_rate" -> "learning-rate": a hyperparameter's flag.
inline std::string flag_spelling(std::string_view name) {
    std::string s(name);
    for (char& c : s) {
        c = c == '_' ? '-' : c;
    }
    return s;
}

inline std::string number_text(double v) {
    char buf[40];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, r.ptr);
}

// Whether this translation unit can run a device. The answer differs between a .cu file built
// by nvcc and a .cpp file, so each kind gets a namespace of its own (no ODR clash when a program
// links both).
#if CTML_WITH_CUDA && defined(__CUDACC__)
inline namespace device_check_cuda {
inline void require_device(device d, const std::string& source) {
    if (d != device::cuda) {
        return;
    }
    int count = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess || count == 0) {
        throw config_error(source + " cuda: no usable CUDA device on this machine (" +
                           (err != cudaSuccess ? std::string(cudaGetErrorString(err))
                                               : std::string("0 devices")) +
                           "); use cpu");
    }
}
} // namespace device_check_cuda
#else
inline namespace device_check_host {
inline void require_device(device d, const std::string& source) {
    if (d == device::cuda) {
        throw config_error(source +
                           " cuda: this program was built without CUDA (build it as CUDA code "
                           "with nvcc and CTML_WITH_CUDA=1, linking ctml::cuda); use cpu");
    }
}
} // namespace device_check_host
#endif

template <class Arch>
constexpr bool has_parameter_free_layer() {
    for (const bool p : Arch::parametric) {
        if (!p) {
            return true;
        }
    }
    return false;
}
} // namespace detail

/// @brief The description of a training job.
/// @tparam Net       a ctml::sequential<input<N>, layers...>
/// @tparam Loss      ctml::categorical_crossentropy, sparse_categorical_crossentropy, mean_squared_error
/// @tparam Optimizer ctml::rmsprop<>, ctml::sgd<>, ctml::adam<>
/// @tparam Options   any of ctml::batch_size<B> (32), ctml::epochs<E> (1), ctml::seed<S> (0),
///                   ctml::scalar<T> (float), ctml::width_flag<Layer, "flag", Default> (one per
///                   ctml::dynamic layer: its run-time default and flag)
template <class Net, class Loss, class Optimizer, class... Options>
struct run_config {
    static_assert(detail::check_run_config<Net, Loss, Optimizer, Options...>());

private:
    // After a failed check the types below are built from stand-ins, so that the one
    // static_assert above is the only error a wrong slot produces.
    static constexpr bool valid_ = architecture<Net> && loss<Loss> && optimizer<Optimizer>;
    using net_ = std::conditional_t<architecture<Net>, Net, sequential<input<1>, dense<1>>>;
    using loss_ = std::conditional_t<valid_, Loss, mean_squared_error>;
    using optimizer_ = std::conditional_t<optimizer<Optimizer>, Optimizer, detail::no_optimizer>;
    using batch_ = typename detail::find_option<detail::is_batch_size, ctml::batch_size<32>,
                                                Options...>::type;
    using epochs_ =
        typename detail::find_option<detail::is_epochs, ctml::epochs<1>, Options...>::type;
    using seed_ = typename detail::find_option<detail::is_seed, ctml::seed<0>, Options...>::type;

public:
    using architecture_type = net_;
    using loss_type = loss_;
    using optimizer_type = optimizer_;
    using scalar_type =
        typename detail::find_option<detail::is_scalar, scalar<float>, Options...>::type::type;
    using network_type = network<net_, scalar_type>;
    using settings_type = run_settings<net_, optimizer_>;

    static constexpr std::size_t batch_size = batch_::value;
    static constexpr std::size_t epochs = epochs_::value;
    static constexpr std::uint64_t seed = seed_::value;

    /// The compiled defaults as one value: the options, each ctml::width_flag's width, the
    /// optimizer's template defaults, all cores, the CPU.
    static settings_type defaults() {
        settings_type s;
        s.batch_size = batch_size;
        s.epochs = epochs;
        s.seed = seed;
        (
            [&] {
                if constexpr (detail::is_width_flag<Options>::value) {
                    s.widths.set(Options::layer, Options::value);
                }
            }(),
            ...);
        return s;
    }

    /// A network with s's widths, initialized from s.seed.
    static network_type make_network(const settings_type& s) {
        network_type net(s.widths);
        net.initialize(s.seed);
        return net;
    }

    /// The flag that sets dynamic layer `l`'s width: its ctml::width_flag's, else
    /// "layer-<l+1>-width" (then without a default: it must be given).
    static std::string width_flag_name(std::size_t l) {
        std::string name = "layer-" + std::to_string(l + 1) + "-width";
        (
            [&] {
                if constexpr (detail::is_width_flag<Options>::value) {
                    if (Options::layer == l) {
                        name = std::string(Options::flag);
                    }
                }
            }(),
            ...);
        return name;
    }

    /// Declares the job's flags on `f`, with the defaults from this configuration: batch size,
    /// epochs, seed, threads, device, one per dynamic width, one per optimizer hyperparameter
    /// ("learning_rate" as --learning-rate).
    static void declare_flags(flags& f) {
        const settings_type d = defaults();
        f.declare(std::string(batch_::flag), std::to_string(d.batch_size), "mini-batch size");
        f.declare(std::string(epochs_::flag), std::to_string(d.epochs),
                  "passes over the training set");
        f.declare(std::string(seed_::flag), std::to_string(d.seed),
                  "seed of the weight initialization, the shuffling and the dropout masks");
        f.declare("threads", std::to_string(d.threads),
                  "step threads (0: all cores, or what ctml::set_num_threads chose)");
        f.declare("device", std::string(device_name(d.device)),
                  "where to train: cpu, or cuda (a build with CUDA, on a machine with a GPU)");
        for (std::size_t l = 0; l < net_::layer_count; ++l) {
            if (net_::parametric[l] && net_::static_widths[l + 1] == dynamic) {
                const std::size_t w = d.widths[l];
                f.declare(width_flag_name(l), w == dynamic ? std::string() : std::to_string(w),
                          "output width of layer " + std::to_string(l + 1) + " (dense)");
            }
        }
        d.optimizer.visit_hyperparameters([&](std::string_view k, double v) {
            f.declare(detail::flag_spelling(k), detail::number_text(v),
                      std::string(optimizer_::name) + " " + std::string(k));
        });
    }

    /// The settings the parsed flags `f` ask for (declared with declare_flags). Every value is
    /// checked here, before the trainer reads any data: each error is a config_error naming the
    /// flag (a width past CTML_MAX_WIDTH, a network past CTML_MAX_PARAMETERS, a hyperparameter
    /// out of range, --device cuda where this program cannot use CUDA).
    static settings_type settings_from(const flags& f) {
        settings_type s = defaults();
        s.batch_size = f.positive(std::string(batch_::flag));
        if (s.batch_size > max_batch_size) {
            throw config_error("flag --" + std::string(batch_::flag) + ": " +
                               std::to_string(s.batch_size) + " is above the largest batch size " +
                               std::to_string(max_batch_size));
        }
        s.epochs = f.positive(std::string(epochs_::flag));
        s.seed = f.unsigned_integer(std::string(seed_::flag));
        s.threads = f.unsigned_integer("threads");
        if (s.threads > max_threads) {
            throw config_error("flag --threads: " + std::to_string(s.threads) +
                               " is above the largest thread count " +
                               std::to_string(max_threads));
        }
        const std::string dev = f.str("device");
        const auto d = parse_device(dev);
        if (!d) {
            throw config_error("flag --device: expected cpu or cuda, got '" + dev + "'");
        }
        s.device = *d;
        for (std::size_t l = 0; l < net_::layer_count; ++l) {
            if (net_::parametric[l] && net_::static_widths[l + 1] == dynamic) {
                const std::string name = width_flag_name(l);
                s.widths.set(l, f.positive(name), "--" + name);
            }
        }
        (void)s.widths.layout(); // the parameter count, naming the width flags
        std::vector<std::string> keys;
        s.optimizer.visit_hyperparameters(
            [&](std::string_view k, double) { keys.emplace_back(k); });
        for (const auto& k : keys) {
            const std::string name = detail::flag_spelling(k);
            try {
                s.optimizer.set(k, f.real(name));
            } catch (const config_error& e) {
                throw config_error("flag --" + name + ": " + e.what());
            }
        }
        require_device(s.device, "--device");
        return s;
    }

    /// Throws a config_error naming `source` (a flag, a JSON field) unless this program can
    /// train on `d`: CUDA needs a build with CUDA, a GPU, and a network the CUDA engine supports.
    static void require_device(device d, const std::string& source) {
        if (d == device::cuda && detail::has_parameter_free_layer<net_>()) {
            throw config_error(source +
                               " cuda: the CUDA engine does not support ctml::dropout; use cpu");
        }
        detail::require_device(d, source);
    }

    /// The job as one JSON object into `w`: architecture (with run-time widths), loss,
    /// optimizer and its hyperparameters, batch size, epochs, seed, threads, device, scalar.
    static void write_json(io::json_writer& w, const settings_type& s) {
        w.begin_object();
        w.key("architecture");
        write_architecture<net_, scalar_type>(w, s.widths);
        w.field("loss", loss_::name);
        w.key("optimizer").begin_object();
        w.field("name", optimizer_::name);
        s.optimizer.visit_hyperparameters([&](std::string_view k, double v) { w.field(k, v); });
        w.end_object();
        w.field("batch_size", s.batch_size);
        w.field("epochs", s.epochs);
        w.field("seed", s.seed);
        w.field("threads", s.threads);
        w.field("device", device_name(s.device));
        w.field("scalar", scalar_name());
        w.end_object();
    }

    /// The job as a JSON document: what job.json and model.json store.
    static std::string to_json(const settings_type& s,
                               io::json_style style = io::json_style::pretty) {
        io::json_writer w(style);
        write_json(w, s);
        return w.take();
    }

    /// Reads what write_json wrote. Every field is required and checked: a field of the wrong
    /// type, out of range, naming another loss, optimizer, architecture or scalar, or unknown is
    /// a ctml::format_error "<source>: field "<path>": ...". Reading checks no device: a job may
    /// be read where it will not run.
    static settings_type read_json(const io::json_object& o) {
        o.expect_only({"architecture", "loss", "optimizer", "batch_size", "epochs", "seed",
                       "threads", "device", "scalar"});
        settings_type s = defaults();
        s.widths = read_architecture<net_>(o.get_object("architecture"), "");
        expect_name(o, "loss", loss_::name);
        const auto opt = o.get_object("optimizer");
        expect_name(opt, "name", optimizer_::name);
        std::vector<std::string> keys;
        s.optimizer.visit_hyperparameters(
            [&](std::string_view k, double) { keys.emplace_back(k); });
        for (const auto& k : opt.keys()) {
            if (k != "name" && std::find(keys.begin(), keys.end(), k) == keys.end()) {
                opt.at(k).fail("unknown hyperparameter of " + std::string(optimizer_::name));
            }
        }
        for (const auto& k : keys) {
            const auto v = opt.at(k);
            try {
                s.optimizer.set(k, v.as_double());
            } catch (const config_error& e) {
                v.fail(e.what());
            }
        }
        s.batch_size = o.get_uint("batch_size", 1, max_batch_size);
        s.epochs = o.get_uint("epochs", 1);
        s.seed = o.get_uint("seed");
        s.threads = o.get_uint("threads", 0, max_threads);
        const auto dev = o.at("device");
        const auto d = parse_device(dev.as_string());
        if (!d) {
            dev.fail("expected \"cpu\" or \"cuda\", got \"" + dev.as_string() + "\"");
        }
        s.device = *d;
        expect_name(o, "scalar", scalar_name());
        return s;
    }

    /// Parses `text` (a job's JSON; `source` names it in errors) with read_json.
    static settings_type from_json(std::string_view text, std::string source = "job") {
        const auto doc = io::parse_json(text, std::move(source));
        return read_json(doc.root().as_object());
    }

private:
    static constexpr std::string_view scalar_name() noexcept {
        return sizeof(scalar_type) == 4 ? "float32" : "float64";
    }
    static void expect_name(const io::json_object& o, std::string_view key,
                            std::string_view expected) {
        const auto v = o.at(key);
        const std::string got = v.as_string();
        if (got != expected) {
            v.fail("is \"" + got + "\", this job has \"" + std::string(expected) + "\"");
        }
    }
};

} // namespace ctml
