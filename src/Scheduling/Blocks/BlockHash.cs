using System.Buffers.Binary;
using K4os.Hash.xxHash;

namespace LlmEngine.Scheduling.Blocks;

/// <summary>
/// The prefix-cache key of one full block: XXH64 over (parent hash, extra key, the block's
/// token ids). Chaining through the parent makes block i's hash stand for every token up to
/// the end of block i, so equal hashes mean "probably the same prefix" in one lookup.
/// Only "probably": <see cref="BlockPool"/> still checks tokens and the parent's identity,
/// so a collision costs a cache miss, never a wrong output.
/// <code>
///   tokens  [t0 .. t(B-1)] [tB .. t(2B-1)] [t2B ..]
///   hashes   h0 = H(Root,b0)  h1 = H(h0,b1)   (partial block: no hash)
/// </code>
/// </summary>
public readonly record struct BlockHash(ulong Value)
{
    /// <summary>The parent of block 0.</summary>
    public static readonly BlockHash Root = default;

    /// <summary>
    /// Hash of one block after <paramref name="parent"/>. <paramref name="extraKey"/> separates
    /// caches whose KV differs for the same tokens (a LoRA adapter, a model salt); 0 when none.
    /// Bytes are written little-endian so a hash is the same on every machine.
    /// </summary>
    public static BlockHash Of(BlockHash parent, ReadOnlySpan<int> tokens, ulong extraKey = 0)
    {
        int length = 16 + 4 * tokens.Length;
        Span<byte> bytes = length <= 512 ? stackalloc byte[length] : new byte[length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, parent.Value);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes[8..], extraKey);
        for (int i = 0; i < tokens.Length; i++)
            BinaryPrimitives.WriteInt32LittleEndian(bytes[(16 + 4 * i)..], tokens[i]);
        return new BlockHash(XXH64.DigestOf(bytes));
    }

    public override string ToString() => Value.ToString("x16");
}
