using System.Diagnostics;
using System.Net.Http.Json;
using Akka.Actor;
using Akka.Hosting;
using Akka.Streams;
using Akka.Streams.Dsl;
using LlmEngine.Actors;
using LlmEngine.Actors.Engine;
using LlmEngine.Actors.Remote;
using LlmEngine.Host.Api;
using LlmEngine.Hosting;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Kernels.Tokenizers;
using LlmEngine.Tests.Loading;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Hosting;

namespace LlmEngine.Tests.EndToEnd;

/// <summary>The engine in a generic host through <c>AddLlmEngine</c>: it runs on the host's
/// ActorSystem, its actors are in Akka.Hosting's registry, and stopping the host with a request in
/// flight ends that request (finished, or aborted after the grace period) without hanging.</summary>
[Trait("Category", "EndToEnd")]
public sealed class HostingEndToEndTests
{
    private static GenerationRequest Greedy(string id, ITokenizer tokenizer, int maxTokens, bool ignoreEos = false) =>
        new(id, tokenizer.Encode("Once upon a time"), new SamplingParameters { Temperature = 0, MaxTokens = maxTokens, IgnoreEos = ignoreEos });

    [Fact]
    public async Task HostedEngineRunsOnTheHostsActorSystemAndServesARequest()
    {
        using var host = LlmEngineHost.Build();
        await host.StartAsync();

        var engine = Assert.IsType<InferenceEngine>(host.Services.GetRequiredService<ILlmEngine>());
        var last = await engine.GenerateAsync(Greedy("r", engine.Tokenizer!, 16)).LastAsync();
        var registry = host.Services.GetRequiredService<ActorRegistry>();

        Assert.Same(host.Services.GetRequiredService<ActorSystem>(), engine.System);
        Assert.Same(engine, host.Services.GetRequiredService<InferenceEngine>());
        Assert.Equal(engine.Scheduler, registry.Get<SchedulerActor>());
        var gateway = await host.Services.GetRequiredService<IRequiredActor<EngineGatewayActor>>().GetAsync();
        Assert.Equal($"/user/{EngineGatewayActor.Name}", gateway.Path.ToStringWithoutAddress());
        Assert.True(last.Finished);
        Assert.Equal(16, last.Outputs![0].TokenIds.Count);
        await host.StopAsync();
    }

    [Fact]
    public async Task WebServerBuiltOnAddLlmEngineServesCompletions()
    {
        var app = OpenAiServer.Build(new ServerOptions { Port = 0 }, b =>
        {
            b.Logging.ClearProviders();
            b.Services.AddLlmEngine(o => (o.Model, o.NumBlocks) = (SharedModels.Stories260K, 128));
        });
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = OpenAiServer.BoundAddress(app) };

        var body = await Stories260KServer.Json(await http.PostAsJsonAsync("/v1/completions", new { prompt = "Lily", max_tokens = 8, temperature = 0, ignore_eos = true }));
        await app.StopAsync();
        await app.DisposeAsync();

        Assert.Equal(8, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task EngineStreamsCompleteAnswersEveryRequestInOrder()
    {
        using var host = LlmEngineHost.Build();
        await host.StartAsync();
        var engine = host.Services.GetRequiredService<ILlmEngine>();
        var requests = Enumerable.Range(0, 6).Select(i => Greedy($"r{i}", engine.Tokenizer!, 4 + i)).ToList();

        var outputs = await Source.From(requests).Via(EngineStreams.Complete(engine, parallelism: 3))
            .RunWith(Sink.Seq<RequestOutput>(), host.Services.GetRequiredService<ActorSystem>().Materializer());

        Assert.Equal(requests.Select(r => (r.RequestId, r.Sampling.MaxTokens)),
            outputs.Select(o => (o.RequestId, o.Outputs![0].TokenIds.Count)));
        await host.StopAsync();
    }

    [Fact]
    public async Task EngineStreamsGenerateCarriesEveryDeltaOfEveryRequest()
    {
        using var host = LlmEngineHost.Build();
        await host.StartAsync();
        var engine = host.Services.GetRequiredService<ILlmEngine>();
        var requests = Enumerable.Range(0, 4).Select(i => Greedy($"r{i}", engine.Tokenizer!, 5 + i, ignoreEos: true)).ToList();

        var outputs = await Source.From(requests).Via(EngineStreams.Generate(engine, parallelism: 4))
            .RunWith(Sink.Seq<RequestOutput>(), host.Services.GetRequiredService<ActorSystem>().Materializer());

        var byRequest = outputs.GroupBy(o => o.RequestId).OrderBy(g => g.Key).ToList();
        Assert.Equal(requests.Select(r => (r.RequestId, r.Sampling.MaxTokens, true)),
            byRequest.Select(g => (g.Key, g.Sum(o => o.Deltas.Sum(d => d.TokenIds.Count)), g.Last().Finished)));
        await host.StopAsync();
    }

    [Theory]
    [InlineData(0, "abort")]
    [InlineData(30, "length")]
    public async Task StoppingTheHostEndsAnInFlightRequestWithinTheGrace(double graceSeconds, string finishReason)
    {
        using var host = LlmEngineHost.Build(graceSeconds);
        await host.StartAsync();
        var engine = host.Services.GetRequiredService<ILlmEngine>();
        var clock = new Stopwatch();
        Task? stopping = null;
        var consumer = Task.Run(async () =>
        {
            RequestOutput? last = null;
            await foreach (var output in engine.GenerateAsync(Greedy("long", engine.Tokenizer!, 480, ignoreEos: true)))
            {
                last = output;
                // The stop is asked for here, at the first output: handed to another thread, a loaded machine
                // could let stories260K finish all 480 tokens (~0.3 s) before the stop was asked for.
                if (stopping is null)
                {
                    clock.Start();
                    stopping = host.StopAsync();
                }
            }
            return last!;
        });
        var last = await consumer.WaitAsync(TimeSpan.FromSeconds(graceSeconds + 30));
        await stopping!.WaitAsync(TimeSpan.FromSeconds(graceSeconds + 10));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(graceSeconds + 5), $"stopping took {clock.Elapsed}");
        Assert.False(engine.IsServing);
        Assert.True(last.Finished);
        Assert.Equal(finishReason, last.Outputs![0].FinishReason);
    }
}
