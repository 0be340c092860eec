// SPDX-License-Identifier: MIT
// MNIST and Fashion-MNIST: four IDX files (train/test images and labels), raw or .gz, found
// anywhere under a data folder as the reference trainers' --data-folder is searched.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

#include "ctml/core/error.hpp"
#include "ctml/data/dataset.hpp"
#include "ctml/data/find.hpp"
#include "ctml/data/idx.hpp"

namespace ctml {

/// @brief The train (60,000 rows for MNIST) and test (10,000) splits; features are the image
/// bytes (scale 1/255 gives [0, 1]), labels are the classes 0..9.
struct mnist {
    dataset<std::uint8_t> train;
    dataset<std::uint8_t> test;
};

/// Where Debian's dataset-fashion-mnist package installs the four Fashion-MNIST .gz files.
inline constexpr std::string_view debian_fashion_mnist_folder = "/usr/share/datasets/fashion-mnist";

/// @brief One split from an IDX images file (count × any image dims, a row is the product of
/// the image dims) and an IDX labels file (count), labels in [0, classes).
/// Throws ctml::data_error naming the files when the counts differ or a label is out of range,
/// and whatever read_idx throws for a malformed file.
inline dataset<std::uint8_t> load_idx_classification(const std::filesystem::path& images_path,
                                                      const std::filesystem::path& labels_path,
                                                      std::size_t classes) {
    idx_array images = read_idx(images_path);
    if (images.dims.size() < 2) {
        throw data_error(images_path.string() + ": an images file needs at least 2 dimensions " +
                         "(count and image size), this one has " +
                         std::to_string(images.dims.size()));
    }
    idx_array labels = read_idx(labels_path);
    if (labels.dims.size() != 1) {
        throw data_error(labels_path.string() + ": a labels file has 1 dimension, this one has " +
                         std::to_string(labels.dims.size()) + " (" +
                         detail::join_dims(labels.dims) + ")");
    }
    const std::size_t n = images.dims[0];
    if (labels.dims[0] != n) {
        throw data_error(images_path.string() + " holds " + std::to_string(n) + " images but " +
                         labels_path.string() + " holds " + std::to_string(labels.dims[0]) +
                         " labels");
    }

    dataset<std::uint8_t> out;
    out.dim = images.data.size() / n;
    out.scale = 1.0 / 255.0;
    out.classes = classes;
    out.labels.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint8_t y = labels.data[i];
        if (y >= classes) {
            throw data_error(labels_path.string() + ": label " + std::to_string(y) + " at index " +
                             std::to_string(i) + " is outside [0, " + std::to_string(classes) +
                             ")");
        }
        out.labels[i] = y;
    }
    out.features = std::move(images.data);
    return out;
}

/// @brief Loads MNIST from the files train-images-idx3-ubyte, train-labels-idx1-ubyte,
/// t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each raw or .gz) found anywhere under
/// `folder` (see find_data_files for which one wins when there are several).
/// Throws ctml::data_error naming a missing file and the folder searched, or the error of the
/// first malformed file.
inline mnist load_mnist(const std::filesystem::path& folder) {
    static constexpr std::string_view names[] = {
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte"};
    const auto found = find_data_files(folder, names);
    for (std::size_t i = 0; i < 4; ++i) {
        if (!found[i]) {
            throw data_error(std::string(names[i]) + " (or " + std::string(names[i]) +
                             ".gz) not found under " + folder.string() +
                             " (searched recursively)");
        }
    }
    mnist out;
    out.train = load_idx_classification(*found[0], *found[1], 10);
    out.test = load_idx_classification(*found[2], *found[3], 10);
    if (out.train.dim != out.test.dim) {
        throw data_error(found[2]->string() + ": test images have " +
                         std::to_string(out.test.dim) + " values each but the train images in " +
                         found[0]->string() + " have " + std::to_string(out.train.dim));
    }
    return out;
}

/// @brief Fashion-MNIST uses MNIST's file names and layout; by default it is read from where
/// Debian's dataset-fashion-mnist package installs it.
inline mnist load_fashion_mnist(
    const std::filesystem::path& folder = std::filesystem::path(debian_fashion_mnist_folder)) {
    return load_mnist(folder);
}

} // namespace ctml
