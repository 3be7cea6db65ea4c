using System.CommandLine;
using Akka.Actor;
using Akka.Hosting;
using Akka.Remote.Hosting;
using LlmEngine.Actors.Cluster;
using LlmEngine.Actors.Distributed;
using LlmEngine.Actors.Engine;
using LlmEngine.Actors.Remote;
using LlmEngine.Host.Api;
using LlmEngine.Host.Api.Tools;
using LlmEngine.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LlmEngine.Host.Cli;

/// <summary><c>serve</c>: the OpenAI-compatible HTTP server over the engine that
/// <c>AddLlmEngine</c> hosts, so HTTP, the remote gateway (<c>--remote-port</c>) and in-process
/// callers share one engine and one shutdown (the hosted engine's drain, then abort).</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var engine = new EngineOptionSet();
        var host = new Option<string>("--host") { Description = "Address to bind (HTTP, and the remote gateway)", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port to bind (0: any free port)", DefaultValueFactory = _ => 8000 };
        var remotePort = new Option<int?>("--remote-port") { Description = "Also serve other Akka systems over Akka.Remote on this port (0: any free port)" };
        var join = new Option<string?>("--join") { Description = "HOST:PORT of a cluster node to join (without it this node seeds a new cluster)" };
        var publicAddress = new Option<string?>("--cluster-public-address") { Description = "HOST:PORT the other nodes reach this node's cluster port at, when not --host:--cluster-port (NAT, container port mapping)" };
        var routing = new Option<string>("--routing") { Description = "How requests pick a replica: kv-aware (cached prompt blocks against load), least-loaded, round-robin", DefaultValueFactory = _ => "kv-aware" };
        routing.AcceptOnlyFromAmong([.. RoutingModes.Names]);
        var noEngine = new Option<bool>("--no-engine") { Description = "Only route (cluster role router): load the model's tokenizer and config, not its weights, and run every request on the cluster's engines" };
        var apiKey = new Option<string?>("--api-key") { Description = "Require 'Authorization: Bearer KEY' on /v1/*, /dashboard and /trace/*" };
        var chatTemplate = new Option<string?>("--chat-template") { Description = "Jinja chat template file overriding the model's" };
        var dashboard = new Option<bool>("--dashboard") { Description = "Serve the live KV block map and request view at /dashboard (--dashboard false: off)", DefaultValueFactory = _ => true };
        var trace = new Option<string?>("--trace") { Description = "Write a Chrome trace (Perfetto) of every step and request to FILE until shutdown" };
        var otlp = new Option<string?>("--otlp-traces-endpoint") { Description = "Export OpenTelemetry traces of HTTP requests to this OTLP endpoint" };
        var autoTools = new Option<bool>("--enable-auto-tool-choice") { Description = "Read the model's own tool calls for tool_choice \"auto\" (needs --tool-call-parser)" };
        var toolParser = new Option<string?>("--tool-call-parser") { Description = "The model's tool-call format: " + string.Join(", ", ToolCallParsers.ByName.Keys) };
        var origins = new Option<string[]>("--allowed-origins") { Description = "Origins browsers may call the API from (CORS; \"*\" for any); default none", AllowMultipleArgumentsPerToken = true };
        var command = new Command("serve", "Serve the model over an OpenAI-compatible HTTP API");
        foreach (var o in new Option[] { host, port, remotePort, join, publicAddress, routing, noEngine, apiKey, chatTemplate, dashboard, trace, otlp, autoTools, toolParser, origins }) command.Options.Add(o);
        engine.AddTo(command);
        command.SetAction(async (result, cancel) =>
        {
            var options = engine.Bind(result);
            // A server bounds its queue by default: past it, waiting only makes every client later.
            if (options.MaxWaitingRequests == 0) options.MaxWaitingRequests = EngineOptions.DefaultWaitingPerSeat * options.MaxNumSeqs;
            var bind = result.GetValue(host)!;
            var server = new ServerOptions
            {
                Host = bind,
                Port = result.GetValue(port),
                ApiKey = result.GetValue(apiKey),
                ServedModelName = options.ServedModelName,
                ModelDirectory = ModelDirectoryOf(options.Model),
                ModelFile = File.Exists(options.Model) ? options.Model : null,
                ChatTemplate = result.GetValue(chatTemplate),
                Dashboard = result.GetValue(dashboard),
                TraceFile = result.GetValue(trace),
                OtlpTracesEndpoint = result.GetValue(otlp),
                EnableAutoToolChoice = result.GetValue(autoTools),
                ToolCallParser = result.GetValue(toolParser),
                AllowedOrigins = result.GetValue(origins) ?? [],
            };
            try
            {
                OpenAiServer.AutoToolParser(server);
            }
            catch (ArgumentException e)
            {
                return CliErrors.Fail(e.Message);
            }
            int? remote = result.GetValue(remotePort);
            // --cluster-port: the head's port for worker nodes with the cluster backend, else this replica's.
            bool head = options.DistributedExecutorBackend == "cluster";
            int? cluster = options.ClusterPort > 0 && !head ? options.ClusterPort : null;
            if (head && result.GetValue(join) is not null) return CliErrors.Fail("--join joins a cluster of replicas; a head with --distributed-executor-backend cluster is joined by its workers (llm-engine worker --join)");
            if (cluster is not null && remote is not null) return CliErrors.Fail("--remote-port and --cluster-port are one port: give only --cluster-port");
            if (cluster is null && result.GetValue(join) is not null) return CliErrors.Fail("--join needs --cluster-port");
            if (cluster is null && result.GetValue(publicAddress) is not null) return CliErrors.Fail("--cluster-public-address needs --cluster-port");
            bool router = result.GetValue(noEngine);
            if (router && cluster is null) return CliErrors.Fail("--no-engine needs --cluster-port (a router routes to a cluster's engines)");
            ClusterNodeOptions? node;
            try
            {
                node = cluster is { } c ? new ClusterNodeOptions(bind, c, result.GetValue(join), RoutingModes.Parse(result.GetValue(routing)!), result.GetValue(publicAddress)).Validate() : null;
            }
            catch (ArgumentException e)
            {
                return CliErrors.Fail(e.Message.Split(" (Parameter")[0]);
            }
            var app = OpenAiServer.Build(server, builder =>
            {
                builder.Logging.ClearProviders();
                builder.Logging.AddSimpleConsole(c => c.SingleLine = true);
                builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(c => c.LogToStandardErrorThreshold = LogLevel.Trace);
                if (node is not null && router) builder.Services.AddLlmClusterRouter(options, node);
                else if (node is not null) builder.Services.AddLlmCluster(options, node);
                else if (head) builder.Services.AddLlmEngine(options, (akka, _) => akka.AddHocon(
                    StageHocon.Head(options.ClusterHost, options.ClusterPort), HoconAddMode.Prepend));
                else builder.Services.AddLlmEngine(options, remote is { } p ? (akka, _) => akka.WithRemoting(bind, p) : null);
            });
            var replica = app.Services.GetService<InferenceEngine>();
            if (replica?.IsDefaultModel ?? string.IsNullOrEmpty(options.Model))
                Console.Error.WriteLine("note: no --model given; serving the embedded default model (random weights: its text is gibberish)");
            if (remote is not null || node is not null)
            {
                var system = (ExtendedActorSystem)app.Services.GetRequiredService<ActorSystem>();
                if (replica is not null) Console.Error.WriteLine($"Remote gateway at {system.Provider.DefaultAddress}/user/{EngineGatewayActor.Name}");
                if (node is not null)
                    Console.Error.WriteLine($"Cluster node {system.Provider.DefaultAddress} (role {(router ? ClusterNodeOptions.RouterRole : ClusterNodeOptions.EngineRole)}, "
                        + $"routing {node.Routing.Name()}, seed {node.SeedNodes[0]})");
            }
            var shutdown = CoordinatedShutdown.Get(app.Services.GetRequiredService<ActorSystem>());
            await OpenAiServer.RunAsync(app, Console.Error, cancel);
            // The split-brain resolver downed this node (it kept the other side of a partition): this
            // incarnation cannot rejoin, so exit non-zero for a supervisor to start a fresh process.
            if (node is not null && shutdown.ShutdownReason is CoordinatedShutdown.ClusterDowningReason)
                return CliErrors.Fail("this node was downed by the cluster (the split-brain resolver kept the other side); restart it to join again");
            // A dead engine stopped the host: exit non-zero so a supervisor restarts the process.
            if (replica?.DeadReason is { } reason)
                return CliErrors.Fail($"the engine died: {reason}");
            return 0;
        });
        return command;
    }

    private static string? ModelDirectoryOf(string? model) =>
        string.IsNullOrEmpty(model) ? null : Directory.Exists(model) ? model : Path.GetDirectoryName(Path.GetFullPath(model));
}
