using System.Runtime;

namespace Reconciler.Cli;

/// <summary>
/// Suspends garbage collection for a short command that keeps most of what it allocates (plan: the model and the live
/// state of every environment). Its collections would only add pauses: ~40 ms of GC pauses in a warm plan of the
/// 5,000-service benchmark repo (docs/benchmarks/planner.md, session 3). Past <paramref name="budgetBytes"/> the runtime
/// collects as usual, so memory stays bounded; peak memory is what the command keeps anyway.
/// <para>
/// The GC mode is the process's, so this belongs to the CLI process alone, and there to `plan`: the engine and the pure
/// core never touch it (an architecture test holds Schema and Diff to that), and a long-running process (`run`) never
/// pauses collection. Best effort: nothing happens when a region is already open (tests run commands side by side in
/// one process) or the runtime refuses the budget; disposing ends the region and restores the previous mode.
/// </para>
/// </summary>
internal sealed class CollectionPause : IDisposable
{
    private CollectionPause(long budgetBytes)
    {
        try
        {
            Started = GCSettings.LatencyMode != GCLatencyMode.NoGCRegion && GC.TryStartNoGCRegion(budgetBytes);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentOutOfRangeException)
        {
            Started = false;
        }
    }

    /// <summary>True when this pause opened the no-GC region (false: another was open, or the runtime refused).</summary>
    public bool Started { get; }

    public static CollectionPause Start(long budgetBytes) => new(budgetBytes);

    public void Dispose()
    {
        if (!Started || GCSettings.LatencyMode != GCLatencyMode.NoGCRegion) return;   // already ended by the budget
        try
        {
            GC.EndNoGCRegion();
        }
        catch (InvalidOperationException)
        {
            // Another command in this process ended it, or it ended itself: either way it is over.
        }
    }
}
