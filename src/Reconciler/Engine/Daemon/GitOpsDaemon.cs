using System.Collections.Immutable;
using System.Threading.Channels;
using Reconciler.Execution;
using Reconciler.Git;
using Reconciler.Schema.Model;
using Reconciler.State;
using Reconciler.UseCases;

namespace Reconciler.Daemon;

/// <summary>Reads the desired state of one environment at one commit of a repository (GitRepoSource + loader).
/// Throws <see cref="ReconcilerException"/> (invalid input, with file:line:col diagnostics) when the commit does not validate.</summary>
public interface IDesiredStateLoader
{
    DesiredState Load(string repositoryPath, string commit, string environment);
}

public sealed record DaemonOptions(string Environment, TimeSpan Interval, string AppliedBy, int? MaxParallel = null)
{
    /// <summary>After a fault of the environment the same commit is tried again after about this long, doubling per
    /// failed attempt up to <see cref="MaxRetryDelay"/> (with jitter: <see cref="RetryBackoff"/>).</summary>
    public TimeSpan FirstRetryDelay { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>How often the hosts are asked for drift once the head is applied (issue 13); null: never.</summary>
    public TimeSpan? DriftInterval { get; init; }
}

/// <summary>
/// `reconciler run`: follows a branch and reconciles each new head of it into one environment.
/// <list type="bullet">
/// <item>Wakes on the interval (TimeProvider) or at once on <see cref="Trigger"/> (webhook); fetches; if the head is
/// new, loads it and calls <see cref="IReconciler"/>. Only the newest head is applied; commits between the last one
/// and it are skipped (as Argo CD and Flux do): each commit is a full desired state, not a delta.</item>
/// <item>A commit is settled once it reached a final result (applied, no changes, rolled back and quarantined, halted,
/// invalid, already quarantined): it is never tried again by this process, and the store's quarantine keeps other
/// processes from retrying it. Lock/freeze, store outages and compare-and-set conflicts are retried at the next
/// interval, each distinct message logged once. A fault of the environment (a secret, a host, the network; what changed
/// was rolled back) is retried with capped exponential backoff and jitter (<see cref="RetryBackoff"/>); /status shows
/// the next attempt.</item>
/// <item>While an apply runs the loop keeps fetching; a newer head cancels the running apply's Preempt token (the
/// reconciler stops the health wait and rolls back), then the newer head is applied.</item>
/// <item>Cancelling the token given to <see cref="RunAsync"/> (SIGTERM) is passed on to the reconciler, which stops
/// at a safe point and releases the lock; RunAsync returns after it did.</item>
/// </list>
/// </summary>
public sealed class GitOpsDaemon
{
    private readonly DaemonOptions _options;
    private readonly IBranchFollower _follower;
    private readonly ReconcileCommit _reconcileCommit;
    private readonly IStateStore? _store;   // null: /status shows no quarantine/lock (benchmarks)
    private readonly TimeProvider _time;
    private readonly TextWriter _log;
    private readonly Channel<bool> _trigger = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly object _gate = new();

    // Loop state (written by the loop; read under _gate for /status).
    private readonly Dictionary<string, string> _settled = new(StringComparer.Ordinal);   // commit -> result
    private readonly HashSet<string> _loggedOnce = new(StringComparer.Ordinal);
    private Attempt? _inFlight;
    private BranchHead? _head;
    private DateTimeOffset? _lastFetch;
    private string? _lastFetchError;
    private LastResult? _last;
    private string? _lastStartedCommit;
    private long _reconcileCount;
    private RetryStatus? _retry;
    private readonly RetryBackoff _backoff;
    private readonly DriftWatch? _drift;

    /// <param name="random">The jitter of retries after a fault of the environment (tests pass a seeded one).</param>
    /// <param name="observer">Asks the hosts for the drift check (<see cref="DaemonOptions.DriftInterval"/>); null: no drift checks.</param>
    public GitOpsDaemon(DaemonOptions options, IBranchFollower follower, IDesiredStateLoader loader, IReconciler reconciler,
        IStateStore? store, TimeProvider time, TextWriter log, Random? random = null, ILiveObserver? observer = null)
    {
        _backoff = new RetryBackoff(options.FirstRetryDelay, options.MaxRetryDelay, random ?? Random.Shared);
        if (options.Interval <= TimeSpan.Zero) throw new ReconcilerException(FailureKind.InvalidInput, "--interval must be positive, e.g. --interval 30s.");
        _options = options;
        _follower = follower;
        _reconcileCommit = new ReconcileCommit(loader, reconciler, follower.RepositoryPath, options);
        _store = store;
        _time = time;
        _log = TextWriter.Synchronized(log);
        if (observer is not null && store is not null && options.DriftInterval is { } every)
        {
            if (every <= TimeSpan.Zero) throw new ReconcilerException(FailureKind.InvalidInput, "--drift-interval must be positive, e.g. --drift-interval 5m.");
            _drift = new DriftWatch(options, loader, follower.RepositoryPath, reconciler, store, observer, time, Log);
        }
    }

    /// <summary>Called after each drift check (tests wait on it).</summary>
    public Action<DriftCheck>? OnDriftChecked { get; init; }

    /// <summary>Called for every progress report of the running apply (after /status is updated); for benchmarks.</summary>
    public Action<ApplyProgress>? OnProgress { get; init; }

    /// <summary>Called when the daemon hands a commit to the reconciler (the moment "apply starts" for this loop).</summary>
    public Action<string, DateTimeOffset>? OnReconcileStarted { get; init; }

    /// <summary>Called after each reconcile returned, with its commit and outcome (tests wait on it).</summary>
    public Action<string, ReconcileOutcome?>? OnReconcileFinished { get; init; }

    /// <summary>Leader election among daemons sharing the store (null: this daemon always leads). Only the leader
    /// fetches and applies; standbys report who leads on /status.</summary>
    public LeaderElector? Leadership { get; init; }

    /// <summary>How many reconciles were started (tests: "not retried over several intervals").</summary>
    public long ReconcileCount => Interlocked.Read(ref _reconcileCount);

    /// <summary>Fetch now instead of waiting for the interval (webhook). Coalesces: many triggers = one fetch.</summary>
    public void Trigger() => _trigger.Writer.TryWrite(true);

    public async Task RunAsync(CancellationToken stop)
    {
        Log($"following {_follower.RepositoryPath} for environment {_options.Environment}, every {Durations.Format(_options.Interval)}");
        // The election outlives the loop until a running apply reached its safe point: then it resigns.
        using var electionStop = new CancellationTokenSource();
        var election = Task.CompletedTask;
        if (Leadership is { } leadership)
        {
            leadership.BecameLeader = Trigger;
            election = Task.Run(() => leadership.RunAsync(electionStop.Token), CancellationToken.None);
        }
        try
        {
            while (!stop.IsCancellationRequested)
            {
                if (Leadership is not { IsLeader: false })
                {
                    var head = await FetchAsync(stop);
                    if (head is not null) await ConsiderAsync(head, stop);
                    await CheckDriftAsync(stop);
                }
                await WaitAsync(stop);
                if (_inFlight is { Work.IsCompleted: true } done) await FinishAsync(done);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        if (_inFlight is { } running)
        {
            Log($"stopping: waiting for the apply of {Short(running.Commit)} to reach a safe point");
            await FinishAsync(running);
        }
        await electionStop.CancelAsync();
        await election;
        Log("stopped");
    }

    private async Task<BranchHead?> FetchAsync(CancellationToken stop)
    {
        try
        {
            var head = await _follower.FetchAsync(stop);
            lock (_gate)
            {
                _head = head;
                _lastFetch = _time.GetUtcNow();
                _lastFetchError = null;
            }
            return head;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A remote that is down, a repo moved away: keep running, report once, try again at the next interval.
            var message = e is ReconcilerException ? e.Message : $"fetching failed: {e.GetType().Name}: {e.Message}";
            lock (_gate) _lastFetchError = message;
            LogOnce("fetch:" + message, $"error: {message}");
            return null;
        }
    }

    private async Task ConsiderAsync(BranchHead head, CancellationToken stop)
    {
        if (_inFlight is { } running)
        {
            if (running.Commit == head.Sha) return;
            Log($"newer commit {Short(head.Sha)} arrived while {Short(running.Commit)} is applying: pre-empting it (its changes are rolled back)");
            running.Preempt.Cancel();
            await FinishAsync(running);
        }
        bool settled;
        lock (_gate) settled = _settled.ContainsKey(head.Sha);
        if (settled || stop.IsCancellationRequested) return;
        // A commit that met a lock, a freeze or a store outage waits a full interval before it is tried again.
        if (_retry is { } retry && retry.Commit == head.Sha && _time.GetUtcNow() < retry.NotBefore) return;
        var failedAttempts = _retry is { } earlier && earlier.Commit == head.Sha ? earlier.Attempt : 0;
        lock (_gate) _retry = null;

        if (_lastStartedCommit is { } previous && previous != head.Sha)
        {
            var between = _follower.CommitsBetween(previous, head.Sha, 101);
            if (between.Count > 1)
                Log($"skipping {between.Count - 1}{(between.Count > 100 ? "+" : "")} intermediate commit(s): only the newest head {Short(head.Sha)} is applied");
        }
        _lastStartedCommit = head.Sha;
        var attempt = new Attempt(head.Sha, _time.GetUtcNow(), new CancellationTokenSource()) { FailedBefore = failedAttempts, Activity = new ApplyActivity(_time) };
        lock (_gate) _inFlight = attempt;
        Interlocked.Increment(ref _reconcileCount);
        attempt.Work = Task.Run(() => _reconcileCommit.RunAsync(head, () =>
        {
            Log($"applying {Short(head.Sha)} ({head.Subject}) to {_options.Environment}");
            OnReconcileStarted?.Invoke(head.Sha, _time.GetUtcNow());
        }, new AttemptProgress(this, attempt), attempt.Preempt.Token, stop), CancellationToken.None);
    }

    private async Task FinishAsync(Attempt attempt)
    {
        CommitResult result;
        try
        {
            result = await attempt.Work!;
        }
        catch (Exception e)
        {
            // A bug below us: keep the daemon alive, retry at the next interval, log the message once. Not the commit's fault.
            result = CommitResult.NotApplied(attempt.Commit, new Failure(FailureKind.EnvironmentFault,
                $"unexpected failure applying {Short(attempt.Commit)}: {e.GetType().Name}: {e.Message}"));
        }
        var now = _time.GetUtcNow();
        var preempted = attempt.Preempt.IsCancellationRequested;
        if (result.Outcome is not { } outcome)
            LogOnce(attempt.Commit + ":" + result.Message, result.Settled
                ? $"commit {Short(attempt.Commit)} not applied: {result.Message}"
                : $"commit {Short(attempt.Commit)} not applied yet (retrying every {Durations.Format(_options.Interval)}): {result.Message}");
        else
            LogOnce(attempt.Commit + ":" + result.Result + ":" + outcome.Message, preempted && outcome.Result == ApplyResult.Interrupted
                ? $"apply of {Short(attempt.Commit)} pre-empted: {outcome.Message}"
                : $"apply of {Short(attempt.Commit)}: {result.Result}. {outcome.Message}");
        lock (_gate)
        {
            _last = new LastResult(attempt.Commit, result.Result, result.Kind, result.Message, attempt.Started, now);
            if (result.Kind is null) _drift?.Applied();
            if (result.Settled) _settled[attempt.Commit] = result.Result;
            if (ReferenceEquals(_inFlight, attempt)) _inFlight = null;
        }
        if (!result.Settled)
        {
            _lastStartedCommit = null;   // retried later: no "skipping" message for the same commit
            // A fault of the environment: back off (10 s, 20 s, ... 10 min, with jitter); a lock, a freeze or a store
            // outage: the next interval. A pre-empted or stopped apply is simply the next head's business.
            var failed = attempt.FailedBefore + 1;
            var wait = result.Kind == FailureKind.EnvironmentFault ? _backoff.Delay(failed) : _options.Interval;
            lock (_gate) _retry = new RetryStatus(attempt.Commit, failed, now + wait, result.Message);
            if (result.Kind == FailureKind.EnvironmentFault)
                Log($"commit {Short(attempt.Commit)}: environment fault (attempt {failed}); next attempt at {now + wait:yyyy-MM-ddTHH:mm:ssZ}");
        }
        attempt.Preempt.Dispose();
        OnReconcileFinished?.Invoke(attempt.Commit, result.Outcome);
    }

    /// <summary>Only while nothing applies and the head is applied: drift is measured against what was applied.</summary>
    private async Task CheckDriftAsync(CancellationToken stop)
    {
        if (_drift is null || _inFlight is not null) return;
        string? applied;
        lock (_gate) applied = _last is { Failure: null } last && last.Commit == _head?.Sha ? last.Commit : null;
        if (applied is null || await _drift.CheckIfDueAsync(applied, stop) is not { } check) return;
        OnDriftChecked?.Invoke(check);
    }

    private async Task WaitAsync(CancellationToken stop)
    {
        // One linked source per wait, cancelled afterwards, so no timer or channel waiter outlives the iteration.
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(stop);
        // Wake for a retry due before the next interval.
        var until = _retry is { } retry ? retry.NotBefore - _time.GetUtcNow() : _options.Interval;
        if (_drift?.Due is { } drift && drift - _time.GetUtcNow() < until) until = drift - _time.GetUtcNow();
        var delay = Task.Delay(until < TimeSpan.Zero ? TimeSpan.Zero : until < _options.Interval ? until : _options.Interval, _time, wait.Token);
        var triggered = _trigger.Reader.WaitToReadAsync(wait.Token).AsTask();
        var tasks = new List<Task> { delay, triggered };
        if (_inFlight?.Work is { } running) tasks.Add(running);
        await Task.WhenAny(tasks);
        wait.Cancel();
        _trigger.Reader.TryRead(out _);
        stop.ThrowIfCancellationRequested();
    }

    public async Task<DaemonStatus> GetStatusAsync(CancellationToken ct)
    {
        ImmutableArray<QuarantinedCommit> quarantined = [];
        LockInfo? heldLock = null;
        string? storeError = null;
        try
        {
            if (_store is not null)
            {
                quarantined = [.. await _store.ReadQuarantineAsync(_options.Environment, ct)];
                heldLock = await _store.ReadLockAsync(_options.Environment, ct);
            }
        }
        catch (ReconcilerException e)
        {
            storeError = e.Message;
        }
        lock (_gate)
        {
            var inFlight = _inFlight is { } a
                ? new InFlightStatus(a.Commit, a.Started, a.ProgressEvents, a.LastProgress, a.Activity?.Snapshot())
                : null;
            return new DaemonStatus(
                [new EnvironmentStatus(
                    _options.Environment,
                    _head?.Sha,
                    _lastFetch,
                    _lastFetchError,
                    _last,
                    inFlight,
                    [.. quarantined.Select(q => new QuarantineStatus(q.Commit, q.Reason, q.At))],
                    heldLock is null ? null : new LockStatus(heldLock.Owner, heldLock.Reason, heldLock.AcquiredAt, heldLock.ExpiresAt),
                    storeError,
                    _retry,
                    Live: _drift?.Last,
                    Leader: Leadership is { } l ? LeaderStatus.Of(l) : null)]);
        }
    }

    private void Log(string line) => _log.WriteLine($"{_time.GetUtcNow():yyyy-MM-ddTHH:mm:ssZ} run[{_options.Environment}]: {line}");

    /// <summary>A failing commit or fetch is reported once, not at every interval.</summary>
    private void LogOnce(string key, string line)
    {
        lock (_gate)
        {
            if (!_loggedOnce.Add(key)) return;
            if (_loggedOnce.Count > 10_000) _loggedOnce.Clear();   // bounded memory for a daemon that runs for months
        }
        Log(line);
    }

    private static string Short(string sha) => sha.Length > 12 ? sha[..12] : sha;


    private sealed class Attempt(string commit, DateTimeOffset started, CancellationTokenSource preempt)
    {
        public string Commit { get; } = commit;
        public DateTimeOffset Started { get; } = started;
        public CancellationTokenSource Preempt { get; } = preempt;
        public Task<CommitResult>? Work { get; set; }
        public int FailedBefore { get; init; }   // attempts of this commit that failed before this one, in a row
        public int ProgressEvents;
        public ApplyProgress? LastProgress;
        public ApplyActivity? Activity { get; init; }   // what the page shows of the running apply
    }

    /// <summary>Synchronous (not <see cref="Progress{T}"/>, which posts to the pool and reorders events).</summary>
    private sealed class AttemptProgress(GitOpsDaemon daemon, Attempt attempt) : IProgress<ApplyProgress>
    {
        public void Report(ApplyProgress value)
        {
            lock (daemon._gate)
            {
                attempt.ProgressEvents++;
                attempt.LastProgress = value;
            }
            attempt.Activity?.Report(value);
            daemon.OnProgress?.Invoke(value);
        }
    }
}

// /status JSON (ReconcilerJson); documented in docs/cli/run.md.
public sealed record DaemonStatus(ImmutableArray<EnvironmentStatus> Environments);

public sealed record EnvironmentStatus(
    string Environment,
    string? BranchHead,
    DateTimeOffset? LastFetch,
    string? FetchError,
    LastResult? LastResult,
    InFlightStatus? InFlight,
    ImmutableArray<QuarantineStatus> Quarantined,
    LockStatus? Lock,
    string? StoreError,
    RetryStatus? NextAttempt = null,
    // The daemon's last live look at the hosts (issue 13: drift check); null until the first one.
    Reconciler.Diff.Live.ObservedState? Live = null,
    // Who leads this environment among daemons sharing the store (issue 14); null when this daemon runs alone.
    LeaderStatus? Leader = null);

/// <summary>The leader of the environment as this instance last saw it (<see cref="Instance"/> null: nobody, e.g. during
/// the lock-delay after a leader died); <see cref="ThisInstance"/> is whether that is this daemon; <see cref="Error"/>
/// the store error that keeps it from knowing.</summary>
public sealed record LeaderStatus(string? Instance, DateTimeOffset? Since, bool ThisInstance, string Self, string? Error)
{
    public static LeaderStatus Of(LeaderElector elector)
    {
        var (leader, error) = elector.Observed;
        return new LeaderStatus(leader?.Instance, leader?.Since, leader?.Instance == elector.Instance, elector.Instance, error);
    }
}

/// <summary>A commit not settled yet: how many attempts failed in a row, when the next one is due, and why the last failed.</summary>
public sealed record RetryStatus(string Commit, int Attempt, DateTimeOffset NotBefore, string Reason);

/// <summary><see cref="Failure"/> is null when the commit was applied or had nothing to do.</summary>
public sealed record LastResult(string Commit, string Result, FailureKind? Failure, string Message, DateTimeOffset Started, DateTimeOffset Finished);

/// <param name="Activity">Each wave, service and host of the running apply, with its gate (<see cref="ApplyActivity"/>).</param>
public sealed record InFlightStatus(string Commit, DateTimeOffset Started, int ProgressEvents, ApplyProgress? LastProgress, ApplySnapshot? Activity = null);

public sealed record QuarantineStatus(string Commit, string Reason, DateTimeOffset At);

public sealed record LockStatus(string Owner, string Reason, DateTimeOffset AcquiredAt, DateTimeOffset ExpiresAt);
