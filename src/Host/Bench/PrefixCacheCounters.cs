using System.Globalization;

namespace LlmEngine.Host.Bench;

/// <summary>The prefix-cache counters of one or more servers (their /metrics), summed: prompt
/// tokens looked up and found. Read before and after a run, their difference is the run's hit
/// rate across a cluster's engines (each engine counts only what it ran).</summary>
internal sealed record PrefixCacheCounters(double Queries, double Hits)
{
    public double HitRate => Queries == 0 ? 0 : Hits / Queries;

    public static PrefixCacheCounters operator -(PrefixCacheCounters after, PrefixCacheCounters before) =>
        new(after.Queries - before.Queries, after.Hits - before.Hits);

    public static async Task<PrefixCacheCounters> ReadAsync(HttpClient http, IReadOnlyList<Uri> servers, CancellationToken ct)
    {
        double queries = 0, hits = 0;
        foreach (var server in servers)
        {
            var text = await http.GetStringAsync(new Uri(server, "metrics"), ct);
            queries += Counter(text, "vllm:prefix_cache_queries_total");
            hits += Counter(text, "vllm:prefix_cache_hits_total");
        }
        return new PrefixCacheCounters(queries, hits);
    }

    private static double Counter(string exposition, string name) =>
        exposition.Split('\n').Where(l => l.StartsWith(name + "{", StringComparison.Ordinal) || l.StartsWith(name + " ", StringComparison.Ordinal))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
}
