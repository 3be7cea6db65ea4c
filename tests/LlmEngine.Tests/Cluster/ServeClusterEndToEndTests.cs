using System.ClientModel;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using LlmEngine.Tests.Loading;
using OpenAI;
using OpenAI.Chat;

namespace LlmEngine.Tests.Cluster;

/// <summary>Two <c>serve</c> processes on loopback that join each other: the official OpenAI client
/// talks to one of them, and its requests run on both (round-robin), with the same greedy text.
/// Each process runs in its own process group, which the test stops whole.</summary>
[Trait("Category", "Slow")]
public sealed class ServeClusterEndToEndTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("llm-cluster-").FullName;

    [Fact]
    public async Task TwoServeProcessesJoinAndTheOpenAiClientGetsTheSameGreedyTextFromBoth()
    {
        var template = Path.Combine(_dir, "template.jinja");
        File.WriteAllText(template, "{% for m in messages %}{{ m['content'] }}{% endfor %}");
        int seedPort = ClusterNode.FreePort();
        using var seed = await ServeProcess.Start("--cluster-port", seedPort.ToString(), "--routing", "round-robin", "--chat-template", template);
        using var joiner = await ServeProcess.Start("--cluster-port", ClusterNode.FreePort().ToString(), "--join", $"127.0.0.1:{seedPort}",
            "--routing", "round-robin", "--chat-template", template);

        using var http = new HttpClient { BaseAddress = seed.Address };
        await ClusterNode.Eventually(() => Replicas(http).Result == 2, "the seed routes to both processes");

        var client = new ChatClient("stories260K", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(seed.Address, "v1") });
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 24 };
        var texts = new List<string>();
        for (int i = 0; i < 2; i++)
        {
            ChatCompletion whole = await client.CompleteChatAsync([new UserChatMessage("Once upon a time")], options);
            texts.Add(whole.Content[0].Text);
            var streamed = new StringBuilder();
            await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Once upon a time")], options))
                foreach (var part in update.ContentUpdate) streamed.Append(part.Text);
            texts.Add(streamed.ToString());
        }

        Assert.NotEmpty(texts[0]);
        Assert.All(texts, t => Assert.Equal(texts[0], t));
        var cluster = JsonDocument.Parse(await http.GetStringAsync("/cluster")).RootElement;
        var targets = cluster.GetProperty("requests_by_target").EnumerateObject().Where(t => t.Value.GetInt64() > 0).Select(t => t.Name).ToList();
        Assert.Equal(2, targets.Count);
        Assert.Equal(2, cluster.GetProperty("members").GetArrayLength());
        var metrics = await http.GetStringAsync("/metrics");
        Assert.Contains("llm_router_requests_total{target=", metrics);

        Assert.Equal(0, await joiner.Stop());
        Assert.Equal(0, await seed.Stop());
    }

    private static async Task<int> Replicas(HttpClient http)
    {
        var response = await http.GetAsync("/cluster");
        return response.IsSuccessStatusCode ? (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("replicas").GetArrayLength() : 0;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>One <c>serve</c> on stories260K in a process group of its own (setsid), so that
    /// stopping it stops whatever it started too.</summary>
    private sealed class ServeProcess : IDisposable
    {
        private readonly Process _process;
        private readonly Task _drain;

        private ServeProcess(Process process, Uri address, Task drain) => (_process, Address, _drain) = (process, address, drain);

        public Uri Address { get; }

        public static async Task<ServeProcess> Start(params string[] args)
        {
            var start = new ProcessStartInfo("setsid") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { "dotnet", Path.Combine(AppContext.BaseDirectory, "llm-engine.dll"), "serve", "--model", SharedModels.Stories260K,
                         "--num-blocks", "128", "--port", "0" }.Concat(args))
                start.ArgumentList.Add(a);
            var process = Process.Start(start)!;
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            while (await process.StandardError.ReadLineAsync(timeout.Token) is { } line)
                if (line.StartsWith("Serving "))
                    return new ServeProcess(process, new Uri(line[(line.LastIndexOf(" at ", StringComparison.Ordinal) + 4)..]),
                        Task.WhenAll(process.StandardError.ReadToEndAsync(), process.StandardOutput.ReadToEndAsync()));
            Signal(process, "KILL");
            throw new InvalidOperationException($"serve {string.Join(' ', args)} exited without serving");
        }

        /// <summary>SIGTERM to the whole group; the exit code once it has stopped.</summary>
        public async Task<int> Stop()
        {
            Signal(_process, "TERM");
            await _process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
            await _drain;
            return _process.ExitCode;
        }

        // setsid runs serve as the leader of a new group: its id is the group's.
        private static void Signal(Process process, string signal) => Process.Start("kill", [$"-{signal}", "--", $"-{process.Id}"])!.WaitForExit();

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                Signal(_process, "KILL");
                _process.WaitForExit(10_000);
            }
            _process.Dispose();
        }
    }
}
