namespace LlmEngine.Host.Cli;

/// <summary>How the command line reports a problem: one line on standard error, exit code 1.</summary>
public static class CliErrors
{
    public static int Fail(string message)
    {
        Console.Error.WriteLine($"error: {message}");
        return 1;
    }
}
