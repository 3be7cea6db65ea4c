using Akka.Actor;
using LlmEngine.Kernels.Runtime;

namespace LlmEngine.Actors;

/// <summary>
/// Owns the model, its KV cache and the attention backend (through the <see cref="IStepRunner"/>:
/// one <see cref="ModelRunner"/>, or the tensor-parallel ranks behind one) and runs one step per message on the pinned worker dispatcher. A step that throws is answered
/// with a failure so the scheduler can fail the requests in it and go on.
/// </summary>
public sealed class WorkerActor : ReceiveActor
{
    public sealed record ExecuteStep(ModelStep Step);
    /// <summary>The samples, with the step's seconds in the runner and, of those, in sampling.</summary>
    public sealed record StepExecuted(StepOutput Output, double ComputeSeconds, double SampleSeconds = 0);
    public sealed record StepFailed(Exception Error);

    public const string Dispatcher = "akka.actor.worker-dispatcher";

    public static Props Props(IStepRunner runner) => Akka.Actor.Props.Create(() => new WorkerActor(runner)).WithDispatcher(Dispatcher);

    public WorkerActor(IStepRunner runner)
    {
        Receive<ExecuteStep>(message =>
        {
            double before = runner.ComputeSeconds, sampleBefore = runner.SampleSeconds;
            try
            {
                var output = runner.Execute(message.Step);
                Sender.Tell(new StepExecuted(output, runner.ComputeSeconds - before, runner.SampleSeconds - sampleBefore));
            }
            catch (Exception error)
            {
                Sender.Tell(new StepFailed(error));
            }
        });
    }
}
