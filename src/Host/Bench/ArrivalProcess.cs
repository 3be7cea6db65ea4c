namespace LlmEngine.Host.Bench;

/// <summary>
/// Gaps between request arrivals, as vLLM's serving benchmark draws them: Gamma with shape
/// <c>burstiness</c> and scale 1 / (rate * burstiness), so the mean gap is 1 / rate whatever the
/// burstiness; burstiness 1 is a Poisson process (exponential gaps), lower is burstier, higher
/// more regular. An infinite rate sends everything at once.
/// </summary>
internal sealed class ArrivalProcess(double rate, double burstiness, Random random)
{
    public double Rate => rate;

    public double NextGap()
    {
        if (double.IsPositiveInfinity(rate)) return 0;
        if (!(rate > 0)) throw new ArgumentOutOfRangeException(nameof(rate), rate, "the request rate must be positive");
        if (!(burstiness > 0)) throw new ArgumentOutOfRangeException(nameof(burstiness), burstiness, "burstiness must be positive");
        return Gamma(burstiness, random) / (rate * burstiness);
    }

    /// <summary>A Gamma(shape, 1) draw (Marsaglia and Tsang; shape &lt; 1 by boosting shape + 1).</summary>
    public static double Gamma(double shape, Random random)
    {
        if (shape < 1) return Gamma(shape + 1, random) * Math.Pow(1 - random.NextDouble(), 1 / shape);
        double d = shape - 1.0 / 3, c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x, v;
            do
            {
                x = LogNormalLength.StandardNormal(random);
                v = 1 + c * x;
            } while (v <= 0);
            v = v * v * v;
            double u = 1 - random.NextDouble();
            if (Math.Log(u) < 0.5 * x * x + d - d * v + d * Math.Log(v)) return d * v;
        }
    }

    /// <summary>"inf" (any case), "infinity" or a positive number.</summary>
    public static double ParseRate(string text) =>
        text.Trim().ToLowerInvariant() is "inf" or "infinity" ? double.PositiveInfinity
            : double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double r) && r > 0 ? r
            : throw new ArgumentException($"request rate '{text}' is not a positive number or inf");

    public static string Format(double rate) => double.IsPositiveInfinity(rate) ? "inf" : rate.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);
}
