// Streams one greedy completion from a remote engine's gateway, as any other .NET application
// would: the text goes to standard error as it arrives, the token ids to standard output at the end.
//   dotnet run --project samples/RemoteCaller -- akka.tcp://llm-engine@127.0.0.1:4053/user/llm-engine "Once upon a time" 32
using Akka.Actor;
using Akka.Configuration;
using Akka.Streams;
using Akka.Streams.Dsl;
using LlmEngine.Contracts;

if (args.Length is < 2 or > 3 || (args.Length == 3 && !int.TryParse(args[2], out _)))
{
    Console.Error.WriteLine("usage: RemoteCaller GATEWAY-ADDRESS PROMPT [MAX-TOKENS]");
    return 2;
}
var config = ConfigurationFactory.ParseString("""
    akka.actor.provider = remote
    akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
    akka.loglevel = ERROR
    """).WithFallback(RemoteContracts.Config);
using var system = ActorSystem.Create("caller", config);
var materializer = system.Materializer();
var timeout = TimeSpan.FromSeconds(30);
var gateway = await system.ActorSelection(args[0]).ResolveOne(timeout);
var sampling = new RemoteSampling(MaxTokens: args.Length == 3 ? int.Parse(args[2]) : 32, Temperature: 0);
var deltas = await gateway.GenerateAsync(new RemoteGenerate("sample-1", args[1], null, sampling), timeout);
var tokens = new List<int>();
await deltas.RunForeach(delta =>
{
    tokens.AddRange(delta.TokenIds);
    Console.Error.Write(delta.Text);
}, materializer);
Console.Error.WriteLine();
Console.WriteLine(string.Join(' ', tokens));
await system.Terminate();
return 0;
