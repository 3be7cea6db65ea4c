namespace LlmEngine.Kernels.Loading;

/// <summary>Where each tensor of a legacy llama2.c checkpoint lies. The file stacks each kind of
/// per-layer weight over the layers; we present one tensor per layer under its Hugging Face LLaMA
/// name. The two unused RoPE tables have no name (null) and are never read.
/// <code>
/// header(28) | embed | rms_att[L] | wq[L] | wk[L] | wv[L] | wo[L] | rms_ffn[L] | w1[L] | w2[L] | w3[L]
///            | rms_final | freq_cis_real | freq_cis_imag | wcls (only when not shared)
/// </code>
/// </summary>
internal static class Llama2cLayout
{
    /// <summary>A float32 tensor at <see cref="Offset"/> bytes from the start of the file.</summary>
    public sealed record Entry(string? Name, long[] Shape, long Offset);

    /// <summary>One stored array: a single tensor, or one per layer when the name has a {0}.</summary>
    private sealed record StoredArray(string? Name, long[] Shape)
    {
        public bool PerLayer => Name?.Contains("{0}") == true;
    }

    /// <summary>The exact size of a file with this header. Int128, because a corrupt header can
    /// claim sizes that overflow 64 bits, and must be refused before anything is enumerated.</summary>
    public static Int128 FileSize(Llama2cHeader h)
    {
        Int128 size = Llama2cHeader.Bytes;
        foreach (var array in Arrays(h))
        {
            Int128 floats = array.PerLayer ? h.NumLayers : 1;
            foreach (long dim in array.Shape) floats *= dim;
            size += floats * sizeof(float);
        }
        return size;
    }

    /// <summary>All tensors in file order; call only once <see cref="FileSize"/> matched the file.</summary>
    public static IEnumerable<Entry> Entries(Llama2cHeader h)
    {
        long offset = Llama2cHeader.Bytes;
        foreach (var array in Arrays(h))
        {
            long bytes = array.Shape.Aggregate((long)sizeof(float), (n, dim) => n * dim);
            for (int layer = 0; layer < (array.PerLayer ? h.NumLayers : 1); layer++)
            {
                string? name = array.Name is null ? null : string.Format(array.Name, layer);
                yield return new Entry(name, array.Shape, offset);
                offset += bytes;
            }
        }
    }

    private static StoredArray[] Arrays(Llama2cHeader h)
    {
        var arrays = new List<StoredArray>
        {
            new("model.embed_tokens.weight", [h.VocabSize, h.Dim]),
            new("model.layers.{0}.input_layernorm.weight", [h.Dim]),
            new("model.layers.{0}.self_attn.q_proj.weight", [h.Dim, h.Dim]),
            new("model.layers.{0}.self_attn.k_proj.weight", [h.KvDim, h.Dim]),
            new("model.layers.{0}.self_attn.v_proj.weight", [h.KvDim, h.Dim]),
            new("model.layers.{0}.self_attn.o_proj.weight", [h.Dim, h.Dim]),
            new("model.layers.{0}.post_attention_layernorm.weight", [h.Dim]),
            new("model.layers.{0}.mlp.gate_proj.weight", [h.HiddenDim, h.Dim]), // w1
            new("model.layers.{0}.mlp.down_proj.weight", [h.Dim, h.HiddenDim]), // w2
            new("model.layers.{0}.mlp.up_proj.weight", [h.HiddenDim, h.Dim]), // w3
            new("model.norm.weight", [h.Dim]),
            new(null, [h.SeqLen, h.HeadSize / 2]), // freq_cis_real
            new(null, [h.SeqLen, h.HeadSize / 2]), // freq_cis_imag
        };
        if (!h.SharedClassifier)
            arrays.Add(new("lm_head.weight", [h.VocabSize, h.Dim]));
        return [.. arrays];
    }
}
