using System.Diagnostics;
using LlmEngine.Host.Api;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace LlmEngine.Host.Tracing;

/// <summary>
/// OpenTelemetry traces of HTTP requests, off unless <see cref="ServerOptions.OtlpTracesEndpoint"/>
/// names an OTLP collector (vLLM's <c>--otlp-traces-endpoint</c>). Each request's span carries
/// the engine's request id as <see cref="RequestIdAttribute"/>, so a request followed from a load
/// balancer can be found in the engine's step trace and logs. An incoming W3C traceparent header
/// makes the span a child of the caller's.
/// </summary>
internal static class HttpTracing
{
    public const string RequestIdAttribute = "gen_ai.request.id";
    public const string ServiceName = "llm-engine";

    public static void Add(IServiceCollection services, ServerOptions options)
    {
        if (options.OtlpTracesEndpoint is not { Length: > 0 } endpoint) return;
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri))
            throw new ArgumentException($"--otlp-traces-endpoint must be an absolute URL, got '{endpoint}'");
        services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(ServiceName))
            .WithTracing(tracing => tracing
                .AddAspNetCoreInstrumentation(o => o.Filter = context => !context.Request.Path.StartsWithSegments("/dashboard"))
                .AddOtlpExporter(o =>
                {
                    o.Endpoint = uri;
                    o.Protocol = uri.AbsolutePath.EndsWith("/v1/traces", StringComparison.Ordinal) ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
                }));
    }

    /// <summary>Names the engine request behind the current HTTP request on its span (if traced).
    /// A request with several prompts runs them as <c>{id}-0</c>, <c>{id}-1</c>...</summary>
    public static void Tag(string requestId) => Activity.Current?.SetTag(RequestIdAttribute, requestId);
}
