using System.CommandLine;
using LlmEngine.Actors.Engine;
using LlmEngine.Host.Api;

namespace LlmEngine.Host.Cli;

/// <summary><c>serve</c>: the OpenAI-compatible HTTP server over the engine, in the generic host.</summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var engine = new EngineOptionSet();
        var host = new Option<string>("--host") { Description = "Address to bind", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port to bind (0: any free port)", DefaultValueFactory = _ => 8000 };
        var apiKey = new Option<string?>("--api-key") { Description = "Require 'Authorization: Bearer KEY' on /v1/*" };
        var chatTemplate = new Option<string?>("--chat-template") { Description = "Jinja chat template file overriding the model's" };
        var dashboard = new Option<bool>("--dashboard") { Description = "Serve the live KV block map and request view at /dashboard (--dashboard false: off)", DefaultValueFactory = _ => true };
        var command = new Command("serve", "Serve the model over an OpenAI-compatible HTTP API");
        foreach (var o in new Option[] { host, port, apiKey, chatTemplate, dashboard }) command.Options.Add(o);
        engine.AddTo(command);
        command.SetAction(async (result, cancel) =>
        {
            var options = engine.Bind(result);
            var server = new ServerOptions
            {
                Host = result.GetValue(host)!,
                Port = result.GetValue(port),
                ApiKey = result.GetValue(apiKey),
                ServedModelName = options.ServedModelName,
                ModelDirectory = ModelDirectoryOf(options.Model),
                ChatTemplate = result.GetValue(chatTemplate),
                Dashboard = result.GetValue(dashboard),
            };
            await using var running = InferenceEngine.Start(options, log: Console.Error.WriteLine);
            if (running.IsDefaultModel) Console.Error.WriteLine("note: no --model given; serving the embedded default model (random weights: its text is gibberish)");
            var app = OpenAiServer.Build(running, server, builder =>
                builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = TimeSpan.FromSeconds(options.ShutdownGraceSeconds)));
            await OpenAiServer.RunAsync(app, Console.Error, cancel);
            await running.StopAsync(TimeSpan.FromSeconds(options.ShutdownGraceSeconds));
            return 0;
        });
        return command;
    }

    private static string? ModelDirectoryOf(string? model) =>
        string.IsNullOrEmpty(model) ? null : Directory.Exists(model) ? model : Path.GetDirectoryName(Path.GetFullPath(model));
}
