using LlmEngine.Scheduling.Sequences;

namespace LlmEngine.Scheduling;

/// <summary>
/// Which waiting requests start this step: first come, first served, stopping at the first one
/// that does not fit (token budget, seats or blocks), so a long prompt is never overtaken for
/// good by shorter ones behind it. Nothing is admitted while swapped requests wait to come back
/// (they were running first), nor, with static batching, while any request is still in flight.
/// </summary>
public static class AdmissionPolicy
{
    /// <param name="inFlight">requests running or swapped when the step began</param>
    /// <param name="swapQueueClear">whether every swapped request came back this step</param>
    public static bool IsOpen(BatchingMode batching, int inFlight, bool swapQueueClear) =>
        swapQueueClear && (batching == BatchingMode.Continuous || inFlight == 0);

    /// <param name="waiting">waiting requests in arrival order</param>
    /// <param name="tryAdmit">admits one if it fits now; false when it does not</param>
    public static void Admit(IReadOnlyList<SequenceGroup> waiting, Func<SequenceGroup, bool> tryAdmit)
    {
        foreach (var group in waiting)
            if (!tryAdmit(group)) return;
    }
}
