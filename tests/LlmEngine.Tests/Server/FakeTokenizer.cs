using System.Text;
using LlmEngine.Kernels.Tokenizers;

namespace LlmEngine.Tests.Server;

/// <summary>One token per UTF-8 byte (id = byte + 3) after the specials: 0 "&lt;s&gt;" (BOS),
/// 1 "&lt;/s&gt;" (EOS), 2 "&lt;pad&gt;". Encoding adds BOS when asked.</summary>
public sealed class FakeTokenizer : ITokenizer
{
    public const int Bos = 0, Eos = 1, Pad = 2, Offset = 3;
    private static readonly string[] Specials = ["<s>", "</s>", "<pad>"];

    public int VocabSize => 256 + Offset;
    public int? BosTokenId => Bos;
    public int? EosTokenId => Eos;

    /// <summary>"&lt;s&gt;" and "&lt;/s&gt;" in the text become their special ids, as real tokenizers
    /// treat special-token strings that a chat template writes.</summary>
    public int[] Encode(string text, bool addSpecialTokens = true)
    {
        var ids = new List<int>();
        if (addSpecialTokens) ids.Add(Bos);
        var parts = System.Text.RegularExpressions.Regex.Split(text, "(<s>|</s>)");
        foreach (var part in parts)
        {
            if (part == "<s>") ids.Add(Bos);
            else if (part == "</s>") ids.Add(Eos);
            else ids.AddRange(Encoding.UTF8.GetBytes(part).Select(b => b + Offset));
        }
        return [.. ids];
    }

    public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = true)
    {
        var sb = new StringBuilder();
        var bytes = new List<byte>();
        foreach (var id in ids)
        {
            if (id >= Offset) { bytes.Add((byte)(id - Offset)); continue; }
            sb.Append(Encoding.UTF8.GetString([.. bytes]));
            bytes.Clear();
            if (!skipSpecialTokens) sb.Append(Specials[id]);
        }
        return sb.Append(Encoding.UTF8.GetString([.. bytes])).ToString();
    }

    public bool IsSpecial(int id) => id < Offset;

    public byte[] TokenBytes(int id) => id >= Offset && id < VocabSize ? [(byte)(id - Offset)] : [];
}
