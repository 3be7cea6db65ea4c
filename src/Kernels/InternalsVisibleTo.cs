using System.Runtime.CompilerServices;

// The tests write checkpoints in the layouts the loaders read (Llama2cLayout).
[assembly: InternalsVisibleTo("LlmEngine.Tests")]
