using System.Diagnostics;
using System.Text.RegularExpressions;
using LlmEngine.Tests.Chat;
using LlmEngine.Tests.Cli;

namespace LlmEngine.Tests.Docs;

/// <summary>
/// Every shell block of README.md runs as written, from a folder laid out as the repository root
/// (links to the checkout's files, and ../shared beside it), so the README cannot drift from the
/// program. Only lengths are shortened, the program is not rebuilt (<c>--no-build</c>: the tests run
/// after the build), the port is a free one, and the block that runs the tests is left out (it is
/// what runs this test). A <c>serve</c> block runs in the background for the blocks after it.
/// </summary>
[Trait("Category", "Slow")]
public sealed partial class ReadmeCommandTests
{
    private static readonly string Repository = TestFiles.RepoRoot;

    [Fact]
    public async Task EveryShellBlockRunsFromTheRepositoryRoot()
    {
        using var root = new LinkedRoot(Repository);
        var blocks = ShellBlocks(File.ReadAllText(Path.Combine(Repository, "README.md")));
        Assert.Contains(blocks, b => b.Contains(" serve "));
        int port = LoopbackPort.Free();
        Process? server = null;
        try
        {
            foreach (var block in blocks.Where(b => !b.TrimStart().StartsWith("dotnet test")))
            {
                var script = Shorten(block, port);
                if (script.Contains(" serve "))
                {
                    server = Start(script, root.Path);
                    await WaitForServing(server);
                    continue;
                }
                var (exitCode, output, error) = await CliProcess.Run(Bash(script, root.Path), TimeSpan.FromMinutes(3));
                Assert.True(exitCode == 0, $"{script}\nexit {exitCode}\n{error}");
                Assert.DoesNotContain("\"error\"", output);
                if (script.StartsWith("curl")) Assert.Contains("[DONE]", output);
            }
        }
        finally
        {
            if (server is { HasExited: false }) server.Kill(entireProcessTree: true);
            server?.Dispose();
        }
        Assert.Equal(File.ReadAllLines(Path.Combine(root.Path, "prompts.jsonl")).Length, File.ReadAllLines(Path.Combine(root.Path, "results.jsonl")).Length);
    }

    private static List<string> ShellBlocks(string markdown) =>
        ShellBlock().Matches(markdown).Select(m => m.Groups[1].Value.Replace("\\\n", " ")).ToList();

    private static string Shorten(string block, int port)
    {
        var script = block.Replace("dotnet run --project src/Host -c Release --", "dotnet run --project src/Host -c Release --no-build --")
            .Replace(":8000", $":{port}").Replace("--port 8000", $"--port {port}");
        script = MaxTokensFlag().Replace(script, "--max-tokens 4");
        return MaxTokensField().Replace(script, "\"max_tokens\": 4");
    }

    private static ProcessStartInfo Bash(string script, string directory) => CliProcess.Start("bash", ["-euo", "pipefail", "-c", script], directory);

    private static Process Start(string script, string directory) => Process.Start(Bash(script, directory))!;

    private static async Task WaitForServing(Process server)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        while (await server.StandardError.ReadLineAsync(timeout.Token) is { } line)
            if (line.StartsWith("Serving ")) return;
        throw new InvalidOperationException("the server ended before it was serving");
    }

    [GeneratedRegex(@"```sh\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex ShellBlock();
    [GeneratedRegex(@"--max-tokens \d+")]
    private static partial Regex MaxTokensFlag();
    [GeneratedRegex(@"""max_tokens"": \d+")]
    private static partial Regex MaxTokensField();

    /// <summary>A temporary repository root: a link to each entry of the checkout's root, and
    /// <c>../shared</c> beside it; what the commands write stays in it.</summary>
    private sealed class LinkedRoot : IDisposable
    {
        private readonly string _parent = Directory.CreateTempSubdirectory("llm-readme-").FullName;

        public LinkedRoot(string repository)
        {
            Path = Directory.CreateDirectory(System.IO.Path.Combine(_parent, "repo")).FullName;
            foreach (var entry in Directory.EnumerateFileSystemEntries(repository).Where(e => !System.IO.Path.GetFileName(e).StartsWith('.')))
                File.CreateSymbolicLink(System.IO.Path.Combine(Path, System.IO.Path.GetFileName(entry)), entry);
            File.CreateSymbolicLink(System.IO.Path.Combine(_parent, "shared"), System.IO.Path.GetFullPath(System.IO.Path.Combine(repository, "..", "shared")));
        }

        public string Path { get; }

        public void Dispose() => Directory.Delete(_parent, recursive: true);
    }
}
