using System.Diagnostics;
using Akka.Actor;
using LlmEngine.Actors.Distributed;
using LlmEngine.Actors.Engine;
using LlmEngine.Tests.Cluster;

namespace LlmEngine.Tests.Distributed;

/// <summary>Heads and worker nodes of --distributed-executor-backend cluster on loopback: a worker
/// as an ActorSystem of this process, or as an <c>llm-engine worker --join</c> process in a process
/// group of its own, which the test stops whole.</summary>
public static class WorkerNodes
{
    /// <param name="acrossNodes">each tensor-parallel rank on a node of its own (the head's rank 0 of stage 0)</param>
    public static EngineOptions Head(string model, int stages, int ranks = 1, bool acrossNodes = false) =>
        OnCluster(new EngineOptions { Model = model, NumBlocks = 64, PipelineParallelSize = stages, TensorParallelSize = ranks, TensorParallelAcrossNodes = acrossNodes });

    /// <summary>The worker nodes <paramref name="options"/> needs: one per stage after the first, or with
    /// --tensor-parallel-across-nodes one per tensor-parallel rank but the head's.</summary>
    public static int Needed(EngineOptions options) =>
        options.PipelineParallelSize * (options.TensorParallelAcrossNodes ? options.TensorParallelSize : 1) - 1;

    /// <summary><paramref name="options"/> with the stages after the first on worker nodes that join a free loopback port.</summary>
    public static EngineOptions OnCluster(EngineOptions options) => options with
    {
        DistributedExecutorBackend = "cluster", ClusterPort = LoopbackPort.Free(), WorkerTimeoutSeconds = 120, ShutdownGraceSeconds = 0,
    };

    /// <summary>Runs <paramref name="body"/> on a head whose workers are ActorSystems of this process, then stops them all.</summary>
    public static async Task WithInProcessWorkers(EngineOptions options, Func<InferenceEngine, Task> body)
    {
        var (head, workers) = await Start(options, InProcess);
        try
        {
            await body(head);
        }
        finally
        {
            await head.DisposeAsync();
            foreach (var worker in workers) await worker.Terminate();
        }
    }

    /// <summary>A worker node as its own ActorSystem in this process.</summary>
    public static ActorSystem InProcess(int headPort) => InProcess(headPort, StageWorkerActor.Props(null, "cpu", _ => { }));

    /// <summary>A worker node of this process whose stage actor (at the worker's path) is made by <paramref name="stage"/>.</summary>
    public static ActorSystem InProcess(int headPort, Props stage)
    {
        var system = ActorSystem.Create(StageHocon.SystemName, StageHocon.Worker("127.0.0.1", 0, $"127.0.0.1:{headPort}"));
        system.ActorOf(stage, StageWorkerActor.Name);
        return system;
    }

    /// <summary>Starts the head on a thread of its own (it waits for its workers) and then the workers.</summary>
    public static async Task<(InferenceEngine Head, T[] Workers)> Start<T>(EngineOptions options, Func<int, T> worker)
    {
        var head = Task.Run(() => InferenceEngine.Start(options));
        var workers = Enumerable.Range(0, Needed(options)).Select(_ => worker(options.ClusterPort)).ToArray();
        return (await head, workers);
    }
}

/// <summary><c>llm-engine worker --join</c> in a process group of its own (setsid).</summary>
public sealed class WorkerProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];

    private WorkerProcess(Process process)
    {
        _process = process;
        _ = Task.Run(async () =>
        {
            while (await process.StandardError.ReadLineAsync() is { } line)
                lock (_lines) _lines.Add(line);
        });
        _ = process.StandardOutput.ReadToEndAsync();
    }

    public static WorkerProcess Start(int headPort)
    {
        var start = new ProcessStartInfo("setsid") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "dotnet", Path.Combine(AppContext.BaseDirectory, "llm-engine.dll"), "worker", "--join", $"127.0.0.1:{headPort}" })
            start.ArgumentList.Add(a);
        return new WorkerProcess(Process.Start(start)!);
    }

    public string Output
    {
        get
        {
            lock (_lines) return string.Join('\n', _lines);
        }
    }

    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    /// <summary>Sends <paramref name="signal"/> to the whole process group (setsid made the worker its leader).</summary>
    public void Signal(string signal) => Process.Start("kill", [$"-{signal}", "--", $"-{_process.Id}"])!.WaitForExit();

    public bool WaitForExit(TimeSpan time) => _process.WaitForExit(time);

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Signal("KILL");
            _process.WaitForExit(10_000);
        }
        _process.Dispose();
    }
}
