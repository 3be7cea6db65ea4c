namespace LlmEngine.Actors.Cluster;

/// <summary>How a node's front door picks a replica (<c>serve --routing</c>).</summary>
public enum RoutingMode
{
    /// <summary>Cached prompt blocks against load (<see cref="RoutingPolicy"/>).</summary>
    KvAware,
    /// <summary>The replica with the fewest requests per seat; ties in turn.</summary>
    LeastLoaded,
    /// <summary>Each replica in turn, blind to load and cache.</summary>
    RoundRobin,
}

public static class RoutingModes
{
    public static readonly IReadOnlyList<string> Names = ["kv-aware", "least-loaded", "round-robin"];

    public static string Name(this RoutingMode mode) => Names[(int)mode];

    public static RoutingMode Parse(string name)
    {
        int i = Names.ToList().IndexOf(name);
        return i >= 0 ? (RoutingMode)i : throw new ArgumentException($"--routing must be one of {string.Join(", ", Names)}, got '{name}'", "routing");
    }
}
