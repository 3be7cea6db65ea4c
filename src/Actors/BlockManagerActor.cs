using Akka.Actor;
using LlmEngine.Actors.Scheduling;

namespace LlmEngine.Actors;

/// <summary>
/// Owns the KV block pool. Once per step the scheduler sends its proposal (with the frees and
/// forks left from the last step) and gets back what runs, with block tables, slots and the
/// block moves the worker must make; all policy lives in <see cref="StepAllocator"/>.
/// </summary>
public sealed class BlockManagerActor : ReceiveActor
{
    public sealed record AllocateStep(StepProposal Proposal);
    /// <summary>The allocation threw: the scheduler fails the requests of the proposal and goes on.</summary>
    public sealed record AllocationFailed(StepProposal Proposal, Exception Error);
    public sealed record CheckInvariants;
    public sealed record InvariantsChecked(string? Violation);
    /// <summary>Answered with a <see cref="Blocks.BlockMap"/> of the pool as it is now.</summary>
    public sealed record MapBlocks;

    public static Props Props(StepAllocator allocator) => Akka.Actor.Props.Create(() => new BlockManagerActor(allocator));

    public BlockManagerActor(StepAllocator allocator)
    {
        Receive<AllocateStep>(message =>
        {
            try
            {
                Sender.Tell(allocator.Allocate(message.Proposal));
            }
            catch (Exception error)
            {
                Sender.Tell(new AllocationFailed(message.Proposal, error));
            }
        });
        Receive<MapBlocks>(_ => Sender.Tell(allocator.Cache.Map()));
        Receive<CheckInvariants>(_ =>
        {
            try
            {
                allocator.Cache.CheckInvariants();
                Sender.Tell(new InvariantsChecked(null));
            }
            catch (Exception error)
            {
                Sender.Tell(new InvariantsChecked(error.Message));
            }
        });
    }
}
