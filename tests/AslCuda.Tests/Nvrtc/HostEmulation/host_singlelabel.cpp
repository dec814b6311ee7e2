// Runs kernels/asl_singlelabel.cu on the host, one thread per block and per row group (see cuda_host_shim.h;
// compile with ASL_BLOCK_SIZE = ASL_GROUP_SIZE = 1 and ASL_VALUES_PER_THREAD >= C).
// usage: host_singlelabel DIR ROWS CLASSES GRID GAMMA_POS GAMMA_NEG SMOOTHING GRADIENT_SCALE
// reads DIR/x.bin, DIR/t.bin; writes DIR/gradient.bin, DIR/loss.bin (per row) and DIR/sums.bin (loss sum).
#include "cuda_host_shim.h"
#include ASL_KERNEL
#include "host_io.h"

int main(int argc, char** argv)
{
    if (argc != 9) { std::fprintf(stderr, "usage: see the header\n"); return 2; }
    const char* dir = argv[1];
    long long rows = std::atoll(argv[2]);
    int classes = std::atoi(argv[3]), grid = std::atoi(argv[4]);
    float gamma_pos = std::strtof(argv[5], 0), gamma_neg = std::strtof(argv[6], 0), smoothing = std::strtof(argv[7], 0);
    float gradient_scale = std::strtof(argv[8], 0);
    auto x = read_file<Logit>(dir, "x.bin", rows * classes);
    auto t = read_file<TargetIndex>(dir, "t.bin", rows);
    std::vector<Logit> gradient(rows * classes, LogitCodec::store(NAN)), loss(rows, LogitCodec::store(NAN));
    std::vector<double> partials(grid);
    gridDim.x = grid;
    for (int b = 0; b < grid; b++)
    {
        blockIdx.x = b;
        asl_singlelabel(x.data(), t.data(), rows, classes, gradient.data(), loss.data(), partials.data(),
                        gamma_pos, gamma_neg, smoothing, gradient_scale);
    }
    std::vector<double> sums(1, 0.0);
    for (int b = 0; b < grid; b++) sums[0] += partials[b];
    write_file(dir, "gradient.bin", gradient);
    write_file(dir, "loss.bin", loss);
    write_file(dir, "sums.bin", sums);
    return 0;
}
