using System.Net;

namespace LlmEngine.Tests.Server;

public sealed class InfoEndpointTests : IAsyncLifetime
{
    private ServerHost _server = null!;

    public async Task InitializeAsync() => _server = await ServerHost.Start(configure: o => o.ServedModelName = "my-model");
    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task ModelsListsTheServedModelWithItsMaxModelLength()
    {
        var r = await ServerHost.Json(await _server.Http.GetAsync("/v1/models"));

        Assert.Equal("list", r.GetProperty("object").GetString());
        var card = Assert.Single(r.GetProperty("data").EnumerateArray());
        Assert.Equal(("my-model", "model", 128), (card.GetProperty("id").GetString(), card.GetProperty("object").GetString(), card.GetProperty("max_model_len").GetInt32()));
    }

    [Fact]
    public async Task AModelByIdIsItsCardAndAnotherNameIs404()
    {
        var card = await ServerHost.Json(await _server.Http.GetAsync("/v1/models/my-model"));
        Assert.Equal(("my-model", "model", "llm-engine"), (card.GetProperty("id").GetString(), card.GetProperty("object").GetString(), card.GetProperty("owned_by").GetString()));

        var missing = await _server.Http.GetAsync("/v1/models/org/other-model");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        var error = (await ServerHost.Json(missing)).GetProperty("error");
        Assert.Equal(("The model `org/other-model` does not exist.", "model_not_found"), (error.GetProperty("message").GetString(), error.GetProperty("code").GetString()));
    }

    [Fact]
    public async Task PingAndHeadAnswerAsHealthDoes()
    {
        Assert.Equal(HttpStatusCode.OK, (await _server.Http.GetAsync("/ping")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _server.Http.PostAsync("/ping", null)).StatusCode);
        foreach (var path in new[] { "/health", "/ping" })
            Assert.Equal(HttpStatusCode.OK, (await _server.Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, path))).StatusCode);
        _server.Engine.IsServing = false;
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await _server.Http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/health"))).StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await _server.Http.GetAsync("/ping")).StatusCode);
    }

    [Fact]
    public async Task ServedModelNameIsTheOneClientsPass()
    {
        var ok = await _server.Post("/v1/completions", new { model = "my-model", prompt = "a", max_tokens = 1 });
        var engineName = await _server.Post("/v1/completions", new { model = "fake-model", prompt = "a", max_tokens = 1 });

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.NotFound), (ok.StatusCode, engineName.StatusCode));
    }

    [Fact]
    public async Task HealthIs200WhileServing() =>
        Assert.Equal(HttpStatusCode.OK, (await _server.Http.GetAsync("/health")).StatusCode);

    [Fact]
    public async Task HealthIs503WhenTheEngineIsNotServing()
    {
        _server.Engine.IsServing = false;

        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await _server.Http.GetAsync("/health")).StatusCode);
    }

    [Fact]
    public async Task VersionReportsAVersionString()
    {
        var r = await ServerHost.Json(await _server.Http.GetAsync("/version"));

        Assert.False(string.IsNullOrEmpty(r.GetProperty("version").GetString()));
    }

    [Fact]
    public async Task TokenizeAddsBosToAPromptAndReportsCountAndMaxModelLen()
    {
        var r = await ServerHost.Json(await _server.Post("/tokenize", new { prompt = "ab" }));

        Assert.Equal([FakeTokenizer.Bos, 3 + 'a', 3 + 'b'], r.GetProperty("tokens").EnumerateArray().Select(t => t.GetInt32()));
        Assert.Equal((3, 128), (r.GetProperty("count").GetInt32(), r.GetProperty("max_model_len").GetInt32()));
    }

    [Fact]
    public async Task TokenizeWithoutSpecialTokensLeavesBosOut()
    {
        var r = await ServerHost.Json(await _server.Post("/tokenize", new { prompt = "ab", add_special_tokens = false }));

        Assert.Equal(2, r.GetProperty("count").GetInt32());
    }

    [Fact]
    public async Task DetokenizeTurnsTokensBackIntoThePrompt()
    {
        var r = await ServerHost.Json(await _server.Post("/detokenize", new { tokens = new[] { FakeTokenizer.Bos, 3 + 'h', 3 + 'i' } }));

        Assert.Equal("hi", r.GetProperty("prompt").GetString());
    }

    [Fact]
    public async Task DetokenizeWithoutTokensIs400() =>
        Assert.Equal(HttpStatusCode.BadRequest, (await _server.Post("/detokenize", new { prompt = "x" })).StatusCode);
}

public sealed class MetricsTests : IAsyncLifetime
{
    private ServerHost _server = null!;

    public async Task InitializeAsync() => _server = await ServerHost.Start();
    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<string> Scrape()
    {
        var response = await _server.Http.GetAsync("/metrics");
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadAsStringAsync();
    }

    [Theory]
    [InlineData("vllm:num_requests_running")]
    [InlineData("vllm:num_requests_waiting")]
    [InlineData("vllm:num_requests_swapped")]
    [InlineData("vllm:request_abort_total")]
    [InlineData("vllm:request_rejected_total")]
    [InlineData("vllm:kv_cache_usage_perc")]
    [InlineData("vllm:num_preemptions_total")]
    [InlineData("vllm:prompt_tokens_total")]
    [InlineData("vllm:generation_tokens_total")]
    [InlineData("vllm:time_to_first_token_seconds")]
    [InlineData("vllm:inter_token_latency_seconds")]
    [InlineData("vllm:e2e_request_latency_seconds")]
    [InlineData("vllm:request_queue_time_seconds")]
    [InlineData("vllm:request_prefill_time_seconds")]
    [InlineData("vllm:request_decode_time_seconds")]
    [InlineData("vllm:request_inference_time_seconds")]
    [InlineData("vllm:request_prompt_tokens")]
    [InlineData("vllm:request_generation_tokens")]
    [InlineData("vllm:request_params_n")]
    [InlineData("vllm:request_params_max_tokens")]
    [InlineData("vllm:cache_config_info")]
    public async Task MetricsExposeVllmNames(string name) =>
        Assert.Contains($"# TYPE {name} ", await Scrape());

    [Fact]
    public async Task GaugesAreReadFromEngineStatisticsAtScrapeTime()
    {
        _server.Engine.Waiting = 7;
        _server.Engine.KvCacheUsage = 0.25;

        var text = await Scrape();

        Assert.Contains("vllm:num_requests_waiting{model_name=\"fake-model\"} 7", text);
        Assert.Contains("vllm:kv_cache_usage_perc{model_name=\"fake-model\"} 0.25", text);
    }

    [Fact]
    public async Task SwappedRequestsAbortsByReasonAndRejectionsAreExported()
    {
        _server.Engine.Swapped = 3;
        _server.Engine.Rejected = 5;
        _server.Engine.Aborts["client"] = 4;
        _server.Engine.Aborts["shutdown"] = 2;

        var text = await Scrape();

        Assert.Contains("vllm:num_requests_swapped{model_name=\"fake-model\"} 3", text);
        Assert.Contains("vllm:request_rejected_total{model_name=\"fake-model\"} 5", text);
        Assert.Contains("vllm:request_abort_total{model_name=\"fake-model\",reason=\"client\"} 4", text);
        Assert.Contains("vllm:request_abort_total{model_name=\"fake-model\",reason=\"shutdown\"} 2", text);
        // A reason with no abort yet is exported as 0, so a rate over it is defined from the start.
        Assert.Contains("vllm:request_abort_total{model_name=\"fake-model\",reason=\"engine_dead\"} 0", text);
    }

    [Fact]
    public async Task CompletedRequestsCountTokensSuccessesAndLatencies()
    {
        await _server.Post("/v1/completions", new { prompt = "abc", max_tokens = 5 });
        await _server.Post("/v1/completions", new { prompt = "abc", max_tokens = 3, stream = true });

        var text = await Scrape();

        Assert.Contains("vllm:prompt_tokens_total{model_name=\"fake-model\"} 8", text);
        Assert.Contains("vllm:generation_tokens_total{model_name=\"fake-model\"} 8", text);
        Assert.Contains("vllm:request_success_total{model_name=\"fake-model\",finished_reason=\"length\"} 2", text);
        Assert.Contains("vllm:e2e_request_latency_seconds_count{model_name=\"fake-model\"} 2", text);
        Assert.Contains("vllm:time_to_first_token_seconds_count{model_name=\"fake-model\"} 2", text);
        Assert.Contains("vllm:inter_token_latency_seconds_count{model_name=\"fake-model\"} 6", text);
    }

    [Fact]
    public async Task EachRequestsLengthsParametersAndPhasesAreObserved()
    {
        await _server.Post("/v1/completions", new { prompt = "abc", max_tokens = 5, n = 2 });

        var text = await Scrape();

        Assert.Contains("vllm:request_prompt_tokens_sum{model_name=\"fake-model\"} 4", text);
        Assert.Contains("vllm:request_generation_tokens_sum{model_name=\"fake-model\"} 10", text);
        Assert.Contains("vllm:request_params_max_tokens_sum{model_name=\"fake-model\"} 5", text);
        Assert.Contains("vllm:request_params_n_bucket{model_name=\"fake-model\",le=\"1\"} 0", text);
        Assert.Contains("vllm:request_params_n_bucket{model_name=\"fake-model\",le=\"2\"} 1", text);
        foreach (var phase in new[] { "prefill", "decode", "inference" })
            Assert.Contains($"vllm:request_{phase}_time_seconds_count{{model_name=\"fake-model\"}} 1", text);
    }

    [Fact]
    public async Task TokensPerStepAreAHistogramWithVllmsBuckets()
    {
        long[] counts = new long[LlmEngine.Actors.Engine.IterationTokens.VllmBounds.Length + 1];
        (counts[1], counts[2], counts[^1]) = (2, 1, 1);
        _server.Engine.IterationTokens = new(LlmEngine.Actors.Engine.IterationTokens.VllmBounds, counts, 20_020);

        var text = await Scrape();

        Assert.Contains("# TYPE vllm:iteration_tokens_total histogram", text);
        foreach (var (le, n) in new[] { ("1", 0), ("8", 2), ("16", 3), ("16384", 3), ("+Inf", 4) })
            Assert.Contains($"vllm:iteration_tokens_total_bucket{{model_name=\"fake-model\",le=\"{le}\"}} {n}\n", text);
        Assert.Contains("vllm:iteration_tokens_total_sum{model_name=\"fake-model\"} 20020\n", text);
        Assert.Contains("vllm:iteration_tokens_total_count{model_name=\"fake-model\"} 4\n", text);
    }

    [Fact]
    public void LengthBucketsAreOneTwoFiveUpToTheModelLength() =>
        Assert.Equal([1, 2, 5, 10, 20, 50, 100], LlmEngine.Host.Metrics.ServerMetrics.OneTwoFive(128));

    [Fact]
    public async Task TwoServersKeepTheirOwnMetrics()
    {
        await using var other = await ServerHost.Start();
        await other.Post("/v1/completions", new { prompt = "abc", max_tokens = 2 });

        Assert.DoesNotContain("vllm:request_success_total{", await Scrape());
    }
}
