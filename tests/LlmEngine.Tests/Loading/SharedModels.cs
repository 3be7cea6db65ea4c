using LlmEngine.Tests.Chat;

namespace LlmEngine.Tests.Loading;

/// <summary>The read-only models in ../shared/models, found from the test binaries by walking up
/// to the repository root (the folder holding Actors.sln).</summary>
internal static class SharedModels
{
    public static string Root { get; } = Path.GetFullPath(TestFiles.Shared("models"));

    public static string Stories260K => Path.Combine(Root, "stories260K");
    public static string Stories260KBin => Path.Combine(Stories260K, "stories260K.bin");
    public static string TinyHf(string family) => Path.Combine(Root, "tiny-hf", family);
}

/// <summary>A fresh temporary folder, deleted with everything in it when disposed.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("llmengine-loading-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
