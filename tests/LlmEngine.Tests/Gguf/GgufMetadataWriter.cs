using System.Text;

namespace LlmEngine.Tests.Gguf;

/// <summary>Writes a GGUF v3 file holding only metadata (strings, uint32s, float32s, bools and their
/// arrays), for tests of what the reader makes of keys the shared files lack.</summary>
internal static class GgufMetadataWriter
{
    public static void Write(string path, IReadOnlyDictionary<string, object> metadata)
    {
        using var stream = File.Create(path);
        using var w = new BinaryWriter(stream);
        w.Write(Encoding.ASCII.GetBytes("GGUF"));
        w.Write(3u);
        w.Write(0UL);
        w.Write((ulong)metadata.Count);
        foreach (var (key, value) in metadata)
        {
            String(w, key);
            Value(w, value, withType: true);
        }
    }

    private static void Value(BinaryWriter w, object value, bool withType)
    {
        (uint type, Action write) = value switch
        {
            string s => (8u, (Action)(() => String(w, s))),
            uint u => (4u, () => w.Write(u)),
            float f => (6u, () => w.Write(f)),
            bool b => (7u, () => w.Write(b)),
            Array a => (9u, () =>
            {
                w.Write(a switch { string[] => 8u, uint[] => 4u, float[] => 6u, int[] => 5u, _ => throw new ArgumentException(a.GetType().Name) });
                w.Write((ulong)a.Length);
                foreach (var e in a) Value(w, e, withType: false);
            }),
            int i => (5u, () => w.Write(i)),
            _ => throw new ArgumentException(value.GetType().Name),
        };
        if (withType) w.Write(type);
        write();
    }

    private static void String(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }
}
