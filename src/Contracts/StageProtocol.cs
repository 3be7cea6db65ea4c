using MessagePack;

namespace LlmEngine.Contracts;

// Pipeline stages on worker nodes (--distributed-executor-backend cluster; docs/distributed.md).
// The head keeps the one scheduler and block manager and runs stage 0; each worker node runs one
// later stage:
//
//   head (role head)                              worker node (role worker)
//     sees MemberUp ------ StageAssignment ------>  StageWorkerActor (/user/llm-stage-worker):
//                                                   loads its stage from its own model copy
//                  <------ StageReady (or StageLoadFailed), with the
//                          fingerprint of the worker's model copy
//     a copy unlike the head's --- StageRefused ->  the worker leaves the cluster (exit 1),
//                                                   as it does when its load failed
//   each step:
//   with --tensor-parallel-across-nodes each worker holds one tensor-parallel rank of a stage (the head
//   rank 0 of stage 0), reports its all-reduce endpoint in StageReady, and before the first step gets
//   --- RankGroup (every rank's endpoint) ---->  connects to the ranks below it: the ranks' all-reduces
//                                                  go over those TCP connections (SocketAllReduce)
//     stage 0 runs, then --- StageStep ---------->  applies the cache operations to its layers,
//       (the step record and the hidden states)     runs its layers on the hidden states
//                  <------ StageStepDone            the next hidden states, or on the last stage
//                          (or StageStepFailed)     the sample rows' hidden states: the head holds
//                                                   the final norm and LM head, computes their
//                                                   logits and samples
//
// Tensors travel as raw little-endian bytes (StageTensor), so hidden states arrive bit for bit.

/// <summary>A tensor on the wire: its dtype's name ("float32", "bfloat16"), shape and raw bytes.</summary>
[MessagePackObject]
public sealed record StageTensor(
    [property: Key(0)] string DType,
    [property: Key(1)] long[] Shape,
    [property: Key(2)] byte[] Data);

/// <summary>What a worker needs to build its stage the way the head built its own: the engine
/// settings that shape the model and the KV cache (the head's block counts, so every stage holds
/// the same block ids). <paramref name="Model"/> is the head's path, used when the worker was not
/// given its own copy.</summary>
[MessagePackObject]
public sealed record StageSettings(
    [property: Key(0)] string? Model,
    [property: Key(1)] string LoadFormat,
    [property: Key(2)] string DType,
    [property: Key(3)] string? Quantization,
    [property: Key(4)] int BlockSize,
    [property: Key(5)] long Seed,
    [property: Key(6)] int TensorParallelSize,
    [property: Key(7)] string? AttentionBackend,
    [property: Key(8)] int MaxModelLength,
    [property: Key(9)] int NumBlocks,
    [property: Key(10)] double SwapSpaceGiB,
    [property: Key(11)] string PreemptionMode,
    [property: Key(12)] string? KvCacheDType = null);

/// <summary>Load stage <paramref name="Stage"/> of <paramref name="Stages"/> (replacing any stage loaded before): the
/// whole stage (<paramref name="Ranks"/> 1; its tensor-parallel ranks, if any, threads of the worker's process), or
/// its tensor-parallel rank <paramref name="Rank"/> of <paramref name="Ranks"/>, the others on other nodes.</summary>
[MessagePackObject]
public sealed record StageAssignment(
    [property: Key(0)] int Stage,
    [property: Key(1)] int Stages,
    [property: Key(2)] StageSettings Settings,
    [property: Key(3)] int Rank = 0,
    [property: Key(4)] int Ranks = 1) : IRemoteContract;

/// <summary>The stage is loaded. <paramref name="Fingerprint"/>: the worker's model copy's
/// (<c>ModelFingerprint</c>), which the head compares with its own. <paramref name="Endpoint"/>: where a
/// tensor-parallel rank's all-reduce listens (host:port), for the other ranks; null for a whole stage.</summary>
[MessagePackObject]
public sealed record StageReady([property: Key(0)] int Stage, [property: Key(1)] string Description, [property: Key(2)] string Fingerprint,
    [property: Key(3)] string? Endpoint = null) : IRemoteContract;

/// <summary>The ranks of a stage split across nodes form their all-reduce group <paramref name="Generation"/>:
/// every rank's endpoint, in rank order (sent before the first step, and again after a rank's node changed or a
/// step broke the group). <paramref name="TimeoutSeconds"/> bounds forming it and each read from a peer.</summary>
[MessagePackObject]
public sealed record RankGroup([property: Key(0)] long Generation, [property: Key(1)] string[] Endpoints, [property: Key(2)] double TimeoutSeconds) : IRemoteContract;

/// <summary>The stage could not be loaded; the worker leaves the cluster (a supervisor may start it again).
/// <paramref name="Fingerprint"/>: its model copy's, when it could be read.</summary>
[MessagePackObject]
public sealed record StageLoadFailed([property: Key(0)] int Stage, [property: Key(1)] string Error, [property: Key(2)] string? Fingerprint) : IRemoteContract;

/// <summary>The head refuses this worker (its model copy differs from the head's): it unloads and leaves the cluster.</summary>
[MessagePackObject]
public sealed record StageRefused([property: Key(0)] string Reason) : IRemoteContract;

/// <summary>One step for a worker's stage: the step record (cache operations as flattened pairs)
/// and the previous stage's hidden states.</summary>
[MessagePackObject]
public sealed record StageStep(
    [property: Key(0)] long Step,
    [property: Key(1)] int[] SequenceIds,
    [property: Key(2)] int[] TokenIds,
    [property: Key(3)] int[] Positions,
    [property: Key(4)] int[] QueryStarts,
    [property: Key(5)] int[] ContextLengths,
    [property: Key(6)] int[][] BlockTables,
    [property: Key(7)] long[] SlotMapping,
    [property: Key(8)] int[] LogitTokenIndices,
    [property: Key(9)] int[] SampleLogitRows,
    [property: Key(10)] int[] SwapOut,
    [property: Key(11)] int[] SwapIn,
    [property: Key(12)] int[] Copies,
    [property: Key(13)] StageTensor? Hidden) : IRemoteContract;

/// <summary>The stage's output: hidden states for the next stage, or (last stage) the sample rows'
/// hidden states [samples, hidden], whose logits the head computes; null when the step had nothing to compute. <paramref name="ComputeSeconds"/>: the worker's
/// time on the step, so the head can tell the boundary's cost from the stage's work; of it, a tensor-parallel rank's
/// <paramref name="AllReduceSeconds"/> in <paramref name="AllReduces"/> all-reduces of <paramref name="BytesReduced"/> bytes in all.</summary>
[MessagePackObject]
public sealed record StageStepDone([property: Key(0)] long Step, [property: Key(1)] StageTensor? Output, [property: Key(2)] double ComputeSeconds,
    [property: Key(3)] double AllReduceSeconds = 0, [property: Key(4)] long BytesReduced = 0, [property: Key(5)] int AllReduces = 0) : IRemoteContract;

[MessagePackObject]
public sealed record StageStepFailed([property: Key(0)] long Step, [property: Key(1)] string Error) : IRemoteContract;
