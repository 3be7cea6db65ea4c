using System.Diagnostics;
using System.Runtime.InteropServices;

namespace LlmEngine.Host.Bench;

/// <summary>The arms of an A/B measurement run alternately in one process (A B, B A, ...), so that a
/// shared machine's noise falls on all alike; medians of wall and calling-thread CPU time.</summary>
internal static partial class Alternation
{
    /// <summary>Per arm (0 .. <paramref name="arms"/> - 1): medians over <paramref name="rounds"/> of the milliseconds
    /// per call of <paramref name="step"/>(arm), each round one warm-up call and <paramref name="steps"/> timed
    /// ones; rounds alternate between ascending and descending arm order.</summary>
    public static (double Wall, double Cpu)[] Run(int rounds, int steps, Action<int> step, int arms = 2)
    {
        var wall = Enumerable.Range(0, arms).Select(_ => new List<double>()).ToArray();
        var cpu = Enumerable.Range(0, arms).Select(_ => new List<double>()).ToArray();
        for (int r = 0; r < rounds; r++)
            foreach (int arm in r % 2 == 0 ? Enumerable.Range(0, arms) : Enumerable.Range(0, arms).Reverse())
            {
                step(arm);
                double cpu0 = ThreadCpuSeconds();
                long t0 = Stopwatch.GetTimestamp();
                for (int s = 0; s < steps; s++) step(arm);
                wall[arm].Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds / steps);
                cpu[arm].Add((ThreadCpuSeconds() - cpu0) * 1000 / steps);
            }
        return [.. Enumerable.Range(0, arms).Select(a => (Median(wall[a]), Median(cpu[a])))];
    }

    public static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    private const int ThreadCpuClock = 3;  // CLOCK_THREAD_CPUTIME_ID

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    /// <summary>CPU time of the calling thread.</summary>
    public static double ThreadCpuSeconds() => ClockGetTime(ThreadCpuClock, out var t) == 0 ? t.Seconds + t.Nanoseconds * 1e-9 : 0;
}
