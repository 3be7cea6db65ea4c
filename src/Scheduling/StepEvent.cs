using LlmEngine.Scheduling.Sequences;

namespace LlmEngine.Scheduling;

/// <summary>A token appended to one completion of a request in a step, and whether that
/// completion finished with it; or, for beam search, the finished beams (best first).</summary>
public sealed record StepEvent(SequenceGroup Group, int Index, SampledToken? Token, string? FinishReason, IReadOnlyList<BeamHypothesis>? Beams = null);
