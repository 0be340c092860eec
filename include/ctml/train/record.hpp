// SPDX-License-Identifier: MIT
// record_job: what a trainer records about its job in its run before training: every flag as a
// parameter (the tutorial's arguments, as MLflow shows them), the job's JSON as the run's job
// description (what job.json and model.json store) and the threads it trains with.
#pragma once
#include <string>
#include <string_view>

#include "ctml/core/thread_pool.hpp"
#include "ctml/engine/cpu.hpp"
#include "ctml/run/context.hpp"
#include "ctml/train/flags.hpp"

namespace ctml {

/// @brief Records the flags `f`, `Job::to_json(settings)` and the step threads into `run`.
/// An inactive run (tracking off) records nothing.
template <class Job>
void record_job(run::context& run, const flags& f, const typename Job::settings_type& settings) {
    f.visit([&](std::string_view name, const std::string& value) { run.log_param(name, value); });
    run.set_job_description(Job::to_json(settings));
    // The environment record names OpenBLAS's kernels: choose them now, as the engine would.
    kernels::cpu::select_blas_kernels();
    run.record_threads(
        static_cast<unsigned>(settings.threads != 0 ? settings.threads : thread_count()));
}

} // namespace ctml
