using LlmEngine.Host.Bench;

namespace LlmEngine.Tests.Bench;

public class DatasetTests
{
    private static IReadOnlyList<BenchRequest> Draw(DatasetKind kind, int n, int context = 1 << 20, int input = 128, int output = 128, int? prefix = null, int seed = 1) =>
        BenchDataset.Generate(new DatasetSpec(kind, n, input, output, PrefixLength: prefix, Seed: seed), 32000, context);

    [Theory]
    [InlineData(DatasetKind.SharegptLike, 161.31, 337.99)]
    [InlineData(DatasetKind.AlpacaLike, 19.31, 58.45)]
    public void UnclippedLengthsHaveThePublishedMeansWithinFivePercent(DatasetKind kind, double input, double output)
    {
        var requests = Draw(kind, 20000);

        Assert.InRange(requests.Average(r => r.PromptLength), input * 0.95, input * 1.05);
        Assert.InRange(requests.Average(r => r.OutputLength), output * 0.95, output * 1.05);
    }

    [Fact]
    public void SharegptLikeHasTheWiderSpread()
    {
        static double Cv(IEnumerable<int> xs)
        {
            var v = xs.Select(x => (double)x).ToList();
            return LatencyStats.Std(v) / v.Average();
        }

        Assert.True(Cv(Draw(DatasetKind.SharegptLike, 5000).Select(r => r.OutputLength)) > 1.5 * Cv(Draw(DatasetKind.AlpacaLike, 5000).Select(r => r.OutputLength)));
    }

    [Theory]
    [InlineData(512)]
    [InlineData(2048)]
    public void ClippedRequestsFitTheContextAndKeepAtLeastOneTokenEach(int context)
    {
        var requests = Draw(DatasetKind.SharegptLike, 5000, context);

        Assert.All(requests, r => Assert.True(r.PromptLength >= 1 && r.OutputLength >= 1 && r.PromptLength + r.OutputLength <= context));
        Assert.Contains(requests, r => r.PromptLength + r.OutputLength == context);
    }

    [Theory]
    [InlineData(300, 700, 500, 150, 350)]
    [InlineData(100, 100, 500, 100, 100)]
    [InlineData(1, 1000, 10, 1, 9)]
    [InlineData(1000, 1, 10, 9, 1)]
    [InlineData(0, 0, 10, 1, 1)]
    public void FitScalesAPairThatDoesNotFitInProportion(int input, int output, int context, int expectedInput, int expectedOutput) =>
        Assert.Equal((expectedInput, expectedOutput), BenchDataset.Fit(input, output, context));

    [Fact]
    public void RandomPromptsHaveTheGivenLengthsAndIdsFromThreeUpToTheVocabulary()
    {
        var requests = BenchDataset.Generate(new DatasetSpec(DatasetKind.Random, 50, 40, 7, Seed: 3), 259, 2048);

        Assert.All(requests, r => Assert.Equal((40, 7), (r.PromptLength, r.OutputLength)));
        var ids = requests.SelectMany(r => r.PromptTokenIds).ToList();
        Assert.Equal((3, 258), (ids.Min(), ids.Max()));
    }

    [Fact]
    public void RangeRatioSpreadsLengthsUniformlyAroundTheGivenOne()
    {
        var requests = BenchDataset.Generate(new DatasetSpec(DatasetKind.Random, 4000, 100, 100, RangeRatio: 0.5, Seed: 3), 259, 2048);

        Assert.Equal((50, 150), (requests.Min(r => r.PromptLength), requests.Max(r => r.PromptLength)));
        Assert.InRange(requests.Average(r => r.OutputLength), 97, 103);
    }

    [Fact]
    public void SharedPrefixPromptsShareTheirPrefixAndDifferAfterIt()
    {
        var requests = Draw(DatasetKind.SharedPrefix, 8, input: 200, prefix: 180);

        Assert.All(requests, r => Assert.Equal(requests[0].PromptTokenIds[..180], r.PromptTokenIds[..180]));
        Assert.Equal(8, requests.Select(r => string.Join(",", r.PromptTokenIds[180..])).Distinct().Count());
        Assert.All(requests, r => Assert.Equal(200, r.PromptLength));
    }

    [Fact]
    public void SharedPrefixShrinksWithAClippedPromptButLeavesADistinctToken()
    {
        var requests = Draw(DatasetKind.SharedPrefix, 4, context: 100, input: 300, output: 100);

        Assert.All(requests, r => Assert.Equal((75, 25), (r.PromptLength, r.OutputLength)));
        Assert.All(requests, r => Assert.Equal(requests[0].PromptTokenIds[..74], r.PromptTokenIds[..74]));
    }

    [Fact]
    public void TheSameSeedDrawsTheSameRequests() =>
        Assert.Equal(Draw(DatasetKind.SharegptLike, 20, seed: 5).Select(r => string.Join(",", r.PromptTokenIds) + "/" + r.OutputLength),
            Draw(DatasetKind.SharegptLike, 20, seed: 5).Select(r => string.Join(",", r.PromptTokenIds) + "/" + r.OutputLength));

    [Fact]
    public void MultiTenantPromptsAreOneOfKSystemPromptsEachWithItsOwnQuestion()
    {
        var requests = BenchDataset.Generate(new DatasetSpec(DatasetKind.MultiTenant, 400, 416, 32, PrefixLength: 400, Seed: 2, Tenants: 8), 512, 2048);

        var tenants = requests.GroupBy(r => string.Join(',', r.PromptTokenIds.Take(400))).ToList();
        Assert.Equal(8, tenants.Count);
        Assert.All(tenants, t => Assert.InRange(t.Count(), 25, 80));
        Assert.All(requests, r => Assert.Equal(416, r.PromptLength));
        Assert.Equal(400, requests.Select(r => string.Join(',', r.PromptTokenIds.Skip(400))).Distinct().Count());
    }
}
