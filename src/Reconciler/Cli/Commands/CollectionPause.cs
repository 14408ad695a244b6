using System.Runtime;

namespace Reconciler.Cli;

/// <summary>
/// Suspends garbage collection for a short command that keeps most of what it allocates (plan: the model and the live
/// state of every environment). Its collections would only add pauses, ~40 ms for the 5,000-service benchmark repo
/// (docs/benchmarks/planner.md). Past <paramref name="budgetBytes"/> the runtime collects as usual, so memory stays
/// bounded; peak memory is what the command keeps anyway. Best effort: nothing happens when a region is already open
/// (tests run commands side by side in one process) or the runtime refuses the budget.
/// </summary>
internal sealed class CollectionPause : IDisposable
{
    private readonly bool _started;

    private CollectionPause(long budgetBytes)
    {
        try
        {
            _started = GCSettings.LatencyMode != GCLatencyMode.NoGCRegion && GC.TryStartNoGCRegion(budgetBytes);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentOutOfRangeException)
        {
            _started = false;
        }
    }

    public static CollectionPause Start(long budgetBytes) => new(budgetBytes);

    public void Dispose()
    {
        if (!_started || GCSettings.LatencyMode != GCLatencyMode.NoGCRegion) return;   // already ended by the budget
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
