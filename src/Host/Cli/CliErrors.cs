namespace LlmEngine.Host.Cli;

/// <summary>How the command line reports a problem: one line on standard error and a non-zero
/// exit code: <see cref="Usage"/> (2) for flags the user wrote wrong, 1 for anything else.</summary>
internal static class CliErrors
{
    public const int Usage = 2;

    public static int Fail(string message, int exitCode = 1)
    {
        Console.Error.WriteLine($"error: {message}");
        return exitCode;
    }
}
