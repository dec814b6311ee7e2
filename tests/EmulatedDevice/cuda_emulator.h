// CUDA built-ins for kernels/*.cu compiled as host C++ by the fake NVRTC (fake_cuda.cpp). Every CUDA thread
// is a real OS thread of the runtime (emulator_runtime.cpp): threadIdx and friends are per thread,
// __syncthreads is a real barrier of the block, shuffles exchange values among the 32 lanes of a warp, and
// misuse (a lane outside the mask, an exited lane, a barrier some threads never reach) fails the launch.
// One block runs at a time, so a function-scope `static` is the block's __shared__ memory.
#pragma once
#include "emulator_abi.h"
#include "half_codec.h"
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

using std::isnan;

// ---- declaration specifiers ------------------------------------------------------------------------
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#ifdef ASL_EMU_SCAN
// The fake NVRTC preprocesses the source once with these markers to find the __global__ functions and
// their launch bounds (fake_cuda.cpp, KernelScan).
#define __global__ asl_emu_global_marker
#define __launch_bounds__(...) asl_emu_bounds_marker(__VA_ARGS__)
#else
#define __global__
#define __launch_bounds__(...)
#endif
#define __restrict__ __restrict
#define __align__(n) alignas(n)
#define __shared__ static
#define __constant__ static

// ---- the runtime and the current thread --------------------------------------------------------------
static const AslEmuRuntime* asl_emu_runtime;
static thread_local AslEmuThread* asl_emu_self;

struct dim3
{
    unsigned x, y, z;
    dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
    dim3(const AslEmuDim3& d) : x(d.x), y(d.y), z(d.z) {}
};
typedef AslEmuDim3 uint3;
#define threadIdx (asl_emu_self->thread_idx)
#define blockIdx (asl_emu_self->block_idx)
#define blockDim (asl_emu_self->block_dim)
#define gridDim (asl_emu_self->grid_dim)
#define warpSize 32

// ---- vector types ----------------------------------------------------------------------------------
#define ASL_EMU_VECTOR2(name, T, align) struct alignas(align) name { T x, y; }; \
    inline name make_##name(T x, T y) { return name{x, y}; }
#define ASL_EMU_VECTOR4(name, T, align) struct alignas(align) name { T x, y, z, w; }; \
    inline name make_##name(T x, T y, T z, T w) { return name{x, y, z, w}; }
ASL_EMU_VECTOR2(uint2, unsigned, 8)
ASL_EMU_VECTOR4(uint4, unsigned, 16)
ASL_EMU_VECTOR2(int2, int, 8)
ASL_EMU_VECTOR4(int4, int, 16)
ASL_EMU_VECTOR2(float2, float, 8)
ASL_EMU_VECTOR4(float4, float, 16)
ASL_EMU_VECTOR2(double2, double, 16)
ASL_EMU_VECTOR2(ushort2, unsigned short, 4)
ASL_EMU_VECTOR4(ushort4, unsigned short, 8)
ASL_EMU_VECTOR2(longlong2, long long, 16)
ASL_EMU_VECTOR2(ulonglong2, unsigned long long, 16)

// ---- barriers, warp functions ----------------------------------------------------------------------
#ifdef ASL_EMU_PLANT_MISSING_BARRIER
inline void __syncthreads() {}   // a planted bug for the sanitizer test: ThreadSanitizer must report the race
#else
inline void __syncthreads() { asl_emu_runtime->barrier(asl_emu_self, ASL_EMU_BARRIER, 1); }
#endif
inline int __syncthreads_count(int predicate) { return asl_emu_runtime->barrier(asl_emu_self, ASL_EMU_BARRIER_COUNT, predicate != 0); }
inline int __syncthreads_or(int predicate) { return asl_emu_runtime->barrier(asl_emu_self, ASL_EMU_BARRIER_OR, predicate != 0); }
inline int __syncthreads_and(int predicate) { return asl_emu_runtime->barrier(asl_emu_self, ASL_EMU_BARRIER_AND, predicate != 0); }
inline void __syncwarp(unsigned mask = 0xFFFFFFFFu) { asl_emu_runtime->warp(asl_emu_self, ASL_EMU_WARP_SYNC, mask, 0, 0, 32); }
inline unsigned __activemask() { return asl_emu_runtime->active_mask(asl_emu_self); }
inline unsigned __ballot_sync(unsigned mask, int predicate)
{
    return (unsigned)asl_emu_runtime->warp(asl_emu_self, ASL_EMU_BALLOT, mask, predicate != 0, 0, 32);
}
inline int __any_sync(unsigned mask, int predicate) { return __ballot_sync(mask, predicate) != 0; }
inline int __all_sync(unsigned mask, int predicate) { return __ballot_sync(mask, predicate) == (mask & __ballot_sync(mask, 1)); }

template <typename T> inline T asl_emu_shuffle(int kind, unsigned mask, T value, int lane_argument, int width)
{
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "shuffles move 4 or 8 bytes");
    unsigned long long bits = 0;
    std::memcpy(&bits, &value, sizeof(T));
    bits = asl_emu_runtime->warp(asl_emu_self, kind, mask, bits, lane_argument, width);
    T result;
    std::memcpy(&result, &bits, sizeof(T));
    return result;
}
template <typename T> inline T __shfl_sync(unsigned mask, T v, int src, int width = 32) { return asl_emu_shuffle(ASL_EMU_SHFL, mask, v, src, width); }
template <typename T> inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) { return asl_emu_shuffle(ASL_EMU_SHFL_UP, mask, v, (int)delta, width); }
template <typename T> inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) { return asl_emu_shuffle(ASL_EMU_SHFL_DOWN, mask, v, (int)delta, width); }
template <typename T> inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) { return asl_emu_shuffle(ASL_EMU_SHFL_XOR, mask, v, lane_mask, width); }

inline void __trap() { asl_emu_runtime->trap(asl_emu_self, "__trap()"); }

// ---- memory order and atomics (global memory is shared by all threads: real atomics) ------------------
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_system() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
template <typename T> inline T __ldg(const T* p) { return *p; }

template <typename T> inline typename std::enable_if<std::is_integral<T>::value, T>::type atomicAdd(T* a, T v) { return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); }
template <typename T> inline typename std::enable_if<std::is_integral<T>::value, T>::type atomicSub(T* a, T v) { return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST); }
template <typename T> inline typename std::enable_if<std::is_integral<T>::value, T>::type atomicMax(T* a, T v) { return __atomic_fetch_max(a, v, __ATOMIC_SEQ_CST); }
template <typename T> inline typename std::enable_if<std::is_integral<T>::value, T>::type atomicMin(T* a, T v) { return __atomic_fetch_min(a, v, __ATOMIC_SEQ_CST); }
template <typename T> inline typename std::enable_if<std::is_integral<T>::value, T>::type atomicOr(T* a, T v) { return __atomic_fetch_or(a, v, __ATOMIC_SEQ_CST); }
template <typename T> inline typename std::enable_if<std::is_integral<T>::value, T>::type atomicAnd(T* a, T v) { return __atomic_fetch_and(a, v, __ATOMIC_SEQ_CST); }
template <typename T> inline T atomicExch(T* a, T v) { T old; __atomic_exchange(a, &v, &old, __ATOMIC_SEQ_CST); return old; }
template <typename T> inline T atomicCAS(T* a, T compare, T v)
{
    __atomic_compare_exchange(a, &compare, &v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return compare;                                  // the old value, whether or not it was replaced
}
template <typename T, typename F> inline T asl_emu_atomic_update(T* a, F update)
{
    T old;
    __atomic_load(a, &old, __ATOMIC_SEQ_CST);
    T next = update(old);
    while (!__atomic_compare_exchange(a, &old, &next, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) next = update(old);
    return old;
}
inline float atomicAdd(float* a, float v) { return asl_emu_atomic_update(a, [v](float o) { return o + v; }); }
inline double atomicAdd(double* a, double v) { return asl_emu_atomic_update(a, [v](double o) { return o + v; }); }
inline unsigned atomicInc(unsigned* a, unsigned limit) { return asl_emu_atomic_update(a, [limit](unsigned o) { return o >= limit ? 0u : o + 1; }); }
inline unsigned atomicDec(unsigned* a, unsigned limit) { return asl_emu_atomic_update(a, [limit](unsigned o) { return o == 0 || o > limit ? limit : o - 1; }); }

// ---- bit casts and integer intrinsics ----------------------------------------------------------------
inline float __uint_as_float(unsigned u) { return asl_emu_bit_cast<float>(u); }
inline float __int_as_float(int i) { return asl_emu_bit_cast<float>(i); }
inline unsigned __float_as_uint(float f) { return asl_emu_bit_cast<unsigned>(f); }
inline int __float_as_int(float f) { return asl_emu_bit_cast<int>(f); }
inline double __longlong_as_double(long long v) { return asl_emu_bit_cast<double>(v); }
inline long long __double_as_longlong(double d) { return asl_emu_bit_cast<long long>(d); }
inline int __double2hiint(double d) { return (int)(asl_emu_bit_cast<unsigned long long>(d) >> 32); }
inline int __double2loint(double d) { return (int)asl_emu_bit_cast<unsigned long long>(d); }
inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline int __popcll(unsigned long long v) { return __builtin_popcountll(v); }
inline int __clz(int v) { return v == 0 ? 32 : __builtin_clz((unsigned)v); }
inline int __clzll(long long v) { return v == 0 ? 64 : __builtin_clzll((unsigned long long)v); }
inline int __ffs(int v) { return __builtin_ffs(v); }
inline int __ffsll(long long v) { return __builtin_ffsll(v); }
inline unsigned __brev(unsigned v) { unsigned r = 0; for (int i = 0; i < 32; i++) r |= ((v >> i) & 1u) << (31 - i); return r; }
template <typename A, typename B> inline auto min(A a, B b) -> decltype(a < b ? a : b) { return b < a ? b : a; }
template <typename A, typename B> inline auto max(A a, B b) -> decltype(a < b ? a : b) { return a < b ? b : a; }

// ---- fast-math intrinsics ------------------------------------------------------------------------------
// The ones the kernels use return the exact value moved by their documented worst-case error (CUDA C
// Programming Guide, intrinsic functions and the mathematical-functions tables; PTX ISA for ex2/lg2.approx),
// all in one direction, so the oracle comparisons check the error budget kernels/README.md argues rather than
// a kinder host libm. The GPU's own last bits are for hardware to show.
// __fdividef: 2 ulp for divisors in [2^-126, 2^126].
inline float __fdividef(float a, float b) { return (float)((double)a / b * (1.0 + 0x1p-22)); }
// __log2f (lg2.approx): absolute error 2^-22 on [0.5, 2], else 2 ulp.
inline float __log2f(float v)
{
    double l = std::log2((double)v);
    return (float)(v >= 0.5f && v <= 2.0f ? l + 0x1p-22 : l * (1.0 + 0x1p-22));
}
// exp2f: 2 ulp over the full range, subnormal results included.
inline float asl_emu_exp2_worst(float v) { return (float)(std::exp2((double)v) * (1.0 + 0x1p-22)); }
#define exp2f asl_emu_exp2_worst
inline float __exp2f(float v) { return asl_emu_exp2_worst(v); }
// __expf: 2 + 1.17|a| ulp (log2(e) rounded inside).
inline float __expf(float a) { return (float)(std::exp((double)a) * (1.0 + (2.0 + 1.17 * std::fabs((double)a)) * 0x1p-23)); }
inline float __logf(float a) { return std::log(a); }
inline unsigned __byte_perm(unsigned a, unsigned b, unsigned selector)
{
    unsigned long long bytes = ((unsigned long long)b << 32) | a, result = 0;
    for (int i = 0; i < 4; i++) result |= ((bytes >> (8 * ((selector >> (4 * i)) & 7))) & 0xFF) << (8 * i);
    return (unsigned)result;
}
inline float __frcp_rn(float a) { return 1.0f / a; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline float __frsqrt_rn(float a) { return 1.0f / std::sqrt(a); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __powf(float a, float b) { return std::pow(a, b); }
inline float __saturatef(float a) { return a > 0.0f ? (a < 1.0f ? a : 1.0f) : 0.0f; }   // NaN gives 0, as on the GPU
inline float rsqrtf(float a) { return 1.0f / std::sqrt(a); }
inline float exp10f(float a) { return std::pow(10.0f, a); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline float __double2float_rn(double d) { return (float)d; }

// kernels/asl_common.cuh uses these instead of its inline PTX when ASL_HOST_HALF_CODEC is defined.
#define ASL_HOST_HALF_CODEC 1
inline float asl_half_to_float(unsigned short h) { return asl_emu_half_bits_to_float(h); }
inline unsigned short asl_float_to_half(float f) { return asl_emu_float_to_half_bits(f); }

// ---- the kernel table (the fake NVRTC appends one ASL_EMU_KERNEL line per __global__ function) ----------
namespace asl_emu
{
template <typename T> struct Parameter
{
    typedef typename std::remove_cv<typename std::remove_reference<T>::type>::type Type;
    static constexpr unsigned size = sizeof(Type);
    static constexpr unsigned char is_pointer = std::is_pointer<Type>::value ? 1 : 0;
};

template <typename... Args> struct Signature
{
    static constexpr int count = sizeof...(Args);
    static constexpr unsigned sizes[sizeof...(Args) + 1] = { Parameter<Args>::size..., 0 };
    static constexpr unsigned char pointers[sizeof...(Args) + 1] = { Parameter<Args>::is_pointer..., 0 };
};

template <auto Function> struct Invoke;
template <typename... Args, void (*Function)(Args...)> struct Invoke<Function>
{
    template <size_t... I> static void call(void** parameters, std::index_sequence<I...>)
    {
        Function(*static_cast<typename Parameter<Args>::Type*>(parameters[I])...);
    }
    static void run(AslEmuThread* self, void** parameters)
    {
        asl_emu_self = self;
        call(parameters, std::index_sequence_for<Args...>());
    }
    static AslEmuKernel entry(const char* name, int max_threads)
    {
        return AslEmuKernel{ name, max_threads, Signature<Args...>::count, Signature<Args...>::sizes, Signature<Args...>::pointers, &run };
    }
};
}

#define ASL_EMU_KERNEL(name, max_threads) asl_emu::Invoke<&name>::entry(#name, max_threads)
#define ASL_EMU_MODULE(...)                                                                                  \
    extern "C" __attribute__((visibility("default"))) int asl_emu_module(const AslEmuRuntime* runtime,      \
                                                                         const AslEmuKernel** kernels)      \
    {                                                                                                        \
        asl_emu_runtime = runtime;                                                                           \
        static const AslEmuKernel table[] = { __VA_ARGS__ };                                                 \
        *kernels = table;                                                                                    \
        return (int)(sizeof(table) / sizeof(table[0]));                                                      \
    }
