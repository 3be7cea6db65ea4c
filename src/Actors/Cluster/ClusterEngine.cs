using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Akka;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using LlmEngine.Actors.Engine;
using LlmEngine.Actors.Observing;
using LlmEngine.Actors.Remote;
using LlmEngine.Contracts;
using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Kernels.Tokenizers;

namespace LlmEngine.Actors.Cluster;

/// <summary>
/// A cluster node's front door: an <see cref="ILlmEngine"/> that runs each request on the
/// replica <see cref="ReplicaDirectory.Route"/> picks, this node's own engine directly, another's
/// through its gateway (<see cref="RemoteGenerate"/>, deltas back over a stream ref).
/// A request whose replica is lost before its first token is routed again, to another replica;
/// one that had streamed tokens fails with <see cref="RequestFailedException"/> (an error event
/// over HTTP): every request ends with its tokens or an error. Requests the wire cannot carry
/// (beam search, structured output, stop strings kept in the output, special tokens shown) run on
/// this node's engine.
/// <code>
///   var node = ClusterEngine.Start(system, engine, RoutingMode.KvAware);   // system has Akka.Cluster
///   await foreach (var output in node.GenerateAsync(request)) ...
/// </code>
/// </summary>
public sealed class ClusterEngine : ILlmEngine, IObservedEngine
{
    /// <summary>Bounds the wait for a gateway to queue a request (not for the request to finish).</summary>
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(10);

    private readonly InferenceEngine _local;
    private readonly ActorSystem _system;
    private readonly IMaterializer _materializer;

    private ClusterEngine(InferenceEngine local, ActorSystem system, ReplicaDirectory directory)
    {
        (_local, _system, Directory) = (local, system, directory);
        Self = Akka.Cluster.Cluster.Get(system).SelfAddress.ToString();
        _materializer = system.Materializer();
    }

    /// <summary>Starts this node's replica publisher and cluster directory on <paramref name="system"/>
    /// (configured with <see cref="ClusterHocon"/>); the engine's gateway must be served there too.</summary>
    public static ClusterEngine Start(ActorSystem system, InferenceEngine local, RoutingMode routing)
    {
        var directory = new ReplicaDirectory(new RoutingPolicy(routing));
        system.ActorOf(ClusterDirectoryActor.Props(directory), ClusterDirectoryActor.Name);
        system.ActorOf(ReplicaPublisherActor.Props(local), ReplicaPublisherActor.Name);
        return new ClusterEngine(local, system, directory);
    }

    public ReplicaDirectory Directory { get; }

    /// <summary>This node's address in the cluster.</summary>
    public string Self { get; }

    /// <summary>Akka.Cluster's members as this node sees them now.</summary>
    public IReadOnlyList<Akka.Cluster.Member> Members() => [.. Akka.Cluster.Cluster.Get(_system).State.Members];

    public string ModelName => _local.ModelName;
    public ModelConfig ModelConfig => _local.ModelConfig;
    public ITokenizer? Tokenizer => _local.Tokenizer;
    public int MaxModelLength => _local.MaxModelLength;
    public bool IsServing => _local.IsServing;
    public string? DeadReason => _local.DeadReason;
    public EngineStatistics Statistics => _local.Statistics;
    public EngineObserver Observer => _local.Observer;

    public Source<RequestOutput, NotUsed> Generate(GenerationRequest request) => Source.From(() => GenerateAsync(request));

    public async IAsyncEnumerable<RequestOutput> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // Refuse what the engine would refuse here, before anything crosses the network.
        _local.Validate(request);
        var remote = RemoteSamplingOf(request.Sampling);
        var tried = new HashSet<string>();
        while (true)
        {
            var decision = Directory.Route(ModelName, request.PromptTokenIds, tried, remote is null ? Self : null)
                ?? throw new EngineOverloadedException(tried.Count == 0
                    ? $"no replica of {ModelName} is reachable in the cluster"
                    : $"no replica of {ModelName} is left to run the request (tried {string.Join(", ", tried)})", TimeSpan.FromSeconds(1));
            tried.Add(decision.Node);
            var outputs = (decision.Node == Self ? _local.GenerateAsync(request, cancellationToken) : Remote(decision, request, remote!, cancellationToken))
                .GetAsyncEnumerator(cancellationToken);
            bool started = false, lost = false;
            try
            {
                while (true)
                {
                    try
                    {
                        if (!await outputs.MoveNextAsync()) break;
                    }
                    catch (ReplicaLostException) when (!started)
                    {
                        lost = true;
                        break;
                    }
                    catch (ReplicaLostException e)
                    {
                        throw new RequestFailedException($"the request's replica left the cluster after it had streamed tokens ({e.Message}); its output is incomplete");
                    }
                    started |= outputs.Current.Deltas.Any(d => d.TokenIds.Count > 0);
                    yield return outputs.Current;
                }
            }
            finally
            {
                Directory.Ended(decision);
                await outputs.DisposeAsync();
            }
            if (!lost) yield break;
        }
    }

    private async IAsyncEnumerable<RequestOutput> Remote(RouteDecision decision, GenerationRequest request, RemoteSampling sampling,
        [EnumeratorCancellation] CancellationToken ct)
    {
        using var live = CancellationTokenSource.CreateLinkedTokenSource(ct, decision.Replica.Lost);
        Source<RemoteDelta, NotUsed> source;
        try
        {
            var gateway = _system.ActorSelection($"{decision.Node}/user/{EngineGatewayActor.Name}");
            source = await gateway.GenerateAsync(new RemoteGenerate(request.RequestId, null, [.. request.PromptTokenIds], sampling), AskTimeout, live.Token);
        }
        catch (Exception e) when (e is not ArgumentException && !ct.IsCancellationRequested)
        {
            // Not answering, gone, or not admitting (draining): another replica may take it.
            throw new ReplicaLostException(decision.Node, e.Message);
        }

        var channel = Channel.CreateUnbounded<RemoteDelta>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var (kill, done) = source.ViaMaterialized(KillSwitches.Single<RemoteDelta>(), Keep.Right)
            .ToMaterialized(Sink.ForEach<RemoteDelta>(d => channel.Writer.TryWrite(d)), Keep.Both)
            .Run(_materializer);
        _ = done.ContinueWith(t => channel.Writer.TryComplete(t.Exception?.GetBaseException()), TaskScheduler.Default);
        var outputs = new RemoteOutputs(request, sampling.N);
        try
        {
            while (true)
            {
                RemoteDelta delta;
                try
                {
                    if (!await channel.Reader.WaitToReadAsync(live.Token)) break;
                    if (!channel.Reader.TryRead(out delta!)) continue;
                }
                catch (Exception e) when (!ct.IsCancellationRequested)
                {
                    throw new ReplicaLostException(decision.Node, decision.Replica.Lost.IsCancellationRequested ? "it left the cluster or became unreachable" : e.Message);
                }
                var output = outputs.Add(delta);
                // Only a replica that stops (drains) aborts a request its caller still reads: what
                // had not started may run elsewhere, what had streamed tokens is incomplete.
                if (delta.FinishReason == RemoteOutputs.Abort && !ct.IsCancellationRequested)
                {
                    if (outputs.Started) throw new ReplicaLostException(decision.Node, "it stopped while running the request");
                    if (outputs.Finished) throw new ReplicaLostException(decision.Node, "it stopped before running the request");
                    continue;
                }
                yield return output;
            }
        }
        finally
        {
            // Ends the stream ref, which aborts the request on its replica if it still runs.
            kill.Shutdown();
        }
        ct.ThrowIfCancellationRequested();
        if (!outputs.Finished)
            throw new ReplicaLostException(decision.Node, "its stream ended before the request finished");
    }

    /// <summary>The request's sampling as the wire carries it; null when it needs more (run it here).</summary>
    private static RemoteSampling? RemoteSamplingOf(SamplingParameters s) =>
        s.UseBeamSearch || s.Guide is not null || s.IncludeStopStringInOutput || !s.SkipSpecialTokens || s.LogitBias.Count > 0 || s.PromptLogprobs is not null
            ? null
            : new RemoteSampling(s.MaxTokens, s.Temperature, s.TopP, s.TopK, s.MinP, s.Seed, s.N, s.MinTokens, s.IgnoreEos,
                [.. s.Stop], [.. s.StopTokenIds], s.PresencePenalty, s.FrequencyPenalty, s.RepetitionPenalty, s.Logprobs);
}
