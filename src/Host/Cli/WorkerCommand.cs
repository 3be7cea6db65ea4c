using System.CommandLine;
using System.Runtime.InteropServices;
using LlmEngine.Actors.Distributed;

namespace LlmEngine.Host.Cli;

/// <summary>
/// <c>worker --join HOST:PORT</c>: a worker node for a head started with
/// <c>--distributed-executor-backend cluster</c>. It joins the head's Akka.Cluster (role worker),
/// loads the pipeline stage the head assigns from its own copy of the model (<c>--model</c>; else
/// the head's path), and runs that stage every step until stopped (SIGTERM: it leaves the cluster,
/// exit 0) or unable to serve its stage (its load failed, or the head refused its model copy: exit 1,
/// for a supervisor to start it again). Removed from the cluster (its head stopped), it joins again
/// and waits for the next head (<see cref="WorkerNode"/>).
/// </summary>
internal static class WorkerCommand
{
    public static Command Create()
    {
        var join = new Option<string>("--join") { Description = "HOST:PORT of the head (its --cluster-port)", Required = true };
        var host = new Option<string>("--host") { Description = "Address the head reaches this worker at", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "This worker's cluster port (0: any free port)", DefaultValueFactory = _ => 0 };
        var model = new Option<string?>("--model") { Description = "This node's copy of the model (default: the head's --model path)" };
        var device = new Option<string>("--device") { Description = "cpu or cuda:N", DefaultValueFactory = _ => "cpu" };
        var command = new Command("worker", "Run pipeline stages for a head started with --distributed-executor-backend cluster");
        foreach (var o in new Option[] { join, host, port, model, device }) command.Options.Add(o);
        command.SetAction(async (result, cancel) =>
        {
            string head = result.GetValue(join)!;
            int colon = head.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(head[(colon + 1)..], out int headPort) || headPort is < 1 or > 65535)
                return CliErrors.Fail($"--join must be HOST:PORT, got '{head}'", CliErrors.Usage);
            string deviceName = result.GetValue(device)!;
            if (deviceName != "cpu" && !System.Text.RegularExpressions.Regex.IsMatch(deviceName, @"^cuda(:\d+)?$"))
                return CliErrors.Fail($"--device must be cpu or cuda:N, got '{deviceName}'", CliErrors.Usage);
            if (result.GetValue(port) is < 0 or > 65535) return CliErrors.Fail("--port must be between 0 and 65535", CliErrors.Usage);
            // SIGTERM and Ctrl+C stop the node (it leaves the cluster), whatever it is doing: serving, or between two heads.
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, signal => { signal.Cancel = true; stop.Cancel(); });
            using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, signal => { signal.Cancel = true; stop.Cancel(); });
            string? left = await WorkerNode.RunAsync(result.GetValue(host)!, result.GetValue(port), head, result.GetValue(model), deviceName,
                Console.Error.WriteLine, stop.Token);
            return left is null ? 0 : CliErrors.Fail($"this worker node left the cluster: {left}");
        });
        return command;
    }
}
