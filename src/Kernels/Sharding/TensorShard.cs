using System.Diagnostics;
using LlmEngine.Kernels.Loading;
using LlmEngine.Kernels.Models;
using LlmEngine.Kernels.Models.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace LlmEngine.Kernels.Sharding;

/// <summary>A rank's query heads and key/value heads, as ranges of the full model's heads.</summary>
public sealed record AttentionHeads(int QueryStart, int Query, int KvStart, int Kv, int HeadSize)
{
    /// <summary>The rows of a [heads x headSize, ...] projection (or the columns of the output
    /// projection) that this rank's query heads own.</summary>
    public (long Start, long Count) QueryRows => ((long)QueryStart * HeadSize, (long)Query * HeadSize);
    public (long Start, long Count) KvRows => ((long)KvStart * HeadSize, (long)Kv * HeadSize);
}

/// <summary>
/// The part of every layer that one tensor-parallel rank owns (Megatron-LM). Column-parallel
/// projections (query/key/value by head, MLP gate/up or fc1 by intermediate unit) keep the rank's
/// rows of the weight; row-parallel ones (attention output, MLP down or fc2) keep the matching
/// columns, so their products are partial sums that one all-reduce completes, and their biases
/// are added once after it. The token embedding is replicated (a lookup costs nothing and saves an
/// all-reduce); the LM head is split by vocabulary, since it is the largest matrix and a replica
/// would repeat its work on every rank: each rank returns its slice of the logits.
/// With fewer key/value heads than ranks, key/value heads are replicated, as in vLLM: rank r keeps
/// the head its query heads read. <see cref="Whole"/> is the unsplit model.
/// </summary>
public sealed class TensorShard
{
    private readonly IAllReduce? _group;
    private long _reduceTicks;

    public TensorShard(int rank, int size, IAllReduce? group)
    {
        if (size < 1 || rank < 0 || rank >= size) throw new ArgumentOutOfRangeException(nameof(rank), $"rank {rank} of {size}");
        if (size > 1 && group is null) throw new ArgumentNullException(nameof(group), "a split model needs an all-reduce group");
        (Rank, Size, _group) = (rank, size, group);
    }

    public static TensorShard Whole { get; } = new(0, 1, null);

    public int Rank { get; }
    public int Size { get; }
    public bool IsWhole => Size == 1;

    /// <summary>The LM head whole on rank 0 and on no other rank, instead of split by vocabulary: ranks on
    /// other nodes (<see cref="SocketAllReduce"/>), where rank 0 is on the node that samples and a vocabulary
    /// slice from each other rank would cross the network (samples x vocabulary / T values each step).</summary>
    public bool HeadOnRankZero { get; init; }

    /// <summary>Whether this rank holds the final norm and the LM head (of a stage that has them).</summary>
    public bool HoldsHead => !HeadOnRankZero || Rank == 0;

    /// <summary>Whether this rank's LM head is its slice of the vocabulary.</summary>
    public bool SplitsHead => !IsWhole && !HeadOnRankZero;

    /// <summary>Seconds this rank spent in all-reduces (waiting for the other ranks included).</summary>
    public double CommunicationSeconds => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _reduceTicks)).TotalSeconds;
    /// <summary>Bytes of partial sums this rank handed to all-reduces.</summary>
    public long BytesReduced { get; private set; }
    public int AllReduces { get; private set; }

    /// <summary>Why <paramref name="config"/> cannot be split <paramref name="size"/> ways, or null when it can.</summary>
    public static string? Problem(ModelConfig config, int size)
    {
        if (size == 1) return null;
        if (config.Architecture is not (ModelArchitecture.Llama or ModelArchitecture.Gpt2 or ModelArchitecture.Opt))
            return $"tensor parallelism splits the LLaMA, GPT-2 and OPT families; {config.Architecture} is not split yet";
        if (config.NumHeads % size != 0) return $"{config.NumHeads} attention heads do not split evenly over {size} ranks";
        if (config.KvHeads % size != 0 && size % config.KvHeads != 0)
            return $"{config.KvHeads} key/value heads neither split evenly over {size} ranks nor replicate evenly to them";
        if (config.IntermediateSize % size != 0) return $"the MLP's {config.IntermediateSize} units do not split evenly over {size} ranks";
        if (config.VocabSize < size) return $"a vocabulary of {config.VocabSize} cannot be split over {size} ranks";
        return null;
    }

    public void Check(ModelConfig config, string source)
    {
        if (Problem(config, Size) is { } problem) throw new ModelLoadException($"{source}: --tensor-parallel-size {Size}: {problem}");
    }

    /// <summary>This rank's equal share of <paramref name="total"/> items.</summary>
    public (long Start, long Count) Even(long total) => (Rank * (total / Size), total / Size);

    /// <summary>This rank's slice of the vocabulary (the last ranks get one row less when it does not divide).</summary>
    public (long Start, long Count) Vocabulary(long vocab)
    {
        long start = Rank * vocab / Size, end = (Rank + 1) * vocab / Size;
        return (start, end - start);
    }

    public AttentionHeads Heads(ModelConfig config)
    {
        int query = config.NumHeads / Size, queryStart = Rank * query;
        if (config.KvHeads >= Size)
        {
            int kv = config.KvHeads / Size;
            return new AttentionHeads(queryStart, query, Rank * kv, kv, config.HeadSize);
        }
        // Replicated: each key/value head serves NumHeads / KvHeads query heads, all on whole ranks.
        return new AttentionHeads(queryStart, query, queryStart / (config.NumHeads / config.KvHeads), 1, config.HeadSize);
    }

    /// <summary>The given ranges of <paramref name="full"/> along <paramref name="dim"/>, concatenated
    /// (one contiguous tensor); <paramref name="full"/> is disposed unless it is returned itself.</summary>
    public static Tensor Take(Tensor full, int dim, params (long Start, long Count)[] parts)
    {
        if (parts.Length == 1 && parts[0].Start == 0 && parts[0].Count == full.shape[dim]) return full;
        using (full)
        {
            using var scope = NewDisposeScope();
            return cat(parts.Select(p => full.narrow(dim, p.Start, p.Count)).ToArray(), dim).contiguous().MoveToOuterDisposeScope();
        }
    }

    /// <summary>The LM head of a model whose head is its token embedding: the embedding itself when
    /// not split, else a view of this rank's vocabulary rows (the embedding keeps the memory).</summary>
    public LinearWeight TiedHead(WeightReader weights, Tensor embedding) =>
        !SplitsHead ? weights.AsLinear(embedding, owned: false) : weights.AsLinear(embedding.narrow(0, Vocabulary(embedding.shape[0]).Start, Vocabulary(embedding.shape[0]).Count));

    /// <summary>A separate LM head [vocab, width]: this rank's vocabulary rows (all of them when not split).</summary>
    public LinearWeight Head(WeightReader weights, string name, long vocab, long width) =>
        weights.AsLinear(SplitsHead ? Take(weights.Read(name, vocab, width), 0, Vocabulary(vocab)) : weights.Read(name, vocab, width));

    /// <summary>residual += <see cref="RowParallel"/>(x, weight, bias); whole, the product adds itself into
    /// residual where it can (<see cref="Linear.AddTo"/>).</summary>
    public void RowParallelAdd(Tensor residual, Tensor x, LinearWeight weight, Tensor? bias)
    {
        if (IsWhole)
        {
            Linear.AddTo(residual, x, weight, bias);
            return;
        }
        using var product = RowParallel(x, weight, bias);
        residual.add_(product);
    }

    /// <summary>x · Wᵀ + b for a row-parallel projection: the rank's partial product, summed over
    /// the ranks, then the (unsplit) bias once. Whole: one fused product as before.</summary>
    public Tensor RowParallel(Tensor x, LinearWeight weight, Tensor? bias)
    {
        if (IsWhole) return Linear.Apply(x, weight, bias);
        var partial = Linear.Apply(x, weight);
        long started = Stopwatch.GetTimestamp();
        try
        {
            _group!.Sum(Rank, partial);
        }
        finally
        {
            Interlocked.Add(ref _reduceTicks, Stopwatch.GetTimestamp() - started);
            BytesReduced += partial.numel() * partial.ElementSize;
            AllReduces++;
        }
        return bias is null ? partial : partial.add_(bias);
    }
}
