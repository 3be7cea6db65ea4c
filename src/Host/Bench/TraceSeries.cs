using System.Text.Json;

namespace LlmEngine.Host.Bench;

/// <summary>The counters of a step trace (<see cref="Tracing.ChromeTraceWriter"/>) over time:
/// sequences per step and KV blocks in use, shared and swapped, with seconds since the first step.</summary>
internal sealed record TraceSeries(double[] BatchSeconds, double[] Batch, double[] KvSeconds, double[] KvUsedPercent, double[] KvShared, double[] KvSwapped, int Preemptions)
{
    public static TraceSeries Read(string path)
    {
        JsonDocument document;
        try
        {
            using var stream = File.OpenRead(path);
            document = JsonDocument.Parse(stream);
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"{path} is not a JSON trace: {e.Message}");
        }
        using (document)
        {
            if (!document.RootElement.TryGetProperty("traceEvents", out var events) || events.ValueKind != JsonValueKind.Array)
                throw new ArgumentException($"{path} has no traceEvents array (write one with serve --trace FILE or POST /trace/stop)");
            var batch = Counters(events, "batch");
            var kv = Counters(events, "KV blocks");
            if (batch.Count == 0) throw new ArgumentException($"{path} holds no step: was the engine given any request while it recorded?");
            double origin = Math.Min(batch[0].Ts, kv.Count > 0 ? kv[0].Ts : double.MaxValue);
            int preemptions = events.EnumerateArray().Count(e => e.GetProperty("ph").GetString() == "i" && e.GetProperty("name").GetString() is "preempt" or "swap out");
            return new TraceSeries(
                batch.Select(c => (c.Ts - origin) / 1e6).ToArray(), batch.Select(c => c.Args.GetProperty("sequences").GetDouble()).ToArray(),
                kv.Select(c => (c.Ts - origin) / 1e6).ToArray(),
                kv.Select(c => 100 * c.Args.GetProperty("used").GetDouble() / Math.Max(1, c.Args.GetProperty("total").GetDouble())).ToArray(),
                kv.Select(c => c.Args.GetProperty("shared").GetDouble()).ToArray(), kv.Select(c => c.Args.GetProperty("swapped").GetDouble()).ToArray(),
                preemptions);
        }
    }

    private static List<(double Ts, JsonElement Args)> Counters(JsonElement events, string name) =>
        events.EnumerateArray()
            .Where(e => e.GetProperty("ph").GetString() == "C" && e.GetProperty("name").GetString() == name)
            .Select(e => (e.GetProperty("ts").GetDouble(), e.GetProperty("args").Clone()))
            .OrderBy(c => c.Item1).ToList();
}
