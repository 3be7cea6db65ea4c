using System.Diagnostics;
using LlmEngine.Kernels.Runtime;
using TorchSharp;

namespace LlmEngine.Actors.Distributed;

/// <summary>A pipeline stage on a worker node, as the head's <see cref="Kernels.Sharding.PipelineRunner"/>
/// sees it: the step and the previous stage's hidden states go out as one <see cref="Contracts.StageStep"/>,
/// the next hidden states (or the last stage's sample rows' hidden states) come back.</summary>
internal sealed class RemoteStageRunner(ClusterStages stages, int stage) : IStageRunner
{
    private long _steps;
    private long _roundTripTicks;
    private double _workerSeconds;

    /// <summary>Seconds from sending a step to having its answer, summed over steps.</summary>
    public double RoundTripSeconds => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _roundTripTicks)).TotalSeconds;
    /// <summary>Of <see cref="RoundTripSeconds"/>, the worker's own time on the steps; the rest is the boundary's cost.</summary>
    public double WorkerSeconds => _workerSeconds;
    /// <summary>Bytes of tensors sent to the worker and received from it.</summary>
    public long BytesSent { get; private set; }
    public long BytesReceived { get; private set; }
    public long Steps => _steps;

    public torch.Tensor? Forward(ModelStep step, torch.Tensor? hidden)
    {
        long started = Stopwatch.GetTimestamp();
        var wire = StageWire.Step(Interlocked.Increment(ref _steps), step, hidden);
        var done = stages.Send(stage, wire);
        Interlocked.Add(ref _roundTripTicks, Stopwatch.GetTimestamp() - started);
        _workerSeconds += done.ComputeSeconds;
        BytesSent += StageWire.Bytes(wire.Hidden);
        BytesReceived += StageWire.Bytes(done.Output);
        return done.Output is null ? null : StageWire.Tensor(done.Output);
    }
}

/// <summary>Pipeline stage hand-overs: hidden-state bytes, how many, and the seconds the round trips
/// to worker nodes took beyond the workers' own compute (zero in one process).</summary>
public sealed record PipelineBoundaryTimes(long Bytes, int Boundaries, double WireSeconds)
{
    public PipelineBoundaryTimes Since(PipelineBoundaryTimes earlier) =>
        new(Bytes - earlier.Bytes, Boundaries - earlier.Boundaries, WireSeconds - earlier.WireSeconds);
}
