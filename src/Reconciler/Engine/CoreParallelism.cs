using Reconciler.Schema.Loading;

namespace Reconciler;

/// <summary>
/// How many workers the engine gives the pure core's parallel loops (the loader's and the planner's): one per core. The
/// core itself chooses nothing about the machine it runs on; a cap matters even so, because the CLI raises the thread
/// pool's minimum for SSH.NET, and an uncapped loop would run that many workers at once (docs/benchmarks/repo.md).
/// </summary>
public static class CoreParallelism
{
    public static int Workers { get; } = Environment.ProcessorCount;

    /// <summary>Options for <see cref="RepoLoader.Load"/>.</summary>
    public static LoadOptions Load { get; } = new(Workers);
}
