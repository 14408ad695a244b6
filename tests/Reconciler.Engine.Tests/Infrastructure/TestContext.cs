namespace Reconciler.Engine.Tests.Infrastructure;

/// <summary>Bounds for waits in tests: nothing in a test waits forever.</summary>
internal static class TestContext
{
    /// <summary>Cancelled after 60 s; pass to every awaited network call in a test.</summary>
    public static CancellationToken Timeout => new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;
}
