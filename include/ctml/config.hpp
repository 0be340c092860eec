// SPDX-License-Identifier: MIT
// ctml configuration: the version (the one source CMake and meson read) and every knob.
#pragma once

#define CTML_VERSION_MAJOR 0
#define CTML_VERSION_MINOR 1
#define CTML_VERSION_PATCH 0

#define CTML_STRINGIFY_DETAIL(x) #x
#define CTML_STRINGIFY(x) CTML_STRINGIFY_DETAIL(x)
#define CTML_VERSION_STRING                                                                        \
    CTML_STRINGIFY(CTML_VERSION_MAJOR) "." CTML_STRINGIFY(CTML_VERSION_MINOR) "." CTML_STRINGIFY(  \
        CTML_VERSION_PATCH)

// Alignment (bytes) of every parameter, gradient and activation buffer: one AVX-512 vector.
#ifndef CTML_BUFFER_ALIGNMENT
#define CTML_BUFFER_ALIGNMENT 64
#endif

// Largest element count a reader accepts for one IDX file before refusing it as hostile.
#ifndef CTML_IDX_MAX_ELEMENTS
#define CTML_IDX_MAX_ELEMENTS (std::size_t{1} << 31)
#endif

// Largest width of one layer (or of the input) accepted from a type, a flag or a model file,
// checked before anything is allocated (ctml::parameter_layout).
#ifndef CTML_MAX_WIDTH
#define CTML_MAX_WIDTH (std::size_t{1} << 20)
#endif

// Largest parameter count of one network (2^28 floats: 1 GiB of parameters, as much again for
// gradients and for each optimizer state), checked before anything is allocated.
#ifndef CTML_MAX_PARAMETERS
#define CTML_MAX_PARAMETERS (std::size_t{1} << 28)
#endif

// Largest file ctml reads whole (io::read_file: .npz, .npy, model files), checked with fstat
// before anything is read; a file that grows past it while being read is refused too.
#ifndef CTML_MAX_FILE_BYTES
#define CTML_MAX_FILE_BYTES (1ull << 32)
#endif

// Largest JSON document ctml reads (io::load_json: model.json, config files, job descriptions).
#ifndef CTML_MAX_JSON_BYTES
#define CTML_MAX_JSON_BYTES (1ull << 26)
#endif

// A trainer compresses each batch's input and multiplies the first layer sparsely when at most
// this fraction of the input values is non-zero (MNIST: about 0.19); 0 disables it. Change it
// per engine with cpu_engine::set_sparse_input_density.
#ifndef CTML_SPARSE_INPUT_DENSITY
#define CTML_SPARSE_INPUT_DENSITY 0.3
#endif

// CUDA support is opt-in: define CTML_WITH_CUDA (CMake does when it finds a toolkit) to make the
// headers under ctml/kernels/cuda usable. Nothing else includes CUDA headers.
#ifndef CTML_WITH_CUDA
#define CTML_WITH_CUDA 0
#endif

// The BLAS is OpenBLAS (thread control through openblas_set_num_threads). Define to 0 for another
// CBLAS; ctml::set_num_threads then only records the request.
#ifndef CTML_BLAS_OPENBLAS
#define CTML_BLAS_OPENBLAS 1
#endif
