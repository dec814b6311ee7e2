using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace AslCuda.TorchSharp;

/// <summary>
/// Single-label asymmetric loss (ASL, arXiv 2009.14119; ASL.md section 2), a drop-in for the paper code's
/// <c>ASLSingleLabel</c>: <c>forward(logits, targets)</c> with logits [N, C] of any float dtype and [N] int64 or
/// int32 class indices in [0, C). Softmax per row, focusing weights (1 - P)^gammaPos on the target class and
/// P^gammaNeg on the others (not detached), label smoothing eps. Returns the loss in the logits' dtype: a scalar for
/// mean (over rows) and sum, [N] for none. The paper code's reduction 'mean' is <see cref="Reduction.Mean"/>; any other
/// value of it returns the per-row losses, <see cref="Reduction.None"/> here (it has no sum: <see cref="Reduction.Sum"/>
/// is AslCuda's extension).
/// </summary>
public sealed class AsymmetricLossSingleLabel : Module<Tensor, Tensor, Tensor>
{
    public AsymmetricLossSingleLabel(double gammaPos = 0, double gammaNeg = 4, double eps = 0.1,
        Reduction reduction = Reduction.Mean, AslBackend backend = AslBackend.Auto)
        : base(nameof(AsymmetricLossSingleLabel))
    {
        Options = SingleLabelLoss.Options(gammaPos, gammaNeg, eps, reduction);
        Backend = Enum.IsDefined(backend) ? backend : throw new ArgumentOutOfRangeException(nameof(backend), backend, "unknown backend.");
    }

    /// <summary>
    /// timm's <c>AsymmetricLossSingleLabel</c>: its arguments and defaults (gamma_pos 1, unlike the paper code's 0).
    /// Its reduction 'mean' is the mean of the per-row losses and any other value gives the per-row losses [N]
    /// (<see cref="Reduction.None"/> here); it has no sum, so <see cref="Reduction.Sum"/> is refused.
    /// </summary>
    public static AsymmetricLossSingleLabel Timm(double gammaPos = 1, double gammaNeg = 4, double eps = 0.1,
        Reduction reduction = Reduction.Mean, AslBackend backend = AslBackend.Auto) =>
        reduction == Reduction.Sum
            ? throw new ArgumentException(
                "timm's AsymmetricLossSingleLabel has no sum: reduction 'mean' averages the rows, any other value returns the " +
                "per-row losses [N] (Reduction.None). Use new AsymmetricLossSingleLabel(..., reduction: Reduction.Sum) for a sum.",
                nameof(reduction))
            : new(gammaPos, gammaNeg, eps, reduction, backend);

    /// <summary>All parameters; replace it to change them between steps.</summary>
    public SingleLabelOptions Options
    {
        get;
        set => field = value ?? throw new ArgumentNullException(nameof(value));
    }

    public AslBackend Backend { get; }

    public override Tensor forward(Tensor input, Tensor target) => SingleLabelLoss.Compute(input, target, Options, Backend);
}
