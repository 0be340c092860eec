// SPDX-License-Identifier: MIT
// A job for the CUDA tests, with the member types ctml::run_config provides and the engines read
// (engine/engine.hpp). The tests spell it out instead of using run_config<...> because nvcc 13's
// front end cannot yet compile run_config's options (partial specializations on a class-type
// template parameter, ctml::batch_size<N, "flag">); the engines see the same types either way.
#pragma once
#include <cstddef>

#include "ctml/nn/network.hpp"
#include "ctml/train/run_config.hpp"

namespace ctml_test {

template <class Arch, class Loss, class Optimizer, class T = float>
struct job {
    using architecture_type = Arch;
    using loss_type = Loss;
    using optimizer_type = Optimizer;
    using scalar_type = T;
    using network_type = ctml::network<Arch, T>;
    using settings_type = ctml::run_settings<Arch, Optimizer>;

    static settings_type settings(std::size_t batch_size) {
        settings_type s;
        s.batch_size = batch_size;
        return s;
    }
};

} // namespace ctml_test
