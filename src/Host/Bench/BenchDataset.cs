namespace LlmEngine.Host.Bench;

public enum DatasetKind { Random, SharegptLike, AlpacaLike, SharedPrefix, MultiTenant }

/// <summary>One benchmark request: prompt token ids and how many tokens to generate (EOS ignored).</summary>
internal sealed record BenchRequest(int[] PromptTokenIds, int OutputLength)
{
    public int PromptLength => PromptTokenIds.Length;
}

/// <summary>What to draw: the dataset, lengths for random, shared-prefix and multi-tenant, and the seed.
/// <see cref="PrefixLength"/> null means the default (all but a 16-token suffix); <see cref="Tenants"/>
/// is the number of distinct shared prefixes (system prompts) of multi-tenant.</summary>
internal sealed record DatasetSpec(DatasetKind Kind, int NumPrompts, int InputLength, int OutputLength, double RangeRatio = 0, int? PrefixLength = null, int Seed = 0, int Tenants = 8);

/// <summary>
/// Synthetic request sets. Token ids are uniform over the vocabulary without the ids below 3
/// (unknown, BOS, EOS in LLaMA vocabularies), so prompts are distinct and never hit the prefix
/// cache by accident, except shared-prefix, which is built to.
/// <para>The sharegpt-like and alpaca-like lengths are log-normal with the means that the
/// PagedAttention paper (Kwon et al., SOSP 2023, Figure 11) gives for the two data sets
/// vLLM was measured on: ShareGPT 161.31 input and 337.99 output tokens, Alpaca 19.31 and 58.45.
/// The paper shows the histograms but gives no spread; sigma (log space) is our choice:
/// 1.0 for ShareGPT (coefficient of variation 1.31, a long tail, as its histograms show) and
/// 0.6 for Alpaca (0.66), consistent with the paper's "higher variance" for ShareGPT.</para>
/// </summary>
internal static class BenchDataset
{
    public const int FirstTokenId = 3;
    public const int DefaultSuffixLength = 16;

    public static readonly LengthDistribution SharegptInput = LengthDistribution.LogNormal(161.31, 1.0);
    public static readonly LengthDistribution SharegptOutput = LengthDistribution.LogNormal(337.99, 1.0);
    public static readonly LengthDistribution AlpacaInput = LengthDistribution.LogNormal(19.31, 0.6);
    public static readonly LengthDistribution AlpacaOutput = LengthDistribution.LogNormal(58.45, 0.6);

    public static DatasetKind Parse(string name) => name switch
    {
        "random" => DatasetKind.Random,
        "sharegpt-like" => DatasetKind.SharegptLike,
        "alpaca-like" => DatasetKind.AlpacaLike,
        "shared-prefix" => DatasetKind.SharedPrefix,
        "multi-tenant" => DatasetKind.MultiTenant,
        _ => throw new ArgumentException($"--dataset '{name}' is not known (random, sharegpt-like, alpaca-like, shared-prefix, multi-tenant)"),
    };

    public static string Name(DatasetKind kind) => kind switch
    {
        DatasetKind.SharegptLike => "sharegpt-like",
        DatasetKind.AlpacaLike => "alpaca-like",
        DatasetKind.SharedPrefix => "shared-prefix",
        DatasetKind.MultiTenant => "multi-tenant",
        _ => "random",
    };

    /// <summary>The input and output length distributions of a dataset.</summary>
    public static (LengthDistribution Input, LengthDistribution Output) Lengths(DatasetSpec spec) => spec.Kind switch
    {
        DatasetKind.SharegptLike => (SharegptInput, SharegptOutput),
        DatasetKind.AlpacaLike => (AlpacaInput, AlpacaOutput),
        _ => (LengthDistribution.Fixed(spec.InputLength, spec.RangeRatio), LengthDistribution.Fixed(spec.OutputLength, spec.RangeRatio)),
    };

    /// <param name="context">Most tokens a request may hold (prompt plus output): the engine's
    /// maximum model length, or less where the KV cache is smaller.</param>
    public static IReadOnlyList<BenchRequest> Generate(DatasetSpec spec, int vocabSize, int context)
    {
        if (vocabSize <= FirstTokenId) throw new ArgumentException($"the vocabulary ({vocabSize} ids) has no ids above {FirstTokenId - 1} to draw from");
        if (context < 2) throw new ArgumentException($"a context of {context} tokens cannot hold a prompt and an output");
        if (spec.NumPrompts < 1) throw new ArgumentException("--num-prompts must be at least 1");
        var random = new Random(spec.Seed);
        var (inputs, outputs) = Lengths(spec);
        var requests = new List<BenchRequest>(spec.NumPrompts);
        int[][] prefixes = [[]];
        if (spec.Kind is DatasetKind.SharedPrefix or DatasetKind.MultiTenant)
        {
            if (spec.Tenants < 1) throw new ArgumentException("--num-tenants must be at least 1");
            var (total, _) = Fit(spec.InputLength, spec.OutputLength, context);
            int wanted = spec.PrefixLength ?? DefaultPrefix(spec.InputLength);
            // The shared part shrinks with the clipped prompt, leaving at least one distinct token.
            int length = Math.Clamp(Math.Min(wanted, total - 1), 0, int.MaxValue);
            prefixes = [.. Enumerable.Range(0, spec.Kind == DatasetKind.MultiTenant ? spec.Tenants : 1).Select(_ => Tokens(random, length, vocabSize))];
        }
        for (int i = 0; i < spec.NumPrompts; i++)
        {
            var (input, output) = Fit(inputs.Sample(random), outputs.Sample(random), context);
            // Multi-tenant: each request is one tenant's (its system prompt), drawn uniformly.
            var prefix = prefixes[prefixes.Length == 1 ? 0 : random.Next(prefixes.Length)];
            int own = Math.Max(input - prefix.Length, 1);
            requests.Add(new BenchRequest([.. prefix, .. Tokens(random, own, vocabSize)], output));
        }
        return requests;
    }

    /// <summary>The default shared prefix of a shared-prefix prompt of this length: all but a
    /// 16-token distinct suffix, or half of a prompt of 32 tokens or fewer.</summary>
    public static int DefaultPrefix(int inputLength) =>
        inputLength > 2 * DefaultSuffixLength ? inputLength - DefaultSuffixLength : inputLength / 2;

    /// <summary>
    /// Clips a drawn (input, output) pair into <paramref name="context"/> tokens: both are at
    /// least 1; a pair that does not fit is scaled down in proportion (input' = floor(input *
    /// context / (input + output)), at least 1 and at most context - 1; output' = context - input'),
    /// so the request fills the context and keeps its shape.
    /// </summary>
    public static (int Input, int Output) Fit(int input, int output, int context)
    {
        input = Math.Max(input, 1);
        output = Math.Max(output, 1);
        if ((long)input + output <= context) return (input, output);
        int clipped = (int)Math.Clamp((long)input * context / ((long)input + output), 1, context - 1);
        return (clipped, context - clipped);
    }

    private static int[] Tokens(Random random, int count, int vocabSize)
    {
        var ids = new int[count];
        for (int i = 0; i < count; i++) ids[i] = random.Next(FirstTokenId, vocabSize);
        return ids;
    }
}
