namespace AslCuda.Reference;

/// <summary>
/// The test oracle for multi-label ASL (ASL.md section 1): plain float64, one element at a time, written to
/// be read against the spec. Probabilities use the accurate forms p = 1/(1+e^-x) and 1-p = 1/(1+e^x).
/// AslCuda's extensions (docs/extensions.md): smoothing, pos_weight, per-class weight and batchmean. Where the options hold
/// per-class vectors, <c>column</c> is the element's class and <c>classes</c> the C of the [N, C] input.
/// </summary>
public static class MultiLabelReference
{
    /// <summary>loss_elem for logit x and target y (of class <paramref name="column"/>).</summary>
    public static double ElementLoss(double x, double y, AslOptions options, int column = 0)
    {
        var e = Evaluate(x, y, options, column);
        return -(e.L0 * e.W) * e.ClassWeight;
    }

    /// <summary>d loss_elem / dx, with PyTorch's clamp and pow gradient conventions.</summary>
    public static double ElementGradient(double x, double y, AslOptions options, int column = 0)
    {
        var e = Evaluate(x, y, options, column);
        return UnweightedGradient(e, options) * e.ClassWeight;
    }

    /// <summary>The gradient before the per-class weight, which multiplies it like a constant.</summary>
    private static double UnweightedGradient(Element e, AslOptions options)
    {
        double clip = options.Clip;
        double y = e.Y, posY = e.Y * e.PosWeight;                       // the positive log term carries pos_weight

        double s = e.P * e.Q;                                           // dp/dx
        double dxn = clip > 0 ? (e.XnRaw0 <= 1 ? -s : 0) : -s;           // clamp(max=1) passes where v <= 1
        double dlp = e.P >= options.Eps ? e.Q : 0;                      // (1/p) * s
        double dln = e.Xn >= options.Eps ? dxn / e.Xn : 0;              // clamp(min=eps) passes where v >= eps
        double dl0 = posY * dlp + (1 - y) * dln;
        if (options.DetachFocalWeight || !options.HasFocusing)
            return -(e.W * dl0);

        double dpt = y * s + (1 - y) * dxn;
        double dwScale = e.G == 0 ? 0 : -e.G * Math.Pow(e.OneMinusPt, e.G - 1);
        return -(e.W * dl0 + e.L0 * dwScale * dpt);
    }

    /// <summary>
    /// The reduced loss: one value for sum/mean/batchmean, else one per element. <paramref name="classes"/> is C
    /// of the [N, C] input, needed for batchmean and per-class vectors (see <see cref="AslOptions.CheckShape"/>).
    /// </summary>
    public static double[] Loss(ReadOnlySpan<double> x, ReadOnlySpan<double> y, AslOptions options, int classes = 0)
    {
        CheckLengths(x, y);
        options.CheckShape(x.Length, classes);
        var perElement = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
            perElement[i] = ElementLoss(x[i], y[i], options, Column(i, classes));
        return options.Reduction switch
        {
            AslReduction.None => perElement,
            AslReduction.Sum => [Sum(perElement)],
            _ => [x.Length == 0 ? double.NaN : Sum(perElement) * ReductionScale(x.Length, classes, options)],
        };
    }

    /// <summary>
    /// d(loss)/dx for an upstream gradient of one: for sum and mean the gradient of the scalar loss,
    /// for none the per-element derivatives (the chain rule then multiplies by the upstream tensor).
    /// </summary>
    public static double[] Gradient(ReadOnlySpan<double> x, ReadOnlySpan<double> y, AslOptions options, int classes = 0)
    {
        CheckLengths(x, y);
        options.CheckShape(x.Length, classes);
        double scale = ReductionScale(x.Length, classes, options);
        var grad = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
            grad[i] = scale * ElementGradient(x[i], y[i], options, Column(i, classes));
        return grad;
    }

    /// <summary>What the reduction multiplies the sum by: 1/(N*C) for mean, 1/N for batchmean, else 1.</summary>
    private static double ReductionScale(int count, int classes, AslOptions options) => options.Reduction switch
    {
        AslReduction.Mean => 1.0 / count,
        AslReduction.BatchMean => (double)classes / count,
        _ => 1.0,
    };

    private static int Column(int index, int classes) => classes > 0 ? index % classes : 0;

    /// <summary>Sums of p over positives and negatives, weighted by y and 1 - y (ASL.md section 3).</summary>
    public static AslStatistics Statistics(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        CheckLengths(x, y);
        double pPos = 0, pNeg = 0, nPos = 0, nNeg = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double p = 1 / (1 + Math.Exp(-x[i]));
            pPos += y[i] * p;
            nPos += y[i];
            pNeg += (1 - y[i]) * p;
            nNeg += 1 - y[i];
        }
        return new AslStatistics(pPos, nPos, pNeg, nNeg);
    }

    private readonly record struct Element(
        double Y, double PosWeight, double ClassWeight, double P, double Q, double XnRaw0, double Xn, double L0, double G, double OneMinusPt, double W);

    private static Element Evaluate(double x, double y, AslOptions options, int column)
    {
        y = y * (1 - options.Smoothing) + 0.5 * options.Smoothing;     // smoothing, before everything else
        double posWeight = Factor(options.PosWeight, column);
        double classWeight = Factor(options.ClassWeight, column);
        double p = 1 / (1 + Math.Exp(-x));
        double q = 1 / (1 + Math.Exp(x));                               // 1 - p, accurate for large x
        double clip = options.Clip;
        double xnRaw0 = q + clip;                                       // before clamp(max=1)
        double xn = clip > 0 ? Math.Min(xnRaw0, 1) : q;
        // log(max(p, eps)) and, unclipped, log(max(1 - p, eps)); a log of a p near 1 would keep only the
        // digits of 1 - p that survive 1 + e^-x, so the logs are taken as log-sigmoids.
        double logEps = Math.Log(options.Eps);
        // (Written as "below eps ? log eps : ..." so that a NaN logit stays NaN, as Math.Max keeps it.)
        double lp = p < options.Eps ? logEps : LogSigmoid(x);
        double ln = clip > 0 ? Math.Log(Math.Max(xn, options.Eps)) : q < options.Eps ? logEps : LogSigmoid(-x);
        double l0 = y * posWeight * lp + (1 - y) * ln;

        double g = options.GammaPos * y + options.GammaNeg * (1 - y);
        // 1 - pt = y(1 - p) + (1 - y)(1 - xn), with 1 - xn = max(p - clip, 0) under clipping, else p.
        double oneMinusXn = clip > 0 ? Math.Max(p - clip, 0) : p;
        double oneMinusPt = y * q + (1 - y) * oneMinusXn;
        double w = options.HasFocusing ? Math.Pow(oneMinusPt, g) : 1;   // Math.Pow(0, 0) == 1
        return new Element(y, posWeight, classWeight, p, q, xnRaw0, xn, l0, g, oneMinusPt, w);
    }

    /// <summary>A per-class factor: none is 1, one value applies to every class.</summary>
    private static double Factor(ReadOnlyMemory<float> factors, int column) =>
        factors.Length == 0 ? 1 : factors.Span[factors.Length == 1 ? 0 : column];

    /// <summary>log(sigmoid(z)) = min(z, 0) - log(1 + e^-|z|).</summary>
    private static double LogSigmoid(double z) => Math.Min(z, 0) - ReferenceMath.Log1p(Math.Exp(-Math.Abs(z)));

    private static double Sum(double[] values)
    {
        double sum = 0;
        foreach (double v in values) sum += v;
        return sum;
    }

    private static void CheckLengths(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        if (x.Length != y.Length)
            throw new ArgumentException($"input has {x.Length} elements but target has {y.Length}.");
    }
}
