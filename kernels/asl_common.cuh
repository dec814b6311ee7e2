// Shared device code of the ASL kernels: element codecs, vector loads, accurate log-sigmoid, deterministic
// block reductions. Self-contained on purpose: NVRTC compiles it without any toolkit include path, so
// half and bfloat16 are handled as raw 16-bit patterns with PTX conversions and bit operations.
#pragma once

#define ASL_DTYPE_FLOAT32 0
#define ASL_DTYPE_FLOAT64 1
#define ASL_DTYPE_FLOAT16 2
#define ASL_DTYPE_BFLOAT16 3
#define ASL_DTYPE_UINT8 4

typedef long long asl_index;

// ---- element codecs: storage type <-> float32 --------------------------------------------------------

template <int DType> struct Codec;

template <> struct Codec<ASL_DTYPE_FLOAT32>
{
    typedef float Storage;
    static __device__ __forceinline__ float load(Storage v) { return v; }
    static __device__ __forceinline__ Storage store(float v) { return v; }
    // For a target known to be 0 or 1.
    static __device__ __forceinline__ bool is_positive(Storage v) { return v != 0.0f; }
};

// float64 tensors are read into float32 math (as the CPU backend does) and written back widened.
template <> struct Codec<ASL_DTYPE_FLOAT64>
{
    typedef double Storage;
    static __device__ __forceinline__ float load(Storage v) { return (float)v; }
    static __device__ __forceinline__ Storage store(float v) { return (double)v; }
};

// float16 <-> float32 by PTX cvt; a host build (the tests' emulated device) defines ASL_HOST_HALF_CODEC and
// provides these two functions with a bit-exact software codec instead.
#ifndef ASL_HOST_HALF_CODEC
__device__ __forceinline__ float asl_half_to_float(unsigned short h)
{
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
__device__ __forceinline__ unsigned short asl_float_to_half(float v)
{
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v));
    return h;
}
#endif

template <> struct Codec<ASL_DTYPE_FLOAT16>
{
    typedef unsigned short Storage;
    static __device__ __forceinline__ float load(Storage v) { return asl_half_to_float(v); }
    static __device__ __forceinline__ Storage store(float v) { return asl_float_to_half(v); }
};

// bfloat16 is the upper half of a float32; cvt.rn.bf16.f32 needs sm_80, so round to nearest even by hand.
template <> struct Codec<ASL_DTYPE_BFLOAT16>
{
    typedef unsigned short Storage;
    static __device__ __forceinline__ float load(Storage v) { return __uint_as_float(((unsigned int)v) << 16); }
    // The bfloat16 in the upper half of a 32-bit word (the lower half is rounding residue), so that two
    // values pack into one word with a single __byte_perm.
    static __device__ __forceinline__ unsigned int store_high(float v)
    {
        const unsigned int bits = __float_as_uint(v);
        return v != v ? 0x7FC00000u : bits + 0x7FFFu + ((bits >> 16) & 1u);   // NaN: the canonical quiet NaN, as c10::BFloat16
    }
    static __device__ __forceinline__ Storage store(float v) { return (Storage)(store_high(v) >> 16); }
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    // Two values in one 32-bit word, `low` first in memory: one cvt.rn.bf16x2 (sm_80), against five integer
    // operations per value by hand.
    static __device__ __forceinline__ unsigned int store_pair(float low, float high)
    {
        unsigned int packed;
        asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(packed) : "f"(high), "f"(low));
        return packed;
    }
#endif
};

// Binary targets (uint8 or bool tensors): any nonzero byte is a positive.
template <> struct Codec<ASL_DTYPE_UINT8>
{
    typedef unsigned char Storage;
    static __device__ __forceinline__ float load(Storage v) { return v != 0 ? 1.0f : 0.0f; }
    static __device__ __forceinline__ Storage store(float v) { return v != 0.0f ? 1 : 0; }
    static __device__ __forceinline__ bool is_positive(Storage v) { return v != 0; }
};

// ---- aligned vector access --------------------------------------------------------------------------

struct __align__(16) asl_bytes32 { uint4 low, high; };

template <int Bytes> struct RawBytes;
template <> struct RawBytes<1> { typedef unsigned char Type; };
template <> struct RawBytes<2> { typedef unsigned short Type; };
template <> struct RawBytes<4> { typedef unsigned int Type; };
template <> struct RawBytes<8> { typedef uint2 Type; };
template <> struct RawBytes<16> { typedef uint4 Type; };
template <> struct RawBytes<32> { typedef asl_bytes32 Type; };

// N consecutive elements moved with one (or two) vector instructions; the caller guarantees alignment.
template <typename T, int N> union Pack
{
    typename RawBytes<sizeof(T) * N>::Type raw;
    T element[N];
};

template <typename T, int N>
__device__ __forceinline__ Pack<T, N> load_pack(const T* source)
{
    Pack<T, N> pack;
    pack.raw = *reinterpret_cast<const typename RawBytes<sizeof(T) * N>::Type*>(source);
    return pack;
}

template <typename T, int N>
__device__ __forceinline__ void store_pack(T* destination, const Pack<T, N>& pack)
{
    *reinterpret_cast<typename RawBytes<sizeof(T) * N>::Type*>(destination) = pack.raw;
}

__device__ __forceinline__ bool is_aligned(const void* pointer, unsigned int bytes)
{
    return (reinterpret_cast<unsigned long long>(pointer) & (bytes - 1)) == 0;
}

// ---- numerics ---------------------------------------------------------------------------------------

// max/min that keep NaN (fmaxf would drop it), so a NaN logit gives a NaN loss as in PyTorch: one
// max.NaN/min.NaN instruction from sm_80 on, a compare and a select before (and in the emulator's host build).
__device__ __forceinline__ float clamp_min(float v, float low)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    float r;
    asm("max.NaN.f32 %0, %1, %2;" : "=f"(r) : "f"(v), "f"(low));
    return r;
#else
    return v < low ? low : v;
#endif
}
__device__ __forceinline__ float clamp_max(float v, float high)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    float r;
    asm("min.NaN.f32 %0, %1, %2;" : "=f"(r) : "f"(v), "f"(high));
    return r;
#else
    return v > high ? high : v;
#endif
}

// b^N by multiplication for a whole exponent fixed at compile time.
template <int N> __device__ __forceinline__ float pow_int(float b)
{
    float half = pow_int<N / 2>(b);
    return (N % 2) ? half * half * b : half * half;
}
template <> __device__ __forceinline__ float pow_int<0>(float) { return 1.0f; }
template <> __device__ __forceinline__ float pow_int<1>(float b) { return b; }

// b^g = e^(g log b) with b^0 = 1 (also for b = 0), PyTorch's pow convention. Fast lg2/ex2: an absolute
// error d in log2 b is a relative error of about g d ln2 in b^g, and __log2f's absolute error is at most
// 2^-22 on [0.5, 2] (2 ulp elsewhere), so the weight keeps about 6 digits (kernels/README.md, Numerics).
__device__ __forceinline__ float pow_fast(float b, float g) { return g == 0.0f ? 1.0f : exp2f(g * __log2f(b)); }
// The same from a natural logarithm already at hand.
__device__ __forceinline__ float pow_from_log(float log_b, float g) { return g == 0.0f ? 1.0f : exp2f(g * 1.44269504f * log_b); }

// e^-a for a >= 0 (a NaN gives NaN). ex2.approx has at most 2 ulp error over the full range, subnormal
// results included; __expf's ulp error grows with |a| (2 + 1.17|a|) only because a log2(e) is rounded, so
// the product's rounding error is carried along (fma) and applied as a first-order correction: about 3 ulp
// for every a, against 119 ulp for __expf at a = 100.
__device__ __forceinline__ float exp_negative(float a)
{
    const float log2e_hi = 1.44269502f, log2e_lo = 1.92596299e-8f;
    const float t = -a * log2e_hi;
    const float t_lo = fmaf(-a, log2e_lo, fmaf(-a, log2e_hi, -t));   // -a log2(e) - t, exactly enough
    const float e = exp2f(t);
    return fmaf(e, t_lo * 0.693147182f, e);
}

// log1p(a) for -1 < a <= 1 (NaN gives NaN), relative error below 1e-6 everywhere, tiny a included (where
// a fast log of 1 + a alone would lose every digit). On [-1/3, 1/2] the atanh series
// log1p(a) = 2s (1 + z/3 + z^2/5 + z^3/7 + ...), s = a / (2 + a), z = s^2 <= 1/25: the dropped terms are
// below z^4/9 < 3e-7 relative, and s from div.approx (2 ulp) adds 2.4e-7. Elsewhere lg2.approx(1 + a) ln 2:
// its absolute error 2^-22 on [0.5, 2] (2 ulp outside) and the rounding of 1 + a are below 6e-7 relative
// there, since |log1p(a)| >= log(3/2) = 0.405. one_plus_a is 1 + a as the caller knows it: where a is itself a
// rounded difference near -1 (a clipped negative's clip - (1 - q)), the caller's q + clip keeps the digits that
// 1 + a would cancel away.
__device__ __forceinline__ float log1p_fast(float a, float one_plus_a)
{
    const float s = __fdividef(a, 2.0f + a);
    const float z = s * s;
    const float series = s * fmaf(z, fmaf(z, fmaf(z, 0.285714286f, 0.4f), 0.666666667f), 2.0f);
    const float direct = __log2f(one_plus_a) * 0.693147182f;
    return fabsf(s) <= 0.2f ? series : direct;         // a in [-1/3, 1/2], tested on s: one compare
}

// log1p(a) for -1 < a <= 1 to the accuracy that 16-bit logits keep (their gradient and element losses are
// rounded to 2^-9 for bfloat16, 2^-12 for float16): relative error below 1.2e-5 everywhere, and exact in
// form for tiny and subnormal a. For |a| < 2^-6 the series a - a^2/2 + a^3/3 (dropped terms below a^3/4 <
// 1e-6 relative); elsewhere lg2.approx(1 + a) ln 2, whose absolute error 2^-22 (on [0.5, 2]; 2 ulp outside)
// and the rounding of 1 + a are below 1.2e-5 relative there, since |log1p(a)| >= 0.0155. Half the
// instructions of log1p_fast: no division. one_plus_a as for log1p_fast.
__device__ __forceinline__ float log1p_coarse(float a, float one_plus_a)
{
    const float series = fmaf(a * fmaf(a, 0.333333343f, -0.5f), a, a);
    const float direct = __log2f(one_plus_a) * 0.693147182f;
    return fabsf(a) < 0.015625f ? series : direct;      // a NaN takes the direct side: NaN
}

// 1 / (1 + e^-|x|) from e = e^-|x| in [0, 1]: div.approx has at most 2 ulp error for divisors in
// [2^-126, 2^126] (the divisor here is in [1, 2]), against an IEEE division's slow-path subroutine.
__device__ __forceinline__ float reciprocal_one_plus(float e) { return __fdividef(1.0f, 1.0f + e); }

// p = sigmoid(x), q = 1 - p and softplus = log(1 + e^-|x|), all from e^-|x| so that none cancels:
// log p = min(x, 0) - softplus, log q = min(-x, 0) - softplus.
struct Sigmoid
{
    float p, q, e;
};

// Precise: e^-|x| within 3 ulp (exp_negative); otherwise __expf's 2 + 1.17|x| ulp, ample where the results
// are rounded to 16 bits (2^-9 for bfloat16, 2^-12 for float16) and |x| <= 65504.
template <bool Precise>
__device__ __forceinline__ Sigmoid fast_sigmoid(float x)
{
    Sigmoid s;
    s.e = Precise ? exp_negative(fabsf(x)) : exp2f(fabsf(x) * -1.44269504f);
    const float r = reciprocal_one_plus(s.e);
    const float er = s.e * r;                     // a NaN x gives e = r = er = NaN: p, q NaN
    s.p = x >= 0.0f ? r : er;
    s.q = x >= 0.0f ? er : r;
    return s;
}

// log(sigmoid(x)) and log(1 - sigmoid(x)) from softplus = log1p(e^-|x|); fminf would turn NaN into 0.
__device__ __forceinline__ float log_sigmoid(float x, float softplus) { return (x < 0.0f ? x : 0.0f) - softplus; }
__device__ __forceinline__ float log_one_minus_sigmoid(float x, float softplus) { return (x > 0.0f ? -x : 0.0f) - softplus; }

// ---- deterministic reductions -----------------------------------------------------------------------

// Sum over one warp with a fixed shuffle tree: the same inputs always give the same bits.
__device__ __forceinline__ double warp_sum(double v)
{
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xFFFFFFFFu, v, offset);
    return v;
}

// Sums Count values over a block of BlockSize threads (a multiple of 32, at most 1024) in a fixed order.
// Thread 0 receives the totals; the others get partial values. `scratch` holds Count * 32 doubles.
template <int Count, int BlockSize>
__device__ __forceinline__ void block_sum(double (&values)[Count], double* scratch)
{
    const int warps = (BlockSize + 31) / 32;
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
#pragma unroll
    for (int i = 0; i < Count; i++)
    {
        double v = warp_sum(values[i]);
        if (lane == 0) scratch[i * 32 + warp] = v;
    }
    __syncthreads();
    if (warp == 0)
    {
#pragma unroll
        for (int i = 0; i < Count; i++) values[i] = warp_sum(lane < warps ? scratch[i * 32 + lane] : 0.0);
    }
}

// One launch per loss: thread 0 of every block writes the block's Count sums to `partials` (Count rows of
// gridDim.x doubles), makes them visible device-wide (__threadfence) and takes a ticket; the block that takes
// the last ticket adds all partials in block order (each of BlockSize threads a fixed stride, then a fixed
// tree), so the totals do not depend on which block finishes last, and resets the ticket to 0 for the next
// launch (launches on one stream do not overlap; blockDim.x == BlockSize). Returns true in thread 0 of the last block, whose `values`
// then hold the totals. `values` must hold the block's sums in thread 0 (block_sum) on entry.
template <int Count, int BlockSize>
__device__ __forceinline__ bool last_block_totals(double (&values)[Count], double* partials, unsigned int* ticket, double* scratch)
{
    __shared__ bool is_last;
    if (threadIdx.x == 0)
    {
#pragma unroll
        for (int i = 0; i < Count; i++) partials[(asl_index)i * gridDim.x + blockIdx.x] = values[i];
        __threadfence();
        is_last = atomicAdd(ticket, 1u) == gridDim.x - 1;
    }
    __syncthreads();
    if (!is_last) return false;
    __threadfence();
    // volatile: read what the other blocks wrote from L2, never a stale L1 line.
    const volatile double* written = partials;
#pragma unroll
    for (int i = 0; i < Count; i++)
    {
        values[i] = 0.0;
        for (unsigned int b = threadIdx.x; b < gridDim.x; b += blockDim.x) values[i] += written[(asl_index)i * gridDim.x + b];
    }
    block_sum<Count, BlockSize>(values, scratch);
    if (threadIdx.x == 0) *ticket = 0u;
    return threadIdx.x == 0;
}
