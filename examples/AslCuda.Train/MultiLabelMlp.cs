using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AslCuda.Train;

/// <summary>The student: a two-hidden-layer MLP that outputs one logit per class.</summary>
internal sealed class MultiLabelMlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear input;
    private readonly Linear hidden;
    private readonly Linear output;

    public MultiLabelMlp(int features, int width, int classes) : base(nameof(MultiLabelMlp))
    {
        input = nn.Linear(features, width);
        hidden = nn.Linear(width, width);
        output = nn.Linear(width, classes);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) =>
        output.call(nn.functional.relu(hidden.call(nn.functional.relu(input.call(x)))));

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            input.Dispose();
            hidden.Dispose();
            output.Dispose();
        }
        base.Dispose(disposing);
    }
}
