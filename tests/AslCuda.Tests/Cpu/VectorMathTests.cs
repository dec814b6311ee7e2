using System.Runtime.Intrinsics;
using AslCuda.Cpu;

namespace AslCuda.Tests.Cpu;

/// <summary>The inlined float32 exp and log against float64 Math over their whole useful range.</summary>
public class VectorMathTests
{
    [Test]
    public void ExpIsWithinTwoUlpsDownToTheNormalRange()
    {
        double worst = 0;
        for (double x = -87.3; x <= 88; x += 0.0137)
        {
            float actual = VectorMath.Exp(Vector256.Create((float)x)).GetElement(0);
            double expected = Math.Exp((float)x);
            worst = Math.Max(worst, Math.Abs(actual - expected) / expected);
        }
        Assert.That(worst, Is.LessThan(2.5e-7));
        Assert.That(VectorMath.Exp(Vector256.Create(-100f)).GetElement(0), Is.EqualTo(0f), "below the normal range flushes to zero");
        Assert.That(VectorMath.Exp(Vector256.Create(0f)).GetElement(0), Is.EqualTo(1f));
        Assert.That(VectorMath.Exp(Vector256.Create(100f)).GetElement(0), Is.EqualTo(float.PositiveInfinity));
    }

    [Test]
    public void LogIsWithinTwoUlpsForPositiveNormals()
    {
        double worst = 0;
        for (double x = 1.2e-38; x < 3e38; x *= 1.00731)
        {
            float xf = (float)x;
            float actual = VectorMath.Log(Vector256.Create(xf)).GetElement(0);
            double expected = Math.Log(xf);
            worst = Math.Max(worst, Math.Abs(actual - expected) / Math.Max(Math.Abs(expected), 1e-3));
        }
        for (double x = 0.5; x < 2; x += 1e-4)   // around 1, where log is small: absolute error in float ulps of 1
        {
            float xf = (float)x;
            Assert.That(VectorMath.Log(Vector256.Create(xf)).GetElement(0), Is.EqualTo(Math.Log(xf)).Within(2.5e-7 * Math.Max(Math.Abs(Math.Log(xf)), 1e-7) + 1e-10));
        }
        Assert.That(worst, Is.LessThan(2.5e-7));
        Assert.That(VectorMath.Log(Vector256.Create(1f)).GetElement(0), Is.EqualTo(0f));
    }
}
