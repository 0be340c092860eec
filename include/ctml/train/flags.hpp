// SPDX-License-Identifier: MIT
// Command-line flags for trainers, in the reference scripts' spelling: `--name value` or
// `--name=value`. Every error names the flag and what was expected.
#pragma once
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "ctml/core/error.hpp"

namespace ctml {

/// @brief A set of declared flags and their parsed values.
class flags {
public:
    /// @param program  the program name, for --help
    explicit flags(std::string program) : program_(std::move(program)) {}

    /// Declares a flag with a default value ("" for none: the flag is then required by the
    /// typed getters) and a help line. Declaring a name twice is an error.
    flags& declare(std::string name, std::string default_value, std::string help) {
        if (decl_.count(name) != 0) {
            throw config_error("flag --" + name + " is declared twice");
        }
        order_.push_back(name);
        decl_[std::move(name)] = entry{std::move(default_value), std::move(help), false, {}};
        return *this;
    }

    /// Parses argv. Returns false when --help was asked (usage() has the text).
    bool parse(int argc, const char* const* argv) {
        for (int i = 1; i < argc; ++i) {
            std::string_view a = argv[i];
            if (a == "--help" || a == "-h") {
                return false;
            }
            if (a.substr(0, 2) != "--") {
                throw config_error("unexpected argument '" + std::string(a) +
                                   "': flags are written --name value\n" + usage());
            }
            std::string name(a.substr(2));
            std::optional<std::string> value;
            if (const auto eq = name.find('='); eq != std::string::npos) {
                value = name.substr(eq + 1);
                name.resize(eq);
            }
            const auto it = decl_.find(name);
            if (it == decl_.end()) {
                throw config_error("unknown flag --" + name + "\n" + usage());
            }
            if (!value) {
                if (i + 1 >= argc) {
                    throw config_error("flag --" + name + " needs a value");
                }
                value = argv[++i];
            }
            it->second.value = *value;
            it->second.given = true;
        }
        return true;
    }

    /// True when the flag was on the command line (not just defaulted).
    bool given(const std::string& name) const { return find(name).given; }
    /// True when the flag was declared.
    bool declared(const std::string& name) const { return decl_.count(name) != 0; }

    std::string str(const std::string& name) const {
        const entry& e = find(name);
        return e.given ? e.value : e.default_value;
    }

    /// A positive integer (> 0), or an error naming the flag.
    std::size_t positive(const std::string& name) const {
        const std::string s = required(name, "a positive integer");
        std::size_t v = 0;
        const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
        if (r.ec != std::errc{} || r.ptr != s.data() + s.size() || v == 0) {
            throw config_error("flag --" + name + ": expected a positive integer, got '" + s + "'");
        }
        return v;
    }

    /// An unsigned integer (>= 0), or an error naming the flag.
    std::uint64_t unsigned_integer(const std::string& name) const {
        const std::string s = required(name, "an unsigned integer");
        std::uint64_t v = 0;
        const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
        if (r.ec != std::errc{} || r.ptr != s.data() + s.size()) {
            throw config_error("flag --" + name + ": expected an unsigned integer, got '" + s +
                               "'");
        }
        return v;
    }

    /// A finite number > 0, or an error naming the flag.
    double positive_real(const std::string& name) const {
        const std::string s = required(name, "a positive number");
        char* end = nullptr;
        const double v = std::strtod(s.c_str(), &end);
        if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v) || v <= 0) {
            throw config_error("flag --" + name + ": expected a positive number, got '" + s + "'");
        }
        return v;
    }

    /// Any finite number, or an error naming the flag.
    double real(const std::string& name) const {
        const std::string s = required(name, "a number");
        char* end = nullptr;
        const double v = std::strtod(s.c_str(), &end);
        if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v)) {
            throw config_error("flag --" + name + ": expected a number, got '" + s + "'");
        }
        return v;
    }

    /// Calls f(name, value) for every declared flag in declaration order, with its value or
    /// default (what a trainer records as its run's parameters).
    template <class F>
    void visit(F&& f) const {
        for (const auto& n : order_) {
            f(std::string_view(n), str(n));
        }
    }

    std::string usage() const {
        std::string u = "usage: " + program_ + " [flags]\n";
        for (const auto& n : order_) {
            const entry& e = decl_.at(n);
            u += "  --" + n + (e.default_value.empty() ? "" : " (default " + e.default_value + ")") +
                 "\n      " + e.help + "\n";
        }
        return u;
    }

private:
    // The flag's text; a flag without a default that was not given is an error naming it.
    std::string required(const std::string& name, const char* expected) const {
        const entry& e = find(name);
        if (!e.given && e.default_value.empty()) {
            throw config_error("flag --" + name + " is required (" + expected + ")");
        }
        return str(name);
    }

    struct entry {
        std::string default_value;
        std::string help;
        bool given = false;
        std::string value;
    };
    const entry& find(const std::string& name) const {
        const auto it = decl_.find(name);
        if (it == decl_.end()) {
            throw config_error("flag --" + name + " was never declared");
        }
        return it->second;
    }

    std::string program_;
    std::vector<std::string> order_;
    std::map<std::string, entry> decl_;
};

} // namespace ctml
