using Akka.Configuration;

namespace LlmEngine.Contracts;

/// <summary>The Akka settings both sides of the engine's remote protocol load: they bind
/// <see cref="ContractsSerializer"/> to every <see cref="IRemoteContract"/>, and let a request's
/// output stream (a stream ref of small deltas, one per token and step) run ahead of its reader
/// by a whole completion, so it is not paced by demand round trips: with Akka's 32 a replica that
/// generates faster than the stream's round trip had finished requests whose outputs still sat
/// on its side when it was lost.
/// <code>
///   var caller = ActorSystem.Create("caller", myRemoting.WithFallback(RemoteContracts.Config));
/// </code></summary>
public static class RemoteContracts
{
    public static Config Config { get; } = ConfigurationFactory.ParseString($$"""
        akka.stream.materializer.stream-ref.buffer-capacity = 1024
        akka.actor {
          serializers.llm-engine-contracts = "{{typeof(ContractsSerializer).AssemblyQualifiedNameWithoutVersion()}}"
          serialization-bindings {
            "{{typeof(IRemoteContract).AssemblyQualifiedNameWithoutVersion()}}" = llm-engine-contracts
          }
          serialization-identifiers {
            "{{typeof(ContractsSerializer).AssemblyQualifiedNameWithoutVersion()}}" = {{ContractsSerializer.Id}}
          }
        }
        """);

    private static string AssemblyQualifiedNameWithoutVersion(this Type type) => $"{type.FullName}, {type.Assembly.GetName().Name}";
}
