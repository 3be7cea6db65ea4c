using System.Text.Json;
using LlmEngine.Actors.Engine;
using LlmEngine.Host.Api;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Scheduling;
using LlmEngine.Tests.Engine;
using LlmEngine.Tests.Loading;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;

namespace LlmEngine.Tests.Dashboard;

/// <summary>
/// The dashboard in a real browser while the engine shares prefixes, forks parallel samples and
/// swaps requests out of a cache too small for them: what the page shows is the engine's state.
/// </summary>
[Trait("Category", "Slow")]
[Collection(TimingCollection.Name)]
public sealed class DashboardBrowserTests
{
    // The DOM read in one script turn, so it is one frame's state.
    private const string ReadPage = """
        () => ({
          step: Number(document.getElementById('frame-step').textContent),
          deviceCells: document.querySelectorAll('#device-map .cell').length,
          swapCells: document.querySelectorAll('#swap-map .cell').length,
          sharedCells: document.querySelectorAll('#device-map .s-s').length,
          swappedCells: document.querySelectorAll('#swap-map .s-w').length,
          freeCells: document.querySelectorAll('#device-map .s-f, #device-map .s-c').length,
          shared: Number(document.getElementById('stat-shared').textContent),
          swapped: Number(document.getElementById('stat-swapped').textContent),
          free: Number(document.getElementById('stat-free').textContent),
          swapBlocks: Number(document.getElementById('stat-swap-blocks').textContent),
          requests: [...document.querySelectorAll('#requests tbody tr')].map(tr => tr.dataset.requestId),
        })
        """;

    private sealed record PageState(long Step, int DeviceCells, int SwapCells, int SharedCells, int SwappedCells, int FreeCells,
        int Shared, int Swapped, int Free, int SwapBlocks, string[] Requests);

    [Fact]
    public async Task TheBlockMapAndRequestsShowTheEnginesStateAsItRuns()
    {
        await using var engine = InferenceEngine.Start(new EngineOptions
        {
            Model = SharedModels.Stories260K, NumBlocks = 48, BlockSize = 4, PreemptionMode = PreemptionMode.Swap, SwapSpaceGiB = 0.0003,
        });
        var app = OpenAiServer.Build(engine, new ServerOptions { Port = 0, DashboardInterval = TimeSpan.FromMilliseconds(100) },
            b => b.Logging.ClearProviders());
        await app.StartAsync();
        var (playwright, browser) = await Chromium.Launch();
        try
        {
            var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1500, Height = 1100 } });
            await page.GotoAsync(new Uri(OpenAiServer.BoundAddress(app), "dashboard").ToString());
            await page.WaitForSelectorAsync("#device-map .cell");

            var samples = new List<PageState>();
            // It ends at the first frame with shared and swapped blocks (25-55 s at load 15-20); the budget is
            // for a machine busier still (90 s ran out once while a build ran beside it).
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(180));
            var seen = new HashSet<string>();
            string? screenshot = null;
            // Until one frame showed shared and swapped blocks at once (the screenshot), not only each in some frame.
            for (int round = 0; round < 6 && screenshot is null; round++)
            {
                var work = Workload(engine, round, stop.Token);
                while (!work.IsCompleted)
                {
                    var state = await Read(page);
                    samples.Add(state);
                    seen.UnionWith(state.Requests);
                    if (screenshot is null && state.Shared > 0 && state.Swapped > 0)
                        screenshot = await Screenshot(page);
                    await Task.Delay(25);
                }
                await work;
            }

            Assert.All(samples, s =>
            {
                Assert.Equal(engine.NumBlocks, s.DeviceCells);
                Assert.Equal(s.SwapBlocks, s.SwapCells);
                Assert.Equal(s.Shared, s.SharedCells);
                Assert.Equal(s.Swapped, s.SwappedCells);
                Assert.Equal(s.Free, s.FreeCells);
            });
            Assert.True(AnyPositive(samples, s => s.Shared), "no frame showed a shared block");
            Assert.True(AnyPositive(samples, s => s.Swapped), "no frame showed a swapped block");
            Assert.True(samples[0].SwapCells > 0, "the swap space should have blocks");

            // Every request has finished now: the rows seen while they ran are gone.
            Assert.NotEmpty(seen);
            await page.WaitForFunctionAsync("() => document.querySelectorAll('#requests tbody tr').length === 0",
                null, new PageWaitForFunctionOptions { Timeout = 10_000 });
            Assert.NotNull(screenshot);
            Assert.True(new FileInfo(screenshot).Length > 10_000, "the screenshot should hold the page");
        }
        finally
        {
            await browser.CloseAsync();
            playwright.Dispose();
            await app.StopAsync();
            await app.DisposeAsync();
        }
        await EngineRuns.AssertAllBlocksFree(engine);
    }

    private static bool AnyPositive(List<PageState> samples, Func<PageState, int> count) => samples.Any(s => count(s) > 0);

    // Taken while blocks are shared and swapped, with a shared block's owners shown as on hover;
    // null when the shared blocks were gone before the pointer got there (the next frame retries).
    private static async Task<string?> Screenshot(IPage page)
    {
        try
        {
            await page.HoverAsync("#device-map .s-s", new PageHoverOptions { Timeout = 2000 });
            await page.WaitForFunctionAsync("() => document.getElementById('block-detail').textContent.startsWith('device block')",
                null, new PageWaitForFunctionOptions { Timeout = 2000 });
        }
        catch (TimeoutException)
        {
            return null;
        }
        var path = Path.Combine(Path.GetTempPath(), $"llm-engine-dashboard-{Guid.NewGuid():N}.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        return path;
    }

    private static async Task<PageState> Read(IPage page)
    {
        var json = await page.EvaluateAsync<JsonElement>(ReadPage);
        return json.Deserialize<PageState>(new JsonSerializerOptions(JsonSerializerDefaults.Web))!;
    }

    // Requests sharing a 32-token prefix (prefix-cache hits share its blocks) and requests with
    // parallel samples (forks share the prompt's blocks): more than 48 blocks of 4 tokens hold,
    // so the latest arrivals are swapped out and back in.
    private static Task Workload(InferenceEngine engine, int round, CancellationToken ct)
    {
        var requests = new List<Task>();
        for (int i = 0; i < 6; i++)
        {
            var prompt = Prompt(1, 32).Concat(Prompt(10 + i + round * 10, 8)).ToArray();
            requests.Add(EngineRuns.Final(engine, new GenerationRequest($"r{round}-shared-{i}", prompt,
                new SamplingParameters { Temperature = 1, Seed = i, MaxTokens = 100, IgnoreEos = true }), ct));
        }
        for (int i = 0; i < 2; i++)
            requests.Add(EngineRuns.Final(engine, new GenerationRequest($"r{round}-n-{i}", Prompt(50 + i + round * 10, 20),
                new SamplingParameters { Temperature = 1, Seed = i, N = 2, MaxTokens = 60, IgnoreEos = true }), ct));
        return Task.WhenAll(requests);
    }

    private static int[] Prompt(int seed, int length) => Enumerable.Range(0, length).Select(i => 1 + (seed * 31 + i * 7) % 500).ToArray();
}
