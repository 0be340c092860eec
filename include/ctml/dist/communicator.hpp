// SPDX-License-Identifier: MIT
// The communicator a data-parallel trainer averages its gradients with: a rank among size
// processes, an all-reduce over a span of floats (sum, or the mean), a broadcast, a barrier.
// ctml::dist::mpi_communicator (ctml/dist/mpi.hpp, component ctml::dist) serves it with MPI on
// the CPU; a CUDA engine can serve the same concept with NCCL over device buffers.
// self_communicator is the one-process case (every reduction is the identity).
#pragma once
#include <concepts>
#include <cstddef>
#include <span>

namespace ctml::dist {

/// @brief What a data-parallel loop needs of its process group.
template <class C>
concept communicator = requires(C& c, const C& cc, std::span<float> f, int root) {
    { cc.rank() } -> std::convertible_to<int>;
    { cc.size() } -> std::convertible_to<int>;
    c.all_reduce_sum(f);  ///< every rank ends with the element-wise sum over ranks
    c.all_reduce_mean(f); ///< ... with the element-wise mean over ranks
    c.broadcast(f, root); ///< every rank ends with root's values
    c.barrier();
};

/// @brief One process: rank 0 of 1.
class self_communicator {
public:
    int rank() const noexcept { return 0; }
    int size() const noexcept { return 1; }
    void all_reduce_sum(std::span<float>) noexcept {}
    void all_reduce_mean(std::span<float>) noexcept {}
    void broadcast(std::span<float>, int) noexcept {}
    void barrier() noexcept {}
};
static_assert(communicator<self_communicator>);

/// @brief The rows [begin, end) of a global batch of `rows` that rank `rank` of `size` takes:
/// contiguous shares whose sizes differ by at most one.
struct share {
    std::size_t begin = 0;
    std::size_t end = 0;
    std::size_t size() const noexcept { return end - begin; }
};
constexpr share share_of(std::size_t rows, int rank, int size) noexcept {
    const auto r = static_cast<std::size_t>(rank);
    const auto n = static_cast<std::size_t>(size);
    return {rows * r / n, rows * (r + 1) / n};
}

} // namespace ctml::dist
