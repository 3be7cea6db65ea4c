namespace LlmEngine.Kernels.Structured;

/// <summary>A set of byte values (256 bits): the one kind of terminal the automata match.
/// Constraints speak characters; they are compiled to UTF-8 bytes so that a token's bytes can
/// be matched whatever the tokenizer split them into (a token may end inside a character).</summary>
internal readonly record struct ByteClass(ulong A, ulong B, ulong C, ulong D)
{
    public static ByteClass Of(byte b) => Range(b, b);

    public static ByteClass Range(byte lo, byte hi)
    {
        var bits = new ulong[4];
        for (int v = lo; v <= hi; v++) bits[v >> 6] |= 1UL << (v & 63);
        return new(bits[0], bits[1], bits[2], bits[3]);
    }

    public bool Contains(byte b) => ((b >> 6) switch { 0 => A, 1 => B, 2 => C, _ => D } >> (b & 63) & 1) != 0;

    public bool IsEmpty => (A | B | C | D) == 0;

    public ByteClass Union(ByteClass o) => new(A | o.A, B | o.B, C | o.C, D | o.D);

    public ByteClass Except(ByteClass o) => new(A & ~o.A, B & ~o.B, C & ~o.C, D & ~o.D);

    public static readonly ByteClass Ascii = Range(0, 0x7F);
}
