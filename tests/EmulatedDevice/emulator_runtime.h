// The thread engine of the emulated device: runs a grid one block at a time, every CUDA thread of the block
// on its own OS thread (a pool reused across blocks), with a real block barrier and warp exchanges.
#pragma once
#include "emulator_abi.h"
#include <string>

namespace asl_emu
{
// Runs kernel over the grid; returns "" on success, else what went wrong (deadlock, timeout, misuse of a
// warp function), naming the kernel, `label` (the variant), the block and the threads.
std::string run_grid(const AslEmuKernel& kernel, AslEmuDim3 grid, AslEmuDim3 block, void** parameters, const std::string& label);

// The table the kernel libraries call into.
const AslEmuRuntime* runtime_table();

// Seconds a thread may wait at a barrier or warp function before the launch fails (ASLCUDA_EMULATOR_TIMEOUT_S, default 10).
double wait_timeout_seconds();
}
