namespace Reconciler.Daemon;

/// <summary>
/// When the daemon tries a commit again after a fault of the environment: capped exponential backoff with "equal
/// jitter" (half of each wait fixed, half random), so a fleet of daemons hit by the same outage does not retry in step,
/// yet never retries sooner than half the schedule. Attempt 1 waits up to <see cref="First"/>, each next one twice as
/// long, never more than <see cref="Cap"/>.
/// </summary>
public sealed class RetryBackoff(TimeSpan first, TimeSpan cap, Random random)
{
    public TimeSpan First { get; } = first;
    public TimeSpan Cap { get; } = cap;

    /// <param name="attempt">1 for the wait after the first failed attempt.</param>
    public TimeSpan Delay(int attempt)
    {
        var doublings = Math.Clamp(attempt - 1, 0, 30);
        var ceiling = TimeSpan.FromTicks((long)Math.Min(Cap.Ticks, First.Ticks * Math.Pow(2, doublings)));
        double share;
        lock (random) share = random.NextDouble();
        return ceiling / 2 + ceiling / 2 * share;
    }
}
