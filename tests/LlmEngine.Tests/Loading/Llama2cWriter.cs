using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Native;
using TorchSharp;

namespace LlmEngine.Tests.Loading;

/// <summary>Writes a legacy llama2.c checkpoint from weights under their Hugging Face LLaMA names
/// (the names <see cref="Llama2cCheckpoint"/> presents), so tests can write one model in both
/// formats. The unused RoPE tables are written as zeros.</summary>
internal static class Llama2cWriter
{
    public static void Write(string path, Llama2cHeader header, IReadOnlyDictionary<string, torch.Tensor> hfNamedWeights)
    {
        if (header.Problem() is string problem)
            throw new ArgumentException($"cannot write a llama2.c checkpoint: {problem}", nameof(header));
        var entries = Llama2cLayout.Entries(header).ToList();
        Check(entries, hfNamedWeights);

        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        var bytes = new byte[Llama2cHeader.Bytes];
        header.WriteTo(bytes);
        stream.Write(bytes);
        foreach (var entry in entries)
        {
            if (entry.Name is null)
            {
                WriteZeros(stream, entry.Shape.Aggregate((long)sizeof(float), (n, dim) => n * dim));
                continue;
            }
            // The scope frees the float32 copy, and leaves the caller's tensor alone if to() returns it.
            using var scope = torch.NewDisposeScope();
            TensorMemory.Write(hfNamedWeights[entry.Name].to(torch.ScalarType.Float32), stream);
        }
    }

    /// <summary>Every weight present with its shape and nothing extra, checked before a byte is written.</summary>
    private static void Check(List<Llama2cLayout.Entry> entries, IReadOnlyDictionary<string, torch.Tensor> weights)
    {
        var named = entries.Where(e => e.Name is not null).ToList();
        var expected = named.Select(e => e.Name!).ToHashSet();
        if (weights.Keys.FirstOrDefault(name => !expected.Contains(name)) is string extra)
            throw new ArgumentException($"'{extra}' has no place in a llama2.c checkpoint with this header", nameof(weights));
        foreach (var entry in named)
        {
            if (!weights.TryGetValue(entry.Name!, out var tensor))
                throw new ArgumentException($"'{entry.Name}' is missing", nameof(weights));
            if (!tensor.shape.SequenceEqual(entry.Shape))
                throw new ArgumentException($"'{entry.Name}' has shape [{string.Join(", ", tensor.shape)}], expected [{string.Join(", ", entry.Shape)}]", nameof(weights));
        }
    }

    private static void WriteZeros(Stream stream, long count)
    {
        var zeros = new byte[Math.Min(count, 1 << 20)];
        for (long done = 0; done < count; done += zeros.Length)
            stream.Write(zeros, 0, (int)Math.Min(zeros.Length, count - done));
    }
}
