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
        int seedPort = LoopbackPort.Free();
        using var seed = await ServeProcess.Start("--cluster-port", seedPort.ToString(), "--routing", "round-robin", "--chat-template", template);
        using var joiner = await ServeProcess.Start("--cluster-port", LoopbackPort.Free().ToString(), "--join", $"127.0.0.1:{seedPort}",
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
}
