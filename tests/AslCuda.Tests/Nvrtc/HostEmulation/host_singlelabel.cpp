// Runs kernels/asl_singlelabel.cu on the host, one thread per block and per row group (see cuda_host_shim.h;
// compile with ASL_BLOCK_SIZE = ASL_GROUP_SIZE = 1 and ASL_VALUES_PER_THREAD >= C).
// usage: host_singlelabel DIR ROWS CLASSES GRID GAMMA_POS GAMMA_NEG SMOOTHING GRADIENT_SCALE LOSS_SCALE
// reads DIR/x.bin, DIR/t.bin; writes DIR/gradient.bin, DIR/loss.bin (per row) and DIR/sums.bin (the scaled loss the last block wrote).
#include "cuda_host_shim.h"
#include ASL_KERNEL
#include "host_io.h"

int main(int argc, char** argv)
{
    if (argc != 10) { std::fprintf(stderr, "usage: see the header\n"); return 2; }
    const char* dir = argv[1];
    long long rows = std::atoll(argv[2]);
    int classes = std::atoi(argv[3]), grid = std::atoi(argv[4]);
    float gamma_pos = std::strtof(argv[5], 0), gamma_neg = std::strtof(argv[6], 0), smoothing = std::strtof(argv[7], 0);
    float gradient_scale = std::strtof(argv[8], 0);
    double loss_scale = std::strtod(argv[9], 0);
    auto x = read_file<Logit>(dir, "x.bin", rows * classes);
    auto t = read_file<TargetIndex>(dir, "t.bin", rows);
    std::vector<Logit> gradient(rows * classes, LogitCodec::store(NAN)), loss(rows, LogitCodec::store(NAN));
    std::vector<double> partials(grid);
    unsigned ticket = 0;
    float loss_out = NAN;
    gridDim.x = grid;
    for (int b = 0; b < grid; b++)
    {
        blockIdx.x = b;
        asl_singlelabel(x.data(), t.data(), rows, classes, gradient.data(), loss.data(), partials.data(), &ticket, loss_scale, &loss_out,
                        gamma_pos, gamma_neg, smoothing, gradient_scale);
    }
    if (ticket != 0) { std::fprintf(stderr, "the last block left the ticket at %u\n", ticket); return 1; }
    std::vector<double> sums(1, (double)loss_out);
    write_file(dir, "gradient.bin", gradient);
    write_file(dir, "loss.bin", loss);
    write_file(dir, "sums.bin", sums);
    return 0;
}
