using Akka.Actor;
using Akka.Serialization;
using MessagePack;

namespace LlmEngine.Contracts;

/// <summary>
/// Akka serializer of the <see cref="IRemoteContract"/> messages: MessagePack with numbered keys,
/// and a one-letter manifest per message instead of a CLR type name. Bound by
/// <see cref="RemoteContracts.Config"/>, which both sides load.
/// </summary>
public sealed class ContractsSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    /// <summary>Fixed, so that both sides agree whatever else they register.</summary>
    public const int Id = 7411;

    private static readonly MessagePackSerializerOptions Options = MessagePackSerializerOptions.Standard.WithSecurity(MessagePackSecurity.UntrustedData);

    private static readonly Dictionary<Type, string> Manifests = new()
    {
        [typeof(RemoteGenerate)] = "G",
        [typeof(RemoteDelta)] = "D",
        [typeof(RemoteGenerateRejected)] = "R",
        [typeof(ReplicaReport)] = "K",
        [typeof(ReplicaSnapshotRequest)] = "S",
        [typeof(StageAssignment)] = "A",
        [typeof(StageReady)] = "Y",
        [typeof(StageLoadFailed)] = "F",
        [typeof(StageRefused)] = "X",
        [typeof(StageStep)] = "T",
        [typeof(StageStepDone)] = "O",
        [typeof(StageStepFailed)] = "E",
        [typeof(RankGroup)] = "P",
    };

    private static readonly Dictionary<string, Type> Types = Manifests.ToDictionary(m => m.Value, m => m.Key);

    public override int Identifier => Id;

    public override string Manifest(object o) =>
        Manifests.TryGetValue(o.GetType(), out var manifest) ? manifest : throw new ArgumentException($"{o.GetType()} is not an engine contract");

    public override byte[] ToBinary(object obj) => MessagePackSerializer.Serialize(obj.GetType(), obj, Options);

    public override object FromBinary(byte[] bytes, string manifest) =>
        MessagePackSerializer.Deserialize(Types.TryGetValue(manifest, out var type) ? type : throw new System.Runtime.Serialization.SerializationException($"unknown engine contract '{manifest}'"), bytes, Options)!;
}
