// A fake CUDA driver and NVRTC in one shared library, for running AslCuda's whole GPU path without a GPU
// (select it with ASLCUDA_CUDA_DRIVER_PATH and ASLCUDA_NVRTC_PATH). NVRTC "compiles" a program into a host
// shared library (kernel_build.cpp); the driver loads it and runs launches on the thread emulator
// (emulator_runtime.cpp). Device memory is host memory between guard pages, with canaries after the end.
// Every call checks what the real driver would reject and what AslCuda's launchers promise: a current
// context, balanced push/pop, the legacy default stream, pointer parameters inside live allocations, no
// launch on an unloaded module, the block size within __launch_bounds__.
//
// Environment: ASLCUDA_FAKE_DEVICE=h200|a100|t4 (default h200), ASLCUDA_FAKE_DRIVER_VERSION (default 12080),
// ASLCUDA_FAKE_NVRTC_VERSION (major.minor, default 12.8), ASLCUDA_EMULATOR_TIMEOUT_S, ASLCUDA_EMULATOR_CACHE,
// ASLCUDA_EMULATOR_CXXFLAGS.
#include "emulator_runtime.h"
#include "half_codec.h"
#include "kernel_build.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

#define EXPORT extern "C" __attribute__((visibility("default")))

namespace
{
// ---- CUresult codes used here ----------------------------------------------------------------------------
enum
{
    CUDA_SUCCESS = 0,
    CUDA_ERROR_INVALID_VALUE = 1,
    CUDA_ERROR_OUT_OF_MEMORY = 2,
    CUDA_ERROR_NOT_INITIALIZED = 3,
    CUDA_ERROR_INVALID_DEVICE = 101,
    CUDA_ERROR_INVALID_IMAGE = 200,
    CUDA_ERROR_INVALID_CONTEXT = 201,
    CUDA_ERROR_INVALID_HANDLE = 400,
    CUDA_ERROR_NOT_FOUND = 500,
    CUDA_ERROR_NOT_READY = 600,
    CUDA_ERROR_ILLEGAL_ADDRESS = 700,
    CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES = 701,
    CUDA_ERROR_LAUNCH_FAILED = 719,
    CUDA_ERROR_NOT_SUPPORTED = 801,
};

struct ErrorInfo { int code; const char* name; const char* text; };
const ErrorInfo errors[] = {
    {CUDA_SUCCESS, "CUDA_SUCCESS", "no error"},
    {CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {CUDA_ERROR_NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {CUDA_ERROR_INVALID_IMAGE, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid"},
    {CUDA_ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {CUDA_ERROR_NOT_READY, "CUDA_ERROR_NOT_READY", "device not ready"},
    {CUDA_ERROR_ILLEGAL_ADDRESS, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered"},
    {CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", "too many resources requested for launch"},
    {CUDA_ERROR_LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"},
    {CUDA_ERROR_NOT_SUPPORTED, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
};

// The detail of the last error returned to this thread: cuGetErrorString answers with it, so the message of
// AslCuda's CudaException says what the emulator found.
thread_local int last_error_code = 0;
thread_local std::string last_error_text;

int fail(int code, const std::string& detail)
{
    last_error_code = code;
    last_error_text.clear();
    for (const auto& e : errors)
        if (e.code == code) last_error_text = e.text;
    last_error_text += " (emulated device: " + detail + ")";
    return code;
}

// ---- the device -------------------------------------------------------------------------------------------
struct Profile
{
    const char* key;
    const char* name;
    int major, minor, multiprocessors, max_blocks_per_sm, max_threads_per_sm, shared_per_block, shared_per_block_optin,
        shared_per_sm, registers_per_sm;
    long long l2_bytes, memory_bytes;
};
const Profile profiles[] = {
    {"h200", "AslCuda emulated NVIDIA H200", 9, 0, 132, 32, 2048, 48 * 1024, 227 * 1024, 228 * 1024, 65536, 50LL << 20, 141LL << 30},
    {"a100", "AslCuda emulated NVIDIA A100-SXM4-80GB", 8, 0, 108, 32, 2048, 48 * 1024, 163 * 1024, 164 * 1024, 65536, 40LL << 20, 80LL << 30},
    {"t4", "AslCuda emulated Tesla T4", 7, 5, 40, 16, 1024, 48 * 1024, 64 * 1024, 64 * 1024, 65536, 4LL << 20, 15LL << 30},
};
const int registers_per_thread = 32;   // what cuFuncGetAttribute reports; sets the occupancy

const Profile* profile()
{
    static const Profile* chosen = [] {
        const char* key = std::getenv("ASLCUDA_FAKE_DEVICE");
        for (const auto& p : profiles)
            if (key == nullptr || *key == 0 ? p.key == std::string("h200") : p.key == std::string(key)) return &p;
        std::fprintf(stderr, "ASLCUDA_FAKE_DEVICE=%s is not one of h200, a100, t4; emulating an H200\n", key);
        return &profiles[0];
    }();
    return chosen;
}

int env_int(const char* name, int fallback)
{
    const char* text = std::getenv(name);
    return text && *text ? std::atoi(text) : fallback;
}

std::mutex device_mutex;   // the legacy default stream: launches, copies and allocations happen one at a time
bool initialized = false;

struct Context
{
    int retained = 0;
    int pending_error = 0;                 // an asynchronous launch failure, reported by the next synchronising call
    std::string pending_text;
};
Context primary;
thread_local std::vector<Context*> context_stack;

// Injected failures (aslcuda_fake_fail_next): the next `count` calls of `call` return `code`.
std::map<std::string, std::pair<int, int>> injected;
int injected_failure(const char* call)
{
    auto it = injected.find(call);
    if (it == injected.end() || it->second.second <= 0) return 0;
    it->second.second--;
    return fail(it->second.first, std::string("failure injected by aslcuda_fake_fail_next for ") + call);
}

int require_context(const char* call)
{
    if (!initialized) return fail(CUDA_ERROR_NOT_INITIALIZED, std::string(call) + " before cuInit");
    if (context_stack.empty()) return fail(CUDA_ERROR_INVALID_CONTEXT, std::string(call) + " with no current context (push the primary context first)");
    return 0;
}

int take_pending_error()
{
    if (primary.pending_error == 0) return 0;
    int code = primary.pending_error;
    std::string text = primary.pending_text;
    primary.pending_error = 0;   // reported once; the emulated context stays usable
    return fail(code, text);
}

// ---- memory --------------------------------------------------------------------------------------------------
const size_t page = (size_t)sysconf(_SC_PAGESIZE);
const unsigned char canary = 0xA5;

struct Allocation
{
    uint64_t base = 0;
    size_t bytes = 0, slack = 0;          // slack: canary bytes between the end and the guard page
    void* mapping = nullptr;
    size_t mapping_bytes = 0;
};
std::map<uint64_t, Allocation> allocations;   // by base address

const Allocation* find_allocation(uint64_t address)
{
    auto it = allocations.upper_bound(address);
    if (it == allocations.begin()) return nullptr;
    --it;
    return address <= it->second.base + it->second.bytes ? &it->second : nullptr;
}

bool inside(uint64_t address, size_t bytes, std::string& why)
{
    const Allocation* a = find_allocation(address);
    char text[256];
    if (a == nullptr || address + bytes > a->base + a->bytes)
    {
        if (a == nullptr) std::snprintf(text, sizeof text, "0x%llx is not inside any live allocation", (unsigned long long)address);
        else
            std::snprintf(text, sizeof text, "[0x%llx, +%zu) runs past the end of the allocation at 0x%llx of %zu bytes",
                          (unsigned long long)address, bytes, (unsigned long long)a->base, a->bytes);
        why = text;
        return false;
    }
    return true;
}

std::string damaged_canaries()
{
    for (const auto& [base, a] : allocations)
    {
        const unsigned char* tail = reinterpret_cast<const unsigned char*>(base + a.bytes);
        for (size_t i = 0; i < a.slack; i++)
            if (tail[i] != canary)
            {
                char text[200];
                std::snprintf(text, sizeof text, "byte %zu past the end of the allocation at 0x%llx of %zu bytes was written", i,
                              (unsigned long long)base, a.bytes);
                return text;
            }
    }
    return "";
}

// ---- modules ---------------------------------------------------------------------------------------------------
const char image_magic[] = "ASLCUDA-EMULATED-KERNEL\n";

struct Module;
struct Function
{
    Module* module;
    const AslEmuKernel* kernel;
};
struct Module
{
    bool loaded = true;
    std::string library, label;
    std::vector<Function> functions;
};

// ---- launch recording for the sanitizer replay ----------------------------------------------------------------
std::string record_directory;
int recorded_launches = 0;

void record_launch(const Function& f, AslEmuDim3 grid, AslEmuDim3 block, void** parameters)
{
    char name[64];
    std::snprintf(name, sizeof name, "/launch-%05d", recorded_launches++);
    std::string base = record_directory + name;
    std::ofstream meta(base + ".txt");
    std::string library_dir = f.module->library.substr(0, f.module->library.rfind('/'));
    meta << "module " << library_dir << "\nkernel " << f.kernel->name << "\ngrid " << grid.x << " " << grid.y << " " << grid.z << "\nblock "
         << block.x << " " << block.y << " " << block.z << "\n";
    std::map<uint64_t, int> saved;
    for (int i = 0; i < f.kernel->parameter_count; i++)
    {
        const unsigned size = f.kernel->parameter_sizes[i];
        if (f.kernel->parameter_is_pointer[i])
        {
            uint64_t p;
            std::memcpy(&p, parameters[i], sizeof p);
            const Allocation* a = p ? find_allocation(p) : nullptr;
            if (a == nullptr)
            {
                meta << "null " << i << "\n";
                continue;
            }
            if (!saved.count(a->base))
            {
                int index = (int)saved.size();
                saved[a->base] = index;
                std::ofstream data(base + "-" + std::to_string(index) + ".bin", std::ios::binary);
                data.write(reinterpret_cast<const char*>(a->base), (std::streamsize)a->bytes);
                meta << "allocation " << index << " " << a->bytes << "\n";
            }
            meta << "pointer " << i << " " << saved[a->base] << " " << (p - a->base) << "\n";
        }
        else
        {
            meta << "value " << i << " " << size;
            const unsigned char* bytes = static_cast<const unsigned char*>(parameters[i]);
            for (unsigned b = 0; b < size; b++) meta << " " << (int)bytes[b];
            meta << "\n";
        }
    }
}
}

// ================================ CUDA driver API ================================================================
EXPORT int cuInit(unsigned flags)
{
    std::lock_guard<std::mutex> lock(device_mutex);
    if (int e = injected_failure("cuInit")) return e;
    if (flags != 0) return fail(CUDA_ERROR_INVALID_VALUE, "cuInit flags must be 0");
    initialized = true;
    return 0;
}

EXPORT int cuDriverGetVersion(int* version)
{
    if (!version) return fail(CUDA_ERROR_INVALID_VALUE, "null version");
    *version = env_int("ASLCUDA_FAKE_DRIVER_VERSION", 12080);
    return 0;
}

EXPORT int cuGetErrorName(int error, const char** name)
{
    for (const auto& e : errors)
        if (e.code == error) { *name = e.name; return 0; }
    *name = nullptr;
    return CUDA_ERROR_INVALID_VALUE;
}

EXPORT int cuGetErrorString(int error, const char** text)
{
    if (error == last_error_code && !last_error_text.empty()) { *text = last_error_text.c_str(); return 0; }
    for (const auto& e : errors)
        if (e.code == error) { *text = e.text; return 0; }
    *text = nullptr;
    return CUDA_ERROR_INVALID_VALUE;
}

EXPORT int cuDeviceGetCount(int* count)
{
    if (!initialized) return fail(CUDA_ERROR_NOT_INITIALIZED, "cuDeviceGetCount before cuInit");
    *count = 1;
    return 0;
}

EXPORT int cuDeviceGet(int* device, int ordinal)
{
    if (!initialized) return fail(CUDA_ERROR_NOT_INITIALIZED, "cuDeviceGet before cuInit");
    if (ordinal != 0) return fail(CUDA_ERROR_INVALID_DEVICE, "there is one emulated device, ordinal 0");
    *device = 0;
    return 0;
}

EXPORT int cuDeviceGetAttribute(int* value, int attribute, int device)
{
    if (!initialized) return fail(CUDA_ERROR_NOT_INITIALIZED, "cuDeviceGetAttribute before cuInit");
    if (device != 0) return fail(CUDA_ERROR_INVALID_DEVICE, "device " + std::to_string(device));
    const Profile& p = *profile();
    switch (attribute)
    {
    case 1: *value = 1024; break;                          // max threads per block
    case 2: case 3: *value = 1024; break;                  // max block x, y
    case 4: *value = 64; break;
    case 5: *value = 2147483647; break;                    // max grid x
    case 6: case 7: *value = 65535; break;
    case 8: *value = p.shared_per_block; break;
    case 10: *value = 32; break;                           // warp size
    case 12: *value = p.registers_per_sm; break;           // registers per block
    case 16: *value = p.multiprocessors; break;
    case 38: *value = (int)p.l2_bytes; break;
    case 39: *value = p.max_threads_per_sm; break;
    case 75: *value = p.major; break;
    case 76: *value = p.minor; break;
    case 81: *value = p.shared_per_sm; break;
    case 82: *value = p.registers_per_sm; break;
    case 97: *value = p.shared_per_block_optin; break;
    case 106: *value = p.max_blocks_per_sm; break;
    default: return fail(CUDA_ERROR_INVALID_VALUE, "device attribute " + std::to_string(attribute) + " is not emulated");
    }
    return 0;
}

EXPORT int cuDeviceGetName(char* name, int length, int device)
{
    if (!initialized) return fail(CUDA_ERROR_NOT_INITIALIZED, "cuDeviceGetName before cuInit");
    if (device != 0) return fail(CUDA_ERROR_INVALID_DEVICE, "device " + std::to_string(device));
    if (!name || length <= 0) return fail(CUDA_ERROR_INVALID_VALUE, "name buffer");
    std::snprintf(name, (size_t)length, "%s", profile()->name);
    return 0;
}

EXPORT int cuDeviceTotalMem_v2(size_t* bytes, int device)
{
    if (!initialized) return fail(CUDA_ERROR_NOT_INITIALIZED, "cuDeviceTotalMem before cuInit");
    if (device != 0) return fail(CUDA_ERROR_INVALID_DEVICE, "device " + std::to_string(device));
    *bytes = (size_t)profile()->memory_bytes;
    return 0;
}

EXPORT int cuDevicePrimaryCtxRetain(void** context, int device)
{
    std::lock_guard<std::mutex> lock(device_mutex);
    if (!initialized) return fail(CUDA_ERROR_NOT_INITIALIZED, "cuDevicePrimaryCtxRetain before cuInit");
    if (int e = injected_failure("cuDevicePrimaryCtxRetain")) return e;
    if (device != 0) return fail(CUDA_ERROR_INVALID_DEVICE, "device " + std::to_string(device));
    primary.retained++;
    *context = &primary;
    return 0;
}

EXPORT int cuDevicePrimaryCtxRelease_v2(int device)
{
    std::lock_guard<std::mutex> lock(device_mutex);
    if (device != 0) return fail(CUDA_ERROR_INVALID_DEVICE, "device " + std::to_string(device));
    if (primary.retained <= 0) return fail(CUDA_ERROR_INVALID_CONTEXT, "primary context released more often than retained");
    primary.retained--;
    return 0;
}

EXPORT int cuCtxPushCurrent_v2(void* context)
{
    if (context != &primary || primary.retained <= 0)
        return fail(CUDA_ERROR_INVALID_CONTEXT, "cuCtxPushCurrent of a context that is not the retained primary context");
    context_stack.push_back(&primary);
    return 0;
}

EXPORT int cuCtxPopCurrent_v2(void** context)
{
    if (context_stack.empty()) return fail(CUDA_ERROR_INVALID_CONTEXT, "cuCtxPopCurrent with no context pushed on this thread (unbalanced pop)");
    if (context) *context = context_stack.back();
    context_stack.pop_back();
    return 0;
}

EXPORT int cuCtxSynchronize()
{
    std::lock_guard<std::mutex> lock(device_mutex);
    if (int e = require_context("cuCtxSynchronize")) return e;
    return take_pending_error();
}

EXPORT int cuMemAlloc_v2(uint64_t* pointer, size_t bytes)
{
    std::lock_guard<std::mutex> lock(device_mutex);
    if (int e = require_context("cuMemAlloc")) return e;
    if (int e = injected_failure("cuMemAlloc")) return e;
    if (bytes == 0) return fail(CUDA_ERROR_INVALID_VALUE, "cuMemAlloc of 0 bytes");
    size_t in_use = 0;
    for (const auto& entry : allocations) in_use += entry.second.bytes;
    if (in_use + bytes > (size_t)profile()->memory_bytes)
        return fail(CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc of " + std::to_string(bytes) + " bytes with " + std::to_string(in_use) + " in use");
    // [guard page][... slack-padded data ...][guard page]; the data starts 256-byte aligned as on a GPU and ends as
    // close to the trailing guard page as that allows; the bytes in between hold canaries.
    const size_t padded = (bytes + 255) & ~(size_t)255, body = (padded + page - 1) & ~(page - 1);
    const size_t mapping_bytes = body + 2 * page;
    void* mapping = mmap(nullptr, mapping_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mapping == MAP_FAILED) return fail(CUDA_ERROR_OUT_OF_MEMORY, "host mmap of " + std::to_string(mapping_bytes) + " bytes failed");
    unsigned char* start = static_cast<unsigned char*>(mapping) + page;
    mprotect(start, body, PROT_READ | PROT_WRITE);
    unsigned char* data = start + body - padded;
    Allocation a;
    a.base = reinterpret_cast<uint64_t>(data);
    a.bytes = bytes;
    a.slack = padded - bytes;
    a.mapping = mapping;
    a.mapping_bytes = mapping_bytes;
    std::memset(data, 0xCD, bytes);           // uninitialised device memory is not zero
    std::memset(data + bytes, canary, a.slack);
    allocations[a.base] = a;
    *pointer = a.base;
    return 0;
}

EXPORT int cuMemFree_v2(uint64_t pointer)
{
    std::lock_guard<std::mutex> lock(device_mutex);
    if (int e = require_context("cuMemFree")) return e;
    auto it = allocations.find(pointer);
    if (it == allocations.end()) return fail(CUDA_ERROR_INVALID_VALUE, "cuMemFree of an address that is not the start of a live allocation");
    std::string damage = damaged_canaries();
    munmap(it->second.mapping, it->second.mapping_bytes);
    allocations.erase(it);
    if (!damage.empty()) return fail(CUDA_ERROR_ILLEGAL_ADDRESS, damage);
    return 0;
}

EXPORT int cuMemcpyHtoD_v2(uint64_t destination, const void* source, size_t bytes)
{
    std::lock_guard<std::mutex> lock(device_mutex);
    if (int e = require_context("cuMemcpyHtoD")) return e;
    if (int e = take_pending_error()) return e;
    std::string why;
    if (!inside(destination, bytes, why)) return fail(CUDA_ERROR_INVALID_VALUE, "cuMemcpyHtoD destination " + why);
    std::memcpy(reinterpret_cast<void*>(destination), source, bytes);
    return 0;
}

EXPORT int cuMemcpyDtoH_v2(void* destination, uint64_t source, size_t bytes)
{
    std::lock_guard<std::mutex> lock(device_mutex);
    if (int e = require_context("cuMemcpyDtoH")) return e;
    if (int e = take_pending_error()) return e;
    std::string why;
    if (!inside(source, bytes, why)) return fail(CUDA_ERROR_INVALID_VALUE, "cuMemcpyDtoH source " + why);
    std::memcpy(destination, reinterpret_cast<const void*>(source), bytes);
    return 0;
}

EXPORT int cuMemcpyDtoD_v2(uint64_t destination, uint64_t source, size_t bytes)
{
    std::lock_guard<std::mutex> lock(device_mutex);
    if (int e = require_context("cuMemcpyDtoD")) return e;
    if (int e = take_pending_error()) return e;
    std::string why;
    if (!inside(source, bytes, why)) return fail(CUDA_ERROR_INVALID_VALUE, "cuMemcpyDtoD source " + why);
    if (!inside(destination, bytes, why)) return fail(CUDA_ERROR_INVALID_VALUE, "cuMemcpyDtoD destination " + why);
    std::memmove(reinterpret_cast<void*>(destination), reinterpret_cast<const void*>(source), bytes);
    return 0;
}

EXPORT int cuMemsetD8_v2(uint64_t destination, unsigned char value, size_t count)
{
    std::lock_guard<std::mutex> lock(device_mutex);
    if (int e = require_context("cuMemsetD8")) return e;
    if (int e = take_pending_error()) return e;
    std::string why;
    if (!inside(destination, count, why)) return fail(CUDA_ERROR_INVALID_VALUE, "cuMemsetD8 " + why);
    std::memset(reinterpret_cast<void*>(destination), value, count);
    return 0;
}

EXPORT int cuModuleLoadData(void** module, const void* image)
{
    std::lock_guard<std::mutex> lock(device_mutex);
    if (int e = require_context("cuModuleLoadData")) return e;
    if (int e = injected_failure("cuModuleLoadData")) return e;
    const char* text = static_cast<const char*>(image);
    if (!text || std::strncmp(text, image_magic, sizeof image_magic - 1) != 0)
        return fail(CUDA_ERROR_INVALID_IMAGE, "this image is not from the fake NVRTC; with the emulated driver, ASLCUDA_NVRTC_PATH must name the "
                                              "same fake library, and a kernel cache must not hold real CUBIN/PTX for this NVRTC version");
    std::string rest = text + sizeof image_magic - 1;
    size_t newline = rest.find('\n');
    Module* m = new Module();   // never deleted: a launch through a stale function handle must find it unloaded
    m->library = rest.substr(0, newline);
    m->label = newline == std::string::npos ? "" : rest.substr(newline + 1);
    if (!m->label.empty() && m->label.back() == '\n') m->label.pop_back();
    void* handle = dlopen(m->library.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) return fail(CUDA_ERROR_INVALID_IMAGE, std::string("cannot load the emulated kernel library: ") + dlerror());
    auto entry = reinterpret_cast<AslEmuModuleEntry>(dlsym(handle, ASL_EMU_MODULE_ENTRY));
    if (!entry) return fail(CUDA_ERROR_INVALID_IMAGE, m->library + " has no " ASL_EMU_MODULE_ENTRY);
    const AslEmuKernel* kernels = nullptr;
    int count = entry(asl_emu::runtime_table(), &kernels);
    for (int i = 0; i < count; i++) m->functions.push_back(Function{m, &kernels[i]});
    *module = m;
    return 0;
}

EXPORT int cuModuleUnload(void* module)
{
    std::lock_guard<std::mutex> lock(device_mutex);
    if (int e = require_context("cuModuleUnload")) return e;
    Module* m = static_cast<Module*>(module);
    if (!m || !m->loaded) return fail(CUDA_ERROR_INVALID_HANDLE, "cuModuleUnload of a module that is not loaded");
    m->loaded = false;   // the library stays mapped (dlclose under live pool threads' TLS is not worth the risk)
    return 0;
}

EXPORT int cuModuleGetFunction(void** function, void* module, const char* name)
{
    std::lock_guard<std::mutex> lock(device_mutex);
    if (int e = require_context("cuModuleGetFunction")) return e;
    Module* m = static_cast<Module*>(module);
    if (!m || !m->loaded) return fail(CUDA_ERROR_INVALID_HANDLE, "cuModuleGetFunction on a module that is not loaded");
    for (auto& f : m->functions)
        if (std::strcmp(f.kernel->name, name) == 0) { *function = &f; return 0; }
    return fail(CUDA_ERROR_NOT_FOUND, std::string("no __global__ function ") + name + " in the module (" + m->label + ")");
}

namespace
{
int max_threads(const Function& f) { return f.kernel->max_threads > 0 ? std::min(f.kernel->max_threads, 1024) : 1024; }
}

EXPORT int cuFuncGetAttribute(int* value, int attribute, void* function)
{
    if (int e = require_context("cuFuncGetAttribute")) return e;
    const Function* f = static_cast<const Function*>(function);
    if (!f || !f->module->loaded) return fail(CUDA_ERROR_INVALID_HANDLE, "cuFuncGetAttribute on a function of an unloaded module");
    switch (attribute)
    {
    case 0: *value = max_threads(*f); break;                  // max threads per block
    case 1: case 2: case 3: *value = 0; break;               // static shared, const, local bytes (host code: not known, 0)
    case 4: *value = registers_per_thread; break;
    case 5: case 6: *value = profile()->major * 10 + profile()->minor; break;
    default: return fail(CUDA_ERROR_INVALID_VALUE, "function attribute " + std::to_string(attribute) + " is not emulated");
    }
    return 0;
}

EXPORT int cuOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, void* function, int block_size, size_t dynamic_shared)
{
    if (int e = require_context("cuOccupancyMaxActiveBlocksPerMultiprocessor")) return e;
    const Function* f = static_cast<const Function*>(function);
    if (!f || !f->module->loaded) return fail(CUDA_ERROR_INVALID_HANDLE, "occupancy of a function of an unloaded module");
    if (block_size <= 0) return fail(CUDA_ERROR_INVALID_VALUE, "block size " + std::to_string(block_size));
    const Profile& p = *profile();
    if (block_size > max_threads(*f) || dynamic_shared > (size_t)p.shared_per_block_optin) { *blocks = 0; return 0; }
    const int warps = (block_size + 31) / 32;
    int by_threads = p.max_threads_per_sm / (warps * 32), by_registers = p.registers_per_sm / (warps * 32 * registers_per_thread);
    *blocks = std::max(0, std::min({p.max_blocks_per_sm, by_threads, by_registers}));
    return 0;
}

EXPORT int cuLaunchKernel(void* function, unsigned grid_x, unsigned grid_y, unsigned grid_z, unsigned block_x, unsigned block_y,
                          unsigned block_z, unsigned shared_bytes, void* stream, void** parameters, void** extra)
{
    std::lock_guard<std::mutex> lock(device_mutex);
    if (int e = require_context("cuLaunchKernel")) return e;
    if (int e = take_pending_error()) return e;
    if (context_stack.size() != 1)
        return fail(CUDA_ERROR_INVALID_CONTEXT, "cuLaunchKernel with " + std::to_string(context_stack.size()) +
                                                    " contexts pushed on this thread: an earlier push was not popped");
    Function* f = static_cast<Function*>(function);
    if (!f) return fail(CUDA_ERROR_INVALID_HANDLE, "null function");
    if (!f->module->loaded) return fail(CUDA_ERROR_INVALID_HANDLE, std::string("launch of ") + f->kernel->name + " whose module was unloaded");
    const std::string what = std::string(f->kernel->name) + " (" + f->module->label + ")";
    if (stream != nullptr && stream != reinterpret_cast<void*>(1))
        return fail(CUDA_ERROR_INVALID_HANDLE, "launch of " + what + " on a stream other than the legacy default stream, which the launchers document");
    if (grid_x == 0 || grid_y == 0 || grid_z == 0 || grid_y > 65535 || grid_z > 65535 || grid_x > 2147483647u)
        return fail(CUDA_ERROR_INVALID_VALUE, "grid of " + what + " is (" + std::to_string(grid_x) + "," + std::to_string(grid_y) + "," + std::to_string(grid_z) + ")");
    const unsigned long long threads = (unsigned long long)block_x * block_y * block_z;
    if (block_x == 0 || block_y == 0 || block_z == 0 || block_z > 64 || threads > 1024)
        return fail(CUDA_ERROR_INVALID_VALUE, "block of " + what + " is (" + std::to_string(block_x) + "," + std::to_string(block_y) + "," + std::to_string(block_z) + ")");
    if (threads > (unsigned long long)max_threads(*f))
        return fail(CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "block of " + std::to_string(threads) + " threads for " + what + " whose __launch_bounds__ is " +
                                                            std::to_string(max_threads(*f)));
    if (shared_bytes != 0) return fail(CUDA_ERROR_NOT_SUPPORTED, "dynamic shared memory is not emulated (" + what + ")");
    if (extra != nullptr) return fail(CUDA_ERROR_NOT_SUPPORTED, "the extra launch argument is not emulated (" + what + ")");
    if (f->kernel->parameter_count > 0 && parameters == nullptr) return fail(CUDA_ERROR_INVALID_VALUE, "no parameters for " + what);
    for (int i = 0; i < f->kernel->parameter_count; i++)
    {
        if (parameters[i] == nullptr) return fail(CUDA_ERROR_INVALID_VALUE, "parameter " + std::to_string(i) + " of " + what + " is a null pointer to its value");
        if (!f->kernel->parameter_is_pointer[i]) continue;
        uint64_t p;
        std::memcpy(&p, parameters[i], sizeof p);
        std::string why;
        if (p != 0 && !inside(p, 0, why))
        {
            primary.pending_error = CUDA_ERROR_ILLEGAL_ADDRESS;
            primary.pending_text = "pointer parameter " + std::to_string(i) + " of " + what + ": " + why;
            return 0;
        }
    }
    if (!record_directory.empty()) record_launch(*f, AslEmuDim3{grid_x, grid_y, grid_z}, AslEmuDim3{block_x, block_y, block_z}, parameters);
    std::string failure = asl_emu::run_grid(*f->kernel, AslEmuDim3{grid_x, grid_y, grid_z}, AslEmuDim3{block_x, block_y, block_z}, parameters, f->module->label);
    if (!failure.empty())
    {
        primary.pending_error = CUDA_ERROR_LAUNCH_FAILED;
        primary.pending_text = failure;
        return 0;
    }
    std::string damage = damaged_canaries();
    if (!damage.empty())
    {
        primary.pending_error = CUDA_ERROR_ILLEGAL_ADDRESS;
        primary.pending_text = what + ": " + damage;
    }
    return 0;
}

namespace
{
struct Event
{
    bool recorded = false;
    std::chrono::steady_clock::time_point at;
};
}

EXPORT int cuEventCreate(void** event, unsigned flags)
{
    if (int e = require_context("cuEventCreate")) return e;
    (void)flags;
    *event = new Event();
    return 0;
}

EXPORT int cuEventRecord(void* event, void* stream)
{
    std::lock_guard<std::mutex> lock(device_mutex);
    if (int e = require_context("cuEventRecord")) return e;
    if (stream != nullptr && stream != reinterpret_cast<void*>(1)) return fail(CUDA_ERROR_INVALID_HANDLE, "cuEventRecord on a stream other than the legacy default stream");
    auto* e = static_cast<Event*>(event);
    e->recorded = true;
    e->at = std::chrono::steady_clock::now();
    return 0;
}

EXPORT int cuEventSynchronize(void* event)
{
    std::lock_guard<std::mutex> lock(device_mutex);
    if (int e = require_context("cuEventSynchronize")) return e;
    if (!static_cast<Event*>(event)->recorded) return fail(CUDA_ERROR_INVALID_HANDLE, "cuEventSynchronize of an event never recorded");
    return take_pending_error();
}

EXPORT int cuEventElapsedTime(float* milliseconds, void* start, void* end)
{
    if (int e = require_context("cuEventElapsedTime")) return e;
    auto *s = static_cast<Event*>(start), *e = static_cast<Event*>(end);
    if (!s->recorded || !e->recorded) return fail(CUDA_ERROR_INVALID_HANDLE, "cuEventElapsedTime of an event never recorded");
    *milliseconds = std::chrono::duration<float, std::milli>(e->at - s->at).count();
    return 0;
}

EXPORT int cuEventDestroy_v2(void* event)
{
    if (int e = require_context("cuEventDestroy")) return e;
    delete static_cast<Event*>(event);
    return 0;
}

// ================================ NVRTC ==========================================================================
namespace
{
struct Program
{
    std::string source, name;
    std::map<std::string, std::string> headers;
    std::string log, image;
    bool compiled = false, cubin = false;
};

enum
{
    NVRTC_SUCCESS = 0,
    NVRTC_ERROR_INVALID_INPUT = 3,
    NVRTC_ERROR_INVALID_PROGRAM = 4,
    NVRTC_ERROR_INVALID_OPTION = 5,
    NVRTC_ERROR_COMPILATION = 6,
};

void nvrtc_version(int& major, int& minor)
{
    const char* text = std::getenv("ASLCUDA_FAKE_NVRTC_VERSION");
    major = 12;
    minor = 8;
    if (text && *text) std::sscanf(text, "%d.%d", &major, &minor);
}

std::vector<int> supported_architectures()
{
    int major, minor;
    nvrtc_version(major, minor);
    std::vector<int> a = major >= 12 ? std::vector<int>{50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90}
                                     : std::vector<int>{35, 37, 50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87};
    if (major == 11 && minor >= 8) a.insert(a.end(), {89, 90});
    if (major > 12 || (major == 12 && minor >= 8)) a.insert(a.end(), {100, 101, 120});
    return a;
}
}

EXPORT const char* nvrtcGetErrorString(int result)
{
    switch (result)
    {
    case NVRTC_SUCCESS: return "NVRTC_SUCCESS";
    case NVRTC_ERROR_INVALID_INPUT: return "NVRTC_ERROR_INVALID_INPUT";
    case NVRTC_ERROR_INVALID_PROGRAM: return "NVRTC_ERROR_INVALID_PROGRAM";
    case NVRTC_ERROR_INVALID_OPTION: return "NVRTC_ERROR_INVALID_OPTION";
    case NVRTC_ERROR_COMPILATION: return "NVRTC_ERROR_COMPILATION";
    default: return "NVRTC_ERROR_INTERNAL_ERROR";
    }
}

EXPORT int nvrtcVersion(int* major, int* minor)
{
    nvrtc_version(*major, *minor);
    return 0;
}

EXPORT int nvrtcGetNumSupportedArchs(int* count)
{
    *count = (int)supported_architectures().size();
    return 0;
}

EXPORT int nvrtcGetSupportedArchs(int* architectures)
{
    auto a = supported_architectures();
    std::copy(a.begin(), a.end(), architectures);
    return 0;
}

EXPORT int nvrtcCreateProgram(void** program, const char* source, const char* name, int header_count, const char* const* headers,
                              const char* const* include_names)
{
    if (!program || !source || header_count < 0) return NVRTC_ERROR_INVALID_INPUT;
    auto* p = new Program();
    p->source = source;
    p->name = name ? name : "default_program";
    for (int i = 0; i < header_count; i++) p->headers[include_names[i]] = headers[i];
    *program = p;
    return 0;
}

EXPORT int nvrtcCompileProgram(void* program, int option_count, const char* const* options)
{
    auto* p = static_cast<Program*>(program);
    if (!p) return NVRTC_ERROR_INVALID_PROGRAM;
    std::vector<std::string> list(options, options + option_count);
    const char* extra = std::getenv("ASLCUDA_EMULATOR_CXXFLAGS");
    auto build = asl_emu::build_kernel(p->source, p->name, p->headers, list, extra ? extra : "");
    p->log = build.log;
    if (build.invalid_option) return NVRTC_ERROR_INVALID_OPTION;
    if (!build.ok) return NVRTC_ERROR_COMPILATION;
    auto archs = supported_architectures();
    int number = 0;
    if (build.architecture.rfind("sm_", 0) == 0 || build.architecture.rfind("compute_", 0) == 0)
        number = std::atoi(build.architecture.c_str() + build.architecture.find('_') + 1);
    if (!build.architecture.empty() && std::find(archs.begin(), archs.end(), number) == archs.end())
    {
        p->log = "fake NVRTC: invalid value for --gpu-architecture: " + build.architecture;
        return NVRTC_ERROR_INVALID_OPTION;
    }
    p->cubin = build.architecture.rfind("sm_", 0) == 0;
    p->image = std::string(image_magic) + build.library + "\n" + build.label + "\n";
    p->compiled = true;
    return 0;
}

EXPORT int nvrtcGetProgramLogSize(void* program, size_t* size)
{
    *size = static_cast<Program*>(program)->log.size() + 1;
    return 0;
}

EXPORT int nvrtcGetProgramLog(void* program, char* log)
{
    const std::string& text = static_cast<Program*>(program)->log;
    std::memcpy(log, text.c_str(), text.size() + 1);
    return 0;
}

EXPORT int nvrtcGetPTXSize(void* program, size_t* size)
{
    auto* p = static_cast<Program*>(program);
    if (!p->compiled) return NVRTC_ERROR_INVALID_PROGRAM;
    *size = p->image.size() + 1;
    return 0;
}

EXPORT int nvrtcGetPTX(void* program, char* ptx)
{
    auto* p = static_cast<Program*>(program);
    if (!p->compiled) return NVRTC_ERROR_INVALID_PROGRAM;
    std::memcpy(ptx, p->image.c_str(), p->image.size() + 1);
    return 0;
}

EXPORT int nvrtcGetCUBINSize(void* program, size_t* size)
{
    auto* p = static_cast<Program*>(program);
    if (!p->compiled) return NVRTC_ERROR_INVALID_PROGRAM;
    *size = p->cubin ? p->image.size() + 1 : 0;
    return 0;
}

EXPORT int nvrtcGetCUBIN(void* program, char* cubin)
{
    auto* p = static_cast<Program*>(program);
    if (!p->compiled || !p->cubin) return NVRTC_ERROR_INVALID_PROGRAM;
    std::memcpy(cubin, p->image.c_str(), p->image.size() + 1);
    return 0;
}

EXPORT int nvrtcDestroyProgram(void** program)
{
    if (!program) return NVRTC_ERROR_INVALID_PROGRAM;
    delete static_cast<Program*>(*program);
    *program = nullptr;
    return 0;
}

// ================================ test controls ==================================================================
// The next `count` calls of `call` (cuInit, cuDevicePrimaryCtxRetain, cuMemAlloc, cuModuleLoadData) fail with `error`.
EXPORT void aslcuda_fake_fail_next(const char* call, int error, int count)
{
    std::lock_guard<std::mutex> lock(device_mutex);
    injected[call] = {error, count};
}

// Records every later launch (kernel, geometry, parameters, the allocations they point into) under `directory`
// for tests/EmulatedDevice/sanitize_replay; null or "" stops recording. Returns the launches recorded so far.
EXPORT int aslcuda_fake_record(const char* directory)
{
    std::lock_guard<std::mutex> lock(device_mutex);
    record_directory = directory ? directory : "";
    int count = recorded_launches;
    recorded_launches = 0;
    return count;
}

// Bytes allocated and not freed, and the number of such allocations.
EXPORT long long aslcuda_fake_live_bytes(int* count)
{
    std::lock_guard<std::mutex> lock(device_mutex);
    long long bytes = 0;
    for (const auto& entry : allocations) bytes += (long long)entry.second.bytes;
    if (count) *count = (int)allocations.size();
    return bytes;
}

EXPORT float aslcuda_fake_half_to_float(unsigned short h) { return asl_emu_half_bits_to_float(h); }
EXPORT unsigned short aslcuda_fake_float_to_half(float f) { return asl_emu_float_to_half_bits(f); }
