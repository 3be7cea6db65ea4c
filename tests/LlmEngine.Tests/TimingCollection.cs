namespace LlmEngine.Tests;

/// <summary>Tests that watch the engine in real time (latencies against its own step times, a
/// page's frames against short-lived block states). Beside the rest of the suite a starved thread
/// pool delays delivery and frames by more than a step, which is the machine's noise, not the
/// engine's; so these run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public class TimingCollection
{
    public const string Name = "wall-clock timing (runs alone)";
}
