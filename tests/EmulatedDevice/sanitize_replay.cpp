// Replays launches recorded by the fake driver (aslcuda_fake_record) on the thread emulator, with the kernel
// and this program built under a sanitizer (Makefile: replay-tsan, replay-asan): ThreadSanitizer is the
// analogue of compute-sanitizer's racecheck (races between the threads of a block: the emulator announces to
// TSan exactly the orderings CUDA guarantees, barriers and warp functions), AddressSanitizer with UBSan that
// of memcheck (each allocation is a heap block of its exact size, so one byte past the end is caught).
//
// usage: replay-<sanitizer> [--plant-missing-barrier | --plant-short-input] LAUNCH.txt...
//   --plant-missing-barrier  builds the kernel with __syncthreads() emptied (the race TSan must find)
//   --plant-short-input      gives the kernel's first pointer parameter a buffer one byte short (the read past
//                            the end ASan must find)
// Exit status 0 when every launch ran; a sanitizer report makes the process fail (see the Makefile's options).
#include "emulator_runtime.h"
#include "kernel_build.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#ifndef ASL_REPLAY_FLAGS
#error "define ASL_REPLAY_FLAGS, the sanitizer flags the kernels are built with"
#endif

static std::string read_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

static int fail(const std::string& what)
{
    std::fprintf(stderr, "replay: %s\n", what.c_str());
    return 2;
}

static int replay(const std::string& launch, bool missing_barrier, bool short_input)
{
    std::ifstream meta(launch);
    if (!meta) return fail("cannot read " + launch);
    const std::string base = launch.substr(0, launch.size() - 4);
    std::string module_dir, kernel_name, word;
    AslEmuDim3 grid{1, 1, 1}, block{1, 1, 1};
    std::map<int, std::vector<unsigned char>> parameter_values;
    std::map<int, std::pair<int, unsigned long long>> parameter_pointers;   // parameter -> (allocation, offset)
    std::map<int, size_t> allocation_bytes;
    int parameter_count = 0;
    while (meta >> word)
    {
        if (word == "module") meta >> module_dir;
        else if (word == "kernel") meta >> kernel_name;
        else if (word == "grid") meta >> grid.x >> grid.y >> grid.z;
        else if (word == "block") meta >> block.x >> block.y >> block.z;
        else if (word == "allocation") { int i; size_t n; meta >> i >> n; allocation_bytes[i] = n; }
        else if (word == "pointer") { int p, a; unsigned long long o; meta >> p >> a >> o; parameter_pointers[p] = {a, o}; parameter_count = std::max(parameter_count, p + 1); }
        else if (word == "null") { int p; meta >> p; parameter_pointers[p] = {-1, 0}; parameter_count = std::max(parameter_count, p + 1); }
        else if (word == "value")
        {
            int p, size;
            meta >> p >> size;
            std::vector<unsigned char> bytes(size);
            for (int b = 0; b < size; b++) { int v; meta >> v; bytes[b] = (unsigned char)v; }
            parameter_values[p] = bytes;
            parameter_count = std::max(parameter_count, p + 1);
        }
    }

    // Build the recorded program again with the sanitizer.
    std::string source_name, source;
    std::vector<std::string> options;
    std::map<std::string, std::string> headers;
    std::istringstream inputs(read_file(module_dir + "/inputs.txt"));
    for (std::string line; std::getline(inputs, line);)
    {
        if (line.rfind("source ", 0) == 0) source_name = line.substr(7);
        else if (line.rfind("option ", 0) == 0) options.push_back(line.substr(7));
        else if (line.rfind("header ", 0) == 0) headers[line.substr(7)] = read_file(module_dir + "/" + line.substr(7));
    }
    if (source_name.empty()) return fail(module_dir + "/inputs.txt names no source");
    source = read_file(module_dir + "/" + source_name);
    std::string flags = ASL_REPLAY_FLAGS;
    if (missing_barrier) flags += " -DASL_EMU_PLANT_MISSING_BARRIER";
    auto build = asl_emu::build_kernel(source, source_name, headers, options, flags);
    if (!build.ok) return fail("cannot build " + source_name + " (" + build.label + "):\n" + build.log);
    void* library = dlopen(build.library.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!library) return fail(dlerror());
    auto entry = reinterpret_cast<AslEmuModuleEntry>(dlsym(library, ASL_EMU_MODULE_ENTRY));
    const AslEmuKernel* kernels = nullptr;
    int count = entry ? entry(asl_emu::runtime_table(), &kernels) : 0;
    const AslEmuKernel* kernel = nullptr;
    for (int k = 0; k < count; k++)
        if (kernel_name == kernels[k].name) kernel = &kernels[k];
    if (!kernel) return fail("no kernel " + kernel_name + " in " + build.library);

    // Device memory: one heap block of the exact size per recorded allocation, holding its recorded contents.
    int short_allocation = short_input && parameter_pointers.count(0) ? parameter_pointers[0].first : -1;
    std::map<int, unsigned char*> memory;
    for (const auto& [index, bytes] : allocation_bytes)
    {
        const size_t size = bytes - (index == short_allocation ? 1 : 0);
        auto* block_memory = static_cast<unsigned char*>(std::malloc(size));
        std::string data = read_file(base + "-" + std::to_string(index) + ".bin");
        std::memcpy(block_memory, data.data(), std::min(size, data.size()));
        memory[index] = block_memory;
    }
    std::vector<unsigned long long> storage(parameter_count * 2, 0);   // 16 bytes per parameter value
    std::vector<void*> parameters(parameter_count);
    for (int p = 0; p < parameter_count; p++)
    {
        parameters[p] = &storage[p * 2];
        if (parameter_values.count(p)) std::memcpy(parameters[p], parameter_values[p].data(), std::min<size_t>(16, parameter_values[p].size()));
        else if (parameter_pointers[p].first >= 0)
        {
            unsigned char* pointer = memory[parameter_pointers[p].first] + parameter_pointers[p].second;
            std::memcpy(parameters[p], &pointer, sizeof pointer);
        }
    }
    std::string failure = asl_emu::run_grid(*kernel, grid, block, parameters.data(), build.label);
    for (auto& [index, pointer] : memory) std::free(pointer);
    if (!failure.empty()) return fail(failure);
    std::printf("replayed %s: %s (%s), grid %u, block %u\n", launch.c_str(), kernel_name.c_str(), build.label.c_str(), grid.x, block.x);
    return 0;
}

int main(int argc, char** argv)
{
    bool missing_barrier = false, short_input = false;
    int status = 0, launches = 0;
    for (int i = 1; i < argc; i++)
    {
        if (std::strcmp(argv[i], "--plant-missing-barrier") == 0) missing_barrier = true;
        else if (std::strcmp(argv[i], "--plant-short-input") == 0) short_input = true;
        else
        {
            launches++;
            if (int s = replay(argv[i], missing_barrier, short_input)) status = s;
        }
    }
    if (launches == 0) return fail("usage: replay [--plant-missing-barrier | --plant-short-input] LAUNCH.txt...");
    return status;
}
