// Multi-label asymmetric loss (shared/ASL.md section 1): loss, gradient and statistics in one pass over the
// logits and targets, then a one-block finisher that reduces the per-block partial sums in a fixed order.
//
// Variant, fixed when NVRTC compiles (src/AslCuda/Gpu/MultiLabelVariant.cs writes these):
//   ASL_LOGIT_DTYPE      ASL_DTYPE_FLOAT32 | FLOAT64 | FLOAT16 | BFLOAT16   (math is float32 throughout)
//   ASL_TARGET_DTYPE     ASL_DTYPE_FLOAT32 (soft targets) | ASL_DTYPE_UINT8 (binary targets)
//   ASL_GRADIENT         0 forward only | 1 focusing weight detached | 2 gradient through the weight too
//   ASL_ELEMENT_LOSS     1: write each element's loss (reduction none)
//   ASL_STATISTICS       1: also sum p*y, y, p*(1-y), 1-y (adaptive asymmetry, ASL.md section 3)
//   ASL_CLIP             1: xn = min(1 - p + clip, 1)
//   ASL_GAMMA_MODE       0 no focusing | 1 whole gammas ASL_GAMMA_POS_INT/ASL_GAMMA_NEG_INT | 2 any gammas
//   ASL_BLOCK_SIZE       threads per block of the main kernel
#include "asl_common.cuh"

#if ASL_GRADIENT == 2 && ASL_GAMMA_MODE == 0
#error "without focusing the full gradient is the detached one: compile ASL_GRADIENT=1"
#endif

#define ASL_FINISH_BLOCK_SIZE 256
#define ASL_SUM_COUNT (ASL_STATISTICS ? 5 : 1)

typedef Codec<ASL_LOGIT_DTYPE> LogitCodec;
typedef Codec<ASL_TARGET_DTYPE> TargetCodec;
typedef LogitCodec::Storage Logit;
typedef TargetCodec::Storage Target;

// Elements per thread step: one 16-byte load of logits.
#define ASL_VECTOR (16 / (int)sizeof(Logit))

struct Parameters
{
    float clip, eps, log_eps, gamma_pos, gamma_neg, gradient_scale;
};

struct ElementResult
{
    float loss, gradient, p;
};

// One element, term by term as in ASL.md section 1 (PyTorch's clamp and pow gradient conventions).
__device__ __forceinline__ ElementResult asl_element(float x, float y, const Parameters& k)
{
    Sigmoid s = accurate_sigmoid(x);
    const float p = s.p, neg_y = 1.0f - y;   // s.q = 1 - p
#if ASL_CLIP
    const float xn = clamp_max(s.q + k.clip, 1.0f);
    // log(min(1 - p + clip, 1)) as log1p(min(clip - p, 0)): accurate where xn is near 1.
    const float ln = xn >= k.eps ? log1pf(clamp_max(k.clip - p, 0.0f)) : k.log_eps;
#else
    const float ln = clamp_min(s.log_q, k.log_eps);   // log(max(s.q, eps)) = max(log s.q, log eps)
#endif
    const float lp = clamp_min(s.log_p, k.log_eps);
    const float l0 = y * lp + neg_y * ln;

    // Focusing weight w = (1 - pt)^g with 1 - pt = y(1 - p) + (1 - y)(1 - xn); w_prime = (1 - pt)^(g - 1).
    float w = 1.0f;
#if ASL_GAMMA_MODE != 0
#if ASL_CLIP
    const float one_minus_xn = clamp_min(p - k.clip, 0.0f);
#else
    const float one_minus_xn = p;
#endif
    const float g = k.gamma_pos * y + k.gamma_neg * neg_y;
#if ASL_GRADIENT == 2
    float w_prime = 0.0f;
#endif
#if ASL_GAMMA_MODE == 1
    const bool binary = ASL_TARGET_DTYPE == ASL_DTYPE_UINT8 || y == 0.0f || y == 1.0f;
    if (binary)
    {
        // Whole gammas and a binary target: the weight is a product, no exp/log.
        const bool positive = y != 0.0f;
        w = positive ? pow_int<ASL_GAMMA_POS_INT>(s.q) : pow_int<ASL_GAMMA_NEG_INT>(one_minus_xn);
#if ASL_GRADIENT == 2
        w_prime = positive ? pow_int<(ASL_GAMMA_POS_INT > 0 ? ASL_GAMMA_POS_INT - 1 : 0)>(s.q)
                           : pow_int<(ASL_GAMMA_NEG_INT > 0 ? ASL_GAMMA_NEG_INT - 1 : 0)>(one_minus_xn);
#endif
    }
    else
#endif
    {
        const float log_basis = logf(y * s.q + neg_y * one_minus_xn);
        w = pow_log(log_basis, g);
#if ASL_GRADIENT == 2
        w_prime = pow_log(log_basis, g - 1.0f);
#endif
    }
#endif

    ElementResult r;
    r.loss = -(l0 * w);
    r.p = p;
    r.gradient = 0.0f;
#if ASL_GRADIENT != 0
    const float ds = p * s.q;                           // dp/dx
#if ASL_CLIP
    // clamp(max=1) passes the gradient where 1 - p + clip <= 1, i.e. p >= clip: tested on p, whose rounding
    // near the kink is far finer than that of 1 - p + clip.
    const float dxn = p >= k.clip ? -ds : 0.0f;
#else
    const float dxn = -ds;
#endif
    const float dlp = p >= k.eps ? s.q : 0.0f;          // (1/p) dp/dx, clamp(min=eps) passes where v >= eps
#if !ASL_CLIP
    const float xn = s.q;
#endif
    const float dln = xn >= k.eps ? dxn / xn : 0.0f;
    float d = w * (y * dlp + neg_y * dln);
#if ASL_GRADIENT == 2
    const float dpt = y * ds + neg_y * dxn;
    d += g == 0.0f ? 0.0f : l0 * (-(g * w_prime * dpt));   // pow's gradient is exactly 0 where g == 0
#endif
    r.gradient = -d * k.gradient_scale;
#endif
    return r;
}

// Per-thread running sums: loss, then (with statistics) sum p*y, sum y, sum p*(1-y), sum (1-y).
struct Sums
{
    double value[ASL_SUM_COUNT];
};

// Adds N elements' contributions: summed in float32 first (N <= 16 terms), then once into the doubles,
// which keeps the float64 conversions off the critical path.
template <int N>
__device__ __forceinline__ void accumulate(Sums& sums, const float (&loss)[N], const float (&p)[N], const float (&y)[N])
{
    float l = 0.0f;
#pragma unroll
    for (int i = 0; i < N; i++) l += loss[i];
    sums.value[0] += (double)l;
#if ASL_STATISTICS
    float py = 0.0f, sy = 0.0f, pn = 0.0f, sn = 0.0f;
#pragma unroll
    for (int i = 0; i < N; i++)
    {
        py += p[i] * y[i];
        sy += y[i];
        pn += p[i] * (1.0f - y[i]);
        sn += 1.0f - y[i];
    }
    sums.value[1] += (double)py;
    sums.value[2] += (double)sy;
    sums.value[3] += (double)pn;
    sums.value[4] += (double)sn;
#endif
}

// Elements [begin, end) one at a time, grid-stride: the unaligned head and ragged tail, or everything when
// the buffers cannot share one alignment.
__device__ __forceinline__ void scalar_range(const Logit* x, const Target* y, Logit* gradient, Logit* element_loss,
                                             asl_index begin, asl_index end, const Parameters& k, Sums& sums)
{
    const asl_index stride = (asl_index)gridDim.x * blockDim.x;
    for (asl_index i = begin + (asl_index)blockIdx.x * blockDim.x + threadIdx.x; i < end; i += stride)
    {
        float xf[1] = { LogitCodec::load(x[i]) };
        float yf[1] = { TargetCodec::load(y[i]) };
        ElementResult r = asl_element(xf[0], yf[0], k);
#if ASL_GRADIENT != 0
        gradient[i] = LogitCodec::store(r.gradient);
#endif
#if ASL_ELEMENT_LOSS
        element_loss[i] = LogitCodec::store(r.loss);
#endif
        float loss[1] = { r.loss }, p[1] = { r.p };
        accumulate<1>(sums, loss, p, yf);
    }
}

template <int N>
__device__ __forceinline__ Pack<Logit, N> encode_pack(const float (&values)[N])
{
    Pack<Logit, N> pack;
#pragma unroll
    for (int i = 0; i < N; i++) pack.element[i] = LogitCodec::store(values[i]);
    return pack;
}

extern "C" __global__ void __launch_bounds__(ASL_BLOCK_SIZE)
asl_multilabel(const Logit* __restrict__ x, const Target* __restrict__ y, asl_index count,
               Logit* __restrict__ gradient, Logit* __restrict__ element_loss, double* __restrict__ partials,
               float clip, float eps, float log_eps, float gamma_pos, float gamma_neg, float gradient_scale)
{
    const Parameters k = { clip, eps, log_eps, gamma_pos, gamma_neg, gradient_scale };
    Sums sums;
#pragma unroll
    for (int i = 0; i < ASL_SUM_COUNT; i++) sums.value[i] = 0.0;

    // Vector body from the first element where the logits are 16-byte aligned, provided every other
    // buffer is aligned for its own pack at that element too (true for whole tensors, which start aligned).
    const asl_index misaligned = (asl_index)((reinterpret_cast<unsigned long long>(x) & 15u) / sizeof(Logit));
    asl_index head = misaligned == 0 ? 0 : ASL_VECTOR - misaligned;
    if (head > count) head = count;
    bool vectorizable = is_aligned(x, sizeof(Logit)) && is_aligned(y + head, sizeof(Target) * ASL_VECTOR < 16 ? sizeof(Target) * ASL_VECTOR : 16);
#if ASL_GRADIENT != 0
    vectorizable = vectorizable && is_aligned(gradient + head, 16);
#endif
#if ASL_ELEMENT_LOSS
    vectorizable = vectorizable && is_aligned(element_loss + head, 16);
#endif
    if (!vectorizable) head = count;
    const asl_index packs = (count - head) / ASL_VECTOR;
    const asl_index tail = head + packs * ASL_VECTOR;

    scalar_range(x, y, gradient, element_loss, 0, head, k, sums);
    const asl_index stride = (asl_index)gridDim.x * blockDim.x;
    for (asl_index v = (asl_index)blockIdx.x * blockDim.x + threadIdx.x; v < packs; v += stride)
    {
        const asl_index base = head + v * ASL_VECTOR;
        const Pack<Logit, ASL_VECTOR> xs = load_pack<Logit, ASL_VECTOR>(x + base);
        const Pack<Target, ASL_VECTOR> ys = load_pack<Target, ASL_VECTOR>(y + base);
        float yf[ASL_VECTOR], loss[ASL_VECTOR], p[ASL_VECTOR];
#if ASL_GRADIENT != 0
        float gradient_values[ASL_VECTOR];
#endif
#pragma unroll
        for (int i = 0; i < ASL_VECTOR; i++)
        {
            yf[i] = TargetCodec::load(ys.element[i]);
            ElementResult r = asl_element(LogitCodec::load(xs.element[i]), yf[i], k);
            loss[i] = r.loss;
            p[i] = r.p;
#if ASL_GRADIENT != 0
            gradient_values[i] = r.gradient;
#endif
        }
#if ASL_GRADIENT != 0
        store_pack<Logit, ASL_VECTOR>(gradient + base, encode_pack<ASL_VECTOR>(gradient_values));
#endif
#if ASL_ELEMENT_LOSS
        store_pack<Logit, ASL_VECTOR>(element_loss + base, encode_pack<ASL_VECTOR>(loss));
#endif
        accumulate<ASL_VECTOR>(sums, loss, p, yf);
    }
    scalar_range(x, y, gradient, element_loss, tail, count, k, sums);

    __shared__ double scratch[ASL_SUM_COUNT * 32];
    block_sum<ASL_SUM_COUNT, ASL_BLOCK_SIZE>(sums.value, scratch);
    if (threadIdx.x == 0)
    {
#pragma unroll
        for (int i = 0; i < ASL_SUM_COUNT; i++) partials[(asl_index)i * gridDim.x + blockIdx.x] = sums.value[i];
    }
}

// One block: loss_out receives the loss sum times loss_scale (1/count for mean) as float32;
// statistics_out, when not null, the four statistic sums as doubles.
extern "C" __global__ void __launch_bounds__(ASL_FINISH_BLOCK_SIZE)
asl_multilabel_finish(const double* __restrict__ partials, int blocks, double loss_scale,
                      float* __restrict__ loss_out, double* __restrict__ statistics_out)
{
    __shared__ double scratch[ASL_SUM_COUNT * 32];
    double sums[ASL_SUM_COUNT];
    sum_partials<ASL_SUM_COUNT, ASL_FINISH_BLOCK_SIZE>(partials, blocks, sums, scratch);
    if (threadIdx.x == 0)
    {
        loss_out[0] = (float)(sums[0] * loss_scale);
#if ASL_STATISTICS
        if (statistics_out != 0)
        {
            for (int i = 0; i < 4; i++) statistics_out[i] = sums[i + 1];
        }
#endif
    }
    (void)statistics_out;
}
