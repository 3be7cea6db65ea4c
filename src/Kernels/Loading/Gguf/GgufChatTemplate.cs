namespace LlmEngine.Kernels.Loading.Gguf;

/// <summary>What a chat front end needs from a GGUF file: <c>tokenizer.chat_template</c> and the texts of
/// its BOS and EOS tokens (the template's <c>bos_token</c> and <c>eos_token</c>).</summary>
public sealed record GgufChatTemplate(string? Template, string? BosToken, string? EosToken)
{
    public static GgufChatTemplate Read(string path)
    {
        using var file = GgufFile.Open(path);
        var m = file.Metadata;
        var tokens = m.StringArray("tokenizer.ggml.tokens") ?? [];
        string? Text(string key) => m.IntegerOrNull(key) is long id && id >= 0 && id < tokens.Length ? tokens[id] : null;
        return new(m.StringOrNull("tokenizer.chat_template"), Text("tokenizer.ggml.bos_token_id"), Text("tokenizer.ggml.eos_token_id"));
    }
}
