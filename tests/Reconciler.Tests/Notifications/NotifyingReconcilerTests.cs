using Microsoft.Extensions.Time.Testing;
using Reconciler.Cli;
using Reconciler.Execution;
using Reconciler.Notifications;
using Reconciler.Schema.Model;
using Reconciler.State;
using Reconciler.Tests.Daemon;
using Xunit;

namespace Reconciler.Tests.Notifications;

public sealed class NotifyingReconcilerTests
{
    private sealed class RecordingObserver(bool throws = false) : IApplyObserver
    {
        public List<NotificationEvent> Events { get; } = [];
        public void OnApplyEvent(ApplyEvent applyEvent)
        {
            Events.Add(applyEvent.Kind);
            if (throws) throw new InvalidOperationException("broken notifier");
        }
    }

    private static async Task<(List<NotificationEvent> Events, ReconcileOutcome Outcome)> Run(
        Func<ReconcileRequest, CancellationToken, Task<ReconcileOutcome>> script, bool preempted = false, bool observerThrows = false)
    {
        var fake = new FakeReconciler();
        fake.Script["c1"] = script;
        var observer = new RecordingObserver(observerThrows);
        var reconciler = new NotifyingReconciler(fake, observer, new FakeTimeProvider());
        using var preempt = new CancellationTokenSource();
        if (preempted) await preempt.CancelAsync();
        var outcome = await reconciler.ReconcileAsync(new ReconcileRequest(Desired.For("prod", "c1"), "me@host", null, null, Preempt: preempt.Token), null, CancellationToken.None);
        return (observer.Events, outcome);
    }

    [Fact]
    public async Task Start_then_success()
    {
        var (events, _) = await Run((_, _) => Task.FromResult(FakeReconciler.Outcome(ApplyResult.Succeeded)));
        Assert.Equal([NotificationEvent.Start, NotificationEvent.Success], events);
    }

    [Fact]
    public async Task Start_then_rollback_and_halt_is_a_failure()
    {
        Assert.Equal([NotificationEvent.Start, NotificationEvent.Rollback],
            (await Run((_, _) => Task.FromResult(FakeReconciler.Outcome(ApplyResult.RolledBack, ExitCodes.RolledBack)))).Events);
        Assert.Equal([NotificationEvent.Start, NotificationEvent.Failure],
            (await Run((_, _) => Task.FromResult(FakeReconciler.Outcome(ApplyResult.Halted, ExitCodes.Halted)))).Events);
    }

    [Fact]
    public async Task A_preempted_apply_is_a_rollback()
    {
        var (events, outcome) = await Run((r, ct) => FakeReconciler.BlockUntilCancelled(r, ct), preempted: true);
        Assert.Equal(ApplyResult.Interrupted, outcome.Result);
        Assert.Equal([NotificationEvent.Start, NotificationEvent.Rollback], events);
    }

    [Fact]
    public async Task A_throwing_observer_does_not_fail_the_deploy()
    {
        var (events, outcome) = await Run((_, _) => Task.FromResult(FakeReconciler.Outcome(ApplyResult.Succeeded)), observerThrows: true);
        Assert.Equal(ApplyResult.Succeeded, outcome.Result);
        Assert.Equal(2, events.Count);
    }
}
