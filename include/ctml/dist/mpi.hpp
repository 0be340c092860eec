// SPDX-License-Identifier: MIT
// ctml::dist::mpi_communicator: the communicator concept over MPI (link ctml::dist, which brings
// MPI::MPI_CXX). One mpi_session per process initializes and finalizes MPI.
//
//     ctml::dist::mpi_session mpi(argc, argv);
//     ctml::dist::mpi_communicator comm;              // MPI_COMM_WORLD
//     comm.broadcast(parameters, 0);                  // same start everywhere
//     ctml::dist::data_parallel_step(engine, comm, targets, share.size(), global_batch);
#pragma once
#include <span>
#include <string>

// The C API only: the deprecated C++ bindings are not needed (and warn under -Wcast-function-type).
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include "ctml/core/error.hpp"
#include "ctml/dist/communicator.hpp"

namespace ctml::dist {

namespace detail {
inline void check_mpi(int rc, const char* what) {
    if (rc != MPI_SUCCESS) {
        char text[MPI_MAX_ERROR_STRING];
        int n = 0;
        MPI_Error_string(rc, text, &n);
        throw error(std::string("MPI ") + what + ": " + std::string(text, static_cast<std::size_t>(n)));
    }
}
} // namespace detail

/// @brief MPI_Init / MPI_Finalize for the lifetime of the object (nothing when MPI was already
/// initialized by someone else).
class mpi_session {
public:
    mpi_session(int& argc, char**& argv) {
        int done = 0;
        MPI_Initialized(&done);
        if (done == 0) {
            detail::check_mpi(MPI_Init(&argc, &argv), "MPI_Init");
            owner_ = true;
        }
    }
    mpi_session(const mpi_session&) = delete;
    mpi_session& operator=(const mpi_session&) = delete;
    ~mpi_session() {
        if (owner_) {
            MPI_Finalize();
        }
    }

private:
    bool owner_ = false;
};

/// @brief A communicator over an MPI communicator (MPI_COMM_WORLD by default).
class mpi_communicator {
public:
    explicit mpi_communicator(MPI_Comm comm = MPI_COMM_WORLD) : comm_(comm) {
        detail::check_mpi(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
        detail::check_mpi(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
    }
    int rank() const noexcept { return rank_; }
    int size() const noexcept { return size_; }

    void all_reduce_sum(std::span<float> v) {
        if (size_ > 1 && !v.empty()) {
            detail::check_mpi(MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()),
                                            MPI_FLOAT, MPI_SUM, comm_),
                              "MPI_Allreduce");
        }
    }
    void all_reduce_mean(std::span<float> v) {
        all_reduce_sum(v);
        if (size_ > 1) {
            const float inv = 1.0f / static_cast<float>(size_);
            for (float& x : v) {
                x *= inv;
            }
        }
    }
    void broadcast(std::span<float> v, int root) {
        if (size_ > 1 && !v.empty()) {
            detail::check_mpi(MPI_Bcast(v.data(), static_cast<int>(v.size()), MPI_FLOAT, root, comm_),
                              "MPI_Bcast");
        }
    }
    void barrier() { detail::check_mpi(MPI_Barrier(comm_), "MPI_Barrier"); }
    /// Sum of one double over ranks (losses, counts for logging).
    double sum(double x) {
        if (size_ > 1) {
            detail::check_mpi(MPI_Allreduce(MPI_IN_PLACE, &x, 1, MPI_DOUBLE, MPI_SUM, comm_),
                              "MPI_Allreduce");
        }
        return x;
    }

private:
    MPI_Comm comm_;
    int rank_ = 0;
    int size_ = 1;
};
static_assert(communicator<mpi_communicator>);

} // namespace ctml::dist
