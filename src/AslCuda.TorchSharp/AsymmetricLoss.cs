using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace AslCuda.TorchSharp;

/// <summary>
/// Multi-label asymmetric loss (ASL, arXiv 2009.14119; ASL.md section 1), a drop-in for the paper code's
/// <c>AsymmetricLoss</c>: <c>forward(logits, targets)</c> with logits [N, C] of any float dtype and targets of
/// the same shape (float soft/binary labels, or uint8/bool). Returns the loss in the logits' dtype.
/// </summary>
public sealed class AsymmetricLoss : Module<Tensor, Tensor, Tensor>
{
    public AsymmetricLoss(double gammaNeg = 4, double gammaPos = 1, double clip = 0.05, double eps = 1e-8,
        bool disableTorchGradFocalLoss = true, Reduction reduction = Reduction.Sum, AslBackend backend = AslBackend.Auto)
        : base(nameof(AsymmetricLoss))
    {
        Options = MultiLabelLoss.Options(gammaNeg, gammaPos, clip, eps, disableTorchGradFocalLoss, reduction);
        Backend = Enum.IsDefined(backend) ? backend : throw new ArgumentOutOfRangeException(nameof(backend), backend, "unknown backend.");
    }

    /// <summary>A loss with the given options (AslCuda's extensions included: docs/extensions.md).</summary>
    public AsymmetricLoss(AslOptions options, AslBackend backend = AslBackend.Auto) : base(nameof(AsymmetricLoss))
    {
        Options = options;
        Backend = Enum.IsDefined(backend) ? backend : throw new ArgumentOutOfRangeException(nameof(backend), backend, "unknown backend.");
    }

    /// <summary>
    /// The paper code's <c>AsymmetricLossOptimized</c>: the same loss as its <c>AsymmetricLoss</c>, with its own
    /// default <c>disable_torch_grad_focal_loss=False</c> (the gradient flows through the focusing weight), summed.
    /// </summary>
    public static AsymmetricLoss Optimized(double gammaNeg = 4, double gammaPos = 1, double clip = 0.05, double eps = 1e-8,
        bool disableTorchGradFocalLoss = false, AslBackend backend = AslBackend.Auto) =>
        new(gammaNeg, gammaPos, clip, eps, disableTorchGradFocalLoss, Reduction.Sum, backend);

    /// <summary>
    /// timm's <c>AsymmetricLossMultiLabel</c> (timm/loss/asymmetric_loss.py): exactly its arguments, in its order and
    /// with its defaults (the full gradient: its <c>disable_torch_grad_focal_loss</c> is False), and like it the sum.
    /// </summary>
    public static AsymmetricLoss Timm(double gammaNeg = 4, double gammaPos = 1, double clip = 0.05, double eps = 1e-8,
        bool disableTorchGradFocalLoss = false, AslBackend backend = AslBackend.Auto) =>
        new(gammaNeg, gammaPos, clip, eps, disableTorchGradFocalLoss, Reduction.Sum, backend);

    /// <summary>
    /// The paper code's loss with AslCuda's extensions (docs/extensions.md; none of the official classes has them):
    /// label <paramref name="smoothing"/> y(1 - s) + s/2, a [C] per-class <paramref name="weight"/> of the loss and a
    /// <paramref name="posWeight"/> (one value or [C]) of the positive log term, both meaning what they mean to
    /// PyTorch's <c>BCEWithLogitsLoss</c> and copied here, and the reductions sum, mean, batchmean (sum / N) and none.
    /// The other arguments and their defaults are the paper code's.
    /// </summary>
    public static AsymmetricLoss WithExtensions(double gammaNeg = 4, double gammaPos = 1, double clip = 0.05, double eps = 1e-8,
        bool disableTorchGradFocalLoss = true, AslReduction reduction = AslReduction.Sum, double smoothing = 0,
        Tensor? weight = null, Tensor? posWeight = null, AslBackend backend = AslBackend.Auto) =>
        new(MultiLabelLoss.ExtendedOptions(gammaNeg, gammaPos, clip, eps, disableTorchGradFocalLoss, reduction, smoothing, weight, posWeight), backend);

    /// <summary>All parameters; replace it (or set <see cref="GammaNeg"/>) to change them between steps.</summary>
    public AslOptions Options
    {
        get;
        set => field = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <summary>gamma_neg, the knob adaptive asymmetry turns.</summary>
    public double GammaNeg
    {
        get => Options.GammaNeg;
        set => Options = Options with { GammaNeg = value };
    }

    public AslBackend Backend { get; }

    /// <summary>When true, each forward also records the batch's probability statistics (ASL.md section 3).</summary>
    public bool TrackStatistics { get; set; }

    /// <summary>
    /// Statistics of the last forward <em>on the calling thread</em>, when <see cref="TrackStatistics"/> was on; null
    /// before it, when it threw, or when statistics were off. Each thread sees its own last forward, so concurrent
    /// forwards on one module never read each other's batch. A batch with a NaN logit has NaN statistics (and no
    /// gap), so adaptive asymmetry skips it.
    /// </summary>
    public AslStatistics? LastStatistics => _lastStatistics.Value;

    private readonly ThreadLocal<AslStatistics?> _lastStatistics = new();

    public override Tensor forward(Tensor input, Tensor target)
    {
        _lastStatistics.Value = null;       // a forward that throws must not leave the previous batch's statistics
        var statistics = TrackStatistics ? new Autograd.StatisticsBox() : null;
        var loss = MultiLabelLoss.Compute(input, target, Options, Backend, statistics);
        _lastStatistics.Value = statistics?.Value;
        return loss;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _lastStatistics.Dispose();
        base.Dispose(disposing);
    }
}
