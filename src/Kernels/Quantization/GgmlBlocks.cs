using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace LlmEngine.Kernels.Quantization;

// ggml's block structs, byte for byte (ggml-common.h). Half is IEEE binary16, little-endian, as ggml_half.
// Element i of a block is decoded as the comments say; GgmlDequantizer is the executable definition.

/// <summary>32 elements: x[i] = d * qs[i].</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockQ8_0
{
    public const int Bytes = 34;
    public Half D;
    public Q32 Qs;

    [InlineArray(32)]
    public struct Q32 { private sbyte _e; }
}

/// <summary>32 elements: x[i] = d * ((qs[i] &amp; 15) - 8) and x[i + 16] = d * ((qs[i] &gt;&gt; 4) - 8), i &lt; 16.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockQ4_0
{
    public const int Bytes = 18;
    public Half D;
    public Q16 Qs;

    [InlineArray(16)]
    public struct Q16 { private byte _e; }
}

/// <summary>256 elements in 8 sub-blocks of 32, each with a 6-bit scale and a 6-bit min packed in
/// <c>Scales</c> (see <see cref="KQuantScales"/>): x = d * scale * q - dmin * min, q a 4-bit value.
/// Each 32-byte run of <c>Qs</c> holds two sub-blocks: low nibbles the first, high nibbles the second.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockQ4_K
{
    public const int Bytes = 144;
    public Half D;
    public Half DMin;
    public Scales12 Scales;
    public Q128 Qs;
}

/// <summary>Q4_K plus a fifth bit per element in <c>Qh</c>: bit 2j (first) and 2j + 1 (second
/// sub-block) of byte l belong to element l of the j-th pair of sub-blocks.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockQ5_K
{
    public const int Bytes = 176;
    public Half D;
    public Half DMin;
    public Scales12 Scales;
    public Q32Bytes Qh;
    public Q128 Qs;
}

/// <summary>256 elements in 16 sub-blocks of 16 with signed 8-bit scales: x = d * scale * (q - 32), q a
/// 6-bit value whose low 4 bits are in <c>Ql</c> and high 2 bits in <c>Qh</c>.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct BlockQ6_K
{
    public const int Bytes = 210;
    public Q128 Ql;
    public Q64 Qh;
    public S16 Scales;
    public Half D;

    [InlineArray(64)]
    public struct Q64 { private byte _e; }

    [InlineArray(16)]
    public struct S16 { private sbyte _e; }
}

[InlineArray(12)]
internal struct Scales12 { private byte _e; }

[InlineArray(32)]
internal struct Q32Bytes { private byte _e; }

[InlineArray(128)]
internal struct Q128 { private byte _e; }
