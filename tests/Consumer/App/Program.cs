// The consumer test's application (tests/Consumer/run.sh copies this file into a fresh console app that gets
// TorchSharp-cpu and AslCuda.TorchSharp from a local package feed). It uses the package as a user would, and
// checks one forward+backward against ASL's formula (ASL.md section 1), written out here in float64 so that the
// check does not depend on anything inside the package. Exit code 0: agreement; 1: mismatch.
using AslCuda.Gpu;
using AslCuda.TorchSharp;
using static TorchSharp.torch;

const double GammaNeg = 4, GammaPos = 1, Clip = 0.05, Eps = 1e-8;
const int Rows = 3, Columns = 5;
// Logits over the usual range plus tails (|x| up to 100), binary and soft targets.
double[] x = [-3.5, -0.75, 0.0, 1.25, 6.0, 100.0, -100.0, 12.0, -12.0, 0.3, 2.2, -1.6, 30.0, -30.0, 0.05];
double[] y = [0, 1, 0, 1, 0, 1, 0, 0, 1, 0.25, 0.7, 0, 1, 0, 1];

var logits = tensor(x.Select(v => (float)v).ToArray(), [Rows, Columns]).requires_grad_(true);
var targets = tensor(y.Select(v => (float)v).ToArray(), [Rows, Columns]);
var criterion = new AsymmetricLoss(GammaNeg, GammaPos, Clip, Eps, reduction: nn.Reduction.Sum);
var loss = criterion.forward(logits, targets);
loss.backward();
double packagedLoss = loss.item<float>();
float[] packagedGradient = logits.grad!.data<float>().ToArray();

// ASL.md section 1, detached focusing weight, sum reduction, PyTorch's clamp gradient conventions.
double expectedLoss = 0;
var expectedGradient = new double[x.Length];
for (int i = 0; i < x.Length; i++)
{
    double p = x[i] >= 0 ? 1 / (1 + Math.Exp(-x[i])) : Math.Exp(x[i]) / (1 + Math.Exp(x[i]));
    double q = x[i] >= 0 ? Math.Exp(-x[i]) / (1 + Math.Exp(-x[i])) : 1 / (1 + Math.Exp(x[i]));   // 1 - p, exact
    double xnRaw = q + Clip, xn = Math.Min(xnRaw, 1);
    double lp = Math.Log(Math.Max(p, Eps)), ln = Math.Log(Math.Max(xn, Eps));
    double l0 = y[i] * lp + (1 - y[i]) * ln;
    double pt = p * y[i] + xn * (1 - y[i]);
    double g = GammaPos * y[i] + GammaNeg * (1 - y[i]);
    double w = Math.Pow(1 - pt, g);
    expectedLoss += -(l0 * w);
    double s = p * q;
    double dxn = xnRaw <= 1 ? -s : 0;
    double dlp = p >= Eps ? q : 0;
    double dln = xnRaw >= Eps ? dxn / xnRaw : 0;
    expectedGradient[i] = -(w * (y[i] * dlp + (1 - y[i]) * dln));
}

double lossError = Math.Abs(packagedLoss - expectedLoss) / Math.Abs(expectedLoss);
double gradientError = Math.Sqrt(expectedGradient.Select((e, i) => (packagedGradient[i] - e) * (packagedGradient[i] - e)).Sum())
                       / Math.Sqrt(expectedGradient.Sum(e => e * e));
// float32 inputs and arithmetic against float64: a few ulps of float, far below any formula mistake.
const double Tolerance = 1e-5;
bool ok = lossError <= Tolerance && gradientError <= Tolerance && packagedGradient.All(float.IsFinite);
Console.WriteLine($"consumer: loss {packagedLoss:R} (float64 formula {expectedLoss:R}, relative error {lossError:E2}); " +
                  $"gradient relative error {gradientError:E2}; tolerance {Tolerance:E0}");
Console.WriteLine($"consumer: {CudaDevice.Describe().Replace(Environment.NewLine, "; ")}");
Console.WriteLine(ok ? "consumer: OK" : "consumer: MISMATCH");
return ok ? 0 : 1;
