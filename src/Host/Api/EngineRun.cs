using System.Runtime.CompilerServices;
using System.Threading.Channels;
using LlmEngine.Actors.Engine;
using LlmEngine.Host.Metrics;
using LlmEngine.Kernels.Sampling;

namespace LlmEngine.Host.Api;

/// <summary>One prompt of a request: its token ids and, where known, its text (for echo).</summary>
internal sealed record PromptInput(IReadOnlyList<int> TokenIds, string? Text);

/// <summary>
/// The engine requests behind one HTTP request: one per prompt, each with n choices. Starting it
/// waits for each request's first output, so that an error the engine raises before queueing
/// (an <see cref="ArgumentException"/>) becomes a 400 before any response header is sent.
/// Disposing it cancels whatever is still running (a client that went away, an error midway).
/// </summary>
internal sealed class EngineRun : IAsyncDisposable
{
    private readonly CancellationTokenSource _cts;
    private readonly IAsyncEnumerator<RequestOutput>[] _streams;
    private readonly RequestMetrics[] _metrics;
    private readonly bool[] _more;
    private Task _pumps = Task.CompletedTask;

    private EngineRun(CancellationTokenSource cts, IAsyncEnumerator<RequestOutput>[] streams, RequestMetrics[] metrics, bool[] more) =>
        (_cts, _streams, _metrics, _more) = (cts, streams, metrics, more);

    public static async Task<EngineRun> Start(
        ILlmEngine engine, ServerMetrics metrics, string id, IReadOnlyList<PromptInput> prompts,
        SamplingParameters sampling, CancellationToken ct, TimeSpan? timeout = null)
    {
        Tracing.HttpTracing.Tag(id);
        var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var streams = new IAsyncEnumerator<RequestOutput>[prompts.Count];
        var observers = new RequestMetrics[prompts.Count];
        var firsts = new Task<bool>[prompts.Count];
        try
        {
            for (var i = 0; i < prompts.Count; i++)
            {
                var request = new GenerationRequest(prompts.Count == 1 ? id : $"{id}-{i}", prompts[i].TokenIds, sampling, prompts[i].Text) { Timeout = timeout };
                observers[i] = metrics.Begin(sampling);
                streams[i] = engine.GenerateAsync(request, cts.Token).GetAsyncEnumerator(cts.Token);
                firsts[i] = streams[i].MoveNextAsync().AsTask();
            }
            await Task.WhenAll(firsts);
        }
        catch (Exception e)
        {
            await cts.CancelAsync();
            await Settle(firsts.Where(t => t is not null));
            foreach (var s in streams) if (s is not null) await DisposeQuietly(s);
            cts.Dispose();
            // The first failure is the one to report (WhenAll rethrows only the first anyway).
            var failure = firsts.FirstOrDefault(t => t is { IsFaulted: true })?.Exception?.InnerException ?? e;
            if (failure is ArgumentException a)
                throw ApiException.BadRequest(SamplingFields.StripParamSuffix(a), a.ParamName);
            if (failure is OperationCanceledException && !ct.IsCancellationRequested && !engine.IsServing)
                throw ApiException.NotServing();
            throw failure;
        }
        return new EngineRun(cts, streams, observers, [.. firsts.Select(t => t.Result)]);
    }

    /// <summary>Every output of every prompt, tagged with the prompt's index, as they arrive.</summary>
    public IAsyncEnumerable<(int Prompt, RequestOutput Output)> Outputs() =>
        _streams.Length == 1 ? Single(_cts.Token) : Merged(_cts.Token);

    private async IAsyncEnumerable<(int, RequestOutput)> Single([EnumeratorCancellation] CancellationToken ct)
    {
        var s = _streams[0];
        for (var more = _more[0]; more; more = await s.MoveNextAsync())
        {
            _metrics[0].Observe(s.Current);
            yield return (0, s.Current);
        }
    }

    private async IAsyncEnumerable<(int, RequestOutput)> Merged([EnumeratorCancellation] CancellationToken ct)
    {
        var channel = Channel.CreateUnbounded<(int, RequestOutput)>(new UnboundedChannelOptions { SingleReader = true });
        _pumps = Task.WhenAll(Enumerable.Range(0, _streams.Length).Select(i => Pump(i, channel.Writer)));
        _ = _pumps.ContinueWith(t => channel.Writer.TryComplete(t.Exception?.InnerException), TaskScheduler.Default);
        await foreach (var item in channel.Reader.ReadAllAsync(ct))
            yield return item;
    }

    private async Task Pump(int i, ChannelWriter<(int, RequestOutput)> writer)
    {
        var s = _streams[i];
        for (var more = _more[i]; more; more = await s.MoveNextAsync())
        {
            _metrics[i].Observe(s.Current);
            await writer.WriteAsync((i, s.Current), _cts.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync();
        // An enumerator may not be disposed while a MoveNextAsync of it is pending.
        await Settle([_pumps]);
        foreach (var s in _streams) await DisposeQuietly(s);
        _cts.Dispose();
    }

    private static async Task Settle(IEnumerable<Task> tasks)
    {
        try { await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(30)); }
        catch (Exception) { /* failures were reported where they happened */ }
    }

    private static async ValueTask DisposeQuietly(IAsyncEnumerator<RequestOutput> s)
    {
        try { await s.DisposeAsync(); }
        catch (Exception) { /* a cancelled stream may throw as it unwinds; it is ending either way */ }
    }
}
