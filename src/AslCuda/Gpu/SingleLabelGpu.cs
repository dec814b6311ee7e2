using AslCuda.Cuda;

namespace AslCuda.Gpu;

/// <summary>
/// How rows map onto threads in kernels/asl_singlelabel.cu: a warp per row up to 1024 classes, else the
/// whole block; each thread holds ValuesPerThread columns in registers (a power of two, so few variants).
/// </summary>
internal readonly record struct SingleLabelLayout(int BlockSize, int GroupSize, int ValuesPerThread)
{
    /// <summary>The most classes a row may have: 512 threads with 64 columns each.</summary>
    public const int MaxClasses = 32768;

    public static SingleLabelLayout For(long classes)
    {
        if (classes is < 1 or > MaxClasses)
            throw new NotSupportedException($"the CUDA single-label kernel handles 1 to {MaxClasses} classes, not {classes}.");
        return classes <= 1024 ? new SingleLabelLayout(256, 32, ColumnsPerThread(classes, 32))
            : classes <= 8192 ? new SingleLabelLayout(256, 256, ColumnsPerThread(classes, 256))
            : new SingleLabelLayout(512, 512, ColumnsPerThread(classes, 512));
    }

    private static int ColumnsPerThread(long classes, int groupSize) =>
        (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)((classes + groupSize - 1) / groupSize));

    public int RowsPerBlock => BlockSize / GroupSize;

    /// <summary>
    /// With a warp per row, fewer rows per block (1, 2, 4 or 8) when <paramref name="rows"/> would otherwise
    /// leave multiprocessors idle: 256 rows of 1000 classes give 256 one-warp blocks on 132 multiprocessors
    /// instead of 32 eight-warp blocks. A block per row keeps its layout.
    /// </summary>
    public SingleLabelLayout ForRows(long rows, int multiprocessors)
    {
        if (GroupSize != 32) return this;
        int rowsPerBlock = BlockSize / 32;
        while (rowsPerBlock > 1 && rows < (long)rowsPerBlock * multiprocessors) rowsPerBlock /= 2;
        return this with { BlockSize = rowsPerBlock * 32 };
    }
}

/// <summary>One compile-time variant of kernels/asl_singlelabel.cu.</summary>
internal readonly record struct SingleLabelVariant(
    AslDataType Logit, AslIndexType Target, bool Gradient, bool RowLoss, GammaMode Gammas, int GammaPosInteger, int GammaNegInteger,
    SingleLabelLayout Layout)
{
    public static KernelProgram Program => KernelProgram.Get("asl_singlelabel.cu");

    public static SingleLabelVariant For(AslDataType logit, AslIndexType target, long classes, SingleLabelOptions options, bool gradient)
    {
        bool integer = options.HasIntegerGammas;
        return new SingleLabelVariant(logit, target, gradient, options.Reduction == AslReduction.None,
            integer ? GammaMode.Integer : GammaMode.Pow, integer ? (int)options.GammaPos : 0, integer ? (int)options.GammaNeg : 0,
            SingleLabelLayout.For(classes));
    }

    public IReadOnlyList<string> Defines =>
    [
        $"-DASL_LOGIT_DTYPE={MultiLabelVariant.DTypeCode(Logit)}",
        $"-DASL_TARGET_BITS={(Target == AslIndexType.Int64 ? 64 : 32)}",
        $"-DASL_GRADIENT={(Gradient ? 1 : 0)}",
        $"-DASL_ROW_LOSS={(RowLoss ? 1 : 0)}",
        $"-DASL_GAMMA_MODE={(int)Gammas}",
        $"-DASL_GAMMA_POS_INT={GammaPosInteger}",
        $"-DASL_GAMMA_NEG_INT={GammaNegInteger}",
        $"-DASL_BLOCK_SIZE={Layout.BlockSize}",
        $"-DASL_GROUP_SIZE={Layout.GroupSize}",
        $"-DASL_VALUES_PER_THREAD={Layout.ValuesPerThread}",
    ];
}

/// <summary>
/// Single-label (softmax) ASL on a CUDA device (ASL.md section 2, kernels/asl_singlelabel.cu): loss,
/// gradient and the reduced loss in one launch (its last block to finish adds the per-block partials), on
/// the legacy default stream of the device's primary context. Rows of up to <see cref="SingleLabelLayout.MaxClasses"/> classes; the logits are read once.
/// A target outside [0, C) is never used as an index: its row's loss and gradient are NaN (so is the
/// reduced loss); the launch does not wait for the device to find out.
/// </summary>
public static unsafe class SingleLabelGpu
{
    /// <summary>Bytes of each argument of the launch below, in order (checked against the PTX's .entry by the NVRTC tests).</summary>
    internal static readonly int[] ArgumentBytes = [8, 8, 8, 4, 8, 8, 8, 8, 8, 8, 4, 4, 4, 4];

    /// <summary>
    /// Enqueues the loss (and gradient) of <paramref name="rows"/> rows of <paramref name="classes"/> logits
    /// on device <paramref name="deviceOrdinal"/>; returns without waiting. All pointers are device addresses,
    /// contiguous and row-major.
    /// </summary>
    /// <param name="deviceOrdinal">CUDA device ordinal (the tensor's device index).</param>
    /// <param name="logitType">Float32, Float64, Float16 or BFloat16; also the type of the gradient and row losses.</param>
    /// <param name="input">Logits [rows, classes].</param>
    /// <param name="targetType">Int64 or Int32 class indices.</param>
    /// <param name="target">Targets [rows].</param>
    /// <param name="rows">Number of rows N.</param>
    /// <param name="classes">Number of classes C, 1 to 32768.</param>
    /// <param name="options">Loss parameters; the reduction decides the loss output and the gradient's scale.</param>
    /// <param name="gradient">Receives d loss / dx for an upstream gradient of one (divided by N for mean); 0 selects the forward-only kernel.</param>
    /// <param name="rowLoss">Receives each row's loss [rows]; required for reduction none, else 0.</param>
    /// <param name="lossOutput">Receives the loss as one float32: the mean or sum over rows; for none, the sum.</param>
    public static void Launch(int deviceOrdinal, AslDataType logitType, nint input, AslIndexType targetType, nint target,
        long rows, long classes, SingleLabelOptions options, nint gradient, nint rowLoss, nint lossOutput)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        if (!logitType.IsFloatingPoint()) throw new ArgumentException($"logits must be floating point, got {logitType}.", nameof(logitType));
        if (!Enum.IsDefined(targetType)) throw new ArgumentOutOfRangeException(nameof(targetType), targetType, "targets must be int64 or int32 class indices.");
        if (rows > 0 && (input == 0 || target == 0)) throw new ArgumentException("input and target must be device pointers.");
        if (lossOutput == 0) throw new ArgumentException("lossOutput must point to one device float32.", nameof(lossOutput));
        if (options.Reduction == AslReduction.None && rowLoss == 0 && rows > 0)
            throw new ArgumentException("reduction none needs a row loss buffer.", nameof(rowLoss));
        if (options.Reduction != AslReduction.None && rowLoss != 0)
            throw new ArgumentException($"a row loss buffer is only written for reduction none, not {options.Reduction}.", nameof(rowLoss));

        var device = GpuDevice.Get(deviceOrdinal);
        var variant = SingleLabelVariant.For(logitType, targetType, classes, options, gradient != 0);
        variant = variant with { Layout = variant.Layout.ForRows(rows, device.MultiprocessorCount) };
        var kernel = LoadedKernel.Get(device, SingleLabelVariant.Program, variant.Defines, "asl_singlelabel", variant.Layout.BlockSize);

        int blocks = (int)Math.Clamp((rows + variant.Layout.RowsPerBlock - 1) / variant.Layout.RowsPerBlock, 1, kernel.MaxResidentBlocks);
        int classCount = (int)classes;
        float gammaPos = (float)options.GammaPos, gammaNeg = (float)options.GammaNeg, smoothing = (float)options.Eps;
        bool mean = options.Reduction == AslReduction.Mean;
        float gradientScale = mean && rows > 0 ? (float)(1.0 / rows) : 1f;
        double lossScale = mean ? (rows > 0 ? 1.0 / rows : double.NaN) : 1.0;

        lock (device.LaunchLock)
        {
            ulong partials = device.Workspace.Pointer, ticket = device.WorkspaceTicket;
            using var scope = device.Context.Push();
            void** arguments = stackalloc void*[] { &input, &target, &rows, &classCount, &gradient, &rowLoss, &partials, &ticket,
                &lossScale, &lossOutput, &gammaPos, &gammaNeg, &smoothing, &gradientScale };
            Driver.Check(Driver.cuLaunchKernel(kernel.Function, (uint)blocks, 1, 1, (uint)variant.Layout.BlockSize, 1, 1, 0, 0, arguments, null),
                "cuLaunchKernel(asl_singlelabel)");
            device.AfterLaunch("asl_singlelabel", variant.Defines);
        }
    }

    /// <summary>
    /// Host convenience for tests and tools: copies [rows, classes] logits and [rows] targets to device
    /// <paramref name="device"/>, runs <see cref="Launch"/>, waits and copies back. The current contents of
    /// <paramref name="gradient"/> and <paramref name="rowLoss"/> are uploaded first, so callers can poison them.
    /// An empty <paramref name="gradient"/> runs the forward-only kernel. Returns the loss.
    /// </summary>
    public static float Compute<TLogit, TIndex>(ReadOnlySpan<TLogit> input, ReadOnlySpan<TIndex> target, int classes,
        SingleLabelOptions options, Span<TLogit> gradient, Span<TLogit> rowLoss, int device = 0)
        where TLogit : unmanaged where TIndex : unmanaged
    {
        long rows = target.Length;
        if (input.Length != rows * classes)
            throw new ArgumentException($"input has {input.Length} elements but {rows} targets x {classes} classes need {rows * classes}.", nameof(input));
        if (!gradient.IsEmpty && gradient.Length != input.Length)
            throw new ArgumentException($"gradient has {gradient.Length} elements, expected {input.Length}.", nameof(gradient));
        bool none = options.Reduction == AslReduction.None;
        if (none && rowLoss.Length != rows)
            throw new ArgumentException($"reduction none needs a row loss buffer of {rows} elements, got {rowLoss.Length}.", nameof(rowLoss));

        var context = GpuDevice.Get(device).Context;
        using var x = DeviceMemory.Allocate(context, (long)input.Length * sizeof(TLogit));
        using var t = DeviceMemory.Allocate(context, rows * sizeof(TIndex));
        using var g = gradient.IsEmpty ? null : DeviceMemory.Allocate(context, (long)gradient.Length * sizeof(TLogit));
        using var l = none ? DeviceMemory.Allocate(context, rows * sizeof(TLogit)) : null;
        using var loss = DeviceMemory.Allocate(context, sizeof(float));
        x.Upload(input);
        t.Upload(target);
        g?.Upload<TLogit>(gradient);
        l?.Upload<TLogit>(rowLoss);
        loss.Fill(0xFF);

        Launch(device, AslDataTypes.Of<TLogit>(), (nint)x.Pointer, AslIndexTypes.Of<TIndex>(), (nint)t.Pointer, rows, classes, options,
            (nint)(g?.Pointer ?? 0), (nint)(l?.Pointer ?? 0), (nint)loss.Pointer);

        // Synchronous copies on the default stream wait for the kernels.
        g?.Download(gradient);
        l?.Download(rowLoss);
        Span<float> result = stackalloc float[1];
        loss.Download(result);
        return result[0];
    }
}
