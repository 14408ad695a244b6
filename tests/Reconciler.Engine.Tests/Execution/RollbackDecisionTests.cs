using Reconciler.Diff.Planning;
using Reconciler.Execution;
using Reconciler.Schema.Model;
using Xunit;
using static Reconciler.Engine.Tests.Execution.ExecutorWorld;

namespace Reconciler.Engine.Tests.Execution;

/// <summary>The rollback step records whether it quarantines; a resumed rollback reads that, not the reason's words.</summary>
public sealed class RollbackDecisionTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_decision_round_trips_through_the_journal_detail(bool quarantine)
    {
        var decision = new RollbackDecision("pre-empted: web-3 failed its gate", quarantine);
        Assert.Equal(decision, RollbackDecision.FromDetail(decision.ToDetail()));
    }

    [Theory]
    [InlineData("pre-empted: pre-empted by a newer commit", false)]
    [InlineData("api: health gate failed after batch 1: web-3", true)]
    [InlineData("{not json", true)]
    public void A_reason_journaled_by_the_previous_version_is_read_as_that_version_meant_it(string detail, bool quarantine)
    {
        Assert.Equal(new RollbackDecision(detail, quarantine), RollbackDecision.FromDetail(detail));
    }

    [Fact]
    public void A_rollback_without_a_journaled_reason_quarantines()
    {
        Assert.True(RollbackDecision.FromDetail(null).Quarantine);
    }

    /// <summary>A service named "pre-empted" fails its gate: its failure reads "pre-empted: ...", which the previous
    /// version took for a pre-emption when another process resumed the rollback, and left the bad commit unquarantined.</summary>
    [Fact]
    public async Task A_resumed_rollback_of_a_service_named_pre_empted_still_quarantines()
    {
        var old = Service("pre-empted", "1.0.0");
        var bad = Service("pre-empted", "1.1.0");
        var clean = new ExecutorWorld();
        clean.Deployed("c0", old);
        clean.Probe.Healthy = (h, r) => !(h == "web-2" && r == ServiceFields.ReleaseId(bad));
        await clean.ApplyAsync(clean.Request(clean.Desired("c1", [bad])));
        var rollbackAt = clean.Store.AllJournal.ToList().FindIndex(e => e.Step == "rollback") + 1;
        Assert.True(rollbackAt > 0, "the first run rolls back");

        var w = new ExecutorWorld();
        w.Deployed("c0", old);
        w.Probe.Healthy = clean.Probe.Healthy;
        w.Store.CrashAfterJournalEntries = rollbackAt;   // dies right after journaling the rollback
        await Assert.ThrowsAnyAsync<Exception>(() => w.ApplyAsync(w.Request(w.Desired("c1", [bad]))));
        w.Store.Revive();
        w.Time.Advance(TimeSpan.FromMinutes(3));

        var rerun = await w.ApplyAsync(w.Request(w.Desired("c1", [bad])));

        Assert.Equal(FailureKind.CommitFault, rerun.Failure);
        Assert.Single(await w.Store.ReadQuarantineAsync(Env, CancellationToken.None), q => q.Commit == "c1");
    }
}
