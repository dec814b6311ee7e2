using AslCuda.Cuda;

namespace AslCuda.Gpu;

/// <summary>Which gradient the multi-label kernel writes (ASL_GRADIENT).</summary>
internal enum MultiLabelGradient
{
    None = 0,
    /// <summary>Focusing weight treated as a constant (the paper code's default).</summary>
    Detached = 1,
    /// <summary>Gradient through the focusing weight too.</summary>
    Full = 2,
}

/// <summary>How the focusing weight is computed (ASL_GAMMA_MODE).</summary>
internal enum GammaMode
{
    /// <summary>Both gammas 0: no weight.</summary>
    None = 0,
    /// <summary>Whole gammas, compiled in: the weight of binary targets is a product.</summary>
    Integer = 1,
    /// <summary>Any gammas, passed at launch: e^(g log(1 - pt)), one variant for every value.</summary>
    Pow = 2,
}

/// <summary>How pos_weight reaches the kernel (ASL_POS_WEIGHT).</summary>
internal enum PosWeightMode
{
    None = 0,
    /// <summary>One value for every class, a launch parameter.</summary>
    Scalar = 1,
    /// <summary>One value per class, a [C] device buffer read by column.</summary>
    PerClass = 2,
}

/// <summary>
/// One compile-time variant of kernels/asl_multilabel.cu. Whole gammas are compiled in (so the weight is
/// a product); other gammas are launch parameters, so adaptive asymmetry does not compile per step.
/// AslCuda's extensions (docs/extensions.md) are switches of their own, off by default, so the paper code's variants compile
/// exactly as without them; batchmean is only a scale of the sum and the gradient, no switch.
/// </summary>
internal readonly record struct MultiLabelVariant(
    AslDataType Logit, AslDataType Target, MultiLabelGradient Gradient, bool ElementLoss, bool Statistics, bool Clip,
    GammaMode Gammas, int GammaPosInteger, int GammaNegInteger,
    bool Smoothing = false, bool ClassWeight = false, PosWeightMode PosWeight = PosWeightMode.None,
    bool ClipBelowEps = false, bool ScaleGradient = false)
{
    public const int BlockSize = 256;
    public static KernelProgram Program => KernelProgram.Get("asl_multilabel.cu");

    public static MultiLabelVariant For(AslDataType logit, AslDataType target, AslOptions options, bool gradient, bool statistics)
    {
        var gammas = !options.HasFocusing ? GammaMode.None : options.HasIntegerGammas ? GammaMode.Integer : GammaMode.Pow;
        var mode = !gradient ? MultiLabelGradient.None
            : options.DetachFocalWeight || gammas == GammaMode.None ? MultiLabelGradient.Detached
            : MultiLabelGradient.Full;
        bool integer = gammas == GammaMode.Integer;
        var posWeight = options.PosWeight.Length switch { 0 => PosWeightMode.None, 1 => PosWeightMode.Scalar, _ => PosWeightMode.PerClass };
        // The kernel drops the eps clamp of log xn where it cannot act (xn >= clip >= eps), and the gradient's
        // multiply where the scale is 1 (sum and none; mean and batchmean divide).
        return new MultiLabelVariant(logit, target, mode, options.Reduction == AslReduction.None, statistics, options.Clip > 0,
            gammas, integer ? (int)options.GammaPos : 0, integer ? (int)options.GammaNeg : 0,
            options.Smoothing > 0, options.ClassWeight.Length > 0, posWeight,
            ClipBelowEps: options.Clip > 0 && (float)options.Clip < (float)options.Eps,
            ScaleGradient: gradient && options.Reduction is AslReduction.Mean or AslReduction.BatchMean);
    }

    /// <summary>True when one of the extension switches is on: the kernel then takes the extra launch arguments.</summary>
    public bool HasExtensions => Smoothing || ClassWeight || PosWeight != PosWeightMode.None;

    /// <summary>Logit elements per 16-byte load.</summary>
    public int VectorWidth => 16 / Logit.SizeOf();

    public IReadOnlyList<string> Defines =>
    [
        $"-DASL_LOGIT_DTYPE={DTypeCode(Logit)}",
        $"-DASL_TARGET_DTYPE={DTypeCode(Target)}",
        $"-DASL_GRADIENT={(int)Gradient}",
        $"-DASL_ELEMENT_LOSS={(ElementLoss ? 1 : 0)}",
        $"-DASL_STATISTICS={(Statistics ? 1 : 0)}",
        $"-DASL_SCALE_GRADIENT={(ScaleGradient ? 1 : 0)}",
        $"-DASL_CLIP={(Clip ? ClipBelowEps ? 2 : 1 : 0)}",
        $"-DASL_GAMMA_MODE={(int)Gammas}",
        $"-DASL_GAMMA_POS_INT={GammaPosInteger}",
        $"-DASL_GAMMA_NEG_INT={GammaNegInteger}",
        $"-DASL_SMOOTHING={(Smoothing ? 1 : 0)}",
        $"-DASL_CLASS_WEIGHT={(ClassWeight ? 1 : 0)}",
        $"-DASL_POS_WEIGHT={(int)PosWeight}",
        $"-DASL_BLOCK_SIZE={BlockSize}",
    ];

    /// <summary>The ASL_DTYPE_* codes of kernels/asl_common.cuh.</summary>
    public static int DTypeCode(AslDataType type) => type switch
    {
        AslDataType.Float32 => 0,
        AslDataType.Float64 => 1,
        AslDataType.Float16 => 2,
        AslDataType.BFloat16 => 3,
        AslDataType.UInt8 => 4,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };
}

/// <summary>
/// Multi-label ASL on a CUDA device (ASL.md section 1, kernels/asl_multilabel.cu): loss, gradient and
/// statistics in one kernel launch (its last block to finish reduces the per-block partials), on the legacy
/// default stream of the device's primary context (the context and stream libtorch uses unless told otherwise).
/// The loss and statistics sums are deterministic: the grid depends only on the element count and the
/// device, and every sum is taken in a fixed order.
/// </summary>
public static unsafe class MultiLabelGpu
{
    /// <summary>Bytes of each argument of the launch below, in order (checked against the PTX's .entry by the NVRTC tests).</summary>
    internal static int[] ArgumentBytes(MultiLabelVariant variant) =>
        variant.HasExtensions ? [.. PaperArgumentBytes, .. ExtensionArgumentBytes] : PaperArgumentBytes;

    /// <summary>
    /// A cap on the grid below the resident-block limit, for tests only: with a grid of one or two blocks, a few
    /// thousand elements take the grid-stride loops through several steps, which the emulated device could otherwise
    /// only reach with about a million elements (the column of the per-class factors is carried from step to step).
    /// </summary>
    internal static int MaxBlocks { get; set; } = int.MaxValue;

    private static readonly int[] PaperArgumentBytes = [8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 4, 4, 4, 4, 4, 4];

    /// <summary>pos_weight [C], class weight [C], classes, 1 - s, s/2, the one pos_weight: only where an extension switch is on.</summary>
    private static readonly int[] ExtensionArgumentBytes = [8, 8, 4, 4, 4, 4];

    /// <summary>
    /// Enqueues the loss (and gradient) of <paramref name="count"/> elements on device
    /// <paramref name="deviceOrdinal"/>; returns without waiting. All pointers are device addresses in that
    /// device's memory, contiguous, of the stated element types.
    /// </summary>
    /// <param name="deviceOrdinal">CUDA device ordinal (the tensor's device index).</param>
    /// <param name="logitType">Float32, Float64, Float16 or BFloat16; also the type of the gradient and element losses.</param>
    /// <param name="targetType">Float32 (soft targets in [0, 1]) or UInt8 (binary; any nonzero byte is a positive).</param>
    /// <param name="input">Logits, <paramref name="count"/> elements.</param>
    /// <param name="target">Targets, <paramref name="count"/> elements.</param>
    /// <param name="count">Number of elements (N*C).</param>
    /// <param name="options">Loss parameters; the reduction decides the loss output and the gradient's scale.</param>
    /// <param name="gradient">Receives d loss / dx for an upstream gradient of one (divided by the count for
    /// mean); 0 selects the forward-only kernel.</param>
    /// <param name="elementLoss">Receives each element's loss; required for reduction none, else 0.</param>
    /// <param name="lossOutput">Receives the loss as one float32: the sum, or the mean; for none, the sum of the element losses.</param>
    /// <param name="statisticsOutput">0, or four doubles: sum p*y, sum y, sum p*(1-y), sum (1-y) (of the labels as
    /// given: smoothing does not change them).</param>
    /// <param name="classes">C of the row-major [N, C] input: batchmean and the per-class factors need it
    /// (<see cref="AslOptions.CheckShape"/>); 0 where neither is used.</param>
    public static void Launch(int deviceOrdinal, AslDataType logitType, nint input, AslDataType targetType, nint target, long count,
        AslOptions options, nint gradient, nint elementLoss, nint lossOutput, nint statisticsOutput, int classes = 0)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegative(classes);
        if (classes > 0 && count % classes != 0)
            throw new ArgumentException($"classes = {classes} does not divide the element count {count} (rows of C classes).", nameof(classes));
        options.CheckShape(count, classes);
        if (!logitType.IsFloatingPoint()) throw new ArgumentException($"logits must be floating point, got {logitType}.", nameof(logitType));
        if (targetType is not (AslDataType.Float32 or AslDataType.UInt8))
            throw new ArgumentException($"targets must be float32 or uint8/bool, got {targetType}.", nameof(targetType));
        if (count > 0 && (input == 0 || target == 0)) throw new ArgumentException("input and target must be device pointers.");
        if (lossOutput == 0) throw new ArgumentException("lossOutput must point to one device float32.", nameof(lossOutput));
        if (options.Reduction == AslReduction.None && elementLoss == 0 && count > 0)
            throw new ArgumentException("reduction none needs an element loss buffer.", nameof(elementLoss));
        if (options.Reduction != AslReduction.None && elementLoss != 0)
            throw new ArgumentException($"an element loss buffer is only written for reduction none, not {options.Reduction}.", nameof(elementLoss));

        var device = GpuDevice.Get(deviceOrdinal);
        var variant = MultiLabelVariant.For(logitType, targetType, options, gradient != 0, statisticsOutput != 0);
        var kernel = LoadedKernel.Get(device, MultiLabelVariant.Program, variant.Defines, "asl_multilabel", MultiLabelVariant.BlockSize);

        long packs = (count + variant.VectorWidth - 1) / variant.VectorWidth;
        int blocks = (int)Math.Clamp((packs + MultiLabelVariant.BlockSize - 1) / MultiLabelVariant.BlockSize, 1,
            Math.Min(kernel.MaxResidentBlocks, MaxBlocks));
        float clip = (float)options.Clip, eps = (float)options.Eps, logEps = (float)Math.Log(options.Eps);
        float gammaPos = (float)options.GammaPos, gammaNeg = (float)options.GammaNeg;
        // What the reduction multiplies the sum by: 1/(N*C) for mean, 1/N (= C/count) for batchmean; the gradient is
        // already scaled the same way. No element (and so no row): NaN, as PyTorch's mean of nothing.
        double reductionScale = options.Reduction switch
        {
            AslReduction.Mean => 1.0 / count,
            AslReduction.BatchMean => (double)classes / count,
            _ => 1.0,
        };
        double lossScale = count == 0 && options.Reduction is AslReduction.Mean or AslReduction.BatchMean ? double.NaN : reductionScale;
        float gradientScale = count > 0 ? (float)reductionScale : 1f;

        // AslCuda's extensions (only read by variants that have them): 1 - s and s/2 of smoothing, the one pos_weight, and
        // the [C] vectors in device memory, uploaded once per vector and device (GpuDevice.ClassFactors).
        float oneMinusSmoothing = (float)(1 - options.Smoothing), halfSmoothing = (float)(0.5 * options.Smoothing);
        float posWeightAll = variant.PosWeight == PosWeightMode.Scalar ? options.PosWeight.Span[0] : 1f;
        uint classCount = (uint)classes;

        lock (device.LaunchLock)
        {
            ulong partials = device.Workspace.Pointer, ticket = device.WorkspaceTicket;
            ulong posWeights = variant.PosWeight == PosWeightMode.PerClass ? device.ClassFactors(options.PosWeight) : 0;
            ulong classWeights = variant.ClassWeight ? device.ClassFactors(options.ClassWeight) : 0;
            using var scope = device.Context.Push();
            void** arguments = stackalloc void*[] { &input, &target, &count, &gradient, &elementLoss, &partials, &ticket,
                &lossScale, &lossOutput, &statisticsOutput, &clip, &eps, &logEps, &gammaPos, &gammaNeg, &gradientScale,
                &posWeights, &classWeights, &classCount, &oneMinusSmoothing, &halfSmoothing, &posWeightAll };
            // The paper code's variants declare only the first 16 parameters; the driver reads as many as the kernel has.
            Driver.Check(Driver.cuLaunchKernel(kernel.Function, (uint)blocks, 1, 1, MultiLabelVariant.BlockSize, 1, 1, 0, 0, arguments, null),
                "cuLaunchKernel(asl_multilabel)");
            device.AfterLaunch("asl_multilabel", variant.Defines);
        }
    }

    /// <summary>
    /// Host convenience for tests and tools: copies the inputs to device <paramref name="device"/>, runs
    /// <see cref="Launch"/>, waits, and copies the results back. The current contents of
    /// <paramref name="gradient"/> and <paramref name="elementLoss"/> are uploaded first, so callers can
    /// poison them. An empty <paramref name="gradient"/> runs the forward-only kernel.
    /// Returns the loss (see <c>lossOutput</c> of <see cref="Launch"/>). <paramref name="classes"/> is C of the
    /// row-major [N, C] input, as in <see cref="Launch"/>.
    /// </summary>
    public static float Compute<TLogit, TTarget>(ReadOnlySpan<TLogit> input, ReadOnlySpan<TTarget> target, AslOptions options,
        Span<TLogit> gradient, Span<TLogit> elementLoss, out AslStatistics statistics, int device = 0, int classes = 0)
        where TLogit : unmanaged where TTarget : unmanaged =>
        Run(input, target, options, gradient, elementLoss, computeStatistics: true, out statistics, device, classes);

    /// <summary>As the other overload, without the statistics (their kernel variant does not compute them).</summary>
    public static float Compute<TLogit, TTarget>(ReadOnlySpan<TLogit> input, ReadOnlySpan<TTarget> target, AslOptions options,
        Span<TLogit> gradient, Span<TLogit> elementLoss, int device = 0, int classes = 0)
        where TLogit : unmanaged where TTarget : unmanaged =>
        Run(input, target, options, gradient, elementLoss, computeStatistics: false, out _, device, classes);

    private static float Run<TLogit, TTarget>(ReadOnlySpan<TLogit> input, ReadOnlySpan<TTarget> target, AslOptions options,
        Span<TLogit> gradient, Span<TLogit> elementLoss, bool computeStatistics, out AslStatistics statistics, int device, int classes)
        where TLogit : unmanaged where TTarget : unmanaged
    {
        if (input.Length != target.Length)
            throw new ArgumentException($"input has {input.Length} elements but target has {target.Length}.", nameof(target));
        if (!gradient.IsEmpty && gradient.Length != input.Length)
            throw new ArgumentException($"gradient has {gradient.Length} elements, expected {input.Length}.", nameof(gradient));
        bool none = options.Reduction == AslReduction.None;
        if (none && elementLoss.Length != input.Length)
            throw new ArgumentException($"reduction none needs an element loss buffer of {input.Length} elements, got {elementLoss.Length}.", nameof(elementLoss));

        var context = GpuDevice.Get(device).Context;
        using var x = DeviceMemory.Allocate(context, (long)input.Length * sizeof(TLogit));
        using var y = DeviceMemory.Allocate(context, (long)target.Length * sizeof(TTarget));
        using var g = gradient.IsEmpty ? null : DeviceMemory.Allocate(context, (long)gradient.Length * sizeof(TLogit));
        using var l = none ? DeviceMemory.Allocate(context, (long)elementLoss.Length * sizeof(TLogit)) : null;
        using var loss = DeviceMemory.Allocate(context, sizeof(float));
        using var stats = computeStatistics ? DeviceMemory.Allocate(context, 4 * sizeof(double)) : null;
        x.Upload(input);
        y.Upload(target);
        g?.Upload<TLogit>(gradient);
        l?.Upload<TLogit>(elementLoss);
        loss.Fill(0xFF);
        stats?.Fill(0xFF);

        Launch(device, AslDataTypes.Of<TLogit>(), (nint)x.Pointer, AslDataTypes.Of<TTarget>(), (nint)y.Pointer, input.Length, options,
            (nint)(g?.Pointer ?? 0), (nint)(l?.Pointer ?? 0), (nint)loss.Pointer, (nint)(stats?.Pointer ?? 0), classes);

        // Synchronous copies on the default stream wait for the kernels.
        g?.Download(gradient);
        l?.Download(elementLoss);
        Span<double> s = stackalloc double[4];
        stats?.Download(s);
        statistics = new AslStatistics(s[0], s[1], s[2], s[3]);
        Span<float> result = stackalloc float[1];
        loss.Download(result);
        return result[0];
    }
}
