// The fake NVRTC's "compiler": builds a CUDA source as host C++ with cuda_emulator.h into a shared library
// (g++, cached on disk by a hash of everything that goes into it).
#pragma once
#include <map>
#include <string>
#include <vector>

namespace asl_emu
{
struct KernelBuild
{
    bool ok = false;
    bool invalid_option = false;
    std::string library;      // path of the built shared library
    std::string label;        // the -D defines, space separated (the variant, for messages)
    std::string architecture; // the --gpu-architecture value
    std::string log;          // compiler output on failure
};

// Headers are (include name, text). Options are NVRTC's (-D, --gpu-architecture, --std, -lineinfo, ...).
// Extra compiler flags come from ASLCUDA_EMULATOR_CXXFLAGS (the sanitizer builds use it).
KernelBuild build_kernel(const std::string& source, const std::string& name, const std::map<std::string, std::string>& headers,
                         const std::vector<std::string>& options, const std::string& extra_flags);

// The folder holding cuda_emulator.h and emulator_abi.h (next to the library or program that contains this code).
std::string emulator_include_directory();
}
