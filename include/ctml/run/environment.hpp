// SPDX-License-Identifier: MIT
// The environment a run records without being asked: what the trainer was compiled with
// (captured from the macros of the translation unit that includes this header, i.e. the
// trainer's) and where it runs (read at run time).
#pragma once
#include <cstdint>
#include <fstream>
#include <string>
#include <thread>

#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "ctml/config.hpp"
#include "ctml/io/json.hpp"

#if CTML_BLAS_OPENBLAS
// OpenBLAS's own report of its version, build options and core ("OpenBLAS 0.3.21 DYNAMIC_ARCH
// NO_AFFINITY SkylakeX MAX_THREADS=64"); declared here so this header needs no cblas.h.
extern "C" char* openblas_get_config(void);
extern "C" int openblas_get_num_threads(void);
#endif

namespace ctml::run {

namespace detail {

inline std::string compiler_name() {
#if defined(__clang__)
    return "clang";
#elif defined(__INTEL_LLVM_COMPILER)
    return "icx";
#elif defined(__GNUC__)
    return "gcc";
#elif defined(_MSC_VER)
    return "msvc";
#else
    return "unknown";
#endif
}

inline std::string compiler_version() {
#if defined(__VERSION__)
    return __VERSION__;
#elif defined(_MSC_FULL_VER)
    return std::to_string(_MSC_FULL_VER);
#else
    return "unknown";
#endif
}

/// Instruction-set macros that -march/-m flags define (the ones that change ctml's kernels).
inline void write_isa(io::json_writer& w) {
    w.key("isa").begin_array();
#ifdef __SSE4_2__
    w.value("sse4.2");
#endif
#ifdef __AVX__
    w.value("avx");
#endif
#ifdef __AVX2__
    w.value("avx2");
#endif
#ifdef __FMA__
    w.value("fma");
#endif
#ifdef __AVX512F__
    w.value("avx512f");
#endif
#ifdef __AVX512BW__
    w.value("avx512bw");
#endif
#ifdef __AVX512VL__
    w.value("avx512vl");
#endif
#ifdef __AVX512VNNI__
    w.value("avx512vnni");
#endif
#ifdef __AVX512BF16__
    w.value("avx512bf16");
#endif
#ifdef __ARM_NEON
    w.value("neon");
#endif
#ifdef __ARM_FEATURE_SVE
    w.value("sve");
#endif
    w.end_array();
}

/// The -march target where the compiler names it (GCC and clang define one of these).
inline const char* march_name() {
#if defined(__znver5__)
    return "znver5";
#elif defined(__znver4__)
    return "znver4";
#elif defined(__znver3__)
    return "znver3";
#elif defined(__znver2__)
    return "znver2";
#elif defined(__sapphirerapids__)
    return "sapphirerapids";
#elif defined(__icelake_server__)
    return "icelake-server";
#elif defined(__cascadelake__)
    return "cascadelake";
#elif defined(__skylake_avx512__)
    return "skylake-avx512";
#elif defined(__skylake__)
    return "skylake";
#elif defined(__haswell__)
    return "haswell";
#elif defined(__x86_64__)
    return "x86-64 (generic)";
#elif defined(__aarch64__)
    return "aarch64";
#else
    return "unknown";
#endif
}

inline std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        // x86: "model name"; arm64 kernels give no model name, only "CPU part".
        if (line.rfind("model name", 0) == 0 || line.rfind("Model", 0) == 0) {
            const auto colon = line.find(':');
            if (colon != std::string::npos) {
                std::string v = line.substr(colon + 1);
                v.erase(0, v.find_first_not_of(" \t"));
                return v;
            }
        }
    }
    return "unknown";
}

inline unsigned affinity_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) == 0) {
        return static_cast<unsigned>(CPU_COUNT(&set));
    }
    return std::thread::hardware_concurrency();
}

inline std::string host_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) {
        return "unknown";
    }
    return buf;
}

} // namespace detail

/// @brief The environment as a JSON object (compact): compiler, compiler_version, cplusplus,
/// optimized (__OPTIMIZE__), optimize_size, fast_math, ndebug, march, isa [...], ctml_version,
/// blas, blas_config, blas_threads, cuda (arch list when compiled with CUDA), host, os, cpu_model,
/// cores (online), cpus_allowed (affinity), threads (`threads_used`; 0: not told).
/// GCC and clang do not tell -O2 from -O3 in macros; `optimized` is what they tell.
inline std::string environment_json(unsigned threads_used = 0) {
    io::json_writer w(io::json_style::compact);
    w.begin_object();
    w.field("compiler", detail::compiler_name());
    w.field("compiler_version", detail::compiler_version());
    w.field("cplusplus", static_cast<std::int64_t>(__cplusplus));
#ifdef __OPTIMIZE__
    w.field("optimized", true);
#else
    w.field("optimized", false);
#endif
#ifdef __OPTIMIZE_SIZE__
    w.field("optimize_size", true);
#else
    w.field("optimize_size", false);
#endif
#ifdef __FAST_MATH__
    w.field("fast_math", true);
#else
    w.field("fast_math", false);
#endif
#ifdef NDEBUG
    w.field("ndebug", true);
#else
    w.field("ndebug", false);
#endif
    w.field("march", detail::march_name());
    detail::write_isa(w);
    w.field("ctml_version", CTML_VERSION_STRING);
#if CTML_BLAS_OPENBLAS
    w.field("blas", "OpenBLAS");
    const char* cfg = openblas_get_config();
    w.field("blas_config", cfg != nullptr ? cfg : "");
    w.field("blas_threads", static_cast<std::int64_t>(openblas_get_num_threads()));
#else
    w.field("blas", "CBLAS (not OpenBLAS)");
#endif
#if CTML_WITH_CUDA
#if defined(__CUDA_ARCH_LIST__)
    // The list has a comma per architecture (800,900): stringify it whole.
#define CTML_ENV_STRINGIFY_LIST_(...) #__VA_ARGS__
#define CTML_ENV_STRINGIFY_LIST(...) CTML_ENV_STRINGIFY_LIST_(__VA_ARGS__)
    w.field("cuda", CTML_ENV_STRINGIFY_LIST(__CUDA_ARCH_LIST__));
#undef CTML_ENV_STRINGIFY_LIST
#undef CTML_ENV_STRINGIFY_LIST_
#else
    w.field("cuda", "enabled (architecture list not visible to this translation unit)");
#endif
#else
    w.field("cuda", nullptr);
#endif
    w.field("host", detail::host_name());
    struct ::utsname u {};
    if (::uname(&u) == 0) {
        w.field("os", std::string(u.sysname) + " " + u.release + " " + u.machine);
    }
    w.field("cpu_model", detail::cpu_model());
    w.field("cores", static_cast<std::int64_t>(std::thread::hardware_concurrency()));
    w.field("cpus_allowed", static_cast<std::int64_t>(detail::affinity_cpus()));
    w.field("threads", static_cast<std::int64_t>(threads_used));
    w.end_object();
    return w.take();
}

} // namespace ctml::run
