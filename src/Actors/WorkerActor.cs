using Akka.Actor;
using LlmEngine.Kernels.Runtime;
using LlmEngine.Scheduling;

namespace LlmEngine.Actors;

/// <summary>
/// Owns the model, its KV cache and the attention backend (through the <see cref="IStepRunner"/>:
/// one <see cref="ModelRunner"/>, or the tensor-parallel ranks behind one)
/// and its own copy of the running sequences (<see cref="InputBatch"/>), and runs one step per
/// message on its own thread (shared with its scheduler: <see cref="Engine.StepThread"/>): it applies the step's changes, builds the model input
/// and samples. A step that throws is answered with a failure so the scheduler can fail the
/// requests in it and go on.
/// </summary>
internal sealed class WorkerActor : ReceiveActor
{
    public sealed record ExecuteStep(SchedulerOutput Step);
    /// <summary>The samples, row by row as <see cref="Rows"/> names them, with the step's seconds in
    /// the runner and, of those, in sampling.</summary>
    public sealed record StepExecuted(StepOutput Output, IReadOnlyList<SampleRow> Rows, double ComputeSeconds, double SampleSeconds = 0);
    public sealed record StepFailed(Exception Error);

    public const string Dispatcher = "akka.actor.worker-dispatcher";

    /// <param name="dispatcher">its thread: this pinned one, or the one it shares with its scheduler (<see cref="Engine.StepThread"/>)</param>
    public static Props Props(IStepRunner runner, InputBatch batch, string dispatcher = Dispatcher) =>
        Akka.Actor.Props.Create(() => new WorkerActor(runner, batch)).WithDispatcher(dispatcher);

    public WorkerActor(IStepRunner runner, InputBatch batch)
    {
        Receive<ExecuteStep>(message =>
        {
            double before = runner.ComputeSeconds, sampleBefore = runner.SampleSeconds;
            try
            {
                var (step, rows) = batch.Apply(message.Step);
                var output = runner.Execute(step);
                Sender.Tell(new StepExecuted(output, rows, runner.ComputeSeconds - before, runner.SampleSeconds - sampleBefore));
            }
            catch (Exception error)
            {
                Sender.Tell(new StepFailed(error));
            }
        });
    }
}
