namespace LlmEngine.Scheduling.Sequences;

public enum SequenceStatus { Waiting, Running, Swapped, Finished }
