namespace LlmEngine.Tests.Tracing;

/// <summary>Tests that compare wall-clock latencies with the engine's own step times. Beside the
/// rest of the suite a starved thread pool delays message delivery by more than a step, which is
/// the machine's noise, not the engine's; so these run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public class TimingCollection
{
    public const string Name = "wall-clock timing (runs alone)";
}
