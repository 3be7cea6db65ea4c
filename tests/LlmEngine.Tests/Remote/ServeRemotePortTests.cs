using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using LlmEngine.Actors.Remote;
using LlmEngine.Tests.Loading;

namespace LlmEngine.Tests.Remote;

/// <summary><c>serve --remote-port</c> in its own process: the same engine answers over HTTP and
/// over Akka.Remote, with the same greedy tokens, and SIGTERM stops it cleanly.</summary>
[Trait("Category", "Slow")]
public sealed class ServeRemotePortTests
{
    [Fact]
    public async Task ServeAnswersOverHttpAndOverAkkaRemoteWithTheSameGreedyTokens()
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "llm-engine.dll"), "serve", "--model", SharedModels.Stories260K,
                     "--num-blocks", "128", "--port", "0", "--remote-port", "0" })
            start.ArgumentList.Add(a);
        using var server = Process.Start(start)!;
        try
        {
            string? http = null, gateway = null;
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            while ((http is null || gateway is null) && await server.StandardError.ReadLineAsync(timeout.Token) is { } line)
            {
                if (line.StartsWith("Remote gateway at ")) gateway = line["Remote gateway at ".Length..];
                if (line.StartsWith("Serving ")) http = line[(line.LastIndexOf(" at ", StringComparison.Ordinal) + 4)..];
            }
            Assert.NotNull(http);
            Assert.NotNull(gateway);
            var drain = server.StandardError.ReadToEndAsync();

            using var client = new HttpClient { BaseAddress = new Uri(http) };
            var response = await client.PostAsJsonAsync("/v1/completions", new { prompt = "Lily", max_tokens = 20, temperature = 0, ignore_eos = true });
            var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            var httpText = body.GetProperty("choices")[0].GetProperty("text").GetString();

            using var caller = ActorSystem.Create("caller", RemoteSystems.Remoting());
            var materializer = caller.Materializer();
            var actor = await caller.ActorSelection(gateway).ResolveOne(TimeSpan.FromSeconds(10));
            var deltas = await actor.GenerateAsync(new RemoteGenerate("r", "Lily", null, new RemoteSampling(MaxTokens: 20, Temperature: 0, IgnoreEos: true)), TimeSpan.FromSeconds(20));
            var received = await deltas.RunWith(Sink.Seq<RemoteDelta>(), materializer).WaitAsync(TimeSpan.FromSeconds(20));
            await caller.Terminate();

            Assert.Equal(httpText, string.Concat(received.Select(d => d.Text)));
            Assert.Equal(20, received.Sum(d => d.TokenIds.Length));
            Process.Start("kill", ["-TERM", server.Id.ToString()])!.WaitForExit();
            await server.WaitForExitAsync(timeout.Token);
            Assert.Equal(0, server.ExitCode);
        }
        finally
        {
            if (!server.HasExited) server.Kill(entireProcessTree: true);
        }
    }
}
