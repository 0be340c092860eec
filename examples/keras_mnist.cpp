// SPDX-License-Identifier: MIT
// The Keras MNIST tutorial's trainer (keras_mnist.py) in C++: 784 → h1 relu → h2 relu → 10
// softmax, categorical cross-entropy, RMSprop, 20 epochs, the test set as validation data.
// Writes outputs/model/model.json and outputs/model/weights.npz, and reports into its run as the
// tutorial's script does (Loss and Accuracy per epoch, the final test figures, the chart "Accuracy
// vs Loss", the model in the run's outputs/model): the run it was submitted as, or else an
// offline run in the workspace found from the current folder (ctml run show RUN).
//
//   keras_mnist --data-folder data/mnist --first-layer-neurons 300 --second-layer-neurons 100
//   keras_mnist --data-folder data/mnist --evaluate outputs/model      # test accuracy of a saved model
// Built with ctml::dist (CTML_WITH_MPI) and started by `mpirun -n N` (N > 1), it trains
// data-parallel: each rank a share of every batch, gradients averaged by MPI all-reduce; only
// rank 0 reports into the run and writes the model.
#include <ctml/ctml.hpp>
#include <ctml/run/chart.hpp>
#include <ctml/run/report.hpp>
#include <ctml/train/record.hpp>
#if CTML_WITH_MPI // linked with ctml::dist: data-parallel when mpirun starts 2+ ranks
#include <ctml/dist/data_parallel_engine.hpp>
#include <ctml/dist/launch.hpp>
#endif

#include <cstdio>
#include <exception>
#include <filesystem>

// Hidden widths are flags in the reference script, so they are ctml::dynamic here; their
// defaults and flag names are the width_flag options below.
using keras_net = ctml::sequential<ctml::input<784>,
                                   ctml::dense<ctml::dynamic, ctml::relu>,
                                   ctml::dense<ctml::dynamic, ctml::relu>,
                                   ctml::dense<10, ctml::softmax>>;

using keras_job = ctml::run_config<keras_net, ctml::categorical_crossentropy,
                                   ctml::rmsprop<>, // Keras defaults: lr 0.001, rho 0.9, eps 1e-7
                                   ctml::batch_size<50>, ctml::epochs<20>,
                                   ctml::width_flag<0, "first-layer-neurons", 100>,
                                   ctml::width_flag<1, "second-layer-neurons", 100>>;

int main(int argc, char** argv) try {
#if CTML_WITH_MPI
    ctml::dist::mpi_launch mpi(argc, argv); // no MPI unless mpirun starts 2+ ranks
    const bool rank0 = mpi.quiet_unless_rank0(); // the others: no run, no output, no files
#else
    const bool rank0 = true;
#endif
    ctml::flags f("keras_mnist");
    keras_job::declare_flags(f); // --batch-size, --epochs, --learning-rate, --device, ...
    f.declare("data-folder", "data", "folder searched (recursively) for the four MNIST IDX files")
        .declare("output-dir", "outputs", "the model goes to <output-dir>/model/")
        .declare("evaluate", "", "load the model in this folder, print its test accuracy, and exit")
        .declare("save-predictions", "", "with --evaluate: write the test set's class probabilities "
                                         "(10000 × 10 float32) to this .npy file");
    if (!f.parse(argc, argv)) {
        std::fputs(f.usage().c_str(), stdout);
        return 0;
    }
    const auto settings = keras_job::settings_from(f); // every flag checked before data is read
    const auto data = ctml::load_mnist(f.str("data-folder"));
    std::printf("MNIST: %zu training and %zu test images of %zu pixels\n", data.train.size(),
                data.test.size(), data.train.dim);

    if (f.given("evaluate")) {
        const auto net = ctml::load_model<keras_net>(f.str("evaluate"));
        const auto e = ctml::evaluate(net, ctml::categorical_crossentropy{}, data.test);
        std::printf("Model %s\nTest loss: %.4f\nTest accuracy: %.4f\n", f.str("evaluate").c_str(),
                    e.loss, e.accuracy);
        if (rank0 && f.given("save-predictions")) {
            const auto p = ctml::predict(net, data.test);
            ctml::io::write_file_atomic(f.str("save-predictions"),
                                        ctml::io::encode_npy<float>(
                                            {data.test.size(), net.output_width()}, p.data()));
            std::printf("Predictions written to %s\n", f.str("save-predictions").c_str());
        }
        return 0;
    }

    auto net = keras_job::make_network(settings);
    std::printf("Network: %s, %zu parameters; RMSprop lr %g; batch %zu; %zu epochs; device %s\n",
                net.layout().to_string().c_str(), net.parameter_count(),
                settings.optimizer.learning_rate, settings.batch_size, settings.epochs,
                ctml::device_name(settings.device).data());
    auto& run = ctml::run::get_context("keras-mnist");
    ctml::record_job<keras_job>(run, f, settings); // flags as parameters, job JSON, threads
    ctml::run::keras_report report(run, ctml::run::accuracy_vs_loss_image{});
    ctml::trainer<keras_job> trainer(net, settings);
    const ctml::fit_options<> options{
        .validation = &data.test,
        .callbacks = {ctml::keras_progress(), report.on_epoch<ctml::callback_action>()}};
#if CTML_WITH_MPI
    if (mpi.distributed()) { // each rank trains its share of every global batch
        std::printf("Data-parallel: %d ranks share every batch\n", mpi.size());
        ctml::dist::data_parallel_engine dp(trainer.cpu(), mpi.comm()); // the CPU engine only
        ctml::fit_engine(dp, net.parameters(), settings.epochs, settings.seed, data.train, options);
    } else
#endif
        trainer.fit(data.train, options);
    const auto final_eval = trainer.evaluate(data.test);
    std::printf("Final test loss: %.4f\nFinal test accuracy: %.4f\n", final_eval.loss,
                final_eval.accuracy);
    if (!rank0) {
        return 0; // rank 0 writes the model and the run's report
    }

    const auto model_dir = std::filesystem::path(f.str("output-dir")) / "model";
    ctml::save_model(net, model_dir,
                     [&](ctml::io::json_writer& w) { keras_job::write_json(w, settings); });
    std::printf("Model written to %s (model.json, weights.npz)\n", model_dir.c_str());
    for (const char* file : {"model.json", "weights.npz"}) {
        run.upload_file(model_dir / file, std::string("outputs/model/") + file);
    }
    report.finish(final_eval); // Final test loss / accuracy and the chart
    return 0;
} catch (const ctml::error& e) {
    std::fprintf(stderr, "keras_mnist: error: %s\n", e.what());
    return e.exit_status();
} catch (const std::exception& e) {
    std::fprintf(stderr, "keras_mnist: error: %s\n", e.what());
    return 1;
}
