using System.Collections.Immutable;
using System.Diagnostics;
using System.Text.Json;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Schema.Model;
using Reconciler.State;
using Reconciler.Telemetry;

namespace Reconciler.Execution;

/// <summary>
/// One reconcile of one environment at one commit (see <see cref="IReconciler"/>): refuse a quarantined commit,
/// plan against live state (or check a saved plan is still current), respect freezes, take and renew the lock,
/// resume or repair an interrupted apply from the journal, run the plan (<see cref="ApplyRun"/>), record history.
/// </summary>
/// <param name="observer">Told about start, success, rollback and failure (notifications); never blocks the apply.</param>
public sealed class ReconcileService(ExecutorDependencies deps, Func<DesiredState, LiveState, Plan> planner, ReconcileOptions? options = null,
    IApplyObserver? observer = null)
    : IReconciler
{
    private readonly ReconcileOptions _options = options ?? new ReconcileOptions();

    public async Task<ReconcileOutcome> ReconcileAsync(ReconcileRequest request, IProgress<ApplyProgress>? progress, CancellationToken ct)
    {
        var desired = request.Desired;
        var env = desired.Environment;
        var commit = desired.Revision;
        var store = deps.Store;
        var started = deps.Time.GetUtcNow();
        var clock = Stopwatch.StartNew();
        using var span = ReconcilerTelemetry.Start("apply", env, commit);

        var quarantined = (await store.ReadQuarantineAsync(env, ct)).FirstOrDefault(q => q.Commit == commit);
        if (quarantined is not null)
            return Done(new ReconcileOutcome(ApplyResult.Failed, null,
                $"commit {commit} is quarantined in {env} since {quarantined.At:u}: {quarantined.Reason}. It is not retried; " +
                "push a fix or a revert (`reconciler revert <sha>`), and that commit is applied normally.", FailureKind.AlreadyQuarantined));

        var journal = await store.ReadOpenJournalAsync(env, ct);
        var openHeader = ApplyHeader.Read(journal);
        var resume = openHeader is not null && openHeader.Plan.Commit == commit && commit != "working-tree";
        var live = await store.ReadAsync(env, ct);
        Plan plan;
        if (resume)
        {
            plan = openHeader!.Plan;
        }
        else
        {
            plan = PlanOrCheckSaved(request, live);
            if (!plan.HasChanges && journal.Count == 0)
            {
                await RecordConvergedBrieflyLockedAsync(live);
                return Done(new ReconcileOutcome(ApplyResult.NoChanges, plan,
                    $"No changes. {env} already matches {commit}.", Failure: null));
            }
        }

        if (request.PreflightOnly)
            return Done(await PreflightOnlyAsync(desired, resume ? openHeader!.Plan : plan, ct));

        if (request.Force && string.IsNullOrWhiteSpace(request.ForceReason))
            throw new ReconcilerException(FailureKind.InvalidInput, "--force needs a reason (--reason \"...\"): it is recorded in the history.");
        var frozen = await FrozenBecauseAsync(desired, ct);
        if (frozen is not null && !request.Force)
            return Done(new ReconcileOutcome(ApplyResult.Failed, plan,
                $"{env} is frozen: {frozen}. Nothing was changed. Wait for the freeze to end, or use --force --reason \"...\".", FailureKind.LockedOrFrozen));

        var applyId = resume ? journal.First(e => e.Step == ApplyRun.BeginStep).ApplyId : NewApplyId(started);
        var owner = $"{request.AppliedBy} pid {Environment.ProcessId} (apply {applyId})";
        var attempt = await store.TryAcquireLockAsync(env, owner, $"apply {commit}", _options.LockTtl, ct);
        if (!attempt.Acquired && HeldByDeadProcessHere(attempt.Holder, request.AppliedBy))
        {
            // A crashed (kill -9) apply of this user on this machine: no need to wait for its TTL to resume.
            progress?.Report(new ApplyProgress(env, commit, 0, null, null, "lock", $"taken over from {attempt.Holder.Owner}: that process is gone"));
            // Only that holder's lock: another process taking over at the same moment must not lose the lock it just took.
            await store.ReleaseLockAsync(env, attempt.Holder.Owner, force: false, ct);
            attempt = await store.TryAcquireLockAsync(env, owner, $"apply {commit}", _options.LockTtl, ct);
        }
        if (!attempt.Acquired && request.Force)
        {
            await store.ReleaseLockAsync(env, owner, force: true, ct);
            attempt = await store.TryAcquireLockAsync(env, owner, $"apply {commit} (forced: {request.ForceReason})", _options.LockTtl, ct);
        }
        if (!attempt.Acquired)
            return Done(new ReconcileOutcome(ApplyResult.Failed, plan,
                $"{env} is locked by {attempt.Holder.Owner} since {attempt.Holder.AcquiredAt:u} ({attempt.Holder.Reason}); the lock expires at " +
                $"{attempt.Holder.ExpiresAt:u}. Nothing was changed. Retry later, or break it with --force --reason \"...\".", FailureKind.LockedOrFrozen));

        using var work = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var lockLost = false;
        using var renewStop = new CancellationTokenSource();
        void LockLost() { lockLost = true; work.Cancel(); }
        var renewal = Task.WhenAll(RenewLockAsync(env, owner, LockLost, renewStop.Token), WatchLockAsync(env, owner, LockLost, renewStop.Token));
        try
        {
            // Re-read under the lock: someone may have applied between our first read and the lock. Every write moves the
            // version, so an unmoved one means the state read before is still the state: only the version is read again
            // (a store that cannot read just that reads everything). At 10,000 hosts a second full read cost ~1.5 % of
            // an apply's CPU (docs/benchmarks.md, "Scale").
            var atLock = await store.ReadServicesAsync(env, [], ct);
            var locked = atLock.Version == live.Version ? live : await store.ReadAsync(env, ct);
            if (!resume && openHeader is not null)
            {
                await RepairInterruptedAsync(desired, openHeader, journal, locked, progress, request, started);
                locked = await store.ReadAsync(env, ct);
            }
            if (!resume && UnknownHosts.Any(locked))
            {
                // The store cannot say what some hosts run: read them first, then plan from the truth.
                await UnknownHosts.ResolveAsync(deps, desired, locked, progress, work.Token);
                locked = await store.ReadAsync(env, ct);
            }
            if (!resume && locked.Version != live.Version) plan = PlanOrCheckSaved(request, locked);
            if (!resume && !plan.HasChanges)
            {
                await RecordConvergedAsync(locked);
                return Done(new ReconcileOutcome(ApplyResult.NoChanges, plan, $"No changes. {env} already matches {commit}.", Failure: null));
            }

            var header = resume ? openHeader! : ApplyHeader.Create(desired, plan, locked);
            HostSessions? sessions = null;
            var secrets = new RunSecrets(deps.Secrets, desired);
            if (!resume)
            {
                // Before the first host changes (and before the journal opens): every problem at once, nothing changed.
                sessions = ApplyContext.Cleaned(deps, secrets);
                var report = await new Preflight(deps, desired, plan, sessions).RunAsync(work.Token);
                progress?.Report(new ApplyProgress(env, commit, 0, null, null, "preflight", report.Passed ? "passed: " + report.Summary : "failed: " + report.Describe()));
                if (!report.Passed)
                {
                    await sessions.DisposeAsync();
                    return Done(await PreflightFailedAsync(report));
                }
                var begin = new JournalEntry(env, applyId, commit, ApplyRun.BeginStep, JournalStatus.Started, started,
                    header.ToJson());
                await store.AppendJournalAsync(begin, ct);
                journal = [begin];
            }

            Notify(NotificationEvent.Start, resume ? $"resuming the apply of {commit} to {env}" : $"applying {commit} to {env}");
            await using var run = new ApplyRun(deps, desired, header, applyId, locked, journal,
                ParallelismCap.For(header.Plan, desired, request.MaxParallel, _options.DefaultMaxParallel), progress,
                sessions: sessions, secrets: secrets);
            RunResult? result = null;
            try
            {
                while (result is null)
                    result = (await run.StepAsync(work.Token, request.Preempt)).Result;
            }
            catch (OperationCanceledException) when (work.IsCancellationRequested)
            {
                var why = lockLost ? "the environment lock was lost (expired or broken by someone else)" : "interrupted";
                return Done(new ReconcileOutcome(lockLost ? ApplyResult.LockBroken : ApplyResult.Interrupted, plan,
                    $"apply of {commit} to {env} stopped at a safe point: {why}. The journal is kept; run apply again to resume.",
                    lockLost ? FailureKind.LockedOrFrozen : FailureKind.Interrupted));
            }

            await store.CloseJournalAsync(env, applyId, CancellationToken.None);
            var message = request.Force ? $"{result.Message} (forced: {request.ForceReason})" : result.Message;
            // An apply another process began and did not finish (it crashed, or its daemon lost the leadership and died):
            // the history says it was taken over, and when it began.
            if (resume) message = $"resumed from the journal of apply {applyId}, begun {journal.First(e => e.Step == ApplyRun.BeginStep).At:u} and interrupted: {message}";
            await store.AppendHistoryAsync(new HistoryEntry(applyId, env, commit, request.CommitAuthor, request.AppliedBy, started,
                deps.Time.GetUtcNow(), result.Result, result.ServiceOutcomes, message), CancellationToken.None);
            // One event per outcome. A pre-empted apply was rolled back; an interrupted one resumes later and says nothing yet.
            NotificationEvent? outcomeEvent = result.Result switch
            {
                ApplyResult.Succeeded => NotificationEvent.Success,
                ApplyResult.RolledBack or ApplyResult.EnvironmentFault => NotificationEvent.Rollback,
                ApplyResult.Interrupted when request.Preempt.IsCancellationRequested => NotificationEvent.Rollback,
                ApplyResult.Interrupted => null,
                _ => NotificationEvent.Failure,
            };
            if (outcomeEvent is { } kind) Notify(kind, message);
            return Done(new ReconcileOutcome(result.Result, plan, result.Message, result.Result switch
            {
                ApplyResult.Succeeded => null,
                ApplyResult.RolledBack => FailureKind.CommitFault,
                ApplyResult.EnvironmentFault => result.Kind ?? FailureKind.EnvironmentFault,
                ApplyResult.Halted => FailureKind.HostsNeedAttention,
                ApplyResult.Interrupted => FailureKind.Interrupted,
                var other => throw new InvalidOperationException($"an apply run does not end {other}"),
            }));
        }
        finally
        {
            await renewStop.CancelAsync();
            await renewal;
            if (!lockLost)
                await store.ReleaseLockAsync(env, owner, force: false, CancellationToken.None);
        }

        // Preflight failed under the lock: nothing was changed. History says why; a commit fault among the problems (an
        // artifact that does not match the checksum the commit pins) quarantines the commit, the environment's never does.
        async Task<ReconcileOutcome> PreflightFailedAsync(PreflightReport report)
        {
            var kind = report.Kind;
            var why = $"preflight found {report.Problems.Count} problem(s) before any host was changed: {report.Describe()}";
            string message;
            if (kind == FailureKind.CommitFault)
            {
                await deps.Store.QuarantineAsync(env, new QuarantinedCommit(commit, why, deps.Time.GetUtcNow()), CancellationToken.None);
                message = $"apply of {ApplyContext.Short(commit)} to {env} refused: {why}. Nothing was changed; the commit is quarantined. " +
                          $"Fix it forward, or revert commit {commit}: `reconciler revert {commit}` or `git revert {commit}`.";
            }
            else
            {
                message = $"apply of {ApplyContext.Short(commit)} to {env} did not start because of the environment, not the commit: {why}. " +
                          "Nothing was changed and the commit is not quarantined. Fix the cause and apply it again (`reconciler run` retries it by itself).";
            }
            var result = kind == FailureKind.CommitFault ? ApplyResult.Failed : ApplyResult.EnvironmentFault;
            await store.AppendHistoryAsync(new HistoryEntry(NewApplyId(started), env, commit, request.CommitAuthor, request.AppliedBy, started,
                deps.Time.GetUtcNow(), result, ImmutableSortedDictionary<string, string>.Empty, message), CancellationToken.None);
            Notify(NotificationEvent.Failure, message);
            return new ReconcileOutcome(result, plan, message, kind);
        }

        // Before the apply's own lock is taken: every state write happens under the lock (an apply holding it relies on the
        // version it read), so take it just for this write; when someone holds it, they are applying and record their
        // own outcome.
        async Task RecordConvergedBrieflyLockedAsync(LiveState current)
        {
            if (commit == "working-tree" || current.LastGoodCommit == commit) return;
            var recorder = $"{request.AppliedBy} pid {Environment.ProcessId} (recording {commit})";
            if (!(await store.TryAcquireLockAsync(env, recorder, $"record {commit} as applied", _options.LockTtl, ct)).Acquired) return;
            try
            {
                await RecordConvergedAsync(current);   // compare-and-set on the version planned against
            }
            finally
            {
                await store.ReleaseLockAsync(env, recorder, force: false, CancellationToken.None);
            }
        }

        // A new commit that needs no change (say, the revert of a commit that was rolled back) is from now on what runs:
        // history and the last good commit say so, once. The same commit applied again touches nothing.
        async Task RecordConvergedAsync(LiveState current)
        {
            if (commit == "working-tree" || current.LastGoodCommit == commit) return;
            try
            {
                await store.WriteAsync(env, current.Version, StateChange.Empty with { LastGoodCommit = commit }, ct);
            }
            catch (StateConflictException)
            {
                return; // another apply wrote meanwhile and records its own outcome
            }
            await store.AppendHistoryAsync(new HistoryEntry(NewApplyId(started), env, commit, request.CommitAuthor, request.AppliedBy,
                started, deps.Time.GetUtcNow(), ApplyResult.NoChanges, ImmutableSortedDictionary<string, string>.Empty,
                $"No changes: {env} already matched {commit}."), CancellationToken.None);
        }

        void Notify(NotificationEvent kind, string message)
        {
            try
            {
                observer?.OnApplyEvent(new ApplyEvent(kind, desired, request.AppliedBy, request.CommitAuthor, message, deps.Time.GetUtcNow(), plan));
            }
            catch (Exception)
            {
                // A notification never fails a deploy (the observer promises not to throw; this keeps that promise).
            }
        }

        ReconcileOutcome Done(ReconcileOutcome outcome)
        {
            var result = JsonNamingPolicy.KebabCaseLower.ConvertName(outcome.Result.ToString());
            span?.SetTag("reconciler.result", result);
            if (outcome.Failure is not null) span?.SetStatus(ActivityStatusCode.Error, outcome.Message);
            var tags = ReconcilerTelemetry.MetricTags(env).Append(new("reconciler.result", result)).ToArray();
            ReconcilerTelemetry.Applies.Add(1, tags);
            if (outcome.Result is not ApplyResult.NoChanges)
                ReconcilerTelemetry.DeployDuration.Record(clock.Elapsed.TotalSeconds, tags);
            return outcome;
        }
    }

    /// <summary>apply --preflight-only: the checks alone, for CI. No lock (nothing is written), no history.</summary>
    private async Task<ReconcileOutcome> PreflightOnlyAsync(DesiredState desired, Plan plan, CancellationToken ct)
    {
        await using var sessions = ApplyContext.Cleaned(deps, new RunSecrets(deps.Secrets, desired));
        var report = await new Preflight(deps, desired, plan, sessions).RunAsync(ct);
        return report.Passed
            ? new ReconcileOutcome(ApplyResult.Succeeded, plan, $"preflight passed: {report.Summary} checked. Nothing was changed.", null)
            : new ReconcileOutcome(ApplyResult.Failed, plan,
                $"preflight found {report.Problems.Count} problem(s): {report.Describe()}. Nothing was changed.", report.Kind);
    }

    private Plan PlanOrCheckSaved(ReconcileRequest request, LiveState live)
    {
        // Repairs need the planner's drift pass; a caller-supplied planner (tests, benchmarks) plans the rest.
        var fresh = request.Observed is { } observed ? ExecutorWiring.Plan(request.Desired, live, observed) : planner(request.Desired, live);
        if (request.SavedPlan is not { } saved) return fresh;
        // Never the file's plan itself: what its commit plans now, when that is exactly the file's plan.
        var verified = SavedPlanCheck.Verify(saved, fresh, live);
        if (saved.LiveVersion == live.Version) return verified;
        var moved = fresh.Services.Where(s => s.Action != ServiceAction.NoOp || saved.Services.Any(o => o.Service == s.Service && o.Action != ServiceAction.NoOp))
            .Where(s => !SameChange(s, saved.Services.FirstOrDefault(o => o.Service == s.Service)))
            .Select(s => s.Service)
            .Concat(fresh.Toggles.Where(t => saved.Toggles.FirstOrDefault(o => o.Toggle == t.Toggle) is not { } o || o.Action != t.Action).Select(t => "toggle " + t.Toggle))
            .Distinct().ToList();
        var what = moved.Count == 0 ? "no planned change differs, but the store was written" : "what differs now: " + string.Join(", ", moved);
        throw new ReconcilerException(FailureKind.StaleOrConflict, $"the saved plan is stale: live state of {live.Environment} moved from version {saved.LiveVersion} to {live.Version} " +
                            $"since it was computed ({what}). Nothing was changed. Run `reconciler plan` again and review it.");
    }

    private static bool SameChange(ServiceChange a, ServiceChange? b) =>
        b is not null && a.Action == b.Action && a.ToRelease == b.ToRelease && a.Hosts.SequenceEqual(b.Hosts);

    private async Task<string?> FrozenBecauseAsync(DesiredState desired, CancellationToken ct)
    {
        if (await deps.Store.ReadFreezeAsync(desired.Environment, ct) is { } freeze)
            return $"{freeze.Reason} (by {freeze.By} at {freeze.At:u})";
        var now = deps.Time.GetUtcNow();
        var window = desired.EnvironmentSpec.FreezeWindows.IsDefault ? null
            : desired.EnvironmentSpec.FreezeWindows.FirstOrDefault(w => w.Start <= now && now < w.End);
        return window is null ? null : $"freeze window {window.Start:u} to {window.End:u}: {window.Reason}";
    }

    /// <summary>An apply of another commit was interrupted: flip hosts it left mid-switch back to what live state
    /// says, close its journal and record it as interrupted. Then this commit plans from honest live state.</summary>
    private async Task RepairInterruptedAsync(DesiredState desired, ApplyHeader header, IReadOnlyList<JournalEntry> journal, LiveState live,
        IProgress<ApplyProgress>? progress, ReconcileRequest request, DateTimeOffset now)
    {
        var applyId = journal.First(e => e.Step == ApplyRun.BeginStep).ApplyId;
        await using (var run = new ApplyRun(deps, desired, header, applyId, live, journal, _options.DefaultMaxParallel, progress, ApplyIntent.Repair))
        {
            StepProgress step;
            do step = await run.StepAsync(CancellationToken.None, CancellationToken.None);
            while (!step.Done);
        }
        await deps.Store.CloseJournalAsync(desired.Environment, applyId, CancellationToken.None);
        await deps.Store.AppendHistoryAsync(new HistoryEntry(applyId, desired.Environment, header.Plan.Commit, null, request.AppliedBy,
            journal[0].At, now, ApplyResult.Interrupted, ImmutableSortedDictionary<string, string>.Empty,
            $"interrupted; superseded by {desired.Revision}. Hosts left mid-switch were returned to their recorded release."), CancellationToken.None);
    }

    /// <summary>True when the lock's owner is "APPLIEDBY pid N (...)" for this user and machine and process N is not
    /// running. A reused pid only makes us wait for the TTL, the safe direction.</summary>
    internal static bool HeldByDeadProcessHere(LockInfo holder, string appliedBy)
    {
        var prefix = appliedBy + " pid ";
        if (!holder.Owner.StartsWith(prefix, StringComparison.Ordinal)) return false;
        var rest = holder.Owner.AsSpan(prefix.Length);
        var end = rest.IndexOf(' ');
        if (!int.TryParse(end < 0 ? rest : rest[..end], out var pid) || pid == Environment.ProcessId) return false;
        try
        {
            using var process = Process.GetProcessById(pid);
            return process.HasExited;
        }
        catch (ArgumentException)
        {
            return true;   // no such process
        }
        catch (InvalidOperationException)
        {
            return true;
        }
    }

    private async Task RenewLockAsync(string env, string owner, Action lost, CancellationToken stop)
    {
        var every = _options.LockTtl / 3;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(every, deps.Time, stop);
                if (!await deps.Store.RenewLockAsync(env, owner, _options.LockTtl, stop))
                {
                    lost();
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is ReconcilerException or IOException or HttpRequestException)
        {
            // The store is unreachable: we cannot prove we still hold the lock, so stop at a safe point.
            lost();
        }
    }

    /// <summary>The store's watch on the lock (Consul: a blocking query on the lock key) tells of a loss at once, not at the next renewal.</summary>
    private async Task WatchLockAsync(string env, string owner, Action lost, CancellationToken stop)
    {
        try
        {
            await deps.Store.WatchLockAsync(env, owner, stop);
            if (!stop.IsCancellationRequested) lost();
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is ReconcilerException or IOException or HttpRequestException)
        {
            lost();   // the store cannot tell whether we still hold the lock: stop at a safe point
        }
    }

    private static string NewApplyId(DateTimeOffset now) =>
        $"{now:yyyyMMddTHHmmssZ}-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(3))}";
}
