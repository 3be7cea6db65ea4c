using System.Text.Json;

namespace LlmEngine.Kernels.Tokenizers;

/// <summary>What tokenizer_config.json (transformers' side of a Hugging Face tokenizer) adds to
/// tokenizer.json: which tokens are BOS and EOS, and whether to add them when encoding.</summary>
internal sealed record TokenizerConfig(string? BosToken, string? EosToken, bool? AddBosToken, bool? AddEosToken)
{
    public static readonly TokenizerConfig None = new(null, null, null, null);

    public static TokenizerConfig Parse(JsonElement config) => new(
        Token(config, "bos_token"), Token(config, "eos_token"),
        config.Opt("add_bos_token")?.GetBoolean(), config.Opt("add_eos_token")?.GetBoolean());

    /// <summary>A token given as a string or as a serialized AddedToken object.</summary>
    private static string? Token(JsonElement config, string name) => config.Opt(name) switch
    {
        { ValueKind: JsonValueKind.Object } token => token.Str("content"),
        { } token => token.GetString(),
        null => null,
    };
}
