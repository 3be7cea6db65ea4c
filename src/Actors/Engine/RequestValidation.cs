using LlmEngine.Kernels.Tokenizers;

namespace LlmEngine.Actors.Engine;

/// <summary>The checks of a request's prompt that every door applies (the engine before queueing,
/// the HTTP server before it starts a response), with one wording: vLLM's. Failures are
/// <see cref="ArgumentException"/>s whose ParamName is the API field at fault.</summary>
public static class RequestValidation
{
    /// <param name="param">the field the prompt came in ("prompt", or "messages" for chat)</param>
    public static void Prompt(IReadOnlyList<int> tokens, int maxTokens, int vocabSize, int maxModelLength, string param = "prompt")
    {
        if (tokens.Count == 0) throw new ArgumentException("The prompt cannot be empty.", param);
        foreach (var id in tokens)
            if (id < 0 || id >= vocabSize) throw new ArgumentException($"Token id {id} is out of vocabulary (size {vocabSize}).", param);
        // long: a max_tokens near int.MaxValue must not wrap below the limit.
        long total = (long)tokens.Count + maxTokens;
        if (total > maxModelLength)
            throw new ArgumentException($"This model's maximum context length is {maxModelLength} tokens. However, you requested {total} tokens " +
                $"({tokens.Count} in the messages, {maxTokens} in the completion). Please reduce the length of the messages or completion.", "max_tokens");
    }

    /// <summary>A prompt's text checked by its size before it is tokenized: one longer than the
    /// context could hold however it tokenizes is refused at once, so no client can make the server
    /// tokenize megabytes it would refuse anyway (<see cref="TokenizerBounds"/>).</summary>
    public static void PromptText(string text, ITokenizer tokenizer, int maxModelLength, string param = "prompt")
    {
        long limit = (long)maxModelLength * TokenizerBounds.MaxCharsPerToken(tokenizer);
        if (text.Length > limit)
            throw new ArgumentException($"The prompt is {text.Length} characters long, more than this model's maximum context length of " +
                $"{maxModelLength} tokens can hold (at most {limit} characters). Please reduce the length of the prompt.", param);
    }

    /// <summary><see cref="PromptText"/>, then the tokenizing itself, which stops when <paramref name="ct"/> is cancelled.</summary>
    public static int[] Tokenize(string text, bool addSpecialTokens, ITokenizer tokenizer, int maxModelLength, string param, CancellationToken ct)
    {
        PromptText(text, tokenizer, maxModelLength, param);
        return tokenizer.Encode(text, addSpecialTokens, ct);
    }
}
