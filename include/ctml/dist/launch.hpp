// SPDX-License-Identifier: MIT
// MPI for a trainer that runs alone or under a launcher (link ctml::dist). Started by hand, or by
// `mpirun -n 1`, it stays free of MPI: a singleton MPI_Init would start OpenMPI's runtime (a
// daemon with listeners on every address) for nothing. Started among 2+ processes by mpirun or
// `srun --mpi=pmix`, it initializes MPI and gives the world communicator.
//
//     ctml::dist::mpi_launch mpi(argc, argv);
//     if (mpi.distributed()) { ... data_parallel_engine(engine, mpi.comm()) ... }
#pragma once
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>

#include "ctml/core/error.hpp"
#include "ctml/dist/mpi.hpp"

namespace ctml::dist {

/// @brief How many processes a launcher started this one among, read from the environment
/// before MPI is initialized: OMPI_COMM_WORLD_SIZE (OpenMPI's mpirun), PMI_SIZE (MPICH's Hydra,
/// PMI-1/2 launchers), SLURM_STEP_NUM_TASKS beside PMIX_RANK (`srun --mpi=pmix`); 1 when none.
inline int launched_processes() noexcept {
    const auto read = [](const char* name) -> int {
        const char* v = std::getenv(name);
        if (v == nullptr || *v == '\0') {
            return 0;
        }
        char* end = nullptr;
        const long n = std::strtol(v, &end, 10);
        return (*end == '\0' && n > 0 && n < (1L << 30)) ? static_cast<int>(n) : 0;
    };
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
        if (const int n = read(name); n > 0) {
            return n;
        }
    }
    if (std::getenv("PMIX_RANK") != nullptr) {
        if (const int n = read("SLURM_STEP_NUM_TASKS"); n > 0) {
            return n;
        }
    }
    return 1;
}

/// @brief MPI_Init and the world communicator when launched_processes() > 1, MPI_Finalize at
/// the end; nothing otherwise (rank 0 of 1). A rank that leaves by an exception skips
/// MPI_Finalize: the others, waiting for it in an all-reduce, would never join that collective;
/// the launcher sees a rank exit without finalizing and ends the whole job.
class mpi_launch {
public:
    mpi_launch(int& argc, char**& argv) {
        if (launched_processes() <= 1) {
            return;
        }
        int done = 0;
        MPI_Initialized(&done);
        if (done == 0) {
            detail::check_mpi(MPI_Init(&argc, &argv), "MPI_Init");
            owner_ = true;
        }
        comm_.emplace();
    }
    mpi_launch(const mpi_launch&) = delete;
    mpi_launch& operator=(const mpi_launch&) = delete;
    ~mpi_launch() {
        if (owner_ && std::uncaught_exceptions() == 0) {
            MPI_Finalize();
        }
    }

    int rank() const noexcept { return comm_ ? comm_->rank() : 0; }
    int size() const noexcept { return comm_ ? comm_->size() : 1; }
    /// Whether this process is one of 2+ ranks (then train data-parallel over comm()).
    bool distributed() const noexcept { return size() > 1; }
    /// For a trainer, before anything reports or prints: on a rank other than 0, turns off
    /// ctml's run context (CTML_TRACKING=off, so get_context creates and finds no run) and sends
    /// stdout to /dev/null (rank 0 prints the same epoch lines). Returns whether this is rank 0.
    /// The caller writes files only on rank 0.
    bool quiet_unless_rank0() {
        if (rank() == 0) {
            return true;
        }
        if (::setenv("CTML_TRACKING", "off", 1) != 0 ||
            std::freopen("/dev/null", "w", stdout) == nullptr) {
            throw error("mpi_launch: rank " + std::to_string(rank()) +
                        " could not turn off its run context and its output");
        }
        return false;
    }
    /// The world communicator; a config_error when MPI was not started (not distributed()).
    mpi_communicator& comm() {
        if (!comm_) {
            throw config_error("mpi_launch::comm: this process was not launched among several "
                               "MPI ranks (mpirun -n N, srun --mpi=pmix)");
        }
        return *comm_;
    }

private:
    bool owner_ = false;
    std::optional<mpi_communicator> comm_;
};

} // namespace ctml::dist
