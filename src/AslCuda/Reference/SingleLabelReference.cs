namespace AslCuda.Reference;

/// <summary>
/// The test oracle for single-label ASL (ASL.md section 2): plain float64, one row at a time, written to be
/// read against the spec. Logits are row-major [N, C]; targets are class indices in [0, C).
/// </summary>
public static class SingleLabelReference
{
    /// <summary>row_loss = -sum_c s_c * w_c * q_c for one row of logits and its target class.</summary>
    public static double RowLoss(ReadOnlySpan<double> logits, long target, SingleLabelOptions options)
    {
        var row = Evaluate(logits, target, options);
        double loss = 0;
        for (int c = 0; c < logits.Length; c++)
            loss -= row.S[c] * row.W[c] * row.Q[c];
        return loss;
    }

    /// <summary>
    /// d row_loss / dx for one row. Derivation, with q = log_softmax(x) and P = exp(q):
    ///   d q_c / d x_k = [c == k] - P_k
    ///   d P_c / d x_k = P_c * ([c == k] - P_k)
    ///   w_c is a function of P_c alone, with derivative w'_c, so d w_c / d x_k = w'_c * P_c * ([c == k] - P_k)
    ///   d row_loss / d x_k = -sum_c s_c * (w_c * dq_c/dx_k + q_c * dw_c/dx_k)
    ///                      = -sum_c (a_c + b_c) * ([c == k] - P_k),   a_c = s_c w_c,  b_c = s_c q_c w'_c P_c
    ///                      = -(a_k + b_k) + P_k * sum_c (a_c + b_c).
    /// w'_c = -gamma_pos (1 - P_c)^(gamma_pos - 1) on the target class, gamma_neg P_c^(gamma_neg - 1) on the others,
    /// and exactly 0 where that gamma is 0 (PyTorch's pow gradient convention).
    /// </summary>
    public static void RowGradient(ReadOnlySpan<double> logits, long target, SingleLabelOptions options, Span<double> gradient)
    {
        if (gradient.Length != logits.Length)
            throw new ArgumentException($"gradient has {gradient.Length} elements, expected {logits.Length}.", nameof(gradient));
        var row = Evaluate(logits, target, options);
        int classes = logits.Length;
        var ab = new double[classes];
        double sum = 0, sumOther = 0;
        for (int c = 0; c < classes; c++)
        {
            bool isTarget = c == target;
            double gamma = isTarget ? options.GammaPos : options.GammaNeg;
            double wPrime = gamma == 0 ? 0
                : isTarget ? -gamma * Math.Pow(row.OneMinusPt, gamma - 1)
                : gamma * Math.Pow(row.P[c], gamma - 1);
            ab[c] = row.S[c] * row.W[c] + row.S[c] * row.Q[c] * wPrime * row.P[c];
            sum += ab[c];
            if (!isTarget) sumOther += ab[c];
        }
        for (int k = 0; k < classes; k++)
            gradient[k] = -ab[k] + row.P[k] * sum;
        // The target's -ab_t + P_t (ab_t + S') written as -ab_t (1 - P_t) + P_t S': for a confident row ab_t is
        // large against the result, and the first form cancels it.
        gradient[(int)target] = -ab[target] * row.OneMinusPt + row.P[target] * sumOther;
    }

    /// <summary>The reduced loss: one value for sum and mean (over rows), else one per row.</summary>
    public static double[] Loss(ReadOnlySpan<double> logits, ReadOnlySpan<long> targets, int classes, SingleLabelOptions options)
    {
        CheckShape(logits, targets, classes);
        var perRow = new double[targets.Length];
        for (int n = 0; n < targets.Length; n++)
            perRow[n] = RowLoss(logits.Slice(n * classes, classes), targets[n], options);
        double sum = 0;
        foreach (double v in perRow) sum += v;
        return options.Reduction switch
        {
            AslReduction.None => perRow,
            AslReduction.Sum => [sum],
            _ => [targets.Length == 0 ? double.NaN : sum / targets.Length],
        };
    }

    /// <summary>
    /// d(loss)/dx for an upstream gradient of one: for sum and mean the gradient of the scalar loss, for none
    /// the per-row derivatives (the chain rule then multiplies row n by upstream[n]).
    /// </summary>
    public static double[] Gradient(ReadOnlySpan<double> logits, ReadOnlySpan<long> targets, int classes, SingleLabelOptions options)
    {
        CheckShape(logits, targets, classes);
        double scale = options.Reduction == AslReduction.Mean ? 1.0 / targets.Length : 1.0;
        var gradient = new double[logits.Length];
        for (int n = 0; n < targets.Length; n++)
        {
            var row = gradient.AsSpan(n * classes, classes);
            RowGradient(logits.Slice(n * classes, classes), targets[n], options, row);
            foreach (ref double g in row) g *= scale;
        }
        return gradient;
    }

    /// <summary>log-softmax q, probabilities P, focusing weights w and smoothed targets s of one row.</summary>
    private readonly record struct Row(double[] Q, double[] P, double[] W, double[] S, double OneMinusPt);

    private static Row Evaluate(ReadOnlySpan<double> logits, long target, SingleLabelOptions options)
    {
        int classes = logits.Length;
        if (target < 0 || target >= classes)
            throw new ArgumentOutOfRangeException(nameof(target), target, $"target class must lie in [0, {classes}).");
        double max = double.NegativeInfinity;
        foreach (double x in logits) max = Math.Max(max, x);
        double sumExp = 0;
        foreach (double x in logits) sumExp += Math.Exp(x - max);
        double logSumExp = max + Math.Log(sumExp);

        var q = new double[classes];
        var p = new double[classes];
        var w = new double[classes];
        var s = new double[classes];
        for (int c = 0; c < classes; c++)
        {
            q[c] = logits[c] - logSumExp;
            p[c] = Math.Exp(q[c]);
        }
        // 1 - P_t as the sum of the other classes' probabilities: for a confident row 1 - P_t computed as a
        // difference is 0 in float64 (and (1 - P_t)^(gamma - 1) infinite) where the exact value is, say, 1e-20.
        // Then log P_t = log1p(-(1 - P_t)) keeps the digits that x_t - logsumexp loses.
        double oneMinusPt = 0;
        for (int c = 0; c < classes; c++)
            if (c != target) oneMinusPt += p[c];
        if (oneMinusPt < 0.5)
        {
            q[target] = ReferenceMath.Log1p(-oneMinusPt);
            p[target] = 1 - oneMinusPt;
        }
        else
            oneMinusPt = 1 - p[target];
        for (int c = 0; c < classes; c++)
        {
            bool isTarget = c == target;
            w[c] = isTarget ? Math.Pow(oneMinusPt, options.GammaPos) : Math.Pow(p[c], options.GammaNeg);   // pow(0, 0) == 1
            s[c] = (isTarget ? 1 - options.Eps : 0) + options.Eps / classes;
        }
        return new Row(q, p, w, s, oneMinusPt);
    }

    private static void CheckShape(ReadOnlySpan<double> logits, ReadOnlySpan<long> targets, int classes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(classes);
        if (logits.Length != (long)targets.Length * classes)
            throw new ArgumentException($"logits have {logits.Length} elements but {targets.Length} targets x {classes} classes need {(long)targets.Length * classes}.");
    }
}
