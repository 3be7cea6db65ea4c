using LlmEngine.Scheduling;
using LlmEngine.Kernels.Sampling;

namespace LlmEngine.Actors.Engine;

/// <summary>
/// What a request may ask of this engine beyond its prompt (<see cref="RequestValidation"/>), checked
/// before it is queued, after its sampling values, so that no request can make a step throw: no more
/// parallel samples than a step seats, a beam width whose top-2n candidates exist in the vocabulary,
/// logit_bias ids inside the vocabulary (vLLM's wording), and stop strings of bounded number and
/// length (each is searched for after every token).
/// </summary>
public static class RequestLimits
{
    public const int MaxStopStrings = 64;
    public const int MaxStopStringLength = 1024;

    /// <summary>Throws <see cref="ArgumentException"/> whose ParamName is the API field at fault.</summary>
    /// <param name="slidingWindow">the window behind which the cache releases blocks (0: none)</param>
    public static void Check(GenerationRequest request, int vocab, int numBlocks, EngineOptions options, int slidingWindow = 0)
    {
        var sampling = request.Sampling;
        long total = (long)request.PromptTokenIds.Count + sampling.MaxTokens;
        if (sampling.N > options.MaxNumSeqs)
            throw new ArgumentException($"n must be at most {options.MaxNumSeqs} (the engine's max_num_seqs), got {sampling.N}", "n");
        if (sampling.UseBeamSearch && 2L * sampling.N > vocab)
            throw new ArgumentException($"beam search ranks 2 x n candidates, so n must be at most {vocab / 2} for this model's vocabulary of {vocab}, got {sampling.N}", "n");
        if (sampling.Logprobs > vocab)
            throw new ArgumentException($"logprobs must be at most the vocabulary size {vocab}, got {sampling.Logprobs}", "logprobs");
        var outOfVocab = sampling.LogitBias.Keys.Where(id => id >= vocab).Order().ToList();
        if (outOfVocab.Count > 0)
            throw new ArgumentException($"token_id(s) [{string.Join(", ", outOfVocab)}] in logit_bias contain out-of-vocab token ids. Vocabulary size: {vocab}", "logit_bias");
        if (sampling.Stop.Count > MaxStopStrings)
            throw new ArgumentException($"at most {MaxStopStrings} stop strings are allowed, got {sampling.Stop.Count}", "stop");
        if (sampling.Stop.Any(s => s.Length > MaxStopStringLength))
            throw new ArgumentException($"stop strings must be at most {MaxStopStringLength} characters long", "stop");
        // The prompt's blocks are shared by all n sequences; each needs its own blocks for its
        // output (plus one copied on write). A request that cannot fit alone would never finish.
        long B = options.BlockSize;
        long blocksNeeded = sampling.N == 1 ? (total + B - 1) / B
            : (request.PromptTokenIds.Count + B - 1) / B + sampling.N * ((sampling.MaxTokens + B - 1) / B + 1);
        // Behind a sliding window a sequence holds at most the blocks of its window and of one
        // step's tokens (a recomputed sequence comes back in chunks of the step budget).
        if (slidingWindow > 0 && options.KvLayout == KvLayout.Paged)
        {
            long step = Math.Min(total, options.MaxNumBatchedTokens);
            blocksNeeded = Math.Min(blocksNeeded, sampling.N * ((step + slidingWindow - 1 + B - 1) / B + 1));
        }
        if (blocksNeeded > numBlocks)
            throw new ArgumentException($"the request needs up to {blocksNeeded} KV blocks but the cache has {numBlocks}", "max_tokens");
    }
}
