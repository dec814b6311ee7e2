using Spectre.Console;

namespace AslCuda.Train;

/// <summary>Where the trainer reports progress: a live display on a terminal, plain lines elsewhere.</summary>
internal interface ITrainingProgress
{
    IRunProgress StartRun(LossSetup setup, int seed, int totalSteps, int completedSteps);
}

internal interface IRunProgress
{
    void StepCompleted(double loss);
    void EpochCompleted(EpochRecord record, int epochs);
}

internal static class TrainingProgress
{
    /// <summary>True when stdout is an interactive terminal that can redraw a live display.</summary>
    public static bool CanShowLive =>
        !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive && AnsiConsole.Profile.Capabilities.Ansi;

    /// <summary>
    /// Runs <paramref name="body"/> with a live progress display when the terminal allows, else with plain lines;
    /// with a <paramref name="log"/>, every finished epoch is also written there as a plain line, as it happens.
    /// </summary>
    public static void Run(bool live, string metricName, TextWriter? log, Action<ITrainingProgress> body)
    {
        ITrainingProgress? logProgress = log is null ? null : new PlainProgress(log, metricName);
        if (!live)
        {
            var plain = new PlainProgress(Console.Out, metricName);
            body(logProgress is null ? plain : new BothProgress(plain, logProgress));
            return;
        }
        AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(),
                new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var display = new LiveProgress(context, metricName);
                body(logProgress is null ? display : new BothProgress(display, logProgress));
            });
    }

    private static string Describe(LossSetup setup, int seed) => $"{setup.Name,-12} seed {seed}";

    private sealed class BothProgress(ITrainingProgress first, ITrainingProgress second) : ITrainingProgress
    {
        public IRunProgress StartRun(LossSetup setup, int seed, int totalSteps, int completedSteps) =>
            new BothRuns(first.StartRun(setup, seed, totalSteps, completedSteps), second.StartRun(setup, seed, totalSteps, completedSteps));
    }

    private sealed class BothRuns(IRunProgress first, IRunProgress second) : IRunProgress
    {
        public void StepCompleted(double loss)
        {
            first.StepCompleted(loss);
            second.StepCompleted(loss);
        }

        public void EpochCompleted(EpochRecord record, int epochs)
        {
            first.EpochCompleted(record, epochs);
            second.EpochCompleted(record, epochs);
        }
    }

    private sealed class LiveProgress(ProgressContext context, string metricName) : ITrainingProgress
    {
        public IRunProgress StartRun(LossSetup setup, int seed, int totalSteps, int completedSteps)
        {
            var task = context.AddTask(Markup.Escape(Describe(setup, seed)), maxValue: totalSteps);
            task.Value = completedSteps;
            return new LiveRun(task, Describe(setup, seed), metricName);
        }
    }

    private sealed class LiveRun(ProgressTask task, string name, string metricName) : IRunProgress
    {
        private double _runningLoss = double.NaN;
        private string _lastEpoch = "";

        public void StepCompleted(double loss)
        {
            // An exponential average keeps the shown loss readable while it moves every step.
            _runningLoss = double.IsNaN(_runningLoss) ? loss : 0.95 * _runningLoss + 0.05 * loss;
            task.Description = Markup.Escape($"{name}  loss {_runningLoss,8:F3}{_lastEpoch}");
            task.Increment(1);
        }

        public void EpochCompleted(EpochRecord record, int epochs)
        {
            _lastEpoch = $"  epoch {record.Epoch}/{epochs}  val {metricName} {record.ValidationScore:F2}  gamma_neg {record.GammaNeg:F2}";
            task.Description = Markup.Escape($"{name}  loss {record.TrainLoss,8:F3}{_lastEpoch}");
        }
    }

    private sealed class PlainProgress(TextWriter writer, string metricName) : ITrainingProgress
    {
        public IRunProgress StartRun(LossSetup setup, int seed, int totalSteps, int completedSteps)
        {
            if (completedSteps > 0)
                writer.WriteLine($"{Describe(setup, seed)}: resuming at step {completedSteps} of {totalSteps}");
            return new PlainRun(writer, Describe(setup, seed), metricName);
        }
    }

    private sealed class PlainRun(TextWriter writer, string name, string metricName) : IRunProgress
    {
        public void StepCompleted(double loss) { }

        public void EpochCompleted(EpochRecord record, int epochs)
        {
            writer.WriteLine($"{name}  epoch {record.Epoch,3}/{epochs}  loss {record.TrainLoss,8:F3}  val {metricName} {record.ValidationScore,6:F2}  " +
                $"p+ {record.MeanPPositive:F3}  p- {record.MeanPNegative:F4}  train dp {record.TrainGap?.ToString("F3") ?? "-"}  gamma_neg {record.GammaNeg:F2}  {record.Seconds,5:F1} s");
            writer.Flush();
        }
    }
}
