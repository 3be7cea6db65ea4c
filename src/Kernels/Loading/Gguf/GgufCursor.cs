using System.Buffers.Binary;
using System.Text;

namespace LlmEngine.Kernels.Loading.Gguf;

/// <summary>Reads GGUF's little-endian header fields from a mapped file, refusing to read past its
/// end: a truncated or corrupt file is a <see cref="ModelLoadException"/> naming the file and the
/// offset, never a crash or a huge allocation.</summary>
internal sealed class GgufCursor(MappedFile file)
{
    public long Position { get; private set; }

    public string Path => file.Path;

    public uint UInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, "a 4-byte field"));
    public ulong UInt64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, "an 8-byte field"));

    /// <summary>A count or size that must fit what is left of the file at <paramref name="bytesEach"/>
    /// bytes per item (so a corrupt count cannot ask for a giant array).</summary>
    public int Count(string what, long bytesEach)
    {
        ulong count = UInt64();
        if (count > int.MaxValue || (long)count * bytesEach > file.Length - Position)
            throw Corrupt($"{what} {count} does not fit in the file");
        return (int)count;
    }

    public string String()
    {
        int length = Count("string length", 1);
        return Encoding.UTF8.GetString(Take(length, "a string"));
    }

    public object Value(GgufValueType type) => type switch
    {
        GgufValueType.UInt8 => Take(1, "a uint8")[0],
        GgufValueType.Int8 => (sbyte)Take(1, "an int8")[0],
        GgufValueType.UInt16 => BinaryPrimitives.ReadUInt16LittleEndian(Take(2, "a uint16")),
        GgufValueType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(Take(2, "an int16")),
        GgufValueType.UInt32 => UInt32(),
        GgufValueType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(Take(4, "an int32")),
        GgufValueType.Float32 => BinaryPrimitives.ReadSingleLittleEndian(Take(4, "a float32")),
        GgufValueType.Bool => Take(1, "a bool")[0] switch
        {
            0 => false,
            1 => true,
            byte b => throw Corrupt($"bool value {b} is neither 0 nor 1"),
        },
        GgufValueType.String => String(),
        GgufValueType.Array => Array(),
        GgufValueType.UInt64 => UInt64(),
        GgufValueType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(Take(8, "an int64")),
        GgufValueType.Float64 => BinaryPrimitives.ReadDoubleLittleEndian(Take(8, "a float64")),
        _ => throw Corrupt($"unknown metadata value type {(uint)type}"),
    };

    /// <summary>An array as a typed .NET array (string[], float[], int[], ...; arrays of arrays as object[]).</summary>
    private Array Array()
    {
        var type = (GgufValueType)UInt32();
        int count = Count("array length", type switch
        {
            GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
            GgufValueType.UInt16 or GgufValueType.Int16 => 2,
            GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 or GgufValueType.String => 8,
            _ => 4,
        });
        return type switch
        {
            GgufValueType.UInt8 => Fill<byte>(count, type),
            GgufValueType.Int8 => Fill<sbyte>(count, type),
            GgufValueType.UInt16 => Fill<ushort>(count, type),
            GgufValueType.Int16 => Fill<short>(count, type),
            GgufValueType.UInt32 => Fill<uint>(count, type),
            GgufValueType.Int32 => Fill<int>(count, type),
            GgufValueType.Float32 => Fill<float>(count, type),
            GgufValueType.Bool => Fill<bool>(count, type),
            GgufValueType.String => Fill<string>(count, type),
            GgufValueType.UInt64 => Fill<ulong>(count, type),
            GgufValueType.Int64 => Fill<long>(count, type),
            GgufValueType.Float64 => Fill<double>(count, type),
            GgufValueType.Array => Fill<object>(count, type),
            _ => throw Corrupt($"unknown array element type {(uint)type}"),
        };
    }

    private T[] Fill<T>(int count, GgufValueType type)
    {
        var values = new T[count];
        for (int i = 0; i < count; i++) values[i] = (T)Value(type);
        return values;
    }

    public void AlignTo(long alignment) => Position = (Position + alignment - 1) / alignment * alignment;

    public ModelLoadException Corrupt(string problem) => new($"{file.Path}: not a valid GGUF file at byte {Position}: {problem}");

    private ReadOnlySpan<byte> Take(int count, string what)
    {
        if (count > file.Length - Position)
            throw Corrupt($"the file ends before {what}");
        var bytes = file.Bytes(Position, count);
        Position += count;
        return bytes;
    }
}
