using Microsoft.Playwright;

namespace LlmEngine.Tests.Dashboard;

/// <summary>Debian's Chromium driven by Playwright (browsers cannot be downloaded here; .ci/run
/// installs the distribution's package).</summary>
internal static class Chromium
{
    public const string Path = "/usr/bin/chromium";

    public static async Task<(IPlaywright, IBrowser)> Launch()
    {
        if (!File.Exists(Path)) throw new InvalidOperationException($"{Path} is missing: apt-get install -y chromium (.ci/run does)");
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Path,
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage",
                "--disable-extensions", "--no-first-run"],
        });
        return (playwright, browser);
    }
}
