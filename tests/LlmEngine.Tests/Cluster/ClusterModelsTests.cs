using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using LlmEngine.Actors.Engine;
using LlmEngine.Host.Api;
using LlmEngine.Tests.Loading;
using LlmEngine.Tests.Remote;

namespace LlmEngine.Tests.Cluster;

/// <summary>
/// A cluster of two models and a router: replica A serves stories260K, replica B a second model
/// (the same story model converted to GGUF, under its own name), and R is a router that holds no
/// model (role router, stories260K's tokenizer and config only). Whatever node a request comes
/// to, it runs where its model is served, with the tokens that node gives on its own; a model no
/// node serves is a 404 with the OpenAI error body.
/// </summary>
[Trait("Category", "Slow")]
public sealed class ClusterModelsTests
{
    private const string ModelA = "stories260K";
    private const string ModelB = "stories260K-f32";

    [Fact]
    public async Task ARouterWithoutAModelAndAnyReplicaRouteEachRequestToItsModelsReplicas()
    {
        await using var a = await ClusterServer.Replica(RemoteSystems.Stories260K(), join: null);
        await using var b = await ClusterServer.Replica(new EngineOptions
        {
            Model = Path.Combine(SharedModels.Root, "gguf", ModelB + ".gguf"), NumBlocks = 64, BlockSize = 16,
        }, join: a.ClusterPort);
        await using var r = await ClusterServer.Router(RemoteSystems.Stories260K(), join: a.ClusterPort);
        foreach (var node in new[] { a, b, r })
            await ClusterNode.Eventually(() => node.FrontDoor.Directory.Replicas().Count(x => x.HttpUrl is not null) == 2,
                $"{node.Address} knows both replicas and their HTTP addresses");

        // The router runs no engine: it is a member with the router role, not a replica.
        Assert.Null(r.Engine);
        Assert.False(r.FrontDoor.HasEngine);
        Assert.DoesNotContain(r.FrontDoor.Directory.Replicas(), x => x.Node == r.Address);
        var cluster = await Json(await r.Http.GetAsync("/cluster"));
        var roles = cluster.GetProperty("members").EnumerateArray()
            .ToDictionary(m => m.GetProperty("address").GetString()!, m => m.GetProperty("roles")[0].GetString());
        Assert.Equal(new Dictionary<string, string?> { [a.Address] = "engine", [b.Address] = "engine", [r.Address] = "router" }, roles);
        Assert.Equal(HttpStatusCode.OK, (await r.Http.GetAsync("/health")).StatusCode);
        var models = (await Json(await r.Http.GetAsync("/v1/models"))).GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString());
        Assert.Equal([ModelA, ModelB], models.Order());

        var expectedA = await Text(a, ModelA, "Once upon a time");
        var expectedB = await Text(b, ModelB, "Once upon a time");
        var lily = await Text(a, ModelA, "Lily went to the park");

        // The router tokenizes stories260K requests itself and sends them over Akka to A.
        Assert.Equal(expectedA, await Text(r, ModelA, "Once upon a time"));
        Assert.Equal(expectedA, await StreamedText(r, ModelA, "Once upon a time"));
        Assert.Equal(lily, await Text(r, ModelA, "Lily went to the park"));
        Assert.True(r.FrontDoor.Directory.Statistics.RequestsByTarget.GetValueOrDefault(a.Address) >= 3);
        // Requests for B's model go to B from the router and from A, streamed or not.
        Assert.Equal(expectedB, await Text(r, ModelB, "Once upon a time"));
        Assert.Equal(expectedB, await StreamedText(r, ModelB, "Once upon a time"));
        Assert.Equal(expectedB, await Text(a, ModelB, "Once upon a time"));
        Assert.Equal(expectedA, await StreamedText(b, ModelA, "Once upon a time"));
        Assert.True(r.FrontDoor.Directory.Statistics.RequestsByTarget.GetValueOrDefault(b.Address) >= 2);

        // A model no node serves: 404 model_not_found, as from a single server.
        foreach (var node in new[] { r, a })
        {
            var missing = await Post(node, new { model = "no-such-model", prompt = "Hi", max_tokens = 4 });
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            var error = (await Json(missing)).GetProperty("error");
            Assert.Equal("The model `no-such-model` does not exist.", error.GetProperty("message").GetString());
            Assert.Equal("NotFoundError", error.GetProperty("type").GetString());
            Assert.Equal("model", error.GetProperty("param").GetString());
            Assert.Equal("model_not_found", error.GetProperty("code").GetString());
        }
        // A request forwarded once is answered where it lands, never sent on again.
        using var forwarded = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = JsonContent.Create(new { model = ModelB, prompt = "Hi", max_tokens = 4 }),
        };
        forwarded.Headers.Add(ModelForwarding.ForwardedHeader, "akka.tcp://llm-engine@127.0.0.1:1");
        Assert.Equal(HttpStatusCode.NotFound, (await a.Http.SendAsync(forwarded)).StatusCode);

        // What only a replica's own engine can run is refused by the router, clearly.
        var local = await Post(r, new { model = ModelA, prompt = "Hi", max_tokens = 4, include_stop_str_in_output = true });
        Assert.Equal(HttpStatusCode.BadRequest, local.StatusCode);
        Assert.Contains("router (--no-engine)", (await Json(local)).GetProperty("error").GetProperty("message").GetString());

        await ClusterNode.AllBlocksFree(a.Engine!);
        await ClusterNode.AllBlocksFree(b.Engine!);
    }

    private static Task<HttpResponseMessage> Post(ClusterServer node, object body) => node.Http.PostAsJsonAsync("/v1/completions", body);

    private static async Task<JsonElement> Json(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    private static async Task<string> Text(ClusterServer node, string model, string prompt)
    {
        var response = await Post(node, new { model, prompt, max_tokens = 16, temperature = 0 });
        var body = await Json(response);
        Assert.True(response.IsSuccessStatusCode, body.ToString());
        Assert.Equal(model, body.GetProperty("model").GetString());
        return body.GetProperty("choices")[0].GetProperty("text").GetString()!;
    }

    private static async Task<string> StreamedText(ClusterServer node, string model, string prompt)
    {
        var run = await new CompletionStream(node.Http, new { model, prompt, max_tokens = 16, temperature = 0, stream = true }).Completion;
        Assert.Null(run.Error);
        Assert.True(run.Done);
        return run.Text;
    }
}
