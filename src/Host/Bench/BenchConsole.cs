using System.Text.Json;
using Spectre.Console;

namespace LlmEngine.Host.Bench;

/// <summary>Where benchmarks write: summaries to standard output, progress bars to standard
/// error (only when it is a terminal, so logs and tests stay clean), JSON files.</summary>
internal static class BenchConsole
{
    public static IAnsiConsole Out { get; } = Create(Console.Out, Console.IsOutputRedirected);
    public static IAnsiConsole Error { get; } = Create(Console.Error, Console.IsErrorRedirected);

    // Redirected output would be cut at 80 columns; the summaries' tables want more.
    private static IAnsiConsole Create(TextWriter writer, bool redirected)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(writer) });
        if (redirected) console.Profile.Width = 140;
        // Live progress needs only the terminal it draws on (Spectre also asks for a terminal on
        // standard input, which a benchmark run from a script may not have).
        else console.Profile.Capabilities.Interactive = true;
        return console;
    }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public static async Task WriteJsonAsync(FileInfo? file, object value)
    {
        if (file is null) return;
        if (file.Directory is { Exists: false } dir) dir.Create();
        await File.WriteAllTextAsync(file.FullName, JsonSerializer.Serialize(value, JsonOptions));
    }

    /// <summary>Runs <paramref name="body"/> with a progress bar of <paramref name="total"/> steps;
    /// the body calls the action it is given once per step done.</summary>
    public static async Task<T> WithProgress<T>(string description, long total, bool enabled, Func<Action, Task<T>> body)
    {
        if (!enabled || Console.IsErrorRedirected || total <= 0) return await body(() => { });
        T result = default!;
        await Error.Progress().AutoClear(true).HideCompleted(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .StartAsync(async ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(description), maxValue: total);
                result = await body(() => task.Increment(1));
            });
        return result;
    }
}
