using System.Diagnostics;
using Akka.Actor;
using LlmEngine.Actors.Engine;
using LlmEngine.Contracts;
using LlmEngine.Kernels.Sharding;
using LlmEngine.Scheduling;

namespace LlmEngine.Actors.Distributed;

/// <summary>
/// A worker node's pipeline stage (<c>llm-engine worker --join</c>), at /user/<see cref="Name"/>:
/// loads the stage the head assigns from this node's own copy of the model (or the head's path),
/// then runs each <see cref="StageStep"/> on it: the step's cache operations on its layers' blocks,
/// its layers on the hidden states that came with the step, and the result back to the head.
/// Runs on the pinned worker dispatcher (loading and computing block its thread).
/// </summary>
public sealed class StageWorkerActor : ReceiveActor
{
    public const string Name = "llm-stage-worker";

    private DataPlane.BuiltStage? _stage;

    public static Props Props(string? model, string device, Action<string> log) =>
        Akka.Actor.Props.Create(() => new StageWorkerActor(model, device, log)).WithDispatcher(WorkerActor.Dispatcher);

    public StageWorkerActor(string? model, string device, Action<string> log)
    {
        Receive<StageAssignment>(assignment =>
        {
            _stage?.Resources.Dispose();
            _stage = null;
            var stage = PipelineStage.Of(assignment.Stage, assignment.Stages);
            try
            {
                _stage = DataPlane.Stage(Options(assignment.Settings, model, device), stage, null);
                var (first, count) = stage.LayersOf(_stage.Model.Config.NumLayers);
                string description = $"stage {stage.Index} of {stage.Size} (layers {first}-{first + count - 1}) of {_stage.Model.Description}";
                log($"loaded {description}; KV cache: {_stage.Blocks.Device} blocks, swap {_stage.Blocks.Swap}");
                Sender.Tell(new StageReady(assignment.Stage, description));
            }
            catch (Exception error)
            {
                log($"error: cannot load stage {assignment.Stage} of {assignment.Stages}: {error.Message}");
                Sender.Tell(new StageLoadFailed(assignment.Stage, error.Message));
            }
        });
        Receive<StageStep>(wire =>
        {
            if (_stage is null)
            {
                Sender.Tell(new StageStepFailed(wire.Step, "this worker has no stage loaded"));
                return;
            }
            try
            {
                long started = Stopwatch.GetTimestamp();
                using var hidden = wire.Hidden is null ? null : StageWire.Tensor(wire.Hidden);
                using var output = _stage.Runner.Forward(StageWire.Step(wire), hidden);
                var result = output is null ? null : StageWire.Tensor(output);
                Sender.Tell(new StageStepDone(wire.Step, result, Stopwatch.GetElapsedTime(started).TotalSeconds));
            }
            catch (Exception error)
            {
                Sender.Tell(new StageStepFailed(wire.Step, error.Message));
            }
        });
    }

    /// <summary>The head's settings, with this node's own model copy and device when it has them.</summary>
    private static EngineOptions Options(StageSettings settings, string? model, string device) => new()
    {
        Model = model ?? settings.Model,
        LoadFormat = settings.LoadFormat,
        DType = settings.DType,
        Quantization = settings.Quantization,
        Device = device,
        BlockSize = settings.BlockSize,
        Seed = settings.Seed,
        TensorParallelSize = settings.TensorParallelSize,
        AttentionBackend = settings.AttentionBackend,
        MaxModelLength = settings.MaxModelLength,
        NumBlocks = settings.NumBlocks,
        SwapSpaceGiB = settings.SwapSpaceGiB,
        PreemptionMode = Enum.Parse<PreemptionMode>(settings.PreemptionMode),
    };

    protected override void PostStop() => _stage?.Resources.Dispose();
}
