using System.Runtime.CompilerServices;

// The tests swap in a colliding hash function (KvCacheManager's internal constructor) to
// prove a collision is only a miss.
[assembly: InternalsVisibleTo("LlmEngine.Scheduling.Tests")]
