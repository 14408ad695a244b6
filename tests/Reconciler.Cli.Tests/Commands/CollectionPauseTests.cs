using System.Runtime;
using Xunit;

namespace Reconciler.Cli.Tests.Cli;

/// <summary>The GC mode is the whole process's: these tests run alone, after every test that may plan in parallel.</summary>
[CollectionDefinition(nameof(ProcessWideGcMode), DisableParallelization = true)]
public sealed class ProcessWideGcMode;

/// <summary><see cref="CollectionPause"/> switches collection off for `plan` and always gives the process its GC mode back.</summary>
[Collection(nameof(ProcessWideGcMode))]
public sealed class CollectionPauseTests
{
    private const long Budget = 16L << 20;

    [Fact]
    public void A_pause_switches_collection_off_and_disposing_restores_the_mode()
    {
        var before = GCSettings.LatencyMode;
        using (var pause = CollectionPause.Start(Budget))
        {
            Assert.True(pause.Started);
            Assert.Equal(GCLatencyMode.NoGCRegion, GCSettings.LatencyMode);
        }
        Assert.Equal(before, GCSettings.LatencyMode);
    }

    [Fact]
    public void A_pause_that_its_budget_ended_disposes_quietly_and_leaves_the_mode_restored()
    {
        var before = GCSettings.LatencyMode;
        var pause = CollectionPause.Start(1L << 20);
        Assert.True(pause.Started);
        var kept = new List<byte[]>();
        for (var i = 0; i < 8192; i++) kept.Add(new byte[1024]);   // 8 MB on the small object heap: past the budget
        Assert.Equal(before, GCSettings.LatencyMode);               // the runtime collected, which ended the region
        pause.Dispose();
        Assert.Equal(before, GCSettings.LatencyMode);
        GC.KeepAlive(kept);
    }

    [Fact]
    public void A_second_pause_while_one_is_open_does_nothing()
    {
        var before = GCSettings.LatencyMode;
        using (var outer = CollectionPause.Start(Budget))
        {
            var inner = CollectionPause.Start(Budget);
            Assert.True(outer.Started);
            Assert.False(inner.Started);
            inner.Dispose();
            Assert.Equal(GCLatencyMode.NoGCRegion, GCSettings.LatencyMode);
        }
        Assert.Equal(before, GCSettings.LatencyMode);
    }
}
