using LlmEngine.Scheduling.Sequences;

namespace LlmEngine.Scheduling;

/// <summary>Who gives up their blocks when a running request cannot get a slot: the latest
/// arrival still running (first come, first served, so the oldest keeps going).</summary>
public static class PreemptionPolicy
{
    /// <param name="running">this step's running requests in arrival order</param>
    /// <param name="isAvailable">whether a request may still be chosen (not already preempted)</param>
    public static SequenceGroup? ChooseVictim(IReadOnlyList<SequenceGroup> running, Func<SequenceGroup, bool> isAvailable)
    {
        for (int i = running.Count - 1; i >= 0; i--)
            if (isAvailable(running[i])) return running[i];
        return null;
    }
}
