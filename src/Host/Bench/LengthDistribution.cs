namespace LlmEngine.Host.Bench;

/// <summary>A distribution of token counts (prompt or output lengths), always at least 1.</summary>
internal abstract record LengthDistribution
{
    /// <summary>The mean before rounding and clipping.</summary>
    public abstract double Mean { get; }

    public abstract int Sample(Random random);

    /// <summary>A fixed length, or with <paramref name="RangeRatio"/> &gt; 0 uniform over
    /// [L(1 - r), L(1 + r)] (vLLM's random dataset's range ratio).</summary>
    public static LengthDistribution Fixed(int length, double rangeRatio = 0) => new UniformLength(length, rangeRatio);

    /// <summary>Log-normal with this mean and log-space standard deviation sigma:
    /// mu = ln(mean) - sigma^2 / 2, so that E[exp(mu + sigma Z)] = mean.</summary>
    public static LengthDistribution LogNormal(double mean, double sigma) => new LogNormalLength(mean, sigma);
}

internal sealed record UniformLength(int Length, double RangeRatio) : LengthDistribution
{
    public override double Mean => Length;

    public override int Sample(Random random)
    {
        if (RangeRatio <= 0) return Math.Max(1, Length);
        int low = Math.Max(1, (int)Math.Floor(Length * (1 - RangeRatio)));
        int high = Math.Max(low, (int)Math.Ceiling(Length * (1 + RangeRatio)));
        return random.Next(low, high + 1);
    }
}

internal sealed record LogNormalLength(double MeanLength, double Sigma) : LengthDistribution
{
    public override double Mean => MeanLength;

    public double Mu => Math.Log(MeanLength) - Sigma * Sigma / 2;

    public override int Sample(Random random) =>
        (int)Math.Clamp(Math.Round(Math.Exp(Mu + Sigma * StandardNormal(random))), 1, int.MaxValue / 4);

    /// <summary>Box-Muller; 1 - NextDouble() keeps the logarithm's argument in (0, 1].</summary>
    public static double StandardNormal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
