// Runs kernels/asl_multilabel.cu on the host, one thread per block (see cuda_host_shim.h).
// usage: host_multilabel DIR COUNT OFFSET GRID CLIP EPS LOG_EPS GAMMA_POS GAMMA_NEG GRADIENT_SCALE LOSS_SCALE
// reads DIR/x.bin, DIR/y.bin (OFFSET + COUNT elements); writes DIR/gradient.bin, DIR/loss.bin (same layout,
// NaN where not written) and DIR/sums.bin (what the last block wrote: the scaled loss [, 4 statistics]).
#include "cuda_host_shim.h"
#include ASL_KERNEL
#include "host_io.h"

int main(int argc, char** argv)
{
    if (argc != 12) { std::fprintf(stderr, "usage: see the header\n"); return 2; }
    const char* dir = argv[1];
    long long count = std::atoll(argv[2]), offset = std::atoll(argv[3]);
    int grid = std::atoi(argv[4]);
    float clip = std::strtof(argv[5], 0), eps = std::strtof(argv[6], 0), log_eps = std::strtof(argv[7], 0);
    float gamma_pos = std::strtof(argv[8], 0), gamma_neg = std::strtof(argv[9], 0), gradient_scale = std::strtof(argv[10], 0);
    double loss_scale = std::strtod(argv[11], 0);
    auto x = read_file<Logit>(dir, "x.bin", offset + count);
    auto y = read_file<Target>(dir, "y.bin", offset + count);
    std::vector<Logit> gradient(offset + count, LogitCodec::store(NAN)), loss(offset + count, LogitCodec::store(NAN));
    std::vector<double> partials(ASL_SUM_COUNT * grid), statistics(4, NAN);
    unsigned ticket = 0;
    float loss_out = NAN;
    gridDim.x = grid;
    for (int b = 0; b < grid; b++)
    {
        blockIdx.x = b;
        asl_multilabel(x.data() + offset, y.data() + offset, count, gradient.data() + offset, loss.data() + offset, partials.data(),
                       &ticket, loss_scale, &loss_out, statistics.data(), clip, eps, log_eps, gamma_pos, gamma_neg, gradient_scale);
    }
    if (ticket != 0) { std::fprintf(stderr, "the last block left the ticket at %u\n", ticket); return 1; }
    std::vector<double> sums(1, (double)loss_out);
    if (ASL_STATISTICS) sums.insert(sums.end(), statistics.begin(), statistics.end());
    write_file(dir, "gradient.bin", gradient);
    write_file(dir, "loss.bin", loss);
    write_file(dir, "sums.bin", sums);
    return 0;
}
