// SPDX-License-Identifier: MIT
// The Keras MNIST tutorial's trainer (keras_mnist.py) in C++: 784 → h1 relu → h2 relu → 10
// softmax, categorical cross-entropy, RMSprop, 20 epochs, the test set as validation data.
// Writes outputs/model/model.json and outputs/model/weights.npz.
//
//   keras_mnist --data-folder data/mnist --first-layer-neurons 300 --second-layer-neurons 100
//   keras_mnist --data-folder data/mnist --evaluate outputs/model      # test accuracy of a saved model
#include <ctml/ctml.hpp>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <numeric>
#include <vector>

// Hidden widths are flags in the reference script, so they are ctml::dynamic here.
using keras_net = ctml::sequential<ctml::input<784>,
                                   ctml::dense<ctml::dynamic, ctml::relu>,
                                   ctml::dense<ctml::dynamic, ctml::relu>,
                                   ctml::dense<10, ctml::softmax>>;

using keras_job = ctml::run_config<keras_net, ctml::categorical_crossentropy,
                                   ctml::rmsprop<>, // Keras defaults: lr 0.001, rho 0.9, eps 1e-7
                                   ctml::batch_size<50>, ctml::epochs<20>>;

int main(int argc, char** argv) try {
    ctml::flags f("keras_mnist");
    f.declare("data-folder", "data", "folder searched (recursively) for the four MNIST IDX files")
        .declare("batch-size", "50", "mini-batch size")
        .declare("first-layer-neurons", "100", "width of the first hidden layer (the tutorial passes 300)")
        .declare("second-layer-neurons", "100", "width of the second hidden layer")
        .declare("learning-rate", "0.001", "RMSprop learning rate")
        .declare("epochs", "20", "passes over the training set")
        .declare("output-dir", "outputs", "the model goes to <output-dir>/model/")
        .declare("seed", "0", "seed of the weight initialization and the shuffling")
        .declare("threads", "0", "threads for the kernels (0: all cores)")
        .declare("evaluate", "", "load the model in this folder, print its test accuracy, and exit")
        .declare("save-predictions", "", "with --evaluate: write the test set's class probabilities "
                                         "(10000 × 10 float32) to this .npy file");
    if (!f.parse(argc, argv)) {
        std::fputs(f.usage().c_str(), stdout);
        return 0;
    }
    ctml::set_num_threads(f.unsigned_integer("threads"));

    auto settings = keras_job::defaults();
    settings.batch_size = f.positive("batch-size");
    settings.epochs = f.positive("epochs");
    settings.seed = f.unsigned_integer("seed");
    settings.optimizer.set("learning_rate", f.positive_real("learning-rate"));

    // Every flag is checked before the data is read: a typo fails at once.
    ctml::layer_widths<keras_net> widths;
    widths.set(0, f.positive("first-layer-neurons"), "--first-layer-neurons")
        .set(1, f.positive("second-layer-neurons"), "--second-layer-neurons");

    const auto data = ctml::load_mnist(f.str("data-folder"));
    std::printf("MNIST: %zu training and %zu test images of %zu pixels\n", data.train.size(),
                data.test.size(), data.train.dim);

    if (f.given("evaluate")) {
        auto net = ctml::load_model<keras_net>(f.str("evaluate"));
        keras_job::trainer_type t(net, settings.batch_size, settings.optimizer);
        const auto e = t.evaluate(data.test);
        std::printf("Model %s\nTest loss: %.4f\nTest accuracy: %.4f\n", f.str("evaluate").c_str(),
                    e.loss, e.accuracy);
        if (f.given("save-predictions")) {
            std::vector<float> x(data.test.size() * data.test.dim);
            std::vector<std::size_t> rows(data.test.size());
            std::iota(rows.begin(), rows.end(), std::size_t{0});
            data.test.gather_features<float>(rows, x.data());
            std::vector<float> probabilities(data.test.size() * net.output_width());
            net.predict(x, data.test.size(), probabilities);
            ctml::io::write_file_atomic(
                f.str("save-predictions"),
                ctml::io::encode_npy<float>({data.test.size(), net.output_width()},
                                            probabilities.data()));
            std::printf("Predictions written to %s\n", f.str("save-predictions").c_str());
        }
        return 0;
    }

    keras_job::network_type net(widths);
    net.initialize(settings.seed);
    std::printf("Network: 784-%zu-%zu-10, %zu parameters; RMSprop lr %g; batch %zu; %zu epochs; "
                "%zu threads\n",
                net.width(1), net.width(2), net.parameter_count(),
                settings.optimizer.learning_rate, settings.batch_size, settings.epochs,
                ctml::num_threads());

    keras_job::trainer_type trainer(net, settings.batch_size, settings.optimizer);
    ctml::fit_options<float> options;
    options.epochs = settings.epochs;
    options.seed = settings.seed;
    options.callbacks.push_back(ctml::keras_progress()); // Keras' verbose=2 lines
    trainer.fit(data.train, options, &data.test);

    const auto final_eval = trainer.evaluate(data.test);
    std::printf("Final test loss: %.4f\nFinal test accuracy: %.4f\n", final_eval.loss,
                final_eval.accuracy);

    const std::filesystem::path model_dir = std::filesystem::path(f.str("output-dir")) / "model";
    ctml::save_model(net, model_dir,
                    [&](ctml::io::json_writer& w) { keras_job::write_json(w, net, settings); });
    std::printf("Model written to %s (model.json, weights.npz)\n", model_dir.c_str());
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "keras_mnist: error: %s\n", e.what());
    return 1;
}
