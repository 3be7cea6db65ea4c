using Akka.Actor;
using Akka.Configuration;
using LlmEngine.Actors;

namespace LlmEngine.Tests.Engine;

/// <summary>Props built by a factory (so an actor's constructor may be private) create a fresh actor
/// from that factory each time, on the dispatcher they are given.</summary>
public class ActorPropsTests() : Akka.TestKit.Xunit2.TestKit(ConfigurationFactory.ParseString("own-dispatcher.type = Dispatcher"))
{
    private sealed class Answering : ReceiveActor
    {
        private Answering(string greeting) => ReceiveAny(_ => Sender.Tell($"{greeting} from {Context.Props.Dispatcher}"));

        public static Props Props(string greeting) => ActorProps.Of(() => new Answering(greeting));
    }

    [Fact]
    public void AnActorWithAPrivateConstructorStartsOnTheDispatcherItIsGiven()
    {
        var actor = Sys.ActorOf(Answering.Props("hello").WithDispatcher("own-dispatcher"));
        actor.Tell("who");
        ExpectMsg("hello from own-dispatcher");
    }
}
