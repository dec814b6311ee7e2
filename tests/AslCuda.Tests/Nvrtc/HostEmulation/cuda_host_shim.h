// Stand-ins for the CUDA built-ins the kernels use, so that kernels/*.cu compile as host C++ and their
// arithmetic can be checked on a machine without a GPU. Every block has ONE thread: shuffles have no
// partner lane (they return 0, the neutral element of the sums; a max then also counts 0, which only
// shifts the softmax by a different constant), and barriers do nothing. Half precision needs PTX, so
// float16 variants are not run this way. Blocks run one after another, so the last-block reduction's
// ticket needs no real atomic. The fast intrinsics return the exact value moved by their documented worst-case
// error (CUDA C Programming Guide, intrinsic functions; PTX ISA for ex2/lg2.approx), all in one direction,
// so the oracle comparison checks the error budget that kernels/README.md argues, not a kinder host libm.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

struct alignas(8) uint2 { unsigned x, y; };
struct alignas(16) uint4 { unsigned x, y, z, w; };
#define __device__
#define __forceinline__ inline
#define __global__
#define __launch_bounds__(...)
#define __restrict__ __restrict
#define __align__(n) alignas(n)
#define __shared__ static
struct HostDim { unsigned x; };
static HostDim threadIdx{0}, blockIdx{0}, blockDim{1}, gridDim{1};
inline double __shfl_down_sync(unsigned, double, unsigned) { return 0.0; }
inline float __shfl_xor_sync(unsigned, float, int) { return 0.0f; }
inline void __syncthreads() {}
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
#define asm(...)
inline int __float_as_int(float f) { int i; std::memcpy(&i, &f, 4); return i; }
inline unsigned atomicAdd(unsigned* address, unsigned value) { unsigned old = *address; *address = old + value; return old; }
inline void __threadfence() {}
inline unsigned __byte_perm(unsigned a, unsigned b, unsigned selector)
{
    unsigned long long bytes = ((unsigned long long)b << 32) | a, result = 0;
    for (int i = 0; i < 4; i++) result |= ((bytes >> (8 * ((selector >> (4 * i)) & 7))) & 0xFF) << (8 * i);
    return (unsigned)result;
}
// __fdividef: 2 ulp for divisors in [2^-126, 2^126].
inline float __fdividef(float a, float b) { return (float)((double)a / b * (1.0 + 0x1p-22)); }
// __log2f (lg2.approx): absolute error 2^-22 on [0.5, 2], else 2 ulp.
inline float __log2f(float v)
{
    double l = std::log2((double)v);
    return (float)(v >= 0.5f && v <= 2.0f ? l + 0x1p-22 : l * (1.0 + 0x1p-22));
}
// exp2f (ex2.approx): 2 ulp over the full range.
inline float host_exp2_approx(float v) { return (float)(std::exp2((double)v) * (1.0 + 0x1p-22)); }
#define exp2f host_exp2_approx
