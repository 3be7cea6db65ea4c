namespace LlmEngine.Kernels.Sampling;

/// <summary>
/// A request's own random stream (SplitMix64): one uniform per sampled token, so a seeded
/// request draws the same numbers whatever else shares its batch.
/// </summary>
public sealed class SequenceRandom(ulong seed)
{
    private ulong _state = seed;

    public static SequenceRandom FromSeed(long? seed) =>
        new(seed is { } s ? (ulong)s : (ulong)System.Security.Cryptography.RandomNumberGenerator.GetInt32(int.MaxValue) << 20 ^ (ulong)Environment.TickCount64);

    /// <summary>The seed of the i-th of n parallel samples of a seeded request.</summary>
    public static long DeriveSeed(long seed, int index) => index == 0 ? seed : (long)Mix((ulong)seed + (ulong)index * 0x9E3779B97F4A7C15UL);

    public double NextUniform() => (Next() >> 11) * (1.0 / (1UL << 53));

    private ulong Next()
    {
        _state += 0x9E3779B97F4A7C15UL;
        return Mix(_state);
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
