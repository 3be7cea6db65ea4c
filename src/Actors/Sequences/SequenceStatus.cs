namespace LlmEngine.Actors.Sequences;

public enum SequenceStatus { Waiting, Running, Swapped, Finished }
