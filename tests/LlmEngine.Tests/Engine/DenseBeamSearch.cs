using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Sampling;
using LlmEngine.Scheduling;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Tests.Engine;

/// <summary>
/// Beam search on the dense reference path with no block sharing at all: every step each beam's
/// whole sequence is run again from scratch in its own cache. Only the ranking rule (the
/// <see cref="BeamSearch"/> policy) is shared with the engine, so a difference points at the
/// engine's forking, copy-on-write or freeing of beams.
/// </summary>
internal static class DenseBeamSearch
{
    public static IReadOnlyList<BeamHypothesis> Run(ICausalLanguageModel model, int[] prompt, SamplingParameters sampling, IReadOnlyCollection<int> eos)
    {
        var search = new BeamSearch(sampling.ToCompletionTerms(), eos);
        var beams = new List<Beam> { new([], 0) };
        while (true)
        {
            var candidates = beams.Select(b => Candidates(model, prompt, b.Tokens, sampling, eos)).ToList();
            var next = search.Step(beams, candidates);
            beams = next.Select(e => new Beam(beams[e.Parent].Tokens.Append(e.Token).ToList(), e.CumulativeLogprob)).ToList();
            bool atLimit = beams.Count > 0 && beams[0].Tokens.Count >= sampling.MaxTokens;
            if (search.Done || atLimit || beams.Count == 0) return search.Finish(beams, "length");
        }
    }

    private static IReadOnlyList<TokenLogprob> Candidates(ICausalLanguageModel model, int[] prompt, IReadOnlyList<int> output, SamplingParameters sampling, IReadOnlyCollection<int> eos)
    {
        var tokens = prompt.Concat(output).ToArray();
        var config = model.Config;
        using var attention = new DenseAttention(config.NumLayers, config.KvHeads, config.HeadSize, config.MaxPositions, model.DType, model.Device);
        using var batch = new AttentionBatch([0], [0, tokens.Length], [tokens.Length], [], []);
        using var noGrad = no_grad();
        using var logits = model.Forward(tensor(tokens.Select(t => (long)t).ToArray()), arange(tokens.Length, dtype: int64), batch, attention,
            tensor(new long[] { tokens.Length - 1 }));
        var banned = output.Count < sampling.MinTokens ? eos.Concat(sampling.StopTokenIds).ToList() : [];
        var row = new SamplingRow(sampling with { Temperature = 0 }, prompt, output, 0, banned, 2 * sampling.N);
        return Sampler.Sample(logits, [row])[0].Top;
    }
}
