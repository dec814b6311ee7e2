// The interface between the emulator runtime (emulator_runtime.cpp, inside the fake driver) and a kernel
// library built by the fake NVRTC (kernel source + cuda_emulator.h + a generated kernel table). Plain C
// structs: the two sides are separate shared objects.
#pragma once

struct AslEmuDim3 { unsigned x, y, z; };

// One CUDA thread as the kernel sees it; owned by the runtime, pointed to by the kernel library's TLS.
struct AslEmuThread
{
    AslEmuDim3 thread_idx, block_idx, block_dim, grid_dim;
    int linear;              // x + y * bx + z * bx * by
    void* block;             // the runtime's block state
};

enum AslEmuBarrierKind { ASL_EMU_BARRIER = 0, ASL_EMU_BARRIER_COUNT = 1, ASL_EMU_BARRIER_OR = 2, ASL_EMU_BARRIER_AND = 3 };
enum AslEmuWarpKind { ASL_EMU_SHFL = 0, ASL_EMU_SHFL_UP = 1, ASL_EMU_SHFL_DOWN = 2, ASL_EMU_SHFL_XOR = 3, ASL_EMU_BALLOT = 4, ASL_EMU_WARP_SYNC = 5 };

// Entry points of the runtime the built-ins call. A failed check throws out of these (a C++ exception the
// runtime catches at the top of the thread), so kernel code needs no error handling.
struct AslEmuRuntime
{
    int (*barrier)(AslEmuThread* self, int kind, int predicate);
    unsigned long long (*warp)(AslEmuThread* self, int kind, unsigned mask, unsigned long long value, int lane_argument, int width);
    unsigned (*active_mask)(AslEmuThread* self);
    void (*trap)(AslEmuThread* self, const char* what);
};

// One __global__ function of a kernel library.
struct AslEmuKernel
{
    const char* name;
    int max_threads;                     // __launch_bounds__ (0: none)
    int parameter_count;
    const unsigned* parameter_sizes;
    const unsigned char* parameter_is_pointer;
    void (*run)(AslEmuThread* self, void** parameters);
};

// Exported by every kernel library: binds it to the runtime and returns its kernel table.
typedef int (*AslEmuModuleEntry)(const AslEmuRuntime* runtime, const AslEmuKernel** kernels);
#define ASL_EMU_MODULE_ENTRY "asl_emu_module"
