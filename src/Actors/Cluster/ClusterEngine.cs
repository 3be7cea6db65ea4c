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
/// this node's engine; a router (<see cref="StartRouter"/>, no engine of its own) refuses them.
/// <code>
///   var node = ClusterEngine.Start(system, engine, RoutingMode.KvAware);   // system has Akka.Cluster
///   var router = ClusterEngine.StartRouter(system, ModelFactory.Describe(path), options, RoutingMode.KvAware);
///   await foreach (var output in node.GenerateAsync(request)) ...
/// </code>
/// </summary>
public class ClusterEngine : ILlmEngine
{
    /// <summary>Bounds the wait for a gateway to queue a request (not for the request to finish).</summary>
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(10);

    /// <summary>A router's own gauges: it runs no engine (/cluster shows the replicas').</summary>
    private static readonly EngineStatistics NoEngine = new(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

    private readonly InferenceEngine? _local;
    private readonly ModelHeader _model;
    private readonly ActorSystem _system;
    private readonly IMaterializer _materializer;
    private readonly IActorRef? _publisher;

    private protected ClusterEngine(InferenceEngine? local, ModelHeader model, string name, int maxModelLength, ActorSystem system,
        ReplicaDirectory directory, IActorRef? publisher)
    {
        (_local, _model, _system, Directory, _publisher) = (local, model, system, directory, publisher);
        (ModelName, MaxModelLength) = (name, maxModelLength);
        Self = Akka.Cluster.Cluster.Get(system).SelfAddress.ToString();
        _materializer = system.Materializer();
    }

    /// <summary>An engine node's front door. Starts this node's replica publisher and cluster
    /// directory on <paramref name="system"/> (configured with <see cref="ClusterHocon"/>); the
    /// engine's gateway must be served there too.</summary>
    public static ClusterEngine Start(ActorSystem system, InferenceEngine local, RoutingMode routing)
    {
        var directory = StartDirectory(system, routing);
        var publisher = system.ActorOf(ReplicaPublisherActor.Props(local), ReplicaPublisherActor.Name);
        var model = new ModelHeader(local.ModelConfig, local.Tokenizer, local.ModelName, local.ModelDescription, local.IsDefaultModel);
        return new ObservedClusterEngine(local, model, system, directory, publisher);
    }

    /// <summary>A router's front door (<c>serve --no-engine</c>): it tokenizes and checks requests for
    /// <paramref name="model"/> (no weights loaded) and runs every one on a replica of it.</summary>
    public static ClusterEngine StartRouter(ActorSystem system, ModelHeader model, EngineOptions options, RoutingMode routing) =>
        new(null, model, options.ServedModelName ?? model.Name, options.ForWorker().MaxModelLengthOf(model.Config), system,
            StartDirectory(system, routing), null);

    private static ReplicaDirectory StartDirectory(ActorSystem system, RoutingMode routing)
    {
        var directory = new ReplicaDirectory(new RoutingPolicy(routing));
        system.ActorOf(ClusterDirectoryActor.Props(directory), ClusterDirectoryActor.Name);
        return directory;
    }

    public ReplicaDirectory Directory { get; }

    /// <summary>This node's address in the cluster.</summary>
    public string Self { get; }

    /// <summary>Whether this node runs an engine replica (false: a router).</summary>
    public bool HasEngine => _local is not null;

    /// <summary>Akka.Cluster's members as this node sees them now, and whether its failure detector hears each.</summary>
    public IReadOnlyList<(Akka.Cluster.Member Member, bool Reachable)> Members()
    {
        var state = Akka.Cluster.Cluster.Get(_system).State;
        return [.. state.Members.Select(m => (m, !state.Unreachable.Contains(m)))];
    }

    /// <summary>Where this node's OpenAI API listens (once bound): other nodes forward requests for
    /// this node's model there when they serve another one. A router advertises nothing.</summary>
    public void AdvertiseHttp(Uri url) => _publisher?.Tell(new ReplicaPublisherActor.HttpAddress(url.ToString().TrimEnd('/')));

    public string ModelName { get; }
    public ModelConfig ModelConfig => _model.Config;
    public ITokenizer? Tokenizer => _model.Tokenizer;
    public int MaxModelLength { get; }
    /// <summary>A router serves while some replica of its model is reachable.</summary>
    public bool IsServing => _local?.IsServing ?? Directory.Serves(ModelName);
    public string? DeadReason => _local?.DeadReason;
    public EngineStatistics Statistics => _local?.Statistics ?? NoEngine;

    public Source<RequestOutput, NotUsed> Generate(GenerationRequest request) => Source.From(() => GenerateAsync(request));

    public async IAsyncEnumerable<RequestOutput> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // Refuse what the engine would refuse here, before anything crosses the network.
        Validate(request);
        var remote = RemoteSamplingOf(request.Sampling);
        var tried = new HashSet<string>();
        while (true)
        {
            var decision = Directory.Route(ModelName, request.PromptTokenIds, tried, remote is null ? Self : null)
                ?? throw new EngineOverloadedException(tried.Count == 0
                    ? $"no replica of {ModelName} is reachable in the cluster"
                    : $"no replica of {ModelName} is left to run the request (tried {string.Join(", ", tried)})", TimeSpan.FromSeconds(1));
            tried.Add(decision.Node);
            var outputs = (decision.Node == Self ? _local!.GenerateAsync(request, cancellationToken) : Remote(decision, request, remote!, cancellationToken))
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

    private void Validate(GenerationRequest request)
    {
        if (_local is not null)
        {
            _local.Validate(request);
            return;
        }
        request.Sampling.Validate();
        RequestValidation.Prompt(request.PromptTokenIds, request.Sampling.MaxTokens, ModelConfig.VocabSize, MaxModelLength);
        if (RemoteSamplingOf(request.Sampling) is null)
            throw new ArgumentException("This node is a router (--no-engine): beam search, structured output, include_stop_str_in_output and "
                + "skip_special_tokens=false run only on an engine node's own engine; send the request to an engine node.");
    }

    /// <summary>The request's sampling as the wire carries it; null when it needs more (run it here).</summary>
    private static RemoteSampling? RemoteSamplingOf(SamplingParameters s) =>
        s.UseBeamSearch || s.Guide is not null || s.IncludeStopStringInOutput || !s.SkipSpecialTokens || s.LogitBias.Count > 0 || s.PromptLogprobs is not null
            ? null
            : new RemoteSampling(s.MaxTokens, s.Temperature, s.TopP, s.TopK, s.MinP, s.Seed, s.N, s.MinTokens, s.IgnoreEos,
                [.. s.Stop], [.. s.StopTokenIds], s.PresencePenalty, s.FrequencyPenalty, s.RepetitionPenalty, s.Logprobs);
}

/// <summary>An engine node's front door: its engine's steps are what the dashboard and traces show.</summary>
internal sealed class ObservedClusterEngine(InferenceEngine local, ModelHeader model, ActorSystem system, ReplicaDirectory directory, IActorRef publisher)
    : ClusterEngine(local, model, local.ModelName, local.MaxModelLength, system, directory, publisher), IObservedEngine
{
    public EngineObserver Observer { get; } = local.Observer;
}
