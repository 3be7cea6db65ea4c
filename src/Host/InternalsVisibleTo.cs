using System.Runtime.CompilerServices;

// The executable's types are its own; the tests drive the server, the commands and the benchmarks directly.
[assembly: InternalsVisibleTo("LlmEngine.Tests")]
