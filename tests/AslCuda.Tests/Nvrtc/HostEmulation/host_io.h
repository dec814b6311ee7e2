// File input and output of the host-emulation programs (host_multilabel.cpp, host_singlelabel.cpp).
#pragma once
#include <cstdio>
#include <cstdlib>
#include <vector>

template <typename T> static std::vector<T> read_file(const char* dir, const char* name, long long count)
{
    std::vector<T> data(count);
    char path[4096];
    std::snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE* f = std::fopen(path, "rb");
    if (!f || std::fread(data.data(), sizeof(T), count, f) != (size_t)count) { std::fprintf(stderr, "cannot read %s\n", path); std::exit(2); }
    std::fclose(f);
    return data;
}

template <typename T> static void write_file(const char* dir, const char* name, const std::vector<T>& data)
{
    char path[4096];
    std::snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE* f = std::fopen(path, "wb");
    if (!f || std::fwrite(data.data(), sizeof(T), data.size(), f) != data.size()) { std::fprintf(stderr, "cannot write %s\n", path); std::exit(2); }
    std::fclose(f);
}
