using System.Reflection;
using LlmEngine.Host.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace LlmEngine.Host.Dashboard;

/// <summary>
/// <c>/dashboard</c>: the page and its script and style (embedded in this assembly; no build step,
/// nothing fetched from elsewhere), <c>/dashboard/events</c> (a server-sent event per frame) and
/// <c>/dashboard/blocks</c> (who points at a range of blocks). With an API key the page is opened
/// once as <c>/dashboard?key=KEY</c>, which sets a cookie for the rest (a browser's EventSource
/// cannot send an Authorization header); see <see cref="ApiKeyMiddleware"/>.
/// </summary>
internal static class DashboardEndpoints
{
    public const string CookieName = "llm_engine_dashboard_key";

    private static readonly Dictionary<string, (string Resource, string ContentType)> Assets = new()
    {
        ["/dashboard"] = ("index.html", "text/html; charset=utf-8"),
        ["/dashboard/app.js"] = ("app.js", "text/javascript; charset=utf-8"),
        ["/dashboard/app.css"] = ("app.css", "text/css; charset=utf-8"),
    };

    public static void Map(IEndpointRouteBuilder app, DashboardHub hub, string? apiKey)
    {
        foreach (var (path, asset) in Assets)
        {
            var bytes = Asset(asset.Resource);
            app.MapGet(path, (HttpContext context) =>
            {
                if (path == "/dashboard" && apiKey is { Length: > 0 } && context.Request.Query["key"].ToString() is { Length: > 0 } key)
                {
                    // The middleware has checked the key: keep it in a cookie and drop it from the address bar.
                    context.Response.Cookies.Append(CookieName, key, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/dashboard" });
                    return Results.Redirect("/dashboard");
                }
                return Results.Bytes(bytes, asset.ContentType);
            });
        }
        app.MapGet("/dashboard/events", (HttpContext context) => Stream(context, hub));
        app.MapGet("/dashboard/blocks", (string? pool, int from, int? to) =>
        {
            if (pool is not (null or "device" or "swap"))
                throw new ApiException(400, "pool must be 'device' or 'swap'", ApiException.InvalidRequest, "pool");
            return hub.Detail(pool == "swap", from, to ?? from + 1) is { } detail
                ? Results.Json(detail, DashboardHub.Json)
                : throw new ApiException(404, "no snapshot of the engine yet", ApiException.InvalidRequest);
        });
    }

    private static async Task Stream(HttpContext context, DashboardHub hub)
    {
        using var page = hub.Connect();
        var events = await ServerSentEvents.Start(context);
        byte[]? frame = null;
        try
        {
            while (!context.RequestAborted.IsCancellationRequested)
            {
                frame = await hub.NextFrameAsync(frame, context.RequestAborted);
                await events.SendJson(frame);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static byte[] Asset(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("LlmEngine.Host.Dashboard.Assets." + name)
            ?? throw new InvalidOperationException($"dashboard asset {name} is not embedded");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
