// SPDX-License-Identifier: MIT
// The Chainer MNIST tutorial's trainer (chainer_mnist.py, as the notebook runs it) in C++:
// Linear(784→100) relu → Linear(100→100) relu → Linear(100→10), softmax cross-entropy, momentum SGD
// (lr 0.01, momentum 0.9), batch 128, 10 epochs. Writes <output_dir>/model.npz in Chainer's
// layout ("predictor/l1/W", ...).
//
//   chainer_mnist --data-folder data/mnist --batchsize 128 --epochs 10
//   chainer_mnist --data-folder data/mnist --evaluate outputs/model.npz
#include <ctml/ctml.hpp>
#include <ctml/run/report.hpp>
#include <ctml/train/record.hpp>

#include <cstdio>
#include <exception>
#include <filesystem>

// The last layer's softmax fuses with the cross-entropy, which is Chainer's
// F.softmax_cross_entropy on the logits; predictions are probabilities instead of logits.
using chainer_net = ctml::sequential<ctml::input<784>,
                                     ctml::linear<784, 100, ctml::relu>,
                                     ctml::linear<100, 100, ctml::relu>,
                                     ctml::linear<100, 10, ctml::softmax>>;

// The script's default batch size is 100; the tutorial passes 128.
using chainer_job = ctml::run_config<chainer_net, ctml::sparse_categorical_crossentropy,
                                     ctml::momentum_sgd, // lr 0.01, momentum 0.9
                                     ctml::batch_size<128, "batchsize">, ctml::epochs<10>>;

int main(int argc, char** argv) try {
    ctml::flags f("chainer_mnist");
    chainer_job::declare_flags(f); // --batchsize, --epochs, --seed, --threads, --device, ...
    f.declare("data-folder", "data", "folder searched (recursively) for the four MNIST IDX files")
        .declare("output_dir", "outputs", "model.npz is written here")
        .declare("gpu_id", "-1", "accepted for compatibility; --device chooses the device")
        .declare("evaluate", "", "load this model.npz, print its test accuracy, and exit");
    if (!f.parse(argc, argv)) {
        std::fputs(f.usage().c_str(), stdout);
        return 0;
    }
    const auto settings = chainer_job::settings_from(f);
    const auto data = ctml::load_mnist(f.str("data-folder"));

    if (f.given("evaluate")) {
        const auto net = ctml::load_chainer_npz<chainer_net>(f.str("evaluate"));
        const auto e = ctml::evaluate(net, ctml::sparse_categorical_crossentropy{}, data.test);
        std::printf("Model %s\nTest loss: %.4f\nTest accuracy: %.4f\n", f.str("evaluate").c_str(),
                    e.loss, e.accuracy);
        return 0;
    }

    std::printf("Batch size: %zu\nEpochs: %zu\n", settings.batch_size, settings.epochs);
    auto& run = ctml::run::get_context("chainer-mnist");
    ctml::record_job<chainer_job>(run, f, settings); // flags as parameters, job JSON, threads
    const ctml::run::chainer_report report(run, static_cast<std::int64_t>(settings.batch_size),
                                           static_cast<std::int64_t>(settings.epochs));
    auto net = chainer_job::make_network(settings);
    ctml::trainer<chainer_job> trainer(net, settings);
    trainer.fit(data.train, {.validation = &data.test,
                             .callbacks = {ctml::keras_progress(),
                                           report.on_epoch<ctml::callback_action>()}});
    const auto final_eval = trainer.evaluate(data.test);
    std::printf("Final test loss: %.4f\nFinal test accuracy: %.4f\n", final_eval.loss,
                final_eval.accuracy);

    const std::filesystem::path out = f.str("output_dir");
    std::filesystem::create_directories(out);
    ctml::save_chainer_npz(net, out / "model.npz");
    std::printf("Model written to %s\n", (out / "model.npz").c_str());
    run.upload_file(out / "model.npz", "outputs/model.npz");
    return 0;
} catch (const ctml::error& e) {
    std::fprintf(stderr, "chainer_mnist: error: %s\n", e.what());
    return e.exit_status();
} catch (const std::exception& e) {
    std::fprintf(stderr, "chainer_mnist: error: %s\n", e.what());
    return 1;
}
