using Xunit;
using System.Collections.Immutable;
using Reconciler.Diff.Planning;
using Reconciler.Execution;
using Reconciler.Schema.Model;

namespace Reconciler.Engine.Tests.Execution;

public sealed class BatchingTests
{
    public static TheoryData<string, int, int, int, string> Cases => new()
    {
        // strategy, maxParallel (negative = percent), canary, hosts, expected batch sizes
        { "rolling", 1, 0, 4, "1,1,1,1" },
        { "rolling", 2, 0, 5, "2,2,1" },
        { "rolling", 10, 0, 3, "3" },
        { "rolling", -25, 0, 8, "2,2,2,2" },
        { "rolling", -30, 0, 10, "3,3,3,1" },
        { "rolling", -1, 0, 3, "1,1,1" },
        { "canary", 2, 1, 5, "1,2,2" },
        { "canary", -50, 2, 6, "2,3,1" },
        { "canary", 3, 9, 2, "2" },
        { "blue-green", 1, 0, 4, "4" },
        { "rolling", 2, 0, 0, "" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Batches_follow_the_strategy(string kind, int maxParallel, int canary, int hosts, string expected)
    {
        var strategy = new StrategySpec(
            kind switch { "canary" => StrategyKind.Canary, "blue-green" => StrategyKind.BlueGreen, _ => StrategyKind.Rolling },
            new MaxParallel(Math.Abs(maxParallel), maxParallel < 0), canary);
        var changes = Enumerable.Range(1, hosts).Select(i => new HostChange($"h{i}", null, "a", "b")).ToImmutableArray();

        var batches = Batching.Split(strategy, changes, hosts);

        Assert.Equal(expected, string.Join(",", batches.Select(b => b.Length)));
        Assert.Equal(changes, batches.SelectMany(b => b));   // every host once, rollout order kept
    }
}
