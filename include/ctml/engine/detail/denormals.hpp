// SPDX-License-Identifier: MIT
// Denormal (subnormal) floats in the CPU engine's step. RMSprop's v ← ρ·v decays the state of
// a weight while its gradient is zero (MNIST pixels near the border, non-zero in a few images
// only): after about 800 such steps v falls below FLT_MIN, and every multiply on a subnormal
// operand or result takes a microcode assist (on the order of a hundred cycles on x86). A Keras epoch then slowed from 1.0 to 2.1 s over 20
// epochs (PyTorch's RMSprop the same; XLA and TensorFlow, which flush, did not).
//
// With CTML_FLUSH_DENORMALS (default 1) the engine runs its step with the SSE/AVX control bits
// FTZ (results below FLT_MIN become 0) and DAZ (such inputs count as 0) set, as TensorFlow does
// in its thread pools: on its own pool threads for their lifetime, on the calling thread only
// while an engine call runs (the caller's MXCSR is restored after). The values it changes are
// below 1.2e-38 (float) or 2.2e-308 (double); they were about to underflow to 0 anyway.
#pragma once

#include "ctml/config.hpp"

#ifndef CTML_FLUSH_DENORMALS
#define CTML_FLUSH_DENORMALS 1
#endif

#if CTML_FLUSH_DENORMALS && (defined(__x86_64__) || defined(__i386__)) && defined(__SSE__)
#include <xmmintrin.h>
#define CTML_FLUSH_DENORMALS_X86 1
#else
#define CTML_FLUSH_DENORMALS_X86 0
#endif

namespace ctml::detail {

#if CTML_FLUSH_DENORMALS_X86
inline constexpr unsigned mxcsr_ftz = 0x8000; // flush-to-zero
inline constexpr unsigned mxcsr_daz = 0x0040; // denormals-are-zero

/// Sets FTZ and DAZ on the calling thread for good (the engine's own pool threads).
inline void flush_denormals_on_this_thread() noexcept {
    _mm_setcsr(_mm_getcsr() | mxcsr_ftz | mxcsr_daz);
}

/// FTZ and DAZ on the calling thread for the scope's lifetime; the previous MXCSR after.
class flush_denormals_scope {
public:
    flush_denormals_scope() noexcept : saved_(_mm_getcsr()) {
        _mm_setcsr(saved_ | mxcsr_ftz | mxcsr_daz);
    }
    flush_denormals_scope(const flush_denormals_scope&) = delete;
    flush_denormals_scope& operator=(const flush_denormals_scope&) = delete;
    ~flush_denormals_scope() { _mm_setcsr(saved_); }

private:
    unsigned saved_;
};
#else
inline void flush_denormals_on_this_thread() noexcept {}

class flush_denormals_scope {
public:
    flush_denormals_scope() noexcept {}
    flush_denormals_scope(const flush_denormals_scope&) = delete;
    flush_denormals_scope& operator=(const flush_denormals_scope&) = delete;
    ~flush_denormals_scope() {} // user-provided: not an "unused variable" to clang
};
#endif

} // namespace ctml::detail
