// Stand-ins for the CUDA built-ins the kernels use, so that kernels/*.cu compile as host C++ and their
// arithmetic can be checked on a machine without a GPU. Every block has ONE thread: shuffles have no
// partner lane (they return 0, the neutral element of the sums; a max then also counts 0, which only
// shifts the softmax by a different constant), and barriers do nothing. Half precision needs PTX, so
// float16 variants are not run this way.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

struct alignas(8) uint2 { unsigned x, y; };
struct alignas(16) uint4 { unsigned x, y, z, w; };
#define __device__
#define __forceinline__ inline
#define __global__
#define __launch_bounds__(threads)
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
