// Multi-label asymmetric loss (shared/ASL.md section 1): loss, gradient and statistics in one pass over the
// logits and targets, then a one-block finisher that reduces the per-block partial sums in a fixed order.
//
// Variant, fixed when NVRTC compiles (src/AslCuda/Gpu/MultiLabelVariant.cs writes these):
//   ASL_LOGIT_DTYPE      ASL_DTYPE_FLOAT32 | FLOAT64 | FLOAT16 | BFLOAT16   (math is float32 throughout)
//   ASL_TARGET_DTYPE     ASL_DTYPE_FLOAT32 (soft targets) | ASL_DTYPE_UINT8 (binary targets)
//   ASL_GRADIENT         0 forward only | 1 focusing weight detached | 2 gradient through the weight too
//   ASL_SCALE_GRADIENT   1: multiply the gradient by gradient_scale (mean) | 0: the scale is 1 (sum, none)
//   ASL_ELEMENT_LOSS     1: write each element's loss (reduction none)
//   ASL_STATISTICS       1: also sum p*y, y, p*(1-y), 1-y (adaptive asymmetry, ASL.md section 3)
//   ASL_CLIP             0 no clip | 1 xn = min(1 - p + clip, 1) with clip >= eps | 2 the same with clip < eps
//   ASL_GAMMA_MODE       0 no focusing | 1 whole gammas ASL_GAMMA_POS_INT/ASL_GAMMA_NEG_INT | 2 any gammas
//   ASL_SMOOTHING        1: label smoothing y' = y (1 - s) + s/2 (docs/extensions.md); every target is then soft
//   ASL_CLASS_WEIGHT     1: the per-class weight [C] multiplies loss and gradient after focusing
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

#define ASL_EXTENSIONS (ASL_SMOOTHING || ASL_CLASS_WEIGHT || ASL_POS_WEIGHT)
#define ASL_PER_CLASS (ASL_CLASS_WEIGHT || ASL_POS_WEIGHT == 2)

struct Parameters
{
    float clip, eps, log_eps, gamma_pos, gamma_neg, gradient_scale;
#if ASL_EXTENSIONS
    const float* pos_weight;                             // [C] (ASL_POS_WEIGHT 2)
    const float* class_weight;                           // [C] (ASL_CLASS_WEIGHT)
    unsigned int classes;                                // C of the row-major [N, C] input
    float one_minus_smoothing, half_smoothing, pos_weight_all;
#endif
};

// An element's loss is -(l0 w): kept as its two factors, so that the running sum takes it with one fma.
struct ElementResult
{
    float l0, w, gradient, p;
    __device__ __forceinline__ float loss() const { return -(l0 * w); }
};

// 32- and 64-bit logits: e^-|x| within 3 ulp, log1p within 1e-6. 16-bit logits, whose gradient and element
// losses round to 2^-9 (bfloat16) or 2^-12 (float16): __expf-class e^-|x| and log1p within 1.2e-5.
#define ASL_PRECISE (sizeof(Logit) >= 4)
#define ASL_PRECISE_EXP ASL_PRECISE
__device__ __forceinline__ float log1p_logits(float a, float one_plus_a)
{
    return ASL_PRECISE ? log1p_fast(a, one_plus_a) : log1p_coarse(a, one_plus_a);
}

#if ASL_EXTENSIONS
// ---- AslCuda's extensions (docs/extensions.md), compiled in only where the options use them --------------------

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

#else
// Without AslCuda's extensions the factors are the constant 1 and the column is never read: all of it folds away.
struct ClassFactors
{
    float pos_weight, class_weight;
};
__device__ __forceinline__ ClassFactors factors_at(unsigned int, const Parameters&) { return { 1.0f, 1.0f }; }
__device__ __forceinline__ float smoothed_target(float y, const Parameters&) { return y; }
struct ColumnCursor
{
    unsigned int column;
    __device__ __forceinline__ void next(const Parameters&) {}
    __device__ __forceinline__ void skip(const Parameters&) {}
};
__device__ __forceinline__ ColumnCursor column_cursor(asl_index, asl_index, const Parameters&) { return { 0u }; }
#endif

#if ASL_CLIP
// d log xn / dx = -pt ut / xn for a negative, xn = min(pt + clip, 1), where ut >= clip (clamp(max=1) passes
// there, tested on ut, whose rounding near the kink is far finer than that of pt + clip) and xn >= eps (which
// needs a test only where clip < eps). AboveClip: the caller knows ut > clip, so xn = pt + clip <= 1 (to
// rounding) and the first test passes.
template <bool AboveClip>
__device__ __forceinline__ float negative_log_derivative(float pt, float ut, const Parameters& k)
{
    const float xn = AboveClip ? pt + k.clip : fminf(pt + k.clip, 1.0f);
    bool passes = AboveClip || !(ut < k.clip);
#if ASL_CLIP == 2
    passes = passes && !(xn < k.eps);
#endif
    return passes ? __fdividef(-(pt * ut), xn) : 0.0f;  // xn in [clip, 1]: 2 ulp
}
#endif

// A 0/1 target (uint8 always; float32 where the whole pack is 0/1), in the frame of its class: z = x for a
// positive, -x for a negative, so pt = sigmoid(z) is the probability of the target's class and ut = 1 - pt the
// other one (both from e^-|x|, neither cancels). Term by term it is ASL.md section 1 with y fixed:
//   positive: l0 = log max(pt, eps)                 = min(z, 0) - log1p(e^-|x|), clamped at log eps
//   negative: l0 = log max(xn, eps), xn = min(pt + clip, 1)  = log1p(clip - ut), exactly 0 where ut <= clip
//   w = base^g with base = ut (positive) or max(ut - clip, 0) (negative), PyTorch's pow and clamp conventions.
// One log per element (of the term the target selects), none for a negative with ut <= clip (loss and gradient
// exactly 0 there: most negatives once training is under way); a division only for the negatives' 1/xn.
// A NaN logit makes pt, ut and the log argument NaN: loss and gradient are NaN (every clamp keeps NaN).
__device__ __forceinline__ ElementResult binary_element(float x, bool positive, const Parameters& k, const ClassFactors& f)
{
    const float z = positive ? x : -x;
    const Sigmoid s = fast_sigmoid<ASL_PRECISE_EXP>(z);
    const float pt = s.p, ut = s.q;

#if ASL_GRADIENT != 0
    // d l0 / dx: positive (1/pt) d pt/dx = ut, 0 where pt < eps (clamp(min=eps) passes where pt >= eps);
    // negative with clip (1/xn) d xn/dx, negative_log_derivative below; without clip l0 = log max(pt, eps)
    // for a negative too, and d/dx = -d/dz.
#if ASL_CLIP
    float dl0 = pt < k.eps ? 0.0f : ut;
#else
    float dl0 = pt < k.eps ? 0.0f : positive ? ut : -ut;
#endif
#endif
#if ASL_CLIP
    // A negative with ut <= clip has xn = 1: its loss is exactly 0, and so is its gradient where its weight
    // (ut - clip)^gn vanishes there (whole gn >= 1): then nothing else is evaluated for it.
#define ASL_SKIP_COVERS_GRADIENT (ASL_GAMMA_MODE == 1 && ASL_GAMMA_NEG_INT >= 1)
    float log_term = 0.0f;
#if ASL_SKIP_COVERS_GRADIENT
    float negative_base = 0.0f;
#else
    const float negative_base = clamp_min(ut - k.clip, 0.0f);
#if ASL_GRADIENT != 0
    if (!positive) dl0 = negative_log_derivative<false>(pt, ut, k);
#endif
#endif
    if (positive || !(ut <= k.clip))
    {
        // A negative's 1 + (clip - ut) is xn = pt + clip, accurate even where ut is close to 1 and clip tiny.
        log_term = log1p_logits(positive ? s.e : k.clip - ut, positive ? 1.0f + s.e : pt + k.clip);
#if ASL_SKIP_COVERS_GRADIENT
        negative_base = ut - k.clip;                    // > 0 here
#if ASL_GRADIENT != 0
        if (!positive) dl0 = negative_log_derivative<true>(pt, ut, k);
#endif
#endif
    }
#if ASL_SKIP_COVERS_GRADIENT && ASL_GRADIENT != 0
    else
    {
        dl0 = 0.0f;
    }
#endif
    float l0 = clamp_min(positive ? fminf(z, 0.0f) - log_term : log_term, k.log_eps);
    const float clip = positive ? 0.0f : k.clip;        // the clip shifts only a negative's probability
#else
    const float clip = 0.0f;
    const float negative_base = ut;
    float l0 = clamp_min(fminf(z, 0.0f) - log1p_logits(s.e, 1.0f + s.e), k.log_eps);
#endif
    (void)clip;
#if ASL_POS_WEIGHT
    // pos_weight multiplies the positive log term and its derivative, not the focusing weight.
    if (positive)
    {
        l0 *= f.pos_weight;
#if ASL_GRADIENT != 0
        dl0 *= f.pos_weight;
#endif
    }
#endif

    float w = 1.0f;
#if ASL_GAMMA_MODE != 0
    const float g = positive ? k.gamma_pos : k.gamma_neg;
#if ASL_GAMMA_MODE == 1
    w = positive ? pow_int<ASL_GAMMA_POS_INT>(ut) : pow_int<ASL_GAMMA_NEG_INT>(negative_base);
#if ASL_GRADIENT == 2
    const float w_prime = positive ? pow_int<(ASL_GAMMA_POS_INT > 0 ? ASL_GAMMA_POS_INT - 1 : 0)>(ut)
                                   : pow_int<(ASL_GAMMA_NEG_INT > 0 ? ASL_GAMMA_NEG_INT - 1 : 0)>(negative_base);
#endif
#else
    const float base = positive ? ut : negative_base;
    w = pow_fast(base, g);
#if ASL_GRADIENT == 2
    const float w_prime = pow_fast(base, g - 1.0f);
#endif
#endif
    (void)g;
#endif
    (void)negative_base;

    ElementResult r;
    r.l0 = l0;
    r.w = w;
    r.p = positive ? pt : ut;
    r.gradient = 0.0f;
#if ASL_GRADIENT != 0
    float d = w * dl0;                                          // d(l0 w)/dx, the weight detached
#if ASL_GRADIENT == 2
    // d base / dx = -pt ut (positive), pt ut (negative; 0 where ut < clip, the clamp at 0); pow's gradient
    // is 0 where g == 0.
    const float dbase = positive ? -(pt * ut) : ut < clip ? 0.0f : pt * ut;
    d += g == 0.0f ? 0.0f : l0 * (g * w_prime * dbase);
#endif
    r.gradient = ASL_SCALE_GRADIENT ? -d * k.gradient_scale : -d;   // loss = -(l0 w)
#endif
#if ASL_CLASS_WEIGHT
    // the per-class weight rescales loss and gradient after focusing.
    r.w *= f.class_weight;
    r.gradient *= f.class_weight;
#endif
    (void)f;
    return r;
}

// A soft target y in [0, 1] (float32 targets only): both log terms and the weight of the mixed 1 - pt.
// Term by term as in ASL.md section 1 (PyTorch's clamp and pow gradient conventions); comparisons are written
// so that a NaN logit takes the computing side and gives a NaN loss and gradient.
__device__ __forceinline__ ElementResult soft_element(float x, float y, const Parameters& k, const ClassFactors& f)
{
    const Sigmoid s = fast_sigmoid<ASL_PRECISE_EXP>(x);
    const float p = s.p, q = s.q, neg_y = 1.0f - y;
    (void)q;                                             // forward-only variants without clip or focusing need only p

    // l0 = y lp + (1 - y) ln with lp = log max(p, eps) = max(log p, log eps), ln = log max(xn, eps).
#if ASL_CLIP
    const float xn = fminf(q + k.clip, 1.0f);           // a NaN p still reaches l0, w and the gradient
    const float lp = clamp_min(log_sigmoid(x, log1p_logits(s.e, 1.0f + s.e)), k.log_eps);
    // ln = log(min(1 - p + clip, 1)) = log1p(min(clip - p, 0)), exactly 0 where p <= clip.
    const float ln_log = p <= k.clip ? 0.0f : log1p_logits(clamp_max(k.clip - p, 0.0f), xn);   // xn = 1 + that, unrounded
    const float ln = xn < k.eps ? k.log_eps : ln_log;
#else
    const float softplus = log1p_logits(s.e, 1.0f + s.e);
    const float lp = clamp_min(log_sigmoid(x, softplus), k.log_eps);
    const float ln = clamp_min(log_one_minus_sigmoid(x, softplus), k.log_eps);
#endif
#if ASL_POS_WEIGHT
    const float l0 = y * (lp * f.pos_weight) + neg_y * ln;   // pos_weight: the positive log term only
#else
    const float l0 = y * lp + neg_y * ln;
#endif

    // Focusing weight w = (1 - pt)^g with 1 - pt = y(1 - p) + (1 - y)(1 - xn); w_prime = (1 - pt)^(g - 1).
    float w = 1.0f;
#if ASL_GAMMA_MODE != 0
#if ASL_CLIP
    const float one_minus_xn = clamp_min(p - k.clip, 0.0f);
#else
    const float one_minus_xn = p;
#endif
    const float g = k.gamma_pos * y + k.gamma_neg * neg_y;
    const float basis = y * q + neg_y * one_minus_xn;
    w = pow_fast(basis, g);
#if ASL_GRADIENT == 2
    const float w_prime = pow_fast(basis, g - 1.0f);
#endif
#endif

    ElementResult r;
    r.l0 = l0;
    r.w = w;
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
#if ASL_POS_WEIGHT
    float d = w * (y * (dlp * f.pos_weight) + neg_y * dln);
#else
    float d = w * (y * dlp + neg_y * dln);
#endif
#if ASL_GRADIENT == 2
#if !ASL_CLIP
    const float ds = p * q, dxn = -ds;
#endif
    const float dpt = y * ds + neg_y * dxn;
    d += g == 0.0f ? 0.0f : l0 * (-(g * w_prime * dpt));   // pow's gradient is exactly 0 where g == 0
#endif
    r.gradient = ASL_SCALE_GRADIENT ? -d * k.gradient_scale : -d;
#endif
#if ASL_CLASS_WEIGHT
    r.w *= f.class_weight;
    r.gradient *= f.class_weight;
#endif
    (void)f;
    return r;
}

// One element whose target may be soft (the unaligned head and ragged tail); y is the raw label.
__device__ __forceinline__ ElementResult any_element(float x, float y, const Parameters& k, const ClassFactors& f)
{
#if ASL_SMOOTHING
    return soft_element(x, smoothed_target(y, k), k, f);  // smoothing leaves no target at 0 or 1
#elif ASL_TARGET_DTYPE == ASL_DTYPE_UINT8
    return binary_element(x, y != 0.0f, k, f);
#else
    return y == 0.0f || y == 1.0f ? binary_element(x, y != 0.0f, k, f) : soft_element(x, y, k, f);
#endif
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

// Adds N elements' contributions: the losses -(l0 w) summed in float32 first (N <= 16 terms, by fma), then
// once into the compensated sums.
template <int N>
__device__ __forceinline__ void accumulate(Sums& sums, const float (&l0)[N], const float (&w)[N], const float (&p)[N], const float (&y)[N])
{
    float l = -(l0[0] * w[0]);
#pragma unroll
    for (int i = 1; i < N; i++) l = fmaf(-l0[i], w[i], l);
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
    ColumnCursor column = column_cursor(begin + (asl_index)blockIdx.x * blockDim.x + threadIdx.x, stride, k);
    for (asl_index i = begin + (asl_index)blockIdx.x * blockDim.x + threadIdx.x; i < end; i += stride)
    {
        float xf[1] = { LogitCodec::load(x[i]) };
        float yf[1] = { TargetCodec::load(y[i]) };       // the statistics keep the raw labels
        ElementResult r = any_element(xf[0], yf[0], k, factors_at(column.column, k));
        column.skip(k);
#if ASL_GRADIENT != 0
        gradient[i] = LogitCodec::store(r.gradient);
#endif
#if ASL_ELEMENT_LOSS
        element_loss[i] = LogitCodec::store(r.loss());
#endif
        float l0[1] = { r.l0 }, w[1] = { r.w }, p[1] = { r.p };
        accumulate<1>(sums, l0, w, p, yf);
    }
}

// Element i of a pack of logits as float32. bfloat16 pairs share a 32-bit word: the first is its lower half
// shifted up, the second its upper half masked (one integer operation each).
template <int N>
__device__ __forceinline__ float decode_logit(const Pack<Logit, N>& pack, int i)
{
#if ASL_LOGIT_DTYPE == ASL_DTYPE_BFLOAT16
    const unsigned int word = reinterpret_cast<const unsigned int*>(&pack.raw)[i / 2];
    return __uint_as_float(i % 2 == 0 ? word << 16 : word & 0xFFFF0000u);
#else
    return LogitCodec::load(pack.element[i]);
#endif
}

template <int N>
__device__ __forceinline__ Pack<Logit, N> encode_pack(const float (&values)[N])
{
    Pack<Logit, N> pack;
#if ASL_LOGIT_DTYPE == ASL_DTYPE_BFLOAT16 && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    // Eight bfloat16, two per cvt (round to nearest even; NaN becomes a quiet NaN).
    pack.raw.x = LogitCodec::store_pair(values[0], values[1]);
    pack.raw.y = LogitCodec::store_pair(values[2], values[3]);
    pack.raw.z = LogitCodec::store_pair(values[4], values[5]);
    pack.raw.w = LogitCodec::store_pair(values[6], values[7]);
#elif ASL_LOGIT_DTYPE == ASL_DTYPE_BFLOAT16
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
// instead. The other variants keep the default, which gives them fewer PTX instructions. AslCuda's extensions (the column
// cursor, the factors, soft targets everywhere) spilled 4 to 8 bytes with the default on sm_75 to sm_90 in every logit
// type, so their variants ask for 2 resident blocks too; 16-bit logits with the full gradient, element losses and
// statistics all on still spilled 4 bytes at 128 registers (sm_75 to sm_90), so that corner gets one block's worth.
// Float32 targets hold both the binary and the soft body in the loop: with the default, ptxas chose 64 registers for
// some forward-only variants with statistics and spilled 4 to 8 bytes on sm_90, so they ask for 2 blocks too.
#if ASL_EXTENSIONS && (ASL_LOGIT_DTYPE == ASL_DTYPE_FLOAT16 || ASL_LOGIT_DTYPE == ASL_DTYPE_BFLOAT16) && ASL_GRADIENT == 2 \
    && ASL_ELEMENT_LOSS && ASL_STATISTICS
#define ASL_LAUNCH_BOUNDS __launch_bounds__(ASL_BLOCK_SIZE, 1)
#elif ((ASL_LOGIT_DTYPE == ASL_DTYPE_FLOAT16 || ASL_LOGIT_DTYPE == ASL_DTYPE_BFLOAT16) && ASL_GAMMA_MODE == 2) \
    || ASL_TARGET_DTYPE == ASL_DTYPE_FLOAT32 || ASL_EXTENSIONS
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
#if ASL_EXTENSIONS
               , const float* __restrict__ pos_weight, const float* __restrict__ class_weight, unsigned int classes,
               float one_minus_smoothing, float half_smoothing, float pos_weight_all
#endif
               )
{
#if ASL_EXTENSIONS
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
    // Grid-stride over packs, counted in elements. With float32 targets the warp votes on soft targets with a
    // full mask, so all its lanes run the iterations of its first lane and a lane past the last pack sits
    // them out (the vote is a real barrier of the warp on Volta and later, and on the emulated device).
    // (With smoothing every target is soft: no vote.)
#define ASL_SOFT_TARGET_VOTE (ASL_TARGET_DTYPE == ASL_DTYPE_FLOAT32 && !ASL_SMOOTHING)
    const asl_index step = (asl_index)gridDim.x * blockDim.x * ASL_VECTOR;
#if ASL_SOFT_TARGET_VOTE
    const asl_index lane_offset = (asl_index)(threadIdx.x & 31) * ASL_VECTOR;
#else
    const asl_index lane_offset = 0;
#endif
    const asl_index first = head + ((asl_index)blockIdx.x * blockDim.x + threadIdx.x) * ASL_VECTOR;
    // The class of each element for the per-class factors: 1 further per element of a pack, then skip() jumps the
    // other packs of the stride.
    ColumnCursor column = column_cursor(first, step - ASL_VECTOR, k);
    for (asl_index base = first; base - lane_offset < tail; base += step)
    {
        const bool in_range = lane_offset == 0 || base < tail;
        Pack<Logit, ASL_VECTOR> xs;
        Pack<Target, ASL_VECTOR> ys;
        if (in_range)
        {
            xs = load_pack<Logit, ASL_VECTOR>(x + base);
            ys = load_pack<Target, ASL_VECTOR>(y + base);
        }
        else
        {
            xs.raw = {};
            ys.raw = {};
        }
        float xf[ASL_VECTOR], yf[ASL_VECTOR], l0[ASL_VECTOR], w[ASL_VECTOR], p[ASL_VECTOR];
#if ASL_GRADIENT != 0
        float gradient_values[ASL_VECTOR];
#endif
        bool positive[ASL_VECTOR];
        ClassFactors f[ASL_VECTOR];
#pragma unroll
        for (int i = 0; i < ASL_VECTOR; i++)
        {
            xf[i] = decode_logit<ASL_VECTOR>(xs, i);
            yf[i] = TargetCodec::load(ys.element[i]);      // the statistics keep the raw labels
            positive[i] = TargetCodec::is_positive(ys.element[i]);
            f[i] = factors_at(column.column, k);
            column.next(k);
        }
#if ASL_SMOOTHING
        const bool soft = true;
#elif ASL_TARGET_DTYPE == ASL_DTYPE_UINT8
        const bool soft = false;
#else
        // y - y^2 (one rounding, by fma) is 0 exactly for y = 0 and y = 1 (NaN and out-of-range values count as
        // soft). The warp votes, so that it runs one of the two bodies: binary data (the usual case, also as
        // float32) never executes the soft one.
        float softness = 0.0f;
#pragma unroll
        for (int i = 0; i < ASL_VECTOR; i++) softness += fabsf(fmaf(-yf[i], yf[i], yf[i]));
        const bool soft = __any_sync(0xFFFFFFFFu, softness != 0.0f);
        if (!in_range) continue;
#endif
        if (soft)
        {
#pragma unroll
            for (int i = 0; i < ASL_VECTOR; i++)
            {
                const ElementResult r = soft_element(xf[i], smoothed_target(yf[i], k), k, f[i]);
                l0[i] = r.l0;
                w[i] = r.w;
                p[i] = r.p;
#if ASL_GRADIENT != 0
                gradient_values[i] = r.gradient;
#endif
            }
        }
        else
        {
#pragma unroll
            for (int i = 0; i < ASL_VECTOR; i++)
            {
                const ElementResult r = binary_element(xf[i], positive[i], k, f[i]);
                l0[i] = r.l0;
                w[i] = r.w;
                p[i] = r.p;
#if ASL_GRADIENT != 0
                gradient_values[i] = r.gradient;
#endif
            }
        }
#if ASL_GRADIENT != 0
        store_pack<Logit, ASL_VECTOR>(gradient + base, encode_pack<ASL_VECTOR>(gradient_values));
#endif
#if ASL_ELEMENT_LOSS
        float loss[ASL_VECTOR];
#pragma unroll
        for (int i = 0; i < ASL_VECTOR; i++) loss[i] = -(l0[i] * w[i]);
        store_pack<Logit, ASL_VECTOR>(element_loss + base, encode_pack<ASL_VECTOR>(loss));
#endif
        accumulate<ASL_VECTOR>(sums, l0, w, p, yf);
        column.skip(k);
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
