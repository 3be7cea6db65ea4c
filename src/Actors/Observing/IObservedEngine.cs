namespace LlmEngine.Actors.Observing;

/// <summary>An engine whose work can be watched through an <see cref="EngineObserver"/>.</summary>
public interface IObservedEngine
{
    EngineObserver Observer { get; }
}
