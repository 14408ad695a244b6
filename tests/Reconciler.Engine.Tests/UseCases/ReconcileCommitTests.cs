using Reconciler.Daemon;
using Reconciler.Engine.Tests.Daemon;
using Reconciler.Execution;
using Reconciler.Git;
using Reconciler.State;
using Reconciler.UseCases;
using Xunit;

namespace Reconciler.Engine.Tests.UseCases;

/// <summary>The daemon's step for one commit: what it returns, and which results settle the commit for good.</summary>
public sealed class ReconcileCommitTests
{
    private readonly FakeLoader _loader = new();
    private readonly FakeReconciler _reconciler = new();
    private readonly ReconcileCommit _step;

    public ReconcileCommitTests() =>
        _step = new ReconcileCommit(_loader, _reconciler, "/fake/repo", new DaemonOptions("prod", TimeSpan.FromSeconds(5), "daemon@test", MaxParallel: 3));

    private static BranchHead Head(string sha) => new(sha, "Dev <dev@example.com>", "commit " + sha);

    private Task<CommitResult> Run(string sha, Action? starting = null, CancellationToken preempt = default, CancellationToken stop = default) =>
        _step.RunAsync(Head(sha), starting ?? (() => { }), null, preempt, stop);

    [Fact]
    public async Task An_applied_commit_is_settled_and_the_request_carries_the_daemons_settings()
    {
        ReconcileRequest? seen = null;
        _reconciler.Script["c1"] = (request, _) =>
        {
            seen = request;
            return Task.FromResult(FakeReconciler.Outcome(ApplyResult.Succeeded));
        };
        var started = false;

        var result = await Run("c1", () => started = true);

        Assert.True(started);
        Assert.Equal(("c1", ApplyResult.Succeeded, (FailureKind?)null), (result.Commit, result.Outcome?.Result, result.Kind));
        Assert.True(result.Settled);
        Assert.Equal("succeeded", result.Result);
        Assert.Equal(("daemon@test", "Dev <dev@example.com>", 3, "prod"), (seen!.AppliedBy, seen.CommitAuthor, seen.MaxParallel, seen.Desired.Environment));
        Assert.Null(seen.SavedPlan);
    }

    [Fact]
    public async Task A_commit_that_does_not_validate_is_settled_as_invalid_and_never_applied()
    {
        _loader.Invalid["bad"] = "commit bad does not validate";
        var started = false;

        var result = await Run("bad", () => started = true);

        Assert.False(started);
        Assert.Empty(_reconciler.Calls);
        Assert.Null(result.Outcome);
        Assert.Equal(new Failure(FailureKind.InvalidInput, "commit bad does not validate"), result.Error);
        Assert.Equal((true, "invalid"), (result.Settled, result.Result));
    }

    [Theory]
    [InlineData(ApplyResult.RolledBack, FailureKind.CommitFault, true, "rolled-back")]
    [InlineData(ApplyResult.Halted, FailureKind.HostsNeedAttention, true, "halted")]
    [InlineData(ApplyResult.Failed, FailureKind.AlreadyQuarantined, true, "quarantined")]
    [InlineData(ApplyResult.Failed, FailureKind.LockedOrFrozen, false, "retrying")]
    [InlineData(ApplyResult.Failed, FailureKind.StoreUnavailable, false, "retrying")]
    [InlineData(ApplyResult.Failed, FailureKind.StaleOrConflict, false, "retrying")]
    [InlineData(ApplyResult.Failed, FailureKind.EnvironmentFault, false, "retrying")]
    [InlineData(ApplyResult.Interrupted, FailureKind.Interrupted, false, "interrupted")]
    [InlineData(ApplyResult.NoChanges, null, true, "no-changes")]
    public async Task Only_the_commits_own_results_settle_it(ApplyResult applied, FailureKind? kind, bool settled, string word)
    {
        _reconciler.Script["c"] = (_, _) => Task.FromResult(FakeReconciler.Outcome(applied, kind, "message"));

        var result = await Run("c");

        Assert.Equal((kind, "message", settled, word), (result.Kind, result.Message, result.Settled, result.Result));
    }

    [Fact]
    public async Task A_store_that_fails_mid_way_is_a_transient_error_to_retry()
    {
        _reconciler.Script["c"] = (_, _) => throw new ReconcilerException(FailureKind.StoreUnavailable, "consul is down");

        var result = await Run("c");

        Assert.Null(result.Outcome);
        Assert.Equal((FailureKind.StoreUnavailable, "consul is down", false, "retrying"), (result.Kind, result.Message, result.Settled, result.Result));
    }

    [Fact]
    public async Task Pre_empted_or_stopped_is_interrupted_and_not_settled()
    {
        using var preempt = new CancellationTokenSource();
        _reconciler.Script["c"] = async (request, ct) =>
        {
            await preempt.CancelAsync();
            request.Preempt.ThrowIfCancellationRequested();
            return FakeReconciler.Outcome(ApplyResult.Succeeded);
        };

        var result = await Run("c", preempt: preempt.Token);

        Assert.Equal((ApplyResult.Interrupted, FailureKind.Interrupted, false), (result.Outcome?.Result, result.Kind, result.Settled));
    }
}
