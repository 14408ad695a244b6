using Xunit;
using System.Collections.Immutable;
using Reconciler.Diff.Planning;
using Reconciler.Drivers;
using Reconciler.Execution;
using Reconciler.Schema.Model;
using Reconciler.State;
using static Reconciler.Engine.Tests.Execution.ExecutorWorld;

namespace Reconciler.Engine.Tests.Execution;

public sealed class ExecutorTests
{
    private static string Json(object value) => System.Text.Json.JsonSerializer.Serialize(value, ReconcilerJson.Options);

    private static async Task AssertConverged(ExecutorWorld w, string commit, params ServiceSpec[] services)
    {
        var live = await w.LiveAsync();
        Assert.Equal(commit, live.LastGoodCommit);
        foreach (var s in services)
        {
            var release = ServiceFields.ReleaseId(s);
            Assert.Equal(s.Version, live.Services[s.Name].Version);
            Assert.Equal(release, live.Services[s.Name].ReleaseId);
            foreach (var h in w.Hosts)
            {
                Assert.Equal(release, w.Driver.Current(h.Name, s.Deploy.Path));
                Assert.Equal(release, live.Services[s.Name].Hosts[h.Name].ActiveRelease);
            }
        }
        Assert.Empty(await w.Store.ReadOpenJournalAsync(Env, CancellationToken.None));
        Assert.Null(await w.Store.ReadLockAsync(Env, CancellationToken.None));
    }

    [Fact]
    public async Task Rolling_two_wave_deploy_upgrades_every_host_in_wave_order_and_records_history()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        var db = Service("db", "2.1.0");
        var api = Service("api", "1.5.0", dependsOn: ["db"]);

        var outcome = await w.ApplyAsync(w.Request(w.Desired("c1", [db, api])));

        Assert.Equal(ApplyResult.Succeeded, outcome.Result);
        Assert.Null(outcome.Failure);
        await AssertConverged(w, "c1", db, api);
        var activations = w.Driver.Calls.Where(c => c.Contains(" activate ")).ToList();
        // Wave 1 (db) finishes on every host before wave 2 (api) starts.
        Assert.True(activations.FindLastIndex(c => c.Contains("/srv/db")) < activations.FindIndex(c => c.Contains("/srv/api")));
        // Batches of two: web-1/web-2 switch and pass their gate before web-3/web-4 switch.
        var journal = w.Store.AllJournal.Select(e => $"{e.Step}:{e.Status}").ToList();
        Assert.True(journal.IndexOf("w1/db/batch-1/gate:Finished") < journal.IndexOf("w1/db/web-3/activate:Started"));
        Assert.Contains("w2/api/batch-2/state:Finished", journal);
        var history = Assert.Single(await w.Store.ReadHistoryAsync(Env, 10, CancellationToken.None));
        Assert.Equal(ApplyResult.Succeeded, history.Result);
        Assert.Equal("version 1.4.2 -> 1.5.0", history.ServiceOutcomes["api"]);
        // Secrets are resolved for the host and never appear in the journal.
        Assert.DoesNotContain(w.Store.AllJournal, e => e.Detail?.Contains("resolved:") == true);
        Assert.Contains(w.Driver.Calls, c => c.StartsWith("web-1 prune /srv/api", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_new_commit_live_already_matches_is_recorded_as_last_good_only_while_nobody_holds_the_lock()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        var same = w.Desired("c1", [DbOld, ApiOld]);   // say, the revert of a commit that was rolled back

        // Someone is applying: their apply relies on the version it read, so nothing is written under it.
        Assert.True((await w.Store.TryAcquireLockAsync(Env, "other@ci pid 1", "apply c9", TimeSpan.FromMinutes(5), CancellationToken.None)).Acquired);
        var versionBefore = (await w.LiveAsync()).Version;
        var whileLocked = await w.ApplyAsync(w.Request(same));
        Assert.Equal(ApplyResult.NoChanges, whileLocked.Result);
        Assert.Equal(versionBefore, (await w.LiveAsync()).Version);
        Assert.Equal("c0", (await w.LiveAsync()).LastGoodCommit);
        Assert.Equal("other@ci pid 1", (await w.Store.ReadLockAsync(Env, CancellationToken.None))!.Owner);

        // Lock free: recorded, and the brief lock it took is released.
        await w.Store.ReleaseLockAsync(Env, "other@ci pid 1", force: false, CancellationToken.None);
        var free = await w.ApplyAsync(w.Request(same));
        Assert.Equal(ApplyResult.NoChanges, free.Result);
        Assert.Equal("c1", (await w.LiveAsync()).LastGoodCommit);
        Assert.Null(await w.Store.ReadLockAsync(Env, CancellationToken.None));
    }

    [Fact]
    public async Task Applying_an_applied_commit_reports_no_changes_and_touches_nothing()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        var callsBefore = w.Driver.Calls.Count;

        var outcome = await w.ApplyAsync(w.Request(w.Desired("c0", [DbOld, ApiOld])));

        Assert.Equal(ApplyResult.NoChanges, outcome.Result);
        Assert.Null(outcome.Failure);
        Assert.StartsWith("No changes.", outcome.Message);
        Assert.Equal(callsBefore, w.Driver.Calls.Count);
        Assert.Equal(0, w.Store.Writes);
        Assert.Equal(0, w.Store.JournalCount);
    }

    [Fact]
    public async Task Canary_that_fails_its_gate_rolls_back_every_host_and_the_store_and_quarantines_the_commit()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        var before = await w.LiveAsync();
        var bad = Service("api", "1.5.0", Canary(1), dependsOn: ["db"]);
        var badRelease = ServiceFields.ReleaseId(bad);
        w.Probe.Healthy = (_, release) => release != badRelease;

        var outcome = await w.ApplyAsync(w.Request(w.Desired("c1", [DbOld, bad])));

        Assert.Equal(ApplyResult.RolledBack, outcome.Result);
        Assert.Equal(FailureKind.CommitFault, outcome.Failure);
        Assert.Contains("reconciler revert c1", outcome.Message);
        Assert.Contains("git revert c1", outcome.Message);
        Assert.Contains("answers 503", outcome.Message);
        // Only the canary host was ever switched, and it is back on the old release.
        Assert.Equal(["web-1 activate /srv/api " + badRelease, "web-1 activate /srv/api " + ServiceFields.ReleaseId(ApiOld)],
            w.Driver.Calls.Where(c => c.Contains(" activate ")).ToList());
        foreach (var h in w.Hosts) Assert.Equal(ServiceFields.ReleaseId(ApiOld), w.Driver.Current(h.Name, "/srv/api"));
        var after = await w.LiveAsync();
        Assert.Equal(Json(before.Services), Json(after.Services));
        Assert.Equal("c0", after.LastGoodCommit);
        var q = Assert.Single(await w.Store.ReadQuarantineAsync(Env, CancellationToken.None));
        Assert.Equal("c1", q.Commit);
        Assert.Equal(ApplyResult.RolledBack, (await w.Store.ReadHistoryAsync(Env, 1, CancellationToken.None))[0].Result);
        Assert.Empty(await w.Store.ReadOpenJournalAsync(Env, CancellationToken.None));

        // The daemon relies on this: the quarantined commit is refused, nothing is touched.
        var calls = w.Driver.Calls.Count;
        var again = await w.ApplyAsync(w.Request(w.Desired("c1", [DbOld, bad])));
        Assert.Equal(FailureKind.AlreadyQuarantined, again.Failure);
        Assert.Contains("quarantined", again.Message);
        Assert.Equal(calls, w.Driver.Calls.Count);
    }

    [Fact]
    public async Task Blue_green_stages_on_every_host_before_switching_any()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        var api = Service("api", "1.5.0", BlueGreen(), dependsOn: ["db"]);

        var outcome = await w.ApplyAsync(w.Request(w.Desired("c1", [DbOld, api])));

        Assert.Equal(ApplyResult.Succeeded, outcome.Result);
        var calls = w.Driver.Calls.Where(c => c.Contains("/srv/api")).ToList();
        Assert.True(calls.FindLastIndex(c => c.Contains(" stage ")) < calls.FindIndex(c => c.Contains(" activate ")));
        Assert.Single(w.Store.AllJournal, e => e.Step.EndsWith("/gate", StringComparison.Ordinal) && e.Status == JournalStatus.Finished);
        await AssertConverged(w, "c1", DbOld, api);
    }

    [Fact]
    public async Task Blue_green_gate_failure_switches_every_host_back()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        var api = Service("api", "1.5.0", BlueGreen(), dependsOn: ["db"]);
        w.Probe.Healthy = (host, release) => host != "web-3" || release != ServiceFields.ReleaseId(api);

        var outcome = await w.ApplyAsync(w.Request(w.Desired("c1", [DbOld, api])));

        Assert.Equal(ApplyResult.RolledBack, outcome.Result);
        Assert.Contains("web-3", outcome.Message);
        foreach (var h in w.Hosts) Assert.Equal(ServiceFields.ReleaseId(ApiOld), w.Driver.Current(h.Name, "/srv/api"));
    }

    [Fact]
    public async Task A_host_that_drops_mid_rollout_fails_clearly_rolls_back_what_was_done_in_earlier_waves_and_quarantines_nothing()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        var db = Service("db", "2.1.0");
        var api = Service("api", "1.5.0", dependsOn: ["db"]);
        w.Driver.FailWhen = (host, op) => host == "web-4" && op == "stage" && w.Driver.Calls.Any(c => c.Contains("/srv/db 2.1.0") && c.Contains("activate") && c.StartsWith("web-4"))
            ? new HostStepException("web-4", "connect", "connection refused (127.0.0.1:2204)") : null;

        var outcome = await w.ApplyAsync(w.Request(w.Desired("c1", [db, api])));

        // The environment's fault, not the commit's: rolled back, not quarantined.
        Assert.Equal(ApplyResult.EnvironmentFault, outcome.Result);
        Assert.Equal(FailureKind.EnvironmentFault, outcome.Failure);
        Assert.Empty(await w.Store.ReadQuarantineAsync(Env, CancellationToken.None));
        Assert.Contains("web-4", outcome.Message);
        Assert.Contains("connection refused", outcome.Message);
        // db (wave 1) completed on all hosts and was rolled back too; api never switched anywhere.
        foreach (var h in w.Hosts)
        {
            Assert.Equal(ServiceFields.ReleaseId(DbOld), w.Driver.Current(h.Name, "/srv/db"));
            Assert.Equal(ServiceFields.ReleaseId(ApiOld), w.Driver.Current(h.Name, "/srv/api"));
        }
        var live = await w.LiveAsync();
        Assert.Equal("2.0.0", live.Services["db"].Version);
        Assert.All(live.Services["db"].Hosts.Values, h => Assert.Equal(ServiceFields.ReleaseId(DbOld), h.ActiveRelease));
        var failedStep = Assert.Single(w.Store.AllJournal, e => e.Status == JournalStatus.Failed && e.Step.Contains("web-4"));
        Assert.Contains("connection refused", failedStep.Detail);
    }

    [Fact]
    public async Task OnFailure_halt_stops_leaves_hosts_and_records_honest_state()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        var api = Service("api", "1.5.0", Rolling(2), dependsOn: ["db"], onFailure: OnFailure.Halt);
        var release = ServiceFields.ReleaseId(api);
        w.Probe.Healthy = (host, r) => !(host == "web-3" && r == release);

        var outcome = await w.ApplyAsync(w.Request(w.Desired("c1", [DbOld, api])));

        Assert.Equal(ApplyResult.Halted, outcome.Result);
        Assert.Equal(FailureKind.HostsNeedAttention, outcome.Failure);
        var live = await w.LiveAsync();
        // First batch passed and was recorded; the second batch switched and failed its gate: the store says what those
        // hosts run now (the new release, their switch finished), not their old release.
        Assert.Equal(release, live.Services["api"].Hosts["web-1"].ActiveRelease);
        Assert.Equal(ServiceFields.ReleaseId(ApiOld), live.Services["api"].Hosts["web-1"].PreviousRelease);
        Assert.Equal(release, live.Services["api"].Hosts["web-3"].ActiveRelease);
        Assert.Equal(ServiceFields.ReleaseId(ApiOld), live.Services["api"].Hosts["web-3"].PreviousRelease);
        Assert.Null(live.Services["api"].Hosts["web-3"].UnknownBecause);
        foreach (var h in w.Hosts)
            Assert.Equal(w.Driver.Current(h.Name, "/srv/api"), live.Services["api"].Hosts[h.Name].ActiveRelease);
        Assert.Equal("1.4.2", live.Services["api"].Version);
        Assert.Equal("c0", live.LastGoodCommit);
        Assert.Single(await w.Store.ReadQuarantineAsync(Env, CancellationToken.None));
        Assert.Empty(await w.Store.ReadOpenJournalAsync(Env, CancellationToken.None));
    }

    [Fact]
    public async Task Environment_onFailure_halt_applies_when_the_service_says_nothing()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        var api = Service("api", "1.5.0", dependsOn: ["db"]);
        w.Probe.Healthy = (_, r) => r != ServiceFields.ReleaseId(api);

        var outcome = await w.ApplyAsync(w.Request(w.Desired("c1", [DbOld, api], envOnFailure: OnFailure.Halt)));

        Assert.Equal(ApplyResult.Halted, outcome.Result);
    }

    [Fact]
    public async Task Creating_and_removing_services_and_switching_a_toggle_after_its_wave()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        var worker = Service("worker", "0.1.0");
        var toggle = new DesiredToggle("new-checkout", true, ImmutableSortedDictionary<string, string>.Empty);

        var outcome = await w.ApplyAsync(w.Request(w.Desired("c1", [DbOld, worker], [toggle])));

        Assert.Equal(ApplyResult.Succeeded, outcome.Result);
        var live = await w.LiveAsync();
        Assert.False(live.Services.ContainsKey("api"));
        Assert.True(live.Toggles["new-checkout"].Enabled);
        Assert.All(w.Hosts, h => Assert.Null(w.Driver.Current(h.Name, "/srv/api")));
        await AssertConverged(w, "c1", DbOld, worker);
    }

    [Fact]
    public async Task Rollback_restores_toggles_removes_created_services_and_brings_removed_ones_back()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        var before = await w.LiveAsync();
        var worker = Service("worker", "0.1.0");
        var db = Service("db", "2.1.0");
        var toggle = new DesiredToggle("new-checkout", true, ImmutableSortedDictionary<string, string>.Empty);
        // Fails in the remove wave, after worker was created and the toggle switched.
        var failures = 0;
        w.Driver.FailWhen = (host, op) => host == "web-2" && op == "remove" && Interlocked.Increment(ref failures) == 1
            ? new HostStepException(host, "remove", "permission denied") : null;

        var outcome = await w.ApplyAsync(w.Request(w.Desired("c1", [db, worker], [toggle])));

        Assert.True(outcome.Result == ApplyResult.EnvironmentFault, outcome.Message);   // a host refused: not the commit's fault
        var live = await w.LiveAsync();
        Assert.Equal(Json(before.Services), Json(live.Services));
        Assert.Empty(live.Toggles);
        foreach (var h in w.Hosts)
        {
            Assert.Null(w.Driver.Current(h.Name, "/srv/worker"));
            Assert.Equal(ServiceFields.ReleaseId(ApiOld), w.Driver.Current(h.Name, "/srv/api"));
            Assert.Equal(ServiceFields.ReleaseId(DbOld), w.Driver.Current(h.Name, "/srv/db"));
        }
    }

    [Fact]
    public async Task Locked_environment_is_refused_unless_forced_with_a_reason()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        await w.Store.TryAcquireLockAsync(Env, "bob@ci", "manual maintenance", TimeSpan.FromHours(1), CancellationToken.None);
        var desired = w.Desired("c1", [Service("db", "2.1.0"), ApiOld]);

        var refused = await w.ApplyAsync(w.Request(desired));
        Assert.Equal(FailureKind.LockedOrFrozen, refused.Failure);
        Assert.Contains("bob@ci", refused.Message);
        Assert.Contains("manual maintenance", refused.Message);
        Assert.Equal(0, w.Store.Writes);

        await Assert.ThrowsAsync<ReconcilerException>(() => w.ApplyAsync(w.Request(desired, force: true)));

        var forced = await w.ApplyAsync(w.Request(desired, force: true, reason: "incident 42"));
        Assert.Equal(ApplyResult.Succeeded, forced.Result);
        Assert.Contains("incident 42", (await w.Store.ReadHistoryAsync(Env, 1, CancellationToken.None))[0].Message);
    }

    [Fact]
    public async Task Frozen_environment_and_freeze_windows_are_refused()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        var now = w.Time.GetUtcNow();
        var windowed = w.Desired("c1", [Service("db", "2.1.0"), ApiOld], freeze: [new FreezeWindow(now.AddHours(-1), now.AddHours(1), "holiday freeze")]);
        var refused = await w.ApplyAsync(w.Request(windowed));
        Assert.Equal(FailureKind.LockedOrFrozen, refused.Failure);
        Assert.Contains("holiday freeze", refused.Message);

        await w.Store.SetFreezeAsync(Env, new FreezeInfo("release train", "carol", now), CancellationToken.None);
        var frozen = await w.ApplyAsync(w.Request(w.Desired("c1", [Service("db", "2.1.0"), ApiOld])));
        Assert.Equal(FailureKind.LockedOrFrozen, frozen.Failure);
        Assert.Contains("release train", frozen.Message);
        Assert.Equal(0, w.Store.Writes);
    }

    [Fact]
    public async Task Saved_plan_is_applied_exactly_and_refused_naming_what_moved_when_live_state_changed()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        var desired = w.Desired("c1", [Service("db", "2.1.0"), Service("api", "1.5.0", dependsOn: ["db"])]);
        var saved = TestPlanner.Plan(desired, await w.LiveAsync());

        // Someone else deploys api 1.4.9 meanwhile.
        var other = Service("api", "1.4.9", dependsOn: ["db"]);
        var moved = await w.ApplyAsync(w.Request(w.Desired("c-other", [DbOld, other])));
        Assert.Equal(ApplyResult.Succeeded, moved.Result);

        var stale = await Assert.ThrowsAsync<ReconcilerException>(() => w.ApplyAsync(w.Request(desired, saved)));
        Assert.Equal(FailureKind.StaleOrConflict, stale.Kind);
        Assert.Contains("api", stale.Message);
        Assert.DoesNotContain("db", stale.Message.Split("differs now:")[1]);

        var fresh = TestPlanner.Plan(desired, await w.LiveAsync());
        var applied = await w.ApplyAsync(w.Request(desired, fresh));
        Assert.Equal(ApplyResult.Succeeded, applied.Result);
        // What runs is the plan apply computed itself, identical to the saved one (never the saved object: issue 11, finding 5).
        Assert.NotSame(fresh, applied.Plan);
        Assert.Null(SavedPlanCheck.FirstDifference(fresh, applied.Plan!));
    }

    [Fact]
    public async Task Preemption_cancels_the_health_wait_and_rolls_back_without_quarantine()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        var api = Service("api", "1.5.0", dependsOn: ["db"], health: Health(deadlineSeconds: 600));
        w.Probe.Healthy = (_, r) => r != ServiceFields.ReleaseId(api);
        using var preempt = new CancellationTokenSource();
        var task = Task.Run(() => w.Reconciler().ReconcileAsync(w.Request(w.Desired("c1", [DbOld, api]), preempt: preempt.Token), null, CancellationToken.None));
        // Wait (bounded, in fake time) until the gate is probing, then a newer commit arrives.
        for (var i = 0; i < 5000 && w.Probe.ProbesOf("web-1") < 3; i++) { await Task.Delay(1); w.Time.Advance(TimeSpan.FromSeconds(1)); }
        Assert.True(w.Probe.ProbesOf("web-1") >= 3);
        await preempt.CancelAsync();

        var outcome = await w.Drive(task);

        Assert.Equal(ApplyResult.Interrupted, outcome.Result);
        Assert.Equal(FailureKind.Interrupted, outcome.Failure);
        Assert.Empty(await w.Store.ReadQuarantineAsync(Env, CancellationToken.None));
        foreach (var h in w.Hosts) Assert.Equal(ServiceFields.ReleaseId(ApiOld), w.Driver.Current(h.Name, "/srv/api"));
        Assert.True(w.Time.GetUtcNow() - new DateTimeOffset(2026, 11, 2, 9, 0, 0, TimeSpan.Zero) < TimeSpan.FromSeconds(600));
    }

    [Fact]
    public async Task Cancellation_stops_at_a_safe_point_keeps_the_journal_and_the_next_run_resumes()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        var db = Service("db", "2.1.0");
        var api = Service("api", "1.5.0", dependsOn: ["db"]);
        using var cts = new CancellationTokenSource();
        w.Driver.FailWhen = (host, op) =>
        {
            if (host == "web-3" && op == "activate") cts.Cancel();   // SIGTERM arrives mid-step
            return null;
        };
        var first = await w.ApplyAsync(w.Request(w.Desired("c1", [db, api])), cts.Token);
        Assert.Equal(ApplyResult.Interrupted, first.Result);
        Assert.Equal(FailureKind.Interrupted, first.Failure);
        // The step in progress finished and was journaled; the lock is released; the journal stays open.
        Assert.Contains(w.Store.AllJournal, e => e.Step == "w1/db/web-3/activate" && e.Status == JournalStatus.Finished);
        Assert.NotEmpty(await w.Store.ReadOpenJournalAsync(Env, CancellationToken.None));
        Assert.Null(await w.Store.ReadLockAsync(Env, CancellationToken.None));

        w.Driver.FailWhen = (_, _) => null;
        var stagesBefore = w.Driver.Calls.Count(c => c.Contains(" stage /srv/db"));
        var second = await w.ApplyAsync(w.Request(w.Desired("c1", [db, api])));
        Assert.Equal(ApplyResult.Succeeded, second.Result);
        await AssertConverged(w, "c1", db, api);
        Assert.Equal(stagesBefore, w.Driver.Calls.Count(c => c.Contains(" stage /srv/db")));   // finished steps are not redone
        Assert.Single(await w.Store.ReadHistoryAsync(Env, 10, CancellationToken.None));
    }

    [Fact]
    public async Task Killed_at_any_journal_entry_a_rerun_converges()
    {
        // Count the journal entries of a clean run, then crash at each one in turn.
        var clean = new ExecutorWorld();
        clean.Deployed("c0", DbOld, ApiOld);
        var db = Service("db", "2.1.0");
        var api = Service("api", "1.5.0", Canary(1), dependsOn: ["db"]);
        await clean.ApplyAsync(clean.Request(clean.Desired("c1", [db, api])));
        var total = clean.Store.JournalCount;
        Assert.True(total > 20);

        for (var crashAt = 1; crashAt <= total; crashAt++)
        {
            var w = new ExecutorWorld();
            w.Deployed("c0", DbOld, ApiOld);
            w.Store.CrashAfterJournalEntries = crashAt;
            await Assert.ThrowsAnyAsync<Exception>(() => w.ApplyAsync(w.Request(w.Desired("c1", [db, api]))));
            w.Store.Revive();
            w.Time.Advance(TimeSpan.FromMinutes(3));   // the dead process's lock expires

            var rerun = await w.ApplyAsync(w.Request(w.Desired("c1", [db, api])));

            Assert.True(rerun.Result == ApplyResult.Succeeded, $"crash at entry {crashAt}: {rerun.Result} {rerun.Message}");
            await AssertConverged(w, "c1", db, api);
            var again = await w.ApplyAsync(w.Request(w.Desired("c1", [db, api])));
            Assert.Equal(ApplyResult.NoChanges, again.Result);
        }
    }

    [Fact]
    public async Task Killed_during_a_rollback_the_rerun_finishes_the_rollback()
    {
        var bad = Service("api", "1.5.0", Rolling(2), dependsOn: ["db"]);
        var clean = new ExecutorWorld();
        clean.Deployed("c0", DbOld, ApiOld);
        clean.Probe.Healthy = (h, r) => !(h == "web-3" && r == ServiceFields.ReleaseId(bad));
        await clean.ApplyAsync(clean.Request(clean.Desired("c1", [DbOld, bad])));
        var rollbackAt = clean.Store.AllJournal.ToList().FindIndex(e => e.Step == "rollback") + 1;
        var total = clean.Store.JournalCount;

        for (var crashAt = rollbackAt; crashAt <= total; crashAt++)
        {
            var w = new ExecutorWorld();
            w.Deployed("c0", DbOld, ApiOld);
            var before = await w.LiveAsync();
            w.Probe.Healthy = clean.Probe.Healthy;
            w.Store.CrashAfterJournalEntries = crashAt;
            await Assert.ThrowsAnyAsync<Exception>(() => w.ApplyAsync(w.Request(w.Desired("c1", [DbOld, bad]))));
            w.Store.Revive();
            w.Time.Advance(TimeSpan.FromMinutes(3));

            var rerun = await w.ApplyAsync(w.Request(w.Desired("c1", [DbOld, bad])));

            Assert.True(rerun.Failure is FailureKind.CommitFault or FailureKind.AlreadyQuarantined, $"crash at {crashAt}: {rerun.Message}");
            foreach (var h in w.Hosts) Assert.Equal(ServiceFields.ReleaseId(ApiOld), w.Driver.Current(h.Name, "/srv/api"));
            Assert.Equal(Json(before.Services), Json((await w.LiveAsync()).Services));
            Assert.Single(await w.Store.ReadQuarantineAsync(Env, CancellationToken.None), q => q.Commit == "c1");
        }
    }

    [Fact]
    public async Task A_new_commit_after_an_interrupted_apply_repairs_hosts_left_mid_switch()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        var db = Service("db", "2.1.0");
        // Crash right after web-1 started switching db, before its batch state was written.
        var clean = new ExecutorWorld();
        clean.Deployed("c0", DbOld, ApiOld);
        await clean.ApplyAsync(clean.Request(clean.Desired("c1", [db, ApiOld])));
        var crashAt = clean.Store.AllJournal.ToList().FindIndex(e => e.Step == "w1/db/web-1/activate" && e.Status == JournalStatus.Finished) + 1;
        w.Store.CrashAfterJournalEntries = crashAt;
        await Assert.ThrowsAnyAsync<Exception>(() => w.ApplyAsync(w.Request(w.Desired("c1", [db, ApiOld]))));
        w.Store.Revive();
        w.Time.Advance(TimeSpan.FromMinutes(3));
        Assert.Equal(ServiceFields.ReleaseId(db), w.Driver.Current("web-1", "/srv/db"));

        // c2 reverts db to 2.0.0: the planner sees no change for db, so the host must be repaired first.
        var outcome = await w.ApplyAsync(w.Request(w.Desired("c2", [DbOld, Service("api", "1.5.0", dependsOn: ["db"])])));

        Assert.Equal(ApplyResult.Succeeded, outcome.Result);
        foreach (var h in w.Hosts) Assert.Equal(ServiceFields.ReleaseId(DbOld), w.Driver.Current(h.Name, "/srv/db"));
        var history = await w.Store.ReadHistoryAsync(Env, 10, CancellationToken.None);
        Assert.Equal([ApplyResult.Succeeded, ApplyResult.Interrupted], history.Select(h => h.Result));
    }

    [Fact]
    public async Task A_repair_uses_the_batch_the_interrupted_apply_journaled_not_one_inferred_from_the_new_commits_strategy()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        // c1: canary web-1, then web-2..web-4 together. Crash right after web-3 switched, before batch 2's state write.
        var db = Service("db", "2.1.0", Canary(1, maxParallel: 3));
        var clean = new ExecutorWorld();
        clean.Deployed("c0", DbOld, ApiOld);
        await clean.ApplyAsync(clean.Request(clean.Desired("c1", [db, ApiOld])));
        var crashAt = clean.Store.AllJournal.ToList().FindIndex(e => e.Step == "w1/db/web-3/activate" && e.Status == JournalStatus.Finished) + 1;
        w.Store.CrashAfterJournalEntries = crashAt;
        await Assert.ThrowsAnyAsync<Exception>(() => w.ApplyAsync(w.Request(w.Desired("c1", [db, ApiOld]))));
        w.Store.Revive();
        w.Time.Advance(TimeSpan.FromMinutes(3));
        Assert.Equal(ServiceFields.ReleaseId(db), w.Driver.Current("web-3", "/srv/db"));

        // c2 reverts db with one batch of all hosts: by c2's strategy web-3 would be in batch 1, whose state (the canary's)
        // was written. It was in c1's batch 2, which was not: web-3 must be switched back.
        var outcome = await w.ApplyAsync(w.Request(w.Desired("c2", [Service("db", "2.0.0", Rolling(4)), ApiOld])));

        Assert.True(outcome.Succeeded, outcome.Message);
        foreach (var h in w.Hosts) Assert.Equal(ServiceFields.ReleaseId(DbOld), w.Driver.Current(h.Name, "/srv/db"));
    }

    [Fact]
    public async Task Lock_is_renewed_during_a_long_gate_and_released_at_the_end()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        // A gate that needs 5 minutes of health, longer than the 2-minute lock TTL.
        var api = Service("api", "1.5.0", BlueGreen(), dependsOn: ["db"], health: Health(passes: 2, minHealthySeconds: 300, deadlineSeconds: 600));
        var outcome = await w.ApplyAsync(w.Request(w.Desired("c1", [DbOld, api])));
        Assert.Equal(ApplyResult.Succeeded, outcome.Result);
        Assert.Null(await w.Store.ReadLockAsync(Env, CancellationToken.None));
    }

    [Fact]
    public async Task Progress_reports_waves_services_hosts_and_gates()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        await w.ApplyAsync(w.Request(w.Desired("c1", [Service("db", "2.1.0"), ApiOld])));
        Assert.Contains(w.ProgressEvents, p => p is { Wave: 1, Service: "db", Host: "web-2", Step: "activate", Status: "finished" });
        Assert.Contains(w.ProgressEvents, p => p is { Service: "db", Step: "gate", Status: "passed" });
        Assert.Contains(w.ProgressEvents, p => p is { Step: "wave", Status: "finished" });
    }

    [Fact]
    public async Task A_host_dropped_from_the_inventory_is_forgotten_not_contacted()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        var desired = w.Desired("c1", [DbOld, ApiOld]);
        var fewer = desired with
        {
            EnvironmentSpec = desired.EnvironmentSpec with
            {
                HostGroups = desired.EnvironmentSpec.HostGroups.SetItem("web", new HostGroup("web", [.. w.Hosts.Take(3)])),
            },
        };
        // The test planner only plans hosts of the group; plan the removal from web-4 by hand, as the real planner does.
        var live = await w.LiveAsync();
        var removal = new ServiceChange("db", ServiceAction.Upgrade, "host web-4 leaves", "2.0.0", "2.0.0", live.Services["db"].ReleaseId,
            live.Services["db"].ReleaseId, "web", [], [new HostChange("web-4", null, live.Services["db"].ReleaseId, null)], 1);
        var plan = TestPlanner.Plan(fewer, live) is var p ? p with
        {
            Services = [.. p.Services.Where(s => s.Service != "db").Append(removal)],
            Waves = [new PlanWave(1, WaveKind.Deploy, ["db"], [], [])],
        } : null;

        w.Planner = (_, _) => plan!;   // not as a saved plan: apply re-plans those and runs only an identical plan

        var outcome = await w.ApplyAsync(w.Request(fewer));

        Assert.True(outcome.Result == ApplyResult.Succeeded, outcome.Message);
        Assert.DoesNotContain(w.Driver.Calls, c => c.StartsWith("web-4 ", StringComparison.Ordinal) && !c.Contains(" open"));
        Assert.False((await w.LiveAsync()).Services["db"].Hosts.ContainsKey("web-4"));
        Assert.Contains(w.ProgressEvents, e => e.Host == "web-4" && e.Status.StartsWith("skipped", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_lock_left_by_a_dead_process_of_the_same_user_and_machine_is_taken_over_without_waiting_for_its_ttl()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        using var gone = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("true") { UseShellExecute = false })!;
        await gone.WaitForExitAsync();
        await w.Store.TryAcquireLockAsync(Env, $"alice@laptop pid {gone.Id} (apply x)", "apply c1", TimeSpan.FromHours(1), CancellationToken.None);

        var outcome = await w.ApplyAsync(w.Request(w.Desired("c1", [Service("db", "2.1.0"), ApiOld])));

        Assert.True(outcome.Result == ApplyResult.Succeeded, outcome.Message);
        Assert.Contains(w.ProgressEvents, p => p.Step == "lock" && p.Status.Contains("that process is gone"));
        // Someone else's lock, or one of a live process, is respected.
        await w.Store.TryAcquireLockAsync(Env, $"bob@ci pid {gone.Id} (apply y)", "apply", TimeSpan.FromHours(1), CancellationToken.None);
        Assert.Equal(FailureKind.LockedOrFrozen, (await w.ApplyAsync(w.Request(w.Desired("c2", [Service("db", "2.2.0"), ApiOld])))).Failure);
        await w.Store.ReleaseLockAsync(Env, "", force: true, CancellationToken.None);
        await w.Store.TryAcquireLockAsync(Env, $"alice@laptop pid {Environment.ProcessId} (apply z)", "apply", TimeSpan.FromHours(1), CancellationToken.None);
        Assert.Equal(FailureKind.LockedOrFrozen, (await w.ApplyAsync(w.Request(w.Desired("c2", [Service("db", "2.2.0"), ApiOld])))).Failure);
    }

    private sealed class RecordingObserver : IApplyObserver
    {
        public List<ApplyEvent> Events { get; } = [];
        public void OnApplyEvent(ApplyEvent applyEvent) { lock (Events) Events.Add(applyEvent); }
    }

    [Fact]
    public async Task Observer_hears_start_and_one_outcome_per_apply_and_nothing_for_no_changes()
    {
        var w = new ExecutorWorld();
        w.Deployed("c0", DbOld, ApiOld);
        var observer = new RecordingObserver();
        var deps = new ExecutorDependencies(w.Store, _ => w.Driver, w.Probe, w.Artifacts, new FakeSecretResolver(), w.Time);
        var service = new ReconcileService(deps, TestPlanner.Plan, null, observer);
        var good = w.Desired("c1", [Service("db", "2.1.0"), ApiOld]);
        await w.Drive(Task.Run(() => service.ReconcileAsync(w.Request(good), null, CancellationToken.None)));
        await w.Drive(Task.Run(() => service.ReconcileAsync(w.Request(good), null, CancellationToken.None)));
        var bad = Service("api", "1.5.0", dependsOn: ["db"]);
        w.Probe.Healthy = (_, r) => r != ServiceFields.ReleaseId(bad);
        await w.Drive(Task.Run(() => service.ReconcileAsync(w.Request(w.Desired("c2", [Service("db", "2.1.0"), bad])), null, CancellationToken.None)));

        Assert.Equal(["Start c1", "Success c1", "Start c2", "Rollback c2"], observer.Events.Select(e => $"{e.Kind} {e.Desired.Revision}"));
        Assert.Contains("reconciler revert c2", observer.Events[^1].Message);
    }
}
