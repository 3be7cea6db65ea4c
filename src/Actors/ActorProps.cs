using Akka.Actor;

namespace LlmEngine.Actors;

/// <summary>
/// Props that build an actor by calling a factory, so the actor's constructor (and the types it
/// takes) can stay internal: Akka's <c>Props.Create(() => new T(...))</c> only reads the expression's
/// arguments and calls a public constructor through <see cref="Activator"/>.
/// </summary>
internal static class ActorProps
{
    public static Props Of<TActor>(Func<TActor> create) where TActor : ActorBase => Props.CreateBy(new Producer<TActor>(create));

    private sealed class Producer<TActor>(Func<TActor> create) : IIndirectActorProducer where TActor : ActorBase
    {
        public Type ActorType => typeof(TActor);
        public ActorBase Produce() => create();
        public void Release(ActorBase actor) { }
    }
}
