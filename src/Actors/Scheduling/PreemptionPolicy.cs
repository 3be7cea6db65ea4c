namespace LlmEngine.Actors.Scheduling;

/// <summary>Who gives up their blocks when a running request cannot get a slot: the latest
/// arrival still running (first come, first served, so the oldest keeps going).</summary>
public static class PreemptionPolicy
{
    /// <param name="running">running groups of this step in arrival order</param>
    /// <param name="isAvailable">whether a group may still be chosen (not already preempted)</param>
    public static GroupWork? ChooseVictim(IReadOnlyList<GroupWork> running, Func<GroupWork, bool> isAvailable)
    {
        for (int i = running.Count - 1; i >= 0; i--)
            if (isAvailable(running[i])) return running[i];
        return null;
    }
}
