namespace LlmEngine.Kernels.Tokenizers;

/// <summary>GPT-2's <c>bytes_to_unicode</c>: every byte gets a visible character, so byte-level
/// vocabularies can be stored as text (the space byte is 'Ġ', newline 'Ċ'). Printable Latin-1
/// bytes map to themselves; the other 68 take U+0100 upwards in byte order.
/// Microsoft.ML.Tokenizers has this table but keeps it internal.</summary>
internal static class ByteLevelAlphabet
{
    public static readonly char[] ByteToChar = Build();
    public static readonly Dictionary<char, byte> CharToByte =
        Enumerable.Range(0, 256).ToDictionary(b => ByteToChar[b], b => (byte)b);

    private static char[] Build()
    {
        var table = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            table[b] = printable ? (char)b : (char)next++;
        }
        return table;
    }

    /// <summary>The UTF-8 bytes of <paramref name="text"/>, one alphabet character each.</summary>
    public static string Encode(string text)
    {
        byte[] utf8 = System.Text.Encoding.UTF8.GetBytes(text);
        return string.Create(utf8.Length, utf8, (chars, bytes) =>
        {
            for (int i = 0; i < bytes.Length; i++)
                chars[i] = ByteToChar[bytes[i]];
        });
    }
}
