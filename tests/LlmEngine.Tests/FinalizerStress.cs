using System.Runtime.CompilerServices;

namespace LlmEngine.Tests;

/// <summary>With LLM_TEST_FINALIZER_STRESS=1 the test host collects the youngest generation and runs
/// pending finalizers without pause. A TorchSharp tensor that nothing references any more is freed by
/// its finalizer, even while a native call still reads it: a chain such as <c>a.eq(b).all()</c> outside
/// a dispose scope, in a test or in the engine, can then crash the process. Under load that happens
/// rarely; under this stress within seconds, so <c>.ci/run</c> runs the tensor suites once with it.</summary>
internal static class FinalizerStress
{
    [ModuleInitializer]
    internal static void StartWhenAsked()
    {
        if (Environment.GetEnvironmentVariable("LLM_TEST_FINALIZER_STRESS") != "1") return;
        var thread = new Thread(() =>
        {
            while (true)
            {
                GC.Collect(0);
                GC.WaitForPendingFinalizers();
                Thread.Sleep(1);
            }
        }) { IsBackground = true, Name = "finalizer stress" };
        thread.Start();
    }
}
