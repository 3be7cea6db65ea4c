using LlmEngine.Host.Api;
using LlmEngine.Kernels.Loading.Gguf;
using LlmEngine.Tests.Loading;

namespace LlmEngine.Tests.Gguf;

/// <summary>A GGUF file's chat template, and its byte-level BPE (<c>gpt2</c>) vocabulary.</summary>
public class GgufChatAndBpeTests
{
    // GPT-2's byte-to-character map for printable ASCII is the identity; a space is 'Ġ'.
    private static readonly string[] Tokens = ["h", "e", "l", "o", "Ġ", "w", "r", "d", "he", "ll", "hell", "hello", "Ġw", "Ġwor", "or", "Ġworld", "ld", "<|end|>", "1", "2", "3", "4"];
    private static readonly string[] Merges = ["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "l d", "Ġwor ld"];

    private static string WriteVocabulary(TempDir dir, string pre, string? template = null)
    {
        var types = Tokens.Select(t => t == "<|end|>" ? 3 : 1).ToArray();
        var metadata = new Dictionary<string, object>
        {
            ["general.architecture"] = "llama",
            ["tokenizer.ggml.model"] = "gpt2",
            ["tokenizer.ggml.pre"] = pre,
            ["tokenizer.ggml.tokens"] = Tokens,
            ["tokenizer.ggml.token_type"] = types,
            ["tokenizer.ggml.merges"] = Merges,
            ["tokenizer.ggml.eos_token_id"] = (uint)Array.IndexOf(Tokens, "<|end|>"),
            ["tokenizer.ggml.bos_token_id"] = (uint)Array.IndexOf(Tokens, "<|end|>"),
        };
        if (template is not null) metadata["tokenizer.chat_template"] = template;
        string path = dir.File("vocab.gguf");
        GgufMetadataWriter.Write(path, metadata);
        return path;
    }

    private static LlmEngine.Kernels.Tokenizers.ITokenizer Tokenizer(string path)
    {
        using var file = GgufFile.Open(path);
        return GgufTokenizer.Load(file)!;
    }

    [Fact]
    public void Gpt2VocabularyMergesByRankAndMatchesControlTokensInText()
    {
        using var dir = new TempDir();
        var tokenizer = Tokenizer(WriteVocabulary(dir, "gpt2"));
        int Id(string t) => Array.IndexOf(Tokens, t);
        Assert.Equal([Id("hello"), Id("Ġworld"), Id("<|end|>")], tokenizer.Encode("hello world<|end|>"));
        Assert.Equal("hello world", tokenizer.Decode(tokenizer.Encode("hello world<|end|>")));
        Assert.True(tokenizer.IsSpecial(Id("<|end|>")));
    }

    [Fact]
    public void Llama3PreTokenizerSplitsDigitsInThrees()
    {
        using var dir = new TempDir();
        var gpt2 = Tokenizer(WriteVocabulary(dir, "gpt2"));
        using var dir3 = new TempDir();
        var llama3 = Tokenizer(WriteVocabulary(dir3, "llama-bpe"));
        // Without merges of digits both give one token per digit; the splits differ only in grouping,
        // which decoding undoes.
        Assert.Equal(gpt2.Encode("1234"), llama3.Encode("1234"));
        Assert.Equal("1234", llama3.Decode(llama3.Encode("1234")));
    }

    [Fact]
    public void UnknownPreTokenizerIsALoadErrorNamingIt()
    {
        using var dir = new TempDir();
        string path = WriteVocabulary(dir, "mystery");
        var error = Assert.Throws<LlmEngine.Kernels.Loading.ModelLoadException>(() => Tokenizer(path));
        Assert.Contains("pre-tokenizer 'mystery' is not supported", error.Message);
    }

    [Fact]
    public void ChatTemplateAndItsSpecialTokensComeFromTheFile()
    {
        using var dir = new TempDir();
        string path = WriteVocabulary(dir, "gpt2", "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{{ eos_token }}{% endfor %}");
        var chat = ChatPrompt.Load(new ServerOptions { ModelFile = path, ModelDirectory = dir.Path });
        var messages = new[] { new Dictionary<string, object?> { ["role"] = "user", ["content"] = "hi" } };
        Assert.Equal("<user>hi<|end|>", chat.Render(messages, addGenerationPrompt: false));
    }
}
