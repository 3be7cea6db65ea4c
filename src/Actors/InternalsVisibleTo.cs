using System.Runtime.CompilerServices;

// The tests start engines over a wrapped model (fault injection, overload) and drive the data
// plane and the cluster's replica state directly.
[assembly: InternalsVisibleTo("LlmEngine.Tests")]
