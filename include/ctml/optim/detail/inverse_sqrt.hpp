// SPDX-License-Identifier: MIT
// 1 / (√v + ε) for the adaptive optimizers without a square root or a division: on AVX-512 a
// 512-bit vsqrtps plus vdivps occupy the divider for far longer than the loads and FMAs of an
// RMSprop or Adam step, which made it the slowest element-wise pass of a step. Instead:
//   r ≈ 1/√v  (vrsqrt14ps, |rel. error| ≤ 2⁻¹⁴; vrsqrtps on AVX2, ≤ 1.5·2⁻¹²), one Newton step
//             r ← r·(1.5 − 0.5·v·r²)  (relative error e → 1.5·e² + rounding)
//   s = v·r + ε ≈ √v + ε   (r is taken of max(v, 2⁻¹⁰⁰): no denormal appears in the Newton step,
//             where one costs a microcode assist, ten times the whole update on this CPU, and
//             v = 0 gives exactly ε; below 2⁻¹⁰⁰, v·r under-estimates √v ≤ 2⁻⁵⁰ ≈ 8.9e-16)
//   y ≈ 1/s   (vrcp14ps / vrcpps), one Newton step y ← y·(2 − s·y)
// The result is within 1e-6 relative of the correctly rounded 1/(√v + ε) for 0 ≤ v ≤ 1e37 and
// ε ≥ fast_inverse_sqrt_min_epsilon (tests/optim/test_fast_optimizers.cpp measures it over v from
// 0 and denormals to 1e30), a few float ulps, which is below the rounding of the update
// p − lr·g·y itself at the scale of the weights. The optimizers use the exact formula for a
// smaller ε, for other types and on targets without AVX2.
#pragma once
#include <xsimd/xsimd.hpp>

#include <cfloat>
#include <cmath>
#include <type_traits>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

// GCC 12 reports its own AVX-512 intrinsics as reading an uninitialized value (GCC bug 105593,
// fixed in GCC 13) wherever they are inlined with -march=native.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define CTML_POP_GCC_105593_INVSQRT
#endif

/// 1: ctml::rmsprop and ctml::adam default to the exact square root and division (their `exact`
/// member); 0 (default): to the approximation below where the target has it.
#ifndef CTML_EXACT_OPTIMIZERS
#define CTML_EXACT_OPTIMIZERS 0
#endif

namespace ctml::detail {

inline constexpr float inverse_sqrt_floor = 0x1p-100f;
/// The smallest ε for which the approximation keeps its bound (2⁻⁵⁰ / ε ≤ 1e-7).
inline constexpr double fast_inverse_sqrt_min_epsilon = 1e-8;

/// Whether inverse_sqrt_plus<T> approximates for batches of T on this target (else exact).
template <class T>
inline constexpr bool fast_inverse_sqrt =
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
    std::is_same_v<T, float>;
#else
    false;
#endif

/// 1 / (√v + eps) element-wise (v ≥ 0), approximated as described above where
/// fast_inverse_sqrt<T>, else exactly.
template <class T, class A>
xsimd::batch<T, A> inverse_sqrt_plus(xsimd::batch<T, A> v, xsimd::batch<T, A> eps) noexcept {
    using B = xsimd::batch<T, A>;
    if constexpr (std::is_same_v<T, float> && B::size == 16) {
#if defined(__AVX512F__)
        const __m512 x = v;
        const __m512 vc = _mm512_max_ps(x, _mm512_set1_ps(inverse_sqrt_floor));
        __m512 r = _mm512_rsqrt14_ps(vc);
        const __m512 hv = _mm512_mul_ps(vc, _mm512_set1_ps(0.5f));
        r = _mm512_mul_ps(r, _mm512_fnmadd_ps(hv, _mm512_mul_ps(r, r), _mm512_set1_ps(1.5f)));
        const __m512 s = _mm512_fmadd_ps(x, r, static_cast<__m512>(eps));
        __m512 y = _mm512_rcp14_ps(s);
        y = _mm512_mul_ps(y, _mm512_fnmadd_ps(s, y, _mm512_set1_ps(2.0f)));
        return B(y);
#else
        return B(T(1)) / (xsimd::sqrt(v) + eps);
#endif
    } else if constexpr (std::is_same_v<T, float> && B::size == 8) {
#if defined(__AVX2__) && defined(__FMA__)
        const __m256 x = v;
        const __m256 vc = _mm256_max_ps(x, _mm256_set1_ps(inverse_sqrt_floor));
        __m256 r = _mm256_rsqrt_ps(vc);
        const __m256 hv = _mm256_mul_ps(vc, _mm256_set1_ps(0.5f));
        r = _mm256_mul_ps(r, _mm256_fnmadd_ps(hv, _mm256_mul_ps(r, r), _mm256_set1_ps(1.5f)));
        const __m256 s = _mm256_fmadd_ps(x, r, static_cast<__m256>(eps));
        __m256 y = _mm256_rcp_ps(s);
        y = _mm256_mul_ps(y, _mm256_fnmadd_ps(s, y, _mm256_set1_ps(2.0f)));
        return B(y);
#else
        return B(T(1)) / (xsimd::sqrt(v) + eps);
#endif
    } else {
        return B(T(1)) / (xsimd::sqrt(v) + eps);
    }
}

} // namespace ctml::detail

#ifdef CTML_POP_GCC_105593_INVSQRT
#pragma GCC diagnostic pop
#undef CTML_POP_GCC_105593_INVSQRT
#endif
