using LlmEngine.Kernels.Attention;
using LlmEngine.Kernels.Native;
using LlmEngine.Kernels.Runtime;
using Spectre.Console;
using TorchSharp;

namespace LlmEngine.Host.Bench;

/// <summary>
/// <c>bench batch --profile</c>: milliseconds per step in each part of the work, for prompt steps
/// and decode steps apart. "dispatch + glue" is the forward pass outside the timed layers
/// (libtorch dispatch, allocation, embedding, activations, residual adds); "control plane" is the
/// phase's wall time per step outside the forward pass and sampling (scheduler, actors, messages).
/// The prompt phase holds the steps of every measured prompt round. The last two columns are CPU milliseconds per
/// step inside the forward pass: of the thread that ran it, and of its kernel pool's workers (their polling for
/// the next call included), so a forward pass whose matmul wall time is one thread's CPU time shows the second core idle.
/// </summary>
internal static class BatchProfile
{
    private static readonly (string Name, Func<ProfileSnapshot, double> Seconds)[] Parts =
    [
        ("matmul", p => p.Seconds[ProfileSection.Linear]),
        ("attention", p => p.Seconds[ProfileSection.Attention]),
        ("norms", p => p.Seconds[ProfileSection.Norm]),
        ("rotary", p => p.Seconds[ProfileSection.Rotary]),
        ("dispatch + glue", p => p.OtherForwardSeconds),
        ("sampling", p => p.Seconds[ProfileSection.Sampling]),
    ];

    public static void Print(IReadOnlyList<BatchRow> rows)
    {
        var table = new Table().Title($"Where a step's time goes (ms per step; threads: libtorch {torch.get_num_threads()}, native kernels {NativeKernels.Threads}, sharing {Environment.ProcessorCount} CPUs)")
            .AddColumns(["batch", "phase", "steps", .. Parts.Select(p => p.Name), "control plane", "step", "cpu: forward thread", "pool workers"]);
        foreach (var r in rows)
        {
            if (r.Profile is not { } profile) continue;
            foreach (var (phase, snapshot, wall) in new[] { ("prompt", profile.Prompt, r.PromptRoundSeconds.Sum()), ("decode", profile.Decode, r.GenerationSeconds) })
            {
                if (snapshot.Steps == 0) continue;
                table.AddRow([$"{r.BatchSize}", phase, $"{snapshot.Steps}", .. Parts.Select(p => $"{snapshot.PerStepMs(p.Seconds(snapshot)):F2}"),
                    $"{ControlPlaneMs(snapshot, wall):F2}", $"{snapshot.PerStepMs(wall):F2}",
                    $"{snapshot.PerStepMs(snapshot.ThreadCpuSeconds):F2}", $"{snapshot.PerStepMs(snapshot.PoolCpuSeconds):F2}"]);
            }
        }
        BenchConsole.Out.Write(table);
    }

    public static Dictionary<string, object> Json(BatchRow r, ProfileSnapshot prompt, ProfileSnapshot decode) => new()
    {
        ["prompt"] = PhaseJson(prompt, r.PromptRoundSeconds.Sum()),
        ["decode"] = PhaseJson(decode, r.GenerationSeconds),
        ["libtorch_threads"] = torch.get_num_threads(),
        ["native_threads"] = NativeKernels.Threads,
    };

    private static Dictionary<string, object> PhaseJson(ProfileSnapshot s, double wall)
    {
        var json = Parts.ToDictionary(p => p.Name.Replace(" + ", "_") + "_ms", p => (object)s.PerStepMs(p.Seconds(s)));
        json["steps"] = s.Steps;
        json["control_plane_ms"] = ControlPlaneMs(s, wall);
        json["step_ms"] = s.PerStepMs(wall);
        json["forward_thread_cpu_ms"] = s.PerStepMs(s.ThreadCpuSeconds);
        json["pool_workers_cpu_ms"] = s.PerStepMs(s.PoolCpuSeconds);
        return json;
    }

    private static double ControlPlaneMs(ProfileSnapshot s, double wall) =>
        s.PerStepMs(Math.Max(0, wall - s.Seconds[ProfileSection.Forward] - s.Seconds[ProfileSection.Sampling]));
}
