// SPDX-License-Identifier: MIT
// Data-parallel training check (tests/dist/test_data_parallel.sh): the Keras network
// (784-300-100-10, RMSprop) for N steps of a global batch of 50 on real MNIST.
//   dp_trainer MNIST_DIR OUT.f32 [--steps N] [--reference]
// --reference: one process, no MPI, the engine's ordinary train_batch over each whole batch.
// Otherwise (under mpirun): each rank takes its share of every global batch, gradients summed
// with weights n_r/N by MPI all-reduce, then the optimizer step (ctml::dist). Rank 0 writes the
// final parameters (float32, layout order) to OUT.f32 and prints the time per step.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <ctml/ctml.hpp>
#include <ctml/dist/data_parallel.hpp>
#include <ctml/dist/mpi.hpp>
#include <ctml/engine/cpu.hpp>

using net_type = ctml::sequential<ctml::input<784>, ctml::dense<300, ctml::relu>,
                                  ctml::dense<100, ctml::relu>, ctml::dense<10, ctml::softmax>>;
using job = ctml::run_config<net_type, ctml::categorical_crossentropy, ctml::rmsprop<>,
                             ctml::batch_size<50>, ctml::seed<7>>;

int main(int argc, char** argv) try {
    if (argc < 3) {
        std::fprintf(stderr, "usage: dp_trainer MNIST_DIR OUT.f32 [--steps N] [--reference]\n");
        return 2;
    }
    std::size_t steps = 100;
    bool reference = false;
    for (int i = 3; i < argc; ++i) {
        if (std::strcmp(argv[i], "--reference") == 0) {
            reference = true;
        } else if (std::strcmp(argv[i], "--steps") == 0 && i + 1 < argc) {
            steps = std::stoul(argv[++i]);
        }
    }
    std::optional<ctml::dist::mpi_session> session;
    std::optional<ctml::dist::mpi_communicator> comm;
    if (!reference) {
        session.emplace(argc, argv);
        comm.emplace();
    }
    const int rank = comm ? comm->rank() : 0;
    const int size = comm ? comm->size() : 1;
    const auto data = ctml::load_mnist(argv[1]);
    auto s = job::defaults();
    s.threads = 1;
    const std::size_t global = s.batch_size;
    auto net = job::make_network(s);
    ctml::cpu_engine<job> engine(net, s);
    if (comm) {
        comm->broadcast(net.parameters(), 0); // the same start on every rank
    }
    std::vector<std::int32_t> labels(global);
    std::vector<std::size_t> rows(global);
    const std::size_t batches = data.train.size() / global;
    double loss_sum = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t k = 0; k < steps; ++k) {
        const std::size_t base = (k % batches) * global;
        const ctml::dist::share sh =
            reference ? ctml::dist::share{0, global} : ctml::dist::share_of(global, rank, size);
        for (std::size_t i = 0; i < sh.size(); ++i) {
            rows[i] = base + sh.begin + i;
            labels[i] = data.train.labels[rows[i]];
        }
        data.train.gather_features(std::span<const std::size_t>(rows.data(), sh.size()),
                                   engine.input());
        ctml::target_view<float> t;
        t.labels = labels.data();
        if (reference) {
            loss_sum += engine.train_batch(t, global).loss_sum;
        } else {
            loss_sum += ctml::dist::data_parallel_step(engine, *comm, t, sh.size(), global).loss_sum;
        }
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (comm) {
        loss_sum = comm->sum(loss_sum);
    }
    if (rank == 0) {
        const auto p = net.parameters();
        ctml::io::write_file_atomic(
            argv[2], std::string_view(reinterpret_cast<const char*>(p.data()), p.size() * sizeof(float)));
        std::printf("%s: %d process(es), %zu steps of a global batch of %zu in %.3f s "
                    "(%.3f ms/step); mean loss %.5f\n",
                    reference ? "reference" : "data-parallel", size, steps, global, seconds,
                    1000.0 * seconds / static_cast<double>(steps),
                    loss_sum / static_cast<double>(steps * global));
    }
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "dp_trainer: %s\n", e.what());
    return 1;
}
