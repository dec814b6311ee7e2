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
    static __device__ __forceinline__ Storage store(float v)
    {
        unsigned int bits = __float_as_uint(v);
        if (v != v) return (Storage)((bits >> 16) | 0x40u);   // keep NaN a (quiet) NaN
        return (Storage)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
    }
};

// Binary targets (uint8 or bool tensors): any nonzero byte is a positive.
template <> struct Codec<ASL_DTYPE_UINT8>
{
    typedef unsigned char Storage;
    static __device__ __forceinline__ float load(Storage v) { return v != 0 ? 1.0f : 0.0f; }
    static __device__ __forceinline__ Storage store(float v) { return v != 0.0f ? 1 : 0; }
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

// max/min that keep NaN (fmaxf would drop it), so a NaN logit gives a NaN loss as in PyTorch.
__device__ __forceinline__ float clamp_min(float v, float low) { return v < low ? low : v; }
__device__ __forceinline__ float clamp_max(float v, float high) { return v > high ? high : v; }

// b^N by multiplication for a whole exponent fixed at compile time.
template <int N> __device__ __forceinline__ float pow_int(float b)
{
    float half = pow_int<N / 2>(b);
    return (N % 2) ? half * half * b : half * half;
}
template <> __device__ __forceinline__ float pow_int<0>(float) { return 1.0f; }
template <> __device__ __forceinline__ float pow_int<1>(float b) { return b; }

// b^g = e^(g log b) with b^0 = 1 (also for b = 0), PyTorch's pow convention.
__device__ __forceinline__ float pow_log(float log_b, float g) { return g == 0.0f ? 1.0f : expf(g * log_b); }

// p = sigmoid(x), q = 1 - p and their logs, all from e^-|x| so that none of them cancels.
struct Sigmoid
{
    float p, q, log_p, log_q;
};

__device__ __forceinline__ Sigmoid accurate_sigmoid(float x)
{
    float e = expf(-fabsf(x));
    float r = 1.0f / (1.0f + e);
    float softplus = log1pf(e);                   // log(1 + e^-|x|)
    Sigmoid s;
    s.p = x >= 0.0f ? r : e * r;
    s.q = x >= 0.0f ? e * r : r;
    s.log_p = fminf(x, 0.0f) - softplus;
    s.log_q = fminf(-x, 0.0f) - softplus;
    if (x != x) s.log_p = s.log_q = x;            // fminf would turn NaN into 0
    return s;
}

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

// The finisher's reduction: each of BlockSize threads adds a fixed stride of the per-block partials
// (laid out as Count rows of `blocks` doubles) in order, then a fixed tree. Thread 0 receives the totals.
template <int Count, int BlockSize>
__device__ __forceinline__ void sum_partials(const double* partials, int blocks, double (&sums)[Count], double* scratch)
{
#pragma unroll
    for (int i = 0; i < Count; i++)
    {
        sums[i] = 0.0;
        for (int b = threadIdx.x; b < blocks; b += BlockSize) sums[i] += partials[(asl_index)i * blocks + b];
    }
    block_sum<Count, BlockSize>(sums, scratch);
}
