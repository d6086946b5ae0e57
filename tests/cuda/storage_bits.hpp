// Bit-level bf16/fp16 encodings written for the CUDA tests, independent of cuda_bf16.h and
// cuda_fp16.h: the tests build inputs and decode outputs with these, so a kernel that converts
// wrongly cannot agree with itself.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace bomf::test {

inline float float_from_bits(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

/// bfloat16 of a finite or infinite float, rounded to nearest even.
inline std::uint16_t to_bf16(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return static_cast<std::uint16_t>((u + 0x7FFFU + ((u >> 16) & 1U)) >> 16);
}

inline float from_bf16(std::uint16_t h) {
  return float_from_bits(static_cast<std::uint32_t>(h) << 16);
}

/// Value of an IEEE binary16 (subnormals, ±∞ and NaN included).
inline float from_f16(std::uint16_t h) {
  const int exponent = (h >> 10) & 0x1F;
  const int mantissa = h & 0x3FF;
  const float sign = (h & 0x8000) ? -1.0f : 1.0f;
  if (exponent == 0x1F) {
    return mantissa == 0 ? sign * std::numeric_limits<float>::infinity()
                         : std::numeric_limits<float>::quiet_NaN();
  }
  if (exponent == 0) {
    return sign * std::ldexp(static_cast<float>(mantissa), -24);
  }
  return sign * std::ldexp(static_cast<float>(mantissa | 0x400), exponent - 25);
}

/// A finite fp16 from 16 random bits: any sign and mantissa, magnitude in [2^-5, 2^3).
inline std::uint16_t f16_from_random_bits(std::uint32_t bits) {
  return static_cast<std::uint16_t>((bits & 0x83FFU) | ((10U + bits % 8U) << 10));
}

}  // namespace bomf::test
