using ScottPlot;

namespace AslCuda.Train;

/// <summary>The PNG charts of the comparison (docs/training.md shows them).</summary>
internal static class Charts
{
    private const int HistogramBins = 25;

    /// <summary>The validation metric per epoch: the mean over seeds as a line, the range over seeds as a band.</summary>
    public static void SaveScorePerEpoch(IReadOnlyList<RunResult> results, string title, string metricName, string path)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        int colorIndex = 0;
        foreach (var runs in results.GroupBy(r => r.Loss.Key))
        {
            var color = palette.GetColor(colorIndex++);
            int epochs = runs.Min(r => r.Epochs.Count);
            double[] x = Enumerable.Range(1, epochs).Select(e => (double)e).ToArray();
            double[] mean = new double[epochs], low = new double[epochs], high = new double[epochs];
            for (int e = 0; e < epochs; e++)
            {
                var values = runs.Select(r => r.Epochs[e].ValidationScore).ToArray();
                mean[e] = values.Average();
                low[e] = values.Min();
                high[e] = values.Max();
            }
            var band = plot.Add.FillY(x, low, high);
            band.FillColor = color.WithAlpha(0.2);
            band.LineWidth = 0;
            var line = plot.Add.Scatter(x, mean, color);
            line.LegendText = $"{runs.First().Loss.Name} ({runs.Count()} seeds)";
            line.MarkerSize = 4;
        }
        plot.Title($"{title}: validation {metricName} (line: seed mean, band: min to max)");
        plot.XLabel("epoch");
        plot.YLabel($"validation {metricName} (%)");
        plot.ShowLegend(Alignment.LowerRight);
        plot.SavePng(path, 900, 560);
    }

    /// <summary>
    /// Histograms of the final validation probabilities of positives and negatives, one panel per loss, pooled
    /// over seeds. Each group is normalised to fractions and drawn on a log scale, since negatives outnumber
    /// positives (about fifty to one on the generated data, 3.7 to one on the mosaics, nine to one for single-label
    /// Fashion-MNIST).
    /// </summary>
    public static void SaveProbabilityHistograms(IReadOnlyList<RunResult> results, string path)
    {
        var groups = results.GroupBy(r => r.Loss.Key).ToList();
        int columns = Math.Min(2, groups.Count);
        int rows = (groups.Count + columns - 1) / columns;
        var multiplot = new Multiplot();
        multiplot.AddPlots(groups.Count);   // replaces the one empty plot a new Multiplot starts with
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Grid(rows, columns);
        foreach (var (runs, plot) in groups.Zip(multiplot.GetPlots()))
        {
            var positives = new List<double>();
            var negatives = new List<double>();
            foreach (var run in runs)
                for (int i = 0; i < run.ValidationProbabilities.Length; i++)
                    (run.ValidationTargets[i] == 1 ? positives : negatives).Add(run.ValidationProbabilities[i]);

            AddLogHistogram(plot, negatives, Colors.SteelBlue, $"negatives (mean p {negatives.Average():F3})");
            AddLogHistogram(plot, positives, Colors.OrangeRed, $"positives (mean p {positives.Average():F3})");
            plot.Title(runs.First().Loss.Name);
            plot.XLabel("predicted probability");
            plot.YLabel("fraction of the group");
            plot.Axes.SetLimits(0, 1, -5.2, 0.2);
            plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
                Enumerable.Range(0, 6).Select(k => (double)-k).ToArray(),
                Enumerable.Range(0, 6).Select(k => k == 0 ? "1" : $"1e-{k}").ToArray());
            plot.ShowLegend(Alignment.UpperCenter);
        }
        multiplot.SavePng(path, 1000, 380 * rows);
    }

    private static void AddLogHistogram(Plot plot, List<double> values, Color color, string label)
    {
        var histogram = ScottPlot.Statistics.Histogram.WithBinCount(HistogramBins, 0, 1);
        histogram.AddRange(values);
        // Drawn as steps over the bin edges; empty bins sit below the axis instead of at log(0).
        double[] logFraction = histogram.Counts.Select(c => c == 0 ? -6 : Math.Log10(c / (double)values.Count)).ToArray();
        var line = plot.Add.Scatter(histogram.Edges, logFraction.Append(logFraction[^1]).ToArray(), color);
        line.ConnectStyle = ConnectStyle.StepHorizontal;
        line.MarkerSize = 0;
        line.LineWidth = 2;
        line.LegendText = label;
    }
}
