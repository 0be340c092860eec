// SPDX-License-Identifier: MIT
// ctml-supervise CONFIG_JSON RUN_ID: the supervisor of one submitted run (see
// ctml/compute/detail/supervisor.hpp). Started by ctml::compute::experiment::submit, detached
// from the submitter; carries the run through Preparing, Running and Finalizing to its end.
#include <ctml/compute/detail/supervisor.hpp>

int main(int argc, char** argv) { return ctml::compute::detail::supervisor_main(argc, argv); }
