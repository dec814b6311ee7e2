// Single-label asymmetric loss (shared/ASL.md section 2): softmax per row, one launch for loss, gradient
// and the reduced loss (the last block to finish adds the per-block partials in block order). A group of threads owns a row: a warp for
// small C, the whole block for large C. Each thread keeps its columns of the row in registers, so the
// logits are read from memory once.
//
// Variant, fixed when NVRTC compiles (src/AslCuda/Gpu/SingleLabelGpu.cs writes these):
//   ASL_LOGIT_DTYPE          ASL_DTYPE_FLOAT32 | FLOAT64 | FLOAT16 | BFLOAT16   (math is float32)
//   ASL_TARGET_BITS          32 | 64: class indices as int32 or int64
//   ASL_GRADIENT             0 forward only | 1 write d loss / dx (through the focusing weight, as the paper code)
//   ASL_ROW_LOSS             1: write each row's loss (reduction none)
//   ASL_GAMMA_MODE           1 whole gammas ASL_GAMMA_POS_INT/ASL_GAMMA_NEG_INT | 2 any gammas
//   ASL_BLOCK_SIZE           threads per block
//   ASL_GROUP_SIZE           threads per row: 32 (a warp) or ASL_BLOCK_SIZE (the block)
//   ASL_VALUES_PER_THREAD    columns each thread holds; ASL_GROUP_SIZE * this >= C
//
// Derivation of the gradient (per row; q = log_softmax(x), P = e^q, h one-hot of t, s smoothed target):
//   row_loss = -sum_c s_c w_c q_c,  w_c = (1 - P_c)^gp (c = t), P_c^gn (c != t)
//   dq_c/dx_k = [c = k] - P_k,  dP_c/dx_k = P_c ([c = k] - P_k),  dw_c/dP_c = w'_c
//   d row_loss/dx_k = -sum_c s_c (w_c dq_c/dx_k + q_c w'_c dP_c/dx_k)
//                   = -sum_c (a_c + b_c)([c = k] - P_k)  with a_c = s_c w_c, b_c = s_c q_c w'_c P_c
//                   = -(a_k + b_k) + P_k sum_c (a_c + b_c)
// A target outside [0, C) is never used as an index (only compared with column numbers); its row gets a
// NaN loss and a NaN gradient, so the reduced loss is NaN too.
#include "asl_common.cuh"

#define ASL_GROUPS_PER_BLOCK (ASL_BLOCK_SIZE / ASL_GROUP_SIZE)
// Up to 32 columns per thread the gradient pass reuses P and a + b kept from the loss pass; beyond that
// two arrays would not fit in registers, so it keeps only q and evaluates the terms again.
#define ASL_RECOMPUTE (ASL_VALUES_PER_THREAD > 32)

#if ASL_GROUP_SIZE != 32 && ASL_GROUP_SIZE != ASL_BLOCK_SIZE
#error "a row belongs to a warp or to the whole block"
#endif

typedef Codec<ASL_LOGIT_DTYPE> LogitCodec;
typedef LogitCodec::Storage Logit;
#if ASL_TARGET_BITS == 64
typedef long long TargetIndex;
#else
typedef int TargetIndex;
#endif

struct MaxOp
{
    static __device__ __forceinline__ float apply(float a, float b) { return fmaxf(a, b); }
};
struct SumOp
{
    static __device__ __forceinline__ float apply(float a, float b) { return a + b; }
};

// Reduces over the row's group; every thread of the group gets the same bits (the xor butterfly pairs
// equal values at each step, and the block stage reads the warp results in one fixed order).
template <typename Op>
__device__ __forceinline__ float group_reduce(float v, float* scratch)
{
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v = Op::apply(v, __shfl_xor_sync(0xFFFFFFFFu, v, offset));
#if ASL_GROUP_SIZE > 32
    const int warps = ASL_GROUP_SIZE / 32;
    if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = v;
    __syncthreads();
    v = scratch[0];
#pragma unroll
    for (int w = 1; w < warps; w++) v = Op::apply(v, scratch[w]);
    __syncthreads();                                   // scratch is reused by the next reduction
#else
    (void)scratch;
#endif
    return v;
}

// Focusing weight w and its derivative w' = dw/dP for one class; omp = 1 - P (accurate for P near 1).
__device__ __forceinline__ void focusing(bool is_target, float p, float q, float omp, float gamma_pos, float gamma_neg,
                                         float& w, float& w_prime)
{
#if ASL_GAMMA_MODE == 1
    (void)q;
    (void)gamma_pos;
    (void)gamma_neg;
    if (is_target)
    {
        w = pow_int<ASL_GAMMA_POS_INT>(omp);
        w_prime = ASL_GAMMA_POS_INT == 0 ? 0.0f
            : -(float)ASL_GAMMA_POS_INT * pow_int<(ASL_GAMMA_POS_INT > 0 ? ASL_GAMMA_POS_INT - 1 : 0)>(omp);
    }
    else
    {
        w = pow_int<ASL_GAMMA_NEG_INT>(p);
        w_prime = ASL_GAMMA_NEG_INT == 0 ? 0.0f
            : (float)ASL_GAMMA_NEG_INT * pow_int<(ASL_GAMMA_NEG_INT > 0 ? ASL_GAMMA_NEG_INT - 1 : 0)>(p);
    }
#else
    (void)p;
    if (is_target)
    {
        w = pow_fast(omp, gamma_pos);
        w_prime = gamma_pos == 0.0f ? 0.0f : -gamma_pos * pow_fast(omp, gamma_pos - 1.0f);
    }
    else
    {
        // P^g = e^(g q) with q = log P already at hand.
        w = pow_from_log(q, gamma_neg);
        w_prime = gamma_neg == 0.0f ? 0.0f : gamma_neg * pow_from_log(q, gamma_neg - 1.0f);
    }
#endif
}

struct Parameters
{
    float gamma_pos, gamma_neg, on_target, off_target;
};

struct Terms
{
    float loss, ab, p;                                 // -s w q, a + b, P
};

// One class of one row from its log-probability q and probability p = e^q; omp_target = 1 - P_t of the row
// (only the target uses 1 - P).
__device__ __forceinline__ Terms class_terms(float q, float p, bool is_target, float omp_target, const Parameters& k)
{
    Terms r;
    r.p = p;
    const float omp = is_target ? omp_target : 1.0f - r.p;
    const float s = is_target ? k.on_target : k.off_target;
    float w, w_prime;
    focusing(is_target, r.p, q, omp, k.gamma_pos, k.gamma_neg, w, w_prime);
    const float a = s * w;
    r.loss = -(a * q);
    r.ab = a + s * q * w_prime * r.p;
    return r;
}

extern "C" __global__ void __launch_bounds__(ASL_BLOCK_SIZE, 1)
asl_singlelabel(const Logit* __restrict__ x, const TargetIndex* __restrict__ target, asl_index rows, int classes,
                Logit* __restrict__ gradient, Logit* __restrict__ row_loss, double* __restrict__ partials,
                unsigned int* __restrict__ ticket, double loss_scale, float* __restrict__ loss_out, float gamma_pos, float gamma_neg, float smoothing, float gradient_scale)
{
    __shared__ float scratch[32];
    __shared__ double sum_scratch[32];
    const int lane = threadIdx.x % ASL_GROUP_SIZE;
    const int group = threadIdx.x / ASL_GROUP_SIZE;
    const float off_target = smoothing / (float)classes;
    const Parameters k = { gamma_pos, gamma_neg, 1.0f - smoothing + off_target, off_target };
    const float nan = __int_as_float(0x7FC00000);
    double loss_sum = 0.0;                             // kept by the first thread of each group

    for (asl_index row = (asl_index)blockIdx.x * ASL_GROUPS_PER_BLOCK + group; row < rows;
         row += (asl_index)gridDim.x * ASL_GROUPS_PER_BLOCK)
    {
        const Logit* xr = x + row * classes;
        float v[ASL_VALUES_PER_THREAD];
        float row_max = __int_as_float(0xFF800000);    // -inf
#pragma unroll
        for (int i = 0; i < ASL_VALUES_PER_THREAD; i++)
        {
            const int c = lane + i * ASL_GROUP_SIZE;
            v[i] = c < classes ? LogitCodec::load(xr[c]) : 0.0f;
            if (c < classes) row_max = fmaxf(row_max, v[i]);
        }
        row_max = group_reduce<MaxOp>(row_max, scratch);
        // Z = sum e^(x - max), kept as Z - 1 = (sum below the max) + (maxima - 1) so that log Z = log1p(Z - 1)
        // and Z' = Z without the target keep their digits when one class dominates: 1 - P_t = Z'/Z is then
        // accurate where 1 - e^q would be rounding noise.
        const TargetIndex t = target[row];
        const bool valid = t >= 0 && t < classes;
        float below_max = 0.0f, maxima = 0.0f, exp_sum_other = 0.0f;
#if !ASL_RECOMPUTE
        // e^(x - max) of this pass, kept: P = e^(x - max) / Z is then one multiply, not a second exponential.
        float p_kept[ASL_VALUES_PER_THREAD];
#endif
#pragma unroll
        for (int i = 0; i < ASL_VALUES_PER_THREAD; i++)
        {
            const int c = lane + i * ASL_GROUP_SIZE;
            if (c >= classes) continue;
            const float e = exp_negative(row_max - v[i]);
#if !ASL_RECOMPUTE
            p_kept[i] = e;
#endif
            if (v[i] == row_max) maxima += 1.0f;
            else below_max += e;
            if (c != t) exp_sum_other += e;
        }
        below_max = group_reduce<SumOp>(below_max, scratch);
        maxima = group_reduce<SumOp>(maxima, scratch);
        exp_sum_other = group_reduce<SumOp>(exp_sum_other, scratch);
        const float z_minus_one = below_max + (maxima - 1.0f);
        const float log_z = log1pf(z_minus_one);      // log Z of the shifted row, Z = sum of e^(x - max)
        const float omp_target = exp_sum_other / (1.0f + z_minus_one);
#if !ASL_RECOMPUTE
        const float inverse_z = 1.0f / (1.0f + z_minus_one);
#endif
        float loss_part = 0.0f;
#if ASL_GRADIENT
        float ab_other_part = 0.0f, ab_target_part = 0.0f;
#endif
#pragma unroll
        for (int i = 0; i < ASL_VALUES_PER_THREAD; i++)
        {
            const int c = lane + i * ASL_GROUP_SIZE;
            if (c >= classes) continue;
            // log_softmax q = (x - max) - log Z: x - max is exact near the max, so a confident row keeps its tiny
            // q_t = -log Z (x - (max + log Z) would round max + log Z back to max and give q_t = 0).
            v[i] = (v[i] - row_max) - log_z;
#if ASL_RECOMPUTE
            const float p = exp_negative(-v[i]);       // q <= 0; 3 ulp (asl_common.cuh)
#else
            const float p = p_kept[i] * inverse_z;     // 4 ulp, for large |q| better than e^q (q's rounding)
#endif
            const Terms e = class_terms(v[i], p, c == t, omp_target, k);
            loss_part += e.loss;
#if ASL_GRADIENT
            if (c == t) ab_target_part += e.ab;
            else ab_other_part += e.ab;
#if !ASL_RECOMPUTE
            v[i] = e.ab;
            p_kept[i] = p;
#endif
#endif
        }
        float loss = group_reduce<SumOp>(loss_part, scratch);
        if (!valid) loss = nan;
#if ASL_GRADIENT
        // S = sum_c (a_c + b_c) = S' + (a_t + b_t); the target's own gradient is written as
        // -(a_t + b_t)(1 - P_t) + P_t S', which keeps its digits when P_t is close to 1.
        const float ab_other = group_reduce<SumOp>(ab_other_part, scratch);
        const float ab_target = group_reduce<SumOp>(ab_target_part, scratch);
        const float ab_sum = ab_other + ab_target;
        Logit* gr = gradient + row * classes;
#pragma unroll
        for (int i = 0; i < ASL_VALUES_PER_THREAD; i++)
        {
            const int c = lane + i * ASL_GROUP_SIZE;
            if (c >= classes) continue;
#if ASL_RECOMPUTE
            const Terms e = class_terms(v[i], exp_negative(-v[i]), c == t, omp_target, k);
            const float ab = e.ab, p = e.p;
#else
            const float ab = v[i], p = p_kept[i];
#endif
            const float d = c == t ? p * ab_other - ab * omp_target : p * ab_sum - ab;
            gr[c] = LogitCodec::store(valid ? d * gradient_scale : nan);
        }
#else
        (void)gradient;
        (void)gradient_scale;
#endif
        if (lane == 0)
        {
            loss_sum += (double)loss;
#if ASL_ROW_LOSS
            row_loss[row] = LogitCodec::store(loss);
#endif
        }
    }
    (void)row_loss;

    // loss_out: the sum of the row losses times loss_scale (1/rows for mean), as float32.
    double sums[1] = { loss_sum };
    block_sum<1, ASL_BLOCK_SIZE>(sums, sum_scratch);
    if (last_block_totals<1, ASL_BLOCK_SIZE>(sums, partials, ticket, sum_scratch)) loss_out[0] = (float)(sums[0] * loss_scale);
}
