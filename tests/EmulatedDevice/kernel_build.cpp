// See kernel_build.h.
#include "kernel_build.h"

#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace asl_emu
{
namespace
{
unsigned long long fnv1a(const std::string& text, unsigned long long hash)
{
    for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ull;
    return hash;
}

std::string quote(const std::string& text)
{
    std::string q = "'";
    for (char c : text) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

bool write_file(const std::string& path, const std::string& text)
{
    std::ofstream out(path, std::ios::binary);
    out << text;
    return (bool)out;
}

std::string read_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// Runs a shell command, returning its exit status and combined output.
int run(const std::string& command, std::string& output)
{
    FILE* pipe = popen((command + " 2>&1").c_str(), "r");
    if (!pipe) return -1;
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
    int status = pclose(pipe);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool is_identifier_char(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; }

// The __global__ functions of a preprocessed translation unit (see ASL_EMU_SCAN in cuda_emulator.h):
// name and the first __launch_bounds__ argument ("0" without one).
std::vector<std::pair<std::string, std::string>> scan_kernels(const std::string& text)
{
    std::vector<std::pair<std::string, std::string>> kernels;
    const std::string marker = "asl_emu_global_marker", bounds_marker = "asl_emu_bounds_marker";
    for (size_t at = text.find(marker); at != std::string::npos; at = text.find(marker, at + 1))
    {
        size_t i = at + marker.size();
        std::string bounds = "0", last_identifier;
        while (i < text.size())
        {
            char c = text[i];
            if (text.compare(i, bounds_marker.size(), bounds_marker) == 0)
            {
                size_t open = text.find('(', i), depth = 0, j = open;
                for (; j < text.size(); j++)
                {
                    if (text[j] == '(') depth++;
                    else if (text[j] == ')' && --depth == 0) break;
                }
                std::string arguments = text.substr(open + 1, j - open - 1);
                size_t comma = arguments.find(',');
                bounds = "(" + arguments.substr(0, comma) + ")";
                i = j + 1;
            }
            else if (is_identifier_char(c))
            {
                size_t j = i;
                while (j < text.size() && is_identifier_char(text[j])) j++;
                last_identifier = text.substr(i, j - i);
                i = j;
            }
            else if (c == '(')
                break;
            else
                i++;
        }
        if (!last_identifier.empty()) kernels.emplace_back(last_identifier, bounds);
    }
    return kernels;
}

std::string cache_directory()
{
    if (const char* configured = std::getenv("ASLCUDA_EMULATOR_CACHE"); configured && *configured) return configured;
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/aslcuda-emulator";
    if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/aslcuda-emulator";
    return "/tmp/aslcuda-emulator";
}

void make_directories(const std::string& path)
{
    for (size_t i = 1; i <= path.size(); i++)
        if (i == path.size() || path[i] == '/') mkdir(path.substr(0, i).c_str(), 0755);
}
}

std::string emulator_include_directory()
{
    Dl_info info;
    if (dladdr((void*)&emulator_include_directory, &info) && info.dli_fname)
    {
        std::string path = info.dli_fname;
        size_t slash = path.rfind('/');
        if (slash != std::string::npos) return path.substr(0, slash);
    }
    return ".";
}

KernelBuild build_kernel(const std::string& source, const std::string& name, const std::map<std::string, std::string>& headers,
                         const std::vector<std::string>& options, const std::string& extra_flags)
{
    KernelBuild build;
    std::string defines, flags = "-std=c++17";
    for (size_t i = 0; i < options.size(); i++)
    {
        const std::string& o = options[i];
        auto value = [&](const std::string& prefix) { return o.substr(prefix.size()); };
        if (o.rfind("-D", 0) == 0 || o.rfind("--define-macro=", 0) == 0)
        {
            std::string d = o.rfind("-D", 0) == 0 ? value("-D") : value("--define-macro=");
            defines += " " + quote("-D" + d);
            build.label += (build.label.empty() ? "" : " ") + std::string("-D") + d;
        }
        else if (o.rfind("--gpu-architecture=", 0) == 0) build.architecture = value("--gpu-architecture=");
        else if (o.rfind("-arch=", 0) == 0) build.architecture = value("-arch=");
        else if (o.rfind("--std=", 0) == 0) flags = "-std=" + value("--std=");
        else if (o.rfind("-std=", 0) == 0) flags = o;
        else if (o == "-lineinfo" || o == "--generate-line-info") flags += " -g";
        else if (o == "--use_fast_math" || o == "-use_fast_math" || o.rfind("--fmad=", 0) == 0 || o == "-default-device" ||
                 o.rfind("--maxrregcount=", 0) == 0 || o == "-w" || o == "--disable-warnings")
            continue;   // code generation switches of the GPU compiler; nothing to emulate
        else
        {
            build.invalid_option = true;
            build.log = "fake NVRTC (emulated device): unsupported option " + o;
            return build;
        }
    }
    const std::string include = emulator_include_directory();
    unsigned long long h1 = 14695981039346656037ull, h2 = 1469598103934665603ull;
    std::string everything = "v1\n" + source + "\n" + name + "\n" + flags + defines + "\n" + extra_flags + "\n" +
                             read_file(include + "/cuda_emulator.h") + read_file(include + "/emulator_abi.h");
    for (const auto& [include_name, text] : headers) everything += "\n" + include_name + "\n" + text;
    h1 = fnv1a(everything, h1);
    h2 = fnv1a(everything, h2 ^ 0x9E3779B97F4A7C15ull);
    char key[40];
    std::snprintf(key, sizeof key, "%016llx%016llx", h1, h2);
    const std::string final_dir = cache_directory() + "/" + key;
    build.library = final_dir + "/kernel.so";
    struct stat st;
    if (stat(build.library.c_str(), &st) == 0)
    {
        build.ok = true;
        return build;
    }

    make_directories(cache_directory());
    char temporary[4096];
    std::snprintf(temporary, sizeof temporary, "%s/tmp-%s-%d-XXXXXX", cache_directory().c_str(), key, (int)getpid());
    if (!mkdtemp(temporary))
    {
        build.log = "fake NVRTC: cannot create a folder in " + cache_directory();
        return build;
    }
    const std::string work = temporary;
    std::string base = name;
    if (size_t slash = base.rfind('/'); slash != std::string::npos) base = base.substr(slash + 1);
    bool written = write_file(work + "/" + base, source);
    for (const auto& [include_name, text] : headers)
    {
        if (include_name.find('/') != std::string::npos) make_directories(work + "/" + include_name.substr(0, include_name.rfind('/')));
        written = written && write_file(work + "/" + include_name, text);
    }
    // What the sanitizer replay (sanitize_replay.cpp) needs to build this program again with other flags.
    std::string inputs = "source " + base + "\n";
    for (const auto& o : options) inputs += "option " + o + "\n";
    for (const auto& header : headers) inputs += "header " + header.first + "\n";
    written = written && write_file(work + "/inputs.txt", inputs);
    written = written && write_file(work + "/scan.cpp", "#include \"cuda_emulator.h\"\n#include \"" + base + "\"\n");
    if (!written)
    {
        build.log = "fake NVRTC: cannot write the sources to " + work;
        return build;
    }

    const std::string common = "g++ " + flags + " -I" + quote(include) + " -I" + quote(work) + defines;
    std::string scan_output;
    if (run(common + " -E -P -DASL_EMU_SCAN " + quote(work + "/scan.cpp") + " -o " + quote(work + "/scan.ii"), scan_output) != 0)
    {
        build.log = scan_output;
        return build;
    }
    auto kernels = scan_kernels(read_file(work + "/scan.ii"));
    std::string module = "#include \"cuda_emulator.h\"\n#include \"" + base + "\"\nASL_EMU_MODULE(";
    for (size_t k = 0; k < kernels.size(); k++)
        module += (k ? ", " : "") + std::string("ASL_EMU_KERNEL(") + kernels[k].first + ", " + kernels[k].second + ")";
    module += ")\n";
    if (kernels.empty())
        module = "#include \"cuda_emulator.h\"\n#include \"" + base + "\"\nextern \"C\" __attribute__((visibility(\"default\"))) int "
                 "asl_emu_module(const AslEmuRuntime* r, const AslEmuKernel** k) { asl_emu_runtime = r; *k = nullptr; return 0; }\n";
    write_file(work + "/module.cpp", module);
    std::string compile_output;
    const std::string command = common + " -O1 -w -fPIC -shared -pthread " + extra_flags + " " + quote(work + "/module.cpp") + " -o " +
                                quote(work + "/kernel.so");
    if (run(command, compile_output) != 0)
    {
        build.log = compile_output.empty() ? "g++ failed: " + command : compile_output;
        return build;
    }
    // Publish atomically: another process may build the same variant at the same time.
    if (rename(work.c_str(), final_dir.c_str()) != 0)
    {
        std::string ignored;
        run("rm -rf " + quote(work), ignored);
    }
    if (stat(build.library.c_str(), &st) != 0)
    {
        build.log = "fake NVRTC: cannot move " + work + " to " + final_dir;
        return build;
    }
    build.ok = true;
    return build;
}
}
