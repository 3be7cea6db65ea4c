namespace LlmEngine.Tests.Tokenizers;

/// <summary>Paths into the read-only shared/ folder that sits beside the repository.</summary>
internal static class SharedFiles
{
    private static readonly string Root = FindShared();

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    public static string Tok512 => Path("models", "stories260K", "tok512.bin");

    private static string FindShared()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Actors.sln")))
                return System.IO.Path.GetFullPath(System.IO.Path.Combine(dir.FullName, "..", "shared"));
        throw new DirectoryNotFoundException($"no folder containing Actors.sln above {AppContext.BaseDirectory}");
    }
}

/// <summary>A temporary folder removed when the test ends.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("llm-tokenizer-tests-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
