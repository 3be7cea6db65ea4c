using System.Globalization;
using System.Reflection;

namespace LlmEngine.Kernels.Tokenizers.Unicode;

/// <summary>The normalization data, read once from the embedded normalization.txt (its format is in
/// scripts/unicode-normalization-table.py): combining classes, full decompositions (mappings applied
/// until nothing maps further) and the primary composites by their pair.</summary>
internal sealed class UnicodeTables
{
    private static readonly Lazy<UnicodeTables> Loaded = new(Read);

    public static UnicodeTables Instance => Loaded.Value;

    private readonly Dictionary<int, byte> _classes = new();

    public Dictionary<int, int[]> CanonicalDecomposition { get; } = new();
    public Dictionary<int, int[]> CompatibilityDecomposition { get; } = new();

    /// <summary>(first &lt;&lt; 21 | second) to the character they compose to.</summary>
    public Dictionary<long, int> Compositions { get; } = new();

    public int CombiningClass(int cp) => cp < 0x300 ? 0 : _classes.GetValueOrDefault(cp);

    private static UnicodeTables Read()
    {
        var tables = new UnicodeTables();
        var canonical = new Dictionary<int, int[]>();
        var compatibility = new Dictionary<int, int[]>();
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("LlmEngine.Kernels.Tokenizers.Unicode.normalization.txt")
            ?? throw new InvalidOperationException("the Unicode normalization table is not embedded");
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line[0] == '#') continue;
            var f = line.Split(' ');
            int[] values = f.Skip(1).Select(h => int.Parse(h, NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray();
            switch (f[0])
            {
                case "c":
                    for (int cp = values[0]; cp <= values[1]; cp++) tables._classes[cp] = (byte)int.Parse(f[3], CultureInfo.InvariantCulture);
                    break;
                case "d" or "x":
                    canonical[values[0]] = values[1..];
                    if (f[0] == "d" && values.Length == 3) tables.Compositions[((long)values[1] << 21) | (uint)values[2]] = values[0];
                    break;
                case "k":
                    compatibility[values[0]] = values[1..];
                    break;
                default: throw new InvalidDataException($"normalization table: unknown line '{line}'");
            }
        }
        foreach (int cp in canonical.Keys) tables.CanonicalDecomposition[cp] = Expand(cp, canonical, null);
        foreach (int cp in canonical.Keys.Concat(compatibility.Keys))
            tables.CompatibilityDecomposition[cp] = Expand(cp, canonical, compatibility);
        return tables;
    }

    /// <summary>Applies the mappings until no code point maps further (Hangul syllables included:
    /// a compatibility mapping may produce one).</summary>
    private static int[] Expand(int cp, Dictionary<int, int[]> canonical, Dictionary<int, int[]>? compatibility)
    {
        var parts = compatibility?.GetValueOrDefault(cp) ?? canonical.GetValueOrDefault(cp);
        if (parts is null)
        {
            var syllable = new List<int>();
            return Hangul.TryDecompose(cp, syllable) ? [.. syllable] : [cp];
        }
        return parts.SelectMany(p => Expand(p, canonical, compatibility)).ToArray();
    }
}
