using Akka;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;

namespace LlmEngine.Contracts;

/// <summary>
/// The calling side of the engine gateway's protocol (<see cref="RemoteGenerate"/>):
/// <code>
///   var gateway = await system.ActorSelection("akka.tcp://llm-engine@host:port/user/llm-engine").ResolveOne(timeout);
///   var deltas = await gateway.GenerateAsync(new RemoteGenerate("r1", "Once upon a time", null, new RemoteSampling(Temperature: 0)), timeout);
///   await deltas.RunForeach(d => Console.Write(d.Text), materializer);
/// </code>
/// The calling system must load <see cref="RemoteContracts.Config"/> (the messages' serializer)
/// and Akka.Streams' settings (which register the stream-ref serializer) before the reply
/// arrives: create its materializer first.
/// </summary>
public static class EngineGatewayClient
{
    /// <summary>Submits the request; returns its deltas as a source to run on the caller's
    /// materializer, or throws <see cref="ArgumentException"/> (ParamName = the field at fault)
    /// when the engine refuses the request, <see cref="InvalidOperationException"/> when it is not
    /// admitting any (shutting down). <paramref name="timeout"/> bounds the wait for the reply, which
    /// comes once the request is queued, not when it finishes.</summary>
    public static async Task<Source<RemoteDelta, NotUsed>> GenerateAsync(this ICanTell gateway, RemoteGenerate request, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var reply = await gateway.Ask<object>(request, timeout, cancellationToken);
        return reply switch
        {
            ISourceRef<RemoteDelta> stream => stream.Source,
            RemoteGenerateRejected { Field: null } rejected => throw new InvalidOperationException(rejected.Message),
            RemoteGenerateRejected rejected => throw new ArgumentException(rejected.Message, rejected.Field),
            _ => throw new InvalidOperationException($"the engine gateway answered {reply.GetType().Name}, not a stream"),
        };
    }
}
