using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace LlmEngine.Host.Api;

/// <summary>
/// The outermost layer: every failure leaves as an OpenAI error object. Client errors
/// (<see cref="ApiException"/>), Kestrel's own (413 oversized body, ...), bodiless statuses from
/// routing (404 unknown route, 405 wrong method) and unexpected exceptions (500, logged) alike.
/// </summary>
internal sealed class ErrorMiddleware(RequestDelegate next, ILogger<ErrorMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
            if (!context.Response.HasStarted && context.Response.StatusCode >= 400 && context.Response.ContentType is null)
                await WriteStatus(context);
        }
        catch (Exception) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; there is no one to answer.
        }
        catch (ApiException e) when (!context.Response.HasStarted)
        {
            await ApiErrors.Write(context, e);
        }
        catch (BadHttpRequestException e) when (!context.Response.HasStarted)
        {
            var message = e.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? "The request body is too large." : $"Bad request: {e.Message}";
            await ApiErrors.Write(context, e.StatusCode, message, ApiException.InvalidRequest);
        }
        catch (Exception e)
        {
            var error = ApiException.From(e);
            if (error.Status >= 500) logger.LogError(e, "{Method} {Path} failed", context.Request.Method, context.Request.Path);
            if (!context.Response.HasStarted) await ApiErrors.Write(context, error);
        }
    }

    private static Task WriteStatus(HttpContext context)
    {
        var r = context.Request;
        var status = context.Response.StatusCode;
        var message = status switch
        {
            404 => $"Not found: {r.Method} {ApiException.Echo(r.Path.ToString())}",
            405 => $"Method {r.Method} is not allowed on {ApiException.Echo(r.Path.ToString())}.",
            _ => $"Request failed with status {status}.",
        };
        return ApiErrors.Write(context, status, message, ApiException.InvalidRequest);
    }
}

/// <summary>When an API key is set, /v1/*, /dashboard* and /trace/* requests must carry
/// "Authorization: Bearer KEY" (as vLLM checks it); the dashboard also takes it from ?key= or its cookie.</summary>
internal sealed class ApiKeyMiddleware(RequestDelegate next, string apiKey)
{
    public Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path;
        bool dashboard = path.StartsWithSegments("/dashboard");
        if (!(path.StartsWithSegments("/v1") || dashboard || path.StartsWithSegments("/trace")) || HttpMethods.IsOptions(context.Request.Method))
            return next(context);
        var header = context.Request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && FixedTimeEquals(header[7..].Trim(), apiKey))
            return next(context);
        // A browser opens the dashboard with ?key= once; a cookie carries the key afterwards.
        if (dashboard && (context.Request.Cookies[Dashboard.DashboardEndpoints.CookieName] ?? context.Request.Query["key"].ToString()) is { Length: > 0 } key
            && FixedTimeEquals(key, apiKey))
            return next(context);
        throw new ApiException(401, "Incorrect or missing API key. Send 'Authorization: Bearer <key>'.", ApiException.InvalidRequest, code: "invalid_api_key");
    }

    // Compares fixed-size digests, so the time taken says nothing about the key's length either.
    internal static bool FixedTimeEquals(string a, string b) =>
        System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
            System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(a)),
            System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(b)));
}
