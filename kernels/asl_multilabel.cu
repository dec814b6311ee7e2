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
//   ASL_SMOOTHING        1: timm's label smoothing y' = y (1 - s) + s/2 (docs/timm.md); every target is then soft
//   ASL_CLASS_WEIGHT     1: timm's per-class weight [C] multiplies loss and gradient after focusing
//   ASL_POS_WEIGHT       0 none | 1 one value for every class | 2 per class [C]: factor of the positive log term
//   ASL_BLOCK_SIZE       threads per block of the main kernel
#include "asl_common.cuh"

#if ASL_GRADIENT == 2 && ASL_GAMMA_MODE == 0
#error "without focusing the full gradient is the detached one: compile ASL_GRADIENT=1"
#endif

#define ASL_SUM_COUNT (ASL_STATISTICS ? 5 : 1)

typedef Codec<ASL_LOGIT_DTYPE> LogitCodec;
typedef Codec<ASL_TARGET_DTYPE> TargetCodec;
typedef LogitCodec::Storage Logit;
typedef TargetCodec::Storage Target;

// Elements per thread step: one 16-byte load of logits.
#define ASL_VECTOR (16 / (int)sizeof(Logit))

#define ASL_TIMM_TERMS (ASL_SMOOTHING || ASL_CLASS_WEIGHT || ASL_POS_WEIGHT)
#define ASL_PER_CLASS (ASL_CLASS_WEIGHT || ASL_POS_WEIGHT == 2)

struct Parameters
{
    float clip, eps, log_eps, gamma_pos, gamma_neg, gradient_scale;
#if ASL_TIMM_TERMS
    const float* pos_weight;                             // [C] (ASL_POS_WEIGHT 2)
    const float* class_weight;                           // [C] (ASL_CLASS_WEIGHT)
    unsigned int classes;                                // C of the row-major [N, C] input
    float one_minus_smoothing, half_smoothing, pos_weight_all;
#endif
};

struct ElementResult
{
    float loss, gradient, p;
};

// Binary targets need only the log term that the target selects; float targets are checked per element
// (0 and 1 take the binary path, soft values evaluate both terms).
// With smoothing no target is 0 or 1 (binary labels become s/2 and 1 - s/2): every element takes the soft path.
#if ASL_TARGET_DTYPE == ASL_DTYPE_UINT8 && !ASL_SMOOTHING
#define ASL_ALWAYS_BINARY 1
#else
#define ASL_ALWAYS_BINARY 0
#endif

#if ASL_TIMM_TERMS
// ---- timm's terms (docs/timm.md), compiled in only where the options use them ------------------------------

// One element's per-class factors; 1 where the term is off.
struct ClassFactors
{
    float pos_weight, class_weight;
};

__device__ __forceinline__ ClassFactors factors_at(unsigned int column, const Parameters& k)
{
    ClassFactors f = { 1.0f, 1.0f };
#if ASL_POS_WEIGHT == 1
    f.pos_weight = k.pos_weight_all;
#elif ASL_POS_WEIGHT == 2
    f.pos_weight = k.pos_weight[column];
#endif
#if ASL_CLASS_WEIGHT
    f.class_weight = k.class_weight[column];
#endif
    (void)column;
    return f;
}

// y' = y (1 - s) + s/2 as one multiply-add (as the CPU pass). The statistics keep the raw labels.
__device__ __forceinline__ float smoothed_target(float y, const Parameters& k)
{
#if ASL_SMOOTHING
    return fmaf(y, k.one_minus_smoothing, k.half_smoothing);
#else
    (void)k;
    return y;
#endif
}

// The column (class) of the element a grid-stride loop is at, for the [C] factors. A 64-bit remainder per
// element would cost about as much as the element's whole loss (64-bit division is a software routine of some
// 70 instructions on the GPU), so each loop takes one remainder per thread, for its first element, and then
// carries the column in one register: the next element of a pack is 1 further (next), a loop step jumps the rest
// of the stride (skip, by a step below C fixed per thread); each move wraps with one compare (column + step < 2C
// <= 2^32). The [C] vectors are read by plain loads: every block reads the same C values, which stay in L1/L2, so a
// shared-memory copy would only add a barrier and a cap on C.
struct ColumnCursor
{
    unsigned int column, step;

    __device__ __forceinline__ void next(const Parameters& k)
    {
#if ASL_PER_CLASS
        column = column + 1 == k.classes ? 0u : column + 1;
#endif
        (void)k;
    }

    __device__ __forceinline__ void skip(const Parameters& k)
    {
#if ASL_PER_CLASS
        column += step;
        if (column >= k.classes) column -= k.classes;
#endif
        (void)k;
    }
};

// A cursor at element `first` whose skip() moves it by `step` elements.
__device__ __forceinline__ ColumnCursor column_cursor(asl_index first, asl_index step, const Parameters& k)
{
#if ASL_PER_CLASS
    const ColumnCursor c = { (unsigned int)(first % k.classes), (unsigned int)(step % k.classes) };
#else
    const ColumnCursor c = { 0u, 0u };                   // no per-class vector: the column is never read
    (void)first; (void)step; (void)k;
#endif
    return c;
}

// timm's pos_weight multiplies the positive log term and its derivative, not the focusing weight.
#if ASL_POS_WEIGHT
#define ASL_POS_WEIGHTED(v) ((v) * f.pos_weight)
#else
#define ASL_POS_WEIGHTED(v) (v)
#endif
#else
#define ASL_POS_WEIGHTED(v) (v)
#endif

// One element, term by term as in ASL.md section 1 (PyTorch's clamp and pow gradient conventions).
// Comparisons are written so that a NaN logit takes the computing side and gives a NaN loss and gradient.
// `positive` is y != 0 (the caller tests it once per element).
__device__ __forceinline__ ElementResult asl_element(float x, float y, bool positive, const Parameters& k
#if ASL_TIMM_TERMS
                                                     , const ClassFactors& f
#endif
                                                     )
{
    const Sigmoid s = fast_sigmoid<(sizeof(Logit) >= 4)>(x);
    const float p = s.p, q = s.q, neg_y = 1.0f - y;
    (void)q;                                             // forward-only variants without clip or focusing need only p
    const bool binary = ASL_ALWAYS_BINARY || (!ASL_SMOOTHING && (y == 0.0f || y == 1.0f));

    // l0 = y lp + (1 - y) ln with lp = log max(p, eps) = max(log p, log eps), ln = log max(xn, eps).
    // Without clip both logs come from one softplus. With clip ln = log(min(1 - p + clip, 1))
    // = log1p(min(clip - p, 0)), exactly 0 where p <= clip: no log is evaluated there (most negatives once
    // training is under way), and a 0/1 target evaluates only the log of the term it selects.
#if ASL_CLIP
    const float xn = fminf(q + k.clip, 1.0f);           // a NaN p still reaches l0, w and the gradient
    const float clip_term = clamp_max(k.clip - p, 0.0f);
    // 0/1 targets (always for uint8, checked per element for float) evaluate one log, soft targets two.
    float log_term = 0.0f;
    if (!binary || positive || !(p <= k.clip)) log_term = log1p_fast(binary && !positive ? clip_term : s.e);
    const float lp = clamp_min(log_sigmoid(x, log_term), k.log_eps);
    float ln_log = binary ? log_term : 0.0f;            // a skipped binary negative's log_term is its exact 0
    if (!binary && !(p <= k.clip)) ln_log = log1p_fast(clip_term);
    const float ln = xn < k.eps ? k.log_eps : ln_log;
    const float l0 = binary ? (positive ? ASL_POS_WEIGHTED(lp) : ln) : y * ASL_POS_WEIGHTED(lp) + neg_y * ln;
#else
    const float softplus = log1p_fast(s.e);
    const float lp = clamp_min(log_sigmoid(x, softplus), k.log_eps);
    const float ln = clamp_min(log_one_minus_sigmoid(x, softplus), k.log_eps);
    const float l0 = binary ? (positive ? ASL_POS_WEIGHTED(lp) : ln) : y * ASL_POS_WEIGHTED(lp) + neg_y * ln;
#endif

    // Focusing weight w = (1 - pt)^g with 1 - pt = y(1 - p) + (1 - y)(1 - xn); w_prime = (1 - pt)^(g - 1).
    float w = 1.0f;
#if ASL_GAMMA_MODE != 0
#if ASL_CLIP
    const float one_minus_xn = clamp_min(p - k.clip, 0.0f);
#else
    const float one_minus_xn = p;
#endif
    const float g = ASL_ALWAYS_BINARY ? (positive ? k.gamma_pos : k.gamma_neg) : k.gamma_pos * y + k.gamma_neg * neg_y;
#if ASL_GRADIENT == 2
    float w_prime = 0.0f;
#endif
#if ASL_GAMMA_MODE == 1
    if (binary)
    {
        // Whole gammas and a binary target: the weight is a product, no exp/log.
        w = positive ? pow_int<ASL_GAMMA_POS_INT>(q) : pow_int<ASL_GAMMA_NEG_INT>(one_minus_xn);
#if ASL_GRADIENT == 2
        w_prime = positive ? pow_int<(ASL_GAMMA_POS_INT > 0 ? ASL_GAMMA_POS_INT - 1 : 0)>(q)
                           : pow_int<(ASL_GAMMA_NEG_INT > 0 ? ASL_GAMMA_NEG_INT - 1 : 0)>(one_minus_xn);
#endif
    }
    else
#endif
    {
        const float basis = ASL_ALWAYS_BINARY ? (positive ? q : one_minus_xn) : y * q + neg_y * one_minus_xn;
        w = pow_fast(basis, g);
#if ASL_GRADIENT == 2
        w_prime = pow_fast(basis, g - 1.0f);
#endif
    }
#endif

    ElementResult r;
    r.loss = -(l0 * w);
    r.p = p;
    r.gradient = 0.0f;
#if ASL_GRADIENT != 0
#if ASL_CLIP
    const float ds = p * q;                             // dp/dx
    // clamp(max=1) passes the gradient where 1 - p + clip <= 1, i.e. p >= clip: tested on p, whose rounding
    // near the kink is far finer than that of 1 - p + clip.
    const float dxn = p < k.clip ? 0.0f : -ds;
    const float dln = xn < k.eps ? 0.0f : __fdividef(dxn, xn);   // xn in [clip, 1]: 2 ulp
#else
    const float dln = q < k.eps ? 0.0f : -p;            // dxn / xn = -p q / q, xn = q
#endif
    const float dlp = p < k.eps ? 0.0f : q;             // (1/p) dp/dx, clamp(min=eps) passes where v >= eps
    float d = w * (ASL_ALWAYS_BINARY ? (positive ? ASL_POS_WEIGHTED(dlp) : dln) : y * ASL_POS_WEIGHTED(dlp) + neg_y * dln);
#if ASL_GRADIENT == 2
#if !ASL_CLIP
    const float ds = p * q, dxn = -ds;
#endif
    const float dpt = ASL_ALWAYS_BINARY ? (positive ? ds : dxn) : y * ds + neg_y * dxn;
    d += g == 0.0f ? 0.0f : l0 * (-(g * w_prime * dpt));   // pow's gradient is exactly 0 where g == 0
#endif
    r.gradient = -d * k.gradient_scale;
#endif
#if ASL_CLASS_WEIGHT
    // timm's per-class weight rescales loss and gradient after focusing.
    r.loss *= f.class_weight;
    r.gradient *= f.class_weight;
#endif
    return r;
}

// Per-thread running sums: loss, then (with statistics) sum p*y, sum y, sum p*(1-y), sum (1-y). Kept in
// float32 with Kahan compensation (4 operations per pack and sum, no float64 in the element loop): the
// error stays a few ulp however many packs a thread adds; block and grid sums are then float64.
struct Sums
{
    float value[ASL_SUM_COUNT], compensation[ASL_SUM_COUNT];

    __device__ __forceinline__ void add(int i, float v)
    {
        const float corrected = v - compensation[i];
        const float total = value[i] + corrected;
        compensation[i] = (total - value[i]) - corrected;
        value[i] = total;
    }
};

// Adds N elements' contributions: summed in float32 first (N <= 16 terms), then once into the
// compensated sums.
template <int N>
__device__ __forceinline__ void accumulate(Sums& sums, const float (&loss)[N], const float (&p)[N], const float (&y)[N])
{
    float l = 0.0f;
#pragma unroll
    for (int i = 0; i < N; i++) l += loss[i];
    sums.add(0, l);
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
    sums.add(1, py);
    sums.add(2, sy);
    sums.add(3, pn);
    sums.add(4, sn);
#endif
}

// Elements [begin, end) one at a time, grid-stride: the unaligned head and ragged tail, or everything when
// the buffers cannot share one alignment.
__device__ __forceinline__ void scalar_range(const Logit* x, const Target* y, Logit* gradient, Logit* element_loss,
                                             asl_index begin, asl_index end, const Parameters& k, Sums& sums)
{
    const asl_index stride = (asl_index)gridDim.x * blockDim.x;
#if ASL_TIMM_TERMS
    ColumnCursor column = column_cursor(begin + (asl_index)blockIdx.x * blockDim.x + threadIdx.x, stride, k);
#endif
    for (asl_index i = begin + (asl_index)blockIdx.x * blockDim.x + threadIdx.x; i < end; i += stride)
    {
        float xf[1] = { LogitCodec::load(x[i]) };
        float yf[1] = { TargetCodec::load(y[i]) };
#if ASL_TIMM_TERMS
        const float smoothed = smoothed_target(yf[0], k);
        ElementResult r = asl_element(xf[0], smoothed, smoothed != 0.0f, k, factors_at(column.column, k));
        column.skip(k);
#else
        ElementResult r = asl_element(xf[0], yf[0], yf[0] != 0.0f, k);
#endif
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
#if ASL_LOGIT_DTYPE == ASL_DTYPE_BFLOAT16
    // Eight bfloat16: each word takes the upper halves of two rounded floats (bytes 2, 3 of each).
    pack.raw.x = __byte_perm(LogitCodec::store_high(values[0]), LogitCodec::store_high(values[1]), 0x7632);
    pack.raw.y = __byte_perm(LogitCodec::store_high(values[2]), LogitCodec::store_high(values[3]), 0x7632);
    pack.raw.z = __byte_perm(LogitCodec::store_high(values[4]), LogitCodec::store_high(values[5]), 0x7632);
    pack.raw.w = __byte_perm(LogitCodec::store_high(values[6]), LogitCodec::store_high(values[7]), 0x7632);
#else
#pragma unroll
    for (int i = 0; i < N; i++) pack.element[i] = LogitCodec::store(values[i]);
#endif
    return pack;
}

// 16-bit logits unroll 8 elements per step; with the pow path that is enough live state that ptxas's
// default register heuristic spilled (sm_75 and sm_90), so those variants ask for 2 resident blocks (128 registers)
// instead. The other variants keep the default, which gives them fewer PTX instructions. timm's terms (the column
// cursor, the factors, soft targets everywhere) spilled 4 to 8 bytes with the default on sm_75 to sm_90 in every logit
// type, so their variants ask for 2 resident blocks too; 16-bit logits with the full gradient, element losses and
// statistics all on still spilled 4 bytes at 128 registers (sm_75 to sm_90), so that corner gets one block's worth.
#if ASL_TIMM_TERMS && (ASL_LOGIT_DTYPE == ASL_DTYPE_FLOAT16 || ASL_LOGIT_DTYPE == ASL_DTYPE_BFLOAT16) && ASL_GRADIENT == 2 \
    && ASL_ELEMENT_LOSS && ASL_STATISTICS
#define ASL_LAUNCH_BOUNDS __launch_bounds__(ASL_BLOCK_SIZE, 1)
#elif ((ASL_LOGIT_DTYPE == ASL_DTYPE_FLOAT16 || ASL_LOGIT_DTYPE == ASL_DTYPE_BFLOAT16) && ASL_GAMMA_MODE == 2) || ASL_TIMM_TERMS
#define ASL_LAUNCH_BOUNDS __launch_bounds__(ASL_BLOCK_SIZE, 2)
#else
#define ASL_LAUNCH_BOUNDS __launch_bounds__(ASL_BLOCK_SIZE)
#endif

extern "C" __global__ void ASL_LAUNCH_BOUNDS
asl_multilabel(const Logit* __restrict__ x, const Target* __restrict__ y, asl_index count,
               Logit* __restrict__ gradient, Logit* __restrict__ element_loss, double* __restrict__ partials,
               unsigned int* __restrict__ ticket, double loss_scale, float* __restrict__ loss_out,
               double* __restrict__ statistics_out,
               float clip, float eps, float log_eps, float gamma_pos, float gamma_neg, float gradient_scale
#if ASL_TIMM_TERMS
               , const float* __restrict__ pos_weight, const float* __restrict__ class_weight, unsigned int classes,
               float one_minus_smoothing, float half_smoothing, float pos_weight_all
#endif
               )
{
#if ASL_TIMM_TERMS
    const Parameters k = { clip, eps, log_eps, gamma_pos, gamma_neg, gradient_scale,
                           pos_weight, class_weight, classes, one_minus_smoothing, half_smoothing, pos_weight_all };
#else
    const Parameters k = { clip, eps, log_eps, gamma_pos, gamma_neg, gradient_scale };
#endif
    Sums sums;
#pragma unroll
    for (int i = 0; i < ASL_SUM_COUNT; i++) sums.value[i] = sums.compensation[i] = 0.0f;

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
#if ASL_TIMM_TERMS
    // Within a pack the column moves by 1 per element; then skip() jumps the other packs of the stride.
    ColumnCursor column = column_cursor(head + ((asl_index)blockIdx.x * blockDim.x + threadIdx.x) * ASL_VECTOR, (stride - 1) * ASL_VECTOR, k);
#endif
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
#if ASL_TIMM_TERMS
            const float smoothed = smoothed_target(yf[i], k);            // the statistics below keep the raw labels yf
            ElementResult r = asl_element(LogitCodec::load(xs.element[i]), smoothed, smoothed != 0.0f, k, factors_at(column.column, k));
            column.next(k);
#else
            ElementResult r = asl_element(LogitCodec::load(xs.element[i]), yf[i], yf[i] != 0.0f, k);
#endif
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
#if ASL_TIMM_TERMS
        column.skip(k);
#endif
    }
    scalar_range(x, y, gradient, element_loss, tail, count, k, sums);

    __shared__ double scratch[ASL_SUM_COUNT * 32];
    double totals[ASL_SUM_COUNT];
#pragma unroll
    for (int i = 0; i < ASL_SUM_COUNT; i++) totals[i] = (double)sums.value[i] - (double)sums.compensation[i];
    block_sum<ASL_SUM_COUNT, ASL_BLOCK_SIZE>(totals, scratch);
    if (last_block_totals<ASL_SUM_COUNT, ASL_BLOCK_SIZE>(totals, partials, ticket, scratch))
    {
        // loss_out: the loss sum times loss_scale (1/count for mean) as float32; statistics_out, when not
        // null, the four statistic sums as doubles.
        loss_out[0] = (float)(totals[0] * loss_scale);
#if ASL_STATISTICS
        if (statistics_out != 0)
        {
#pragma unroll
            for (int i = 0; i < 4; i++) statistics_out[i] = totals[i + 1];
        }
#endif
    }
    (void)statistics_out;
}
