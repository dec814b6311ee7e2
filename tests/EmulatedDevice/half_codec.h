// Software float16 codec, bit-exact with PTX cvt.f32.f16 and cvt.rn.f16.f32: round to nearest even, subnormals
// kept, overflow to infinity, NaN to the canonical NaN (0x7FFF; float 0x7FFFFFFF). Used by cuda_emulator.h for
// the float16 kernel variants and exported by the fake driver so the tests can check it exhaustively.
#pragma once
#include <cstring>

template <typename To, typename From> inline To asl_emu_bit_cast(From v)
{
    static_assert(sizeof(To) == sizeof(From), "bit casts keep the size");
    To t;
    std::memcpy(&t, &v, sizeof t);
    return t;
}

inline float asl_emu_half_bits_to_float(unsigned short h)
{
    const unsigned sign = (unsigned)(h & 0x8000u) << 16, exponent = (h >> 10) & 0x1Fu, mantissa = h & 0x3FFu;
    if (exponent == 0x1F) return asl_emu_bit_cast<float>(mantissa != 0 ? 0x7FFFFFFFu : sign | 0x7F800000u);
    if (exponent == 0)
    {
        const float magnitude = (float)mantissa * 5.9604644775390625e-8f;   // m * 2^-24, exact
        return sign != 0 ? -magnitude : magnitude;
    }
    return asl_emu_bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

inline unsigned short asl_emu_float_to_half_bits(float f)
{
    const unsigned x = asl_emu_bit_cast<unsigned>(f), sign = (x >> 16) & 0x8000u, magnitude = x & 0x7FFFFFFFu;
    if (magnitude > 0x7F800000u) return 0x7FFF;                              // NaN
    if (magnitude >= 0x477FF000u) return (unsigned short)(sign | 0x7C00u);   // >= 65520 rounds to infinity
    if (magnitude < 0x38800000u)                                             // below 2^-14: subnormal or zero
    {
        if (magnitude < 0x33000000u) return (unsigned short)sign;            // below 2^-25 (2^-25 itself ties to 0)
        const unsigned exponent = magnitude >> 23, significand = (magnitude & 0x7FFFFFu) | 0x800000u;
        const unsigned shift = 126u - exponent;                              // result in units of 2^-24
        unsigned r = significand >> shift;
        const unsigned rest = significand & ((1u << shift) - 1u), half = 1u << (shift - 1u);
        if (rest > half || (rest == half && (r & 1u))) r++;
        return (unsigned short)(sign | r);
    }
    unsigned r = (magnitude - 0x38000000u) >> 13;                            // rebias 127 -> 15, keep 10 bits
    const unsigned rest = magnitude & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (r & 1u))) r++;                // a carry moves into the exponent
    return (unsigned short)(sign | r);
}

