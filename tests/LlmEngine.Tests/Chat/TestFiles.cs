using System.Text.Json;

namespace LlmEngine.Tests.Chat;

/// <summary>Locates the repository (the folder holding Actors.sln) and the shared folder beside it.</summary>
internal static class TestFiles
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Shared(string relative) => Path.Combine(RepoRoot, "..", "shared", relative);

    public static string ChatFixture(string name) => Path.Combine(RepoRoot, "tests", "LlmEngine.Tests", "Chat", "Fixtures", name);

    /// <summary>A file in the build output of another project of the repository (<paramref name="project"/>
    /// relative to the root), built in the tests' own configuration and framework.</summary>
    public static string BuildOutput(string project, string file)
    {
        var output = new DirectoryInfo(AppContext.BaseDirectory);
        var (framework, configuration) = (output.Name, output.Parent!.Name);
        return Path.Combine(RepoRoot, project, "bin", configuration, framework, file);
    }

    public static JsonElement ReadJson(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        return document.RootElement.Clone();
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Actors.sln"))) return dir.FullName;
        }
        throw new DirectoryNotFoundException("Actors.sln not found above " + AppContext.BaseDirectory);
    }
}
