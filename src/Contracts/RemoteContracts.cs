using Akka.Configuration;

namespace LlmEngine.Contracts;

/// <summary>The Akka settings both sides of the engine's remote protocol load: they bind
/// <see cref="ContractsSerializer"/> to every <see cref="IRemoteContract"/>.
/// <code>
///   var caller = ActorSystem.Create("caller", myRemoting.WithFallback(RemoteContracts.Config));
/// </code></summary>
public static class RemoteContracts
{
    public static Config Config { get; } = ConfigurationFactory.ParseString($$"""
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
