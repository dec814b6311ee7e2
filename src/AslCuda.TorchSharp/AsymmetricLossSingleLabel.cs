using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace AslCuda.TorchSharp;

/// <summary>
/// Single-label asymmetric loss (ASL, arXiv 2009.14119; ASL.md section 2), a drop-in for the paper code's
/// <c>ASLSingleLabel</c>: <c>forward(logits, targets)</c> with logits [N, C] of any float dtype and [N] int64 or
/// int32 class indices in [0, C). Softmax per row, focusing weights (1 - P)^gammaPos on the target class and
/// P^gammaNeg on the others (not detached), label smoothing eps. Returns the loss in the logits' dtype: a scalar for
/// mean (over rows) and sum, [N] for none.
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

    /// <summary>All parameters; replace it to change them between steps.</summary>
    public SingleLabelOptions Options
    {
        get;
        set => field = value ?? throw new ArgumentNullException(nameof(value));
    }

    public AslBackend Backend { get; }

    public override Tensor forward(Tensor input, Tensor target) => SingleLabelLoss.Compute(input, target, Options, Backend);
}
