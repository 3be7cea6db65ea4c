using System.Text;

namespace LlmEngine.Kernels.Tokenizers;

/// <summary>
/// The embedded default model's tokenizer: one token per UTF-8 byte (ids 3..258), with
/// 0 = unknown, 1 = BOS, 2 = EOS, the layout of llama2.c's byte-fallback pieces. It needs no
/// files, so the default model always runs.
/// </summary>
internal sealed class ByteTokenizer : ITokenizer
{
    private const int ByteOffset = 3;

    public int VocabSize => 256 + ByteOffset;
    public int? BosTokenId => 1;
    public int? EosTokenId => 2;

    public int[] Encode(string text, bool addSpecialTokens = true)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var ids = new List<int>(bytes.Length + 1);
        if (addSpecialTokens) ids.Add(1);
        foreach (var b in bytes) ids.Add(b + ByteOffset);
        return ids.ToArray();
    }

    public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = true)
    {
        var bytes = new List<byte>(ids.Count);
        foreach (var id in ids)
        {
            if (id >= ByteOffset && id < VocabSize) bytes.Add((byte)(id - ByteOffset));
            else if (!skipSpecialTokens) bytes.AddRange(Encoding.UTF8.GetBytes(id switch { 1 => "<s>", 2 => "</s>", _ => "<unk>" }));
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    public bool IsSpecial(int id) => id < ByteOffset;

    public byte[] TokenBytes(int id) => id >= ByteOffset && id < VocabSize ? [(byte)(id - ByteOffset)] : [];
}
