using System.Collections.Immutable;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Schema.Model;
using Reconciler.State;

namespace Reconciler.Execution;

/// <summary>
/// What the parts of one apply run share: its inputs (dependencies, the desired state of the commit, the journal
/// header), the journal, the host sessions, live state as written so far, progress, and the first failure, which stops
/// new work at the next safe point.
/// </summary>
internal sealed class ApplyContext : IAsyncDisposable
{
    private readonly IProgress<ApplyProgress>? _progress;
    private readonly CancellationTokenSource _stopNew = new();
    private readonly object _failureLock = new();
    // Every host step looks its host up: a scan of the inventory each time made an apply quadratic in the fleet's size.
    private readonly Dictionary<string, HostSpec> _hosts;

    public ApplyContext(ExecutorDependencies deps, DesiredState desired, ApplyHeader header, string applyId, LiveState current,
        IReadOnlyList<JournalEntry> journal, int maxParallel, IProgress<ApplyProgress>? progress, HostSessions? sessions = null,
        RunSecrets? secrets = null)
    {
        Deps = deps;
        Desired = desired;
        Header = header;
        _progress = progress;
        // About two keys per host change (stage, then activate or remove), and a few per service (its batches' gates
        // and state writes).
        Journal = new ApplyJournal(deps.Store, deps.Time, Env, applyId, Commit, journal,
            expectedSteps: header.Plan.Services.Where(s => s.Action != ServiceAction.NoOp).Sum(s => 2 * s.Hosts.Length + 32));
        // Host output enters the engine through sessions and probes: both clean it of this run's secrets.
        Secrets = secrets ?? new RunSecrets(deps.Secrets, desired);
        Sessions = sessions ?? NewSessions();
        State = new LiveStateWriter(deps.Store, Env, Commit, current);
        Gate = new HealthGate(new CleanedProbe(deps.Probe, Secrets), deps.Time);
        _hosts = HostsByName(desired.EnvironmentSpec);
        MaxParallel = Math.Max(1, maxParallel);
        HostSlots = new SemaphoreSlim(MaxParallel);
    }

    /// <summary>The apply's cap on host steps at once (<see cref="ParallelismCap"/>).</summary>
    public int MaxParallel { get; }

    public ExecutorDependencies Deps { get; }
    public DesiredState Desired { get; }
    public ApplyHeader Header { get; }
    public Plan Plan => Header.Plan;
    public string Env => Plan.Environment;
    public string Commit => Plan.Commit;
    public ApplyJournal Journal { get; }
    public HostSessions Sessions { get; }
    public LiveStateWriter State { get; }
    public HealthGate Gate { get; }

    /// <summary>Fresh connections whose output is cleaned like the run's own (the rollback's).</summary>
    public HostSessions NewSessions() => Cleaned(Deps, Secrets);

    /// <summary>Sessions that hand out host output cleaned of <paramref name="secrets"/>: every path to a host goes through one.</summary>
    public static HostSessions Cleaned(ExecutorDependencies deps, RunSecrets secrets) =>
        new(deps.Drivers, session => new CleanedSession(session, secrets));

    /// <summary>Resolves this run's secrets and cleans host output of them (<see cref="Drivers.Secrets.SecretRedactor"/>).</summary>
    public RunSecrets Secrets { get; }

    /// <summary>Bounds the host steps running at once across the whole apply (--max-parallel).</summary>
    public SemaphoreSlim HostSlots { get; }

    /// <summary>The first failure's reason (null while all is well), the service it came from, and whose fault it was:
    /// only a <see cref="FailureKind.CommitFault"/> quarantines the commit.</summary>
    public string? Failure { get; private set; }
    public string? FailedService { get; private set; }
    public FailureKind? FailureKind { get; private set; }
    public bool Preempted { get; private set; }

    /// <summary>Cancelled at the first failure: no new step starts; steps already running finish.</summary>
    public CancellationToken StopNew => _stopNew.Token;

    /// <summary>Records a failure; the first one recorded wins.</summary>
    public void Fail(string? service, string reason, FailureKind kind)
    {
        lock (_failureLock)
        {
            if (Failure is not null) return;
            Failure = reason;
            FailedService = service;
            FailureKind = kind;
        }
        _stopNew.Cancel();
    }

    /// <summary>A newer commit arrived: roll back what was done, without quarantine.</summary>
    public void Preempt()
    {
        Preempted = true;
        Fail(null, "pre-empted by a newer commit", Reconciler.FailureKind.Interrupted);
    }

    public void StopIfRequested(CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        _stopNew.Token.ThrowIfCancellationRequested();
    }

    /// <summary>Events of a service's hosts and gate carry the batch it is in (set by <see cref="EnterBatch"/>).</summary>
    public void Report(int wave, string? service, string? host, string step, string status, GateProgress? gate = null) =>
        _progress?.Report(new ApplyProgress(Env, Commit, wave, service, host, step, status,
            wave > 0 && service is not null && _batches.TryGetValue(service, out var batch) ? batch : null, gate));

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _batches = new(StringComparer.Ordinal);

    public void EnterBatch(string service, int number) => _batches[service] = number;

    /// <summary>A service's batches, by its strategy over its host group.</summary>
    public ImmutableArray<ImmutableArray<HostChange>> BatchesOf(ServiceSpec spec, ServiceChange change)
    {
        var group = Desired.EnvironmentSpec.HostGroups.TryGetValue(spec.HostGroup, out var g) ? g.Hosts.Length : change.Hosts.Length;
        return Batching.Split(spec.Strategy, change.Hosts, group);
    }

    /// <summary>A host dropped from the environment's inventory cannot be reached (its address is gone with it): its
    /// removal is skipped and live state forgets it.</summary>
    public bool IsDefined(string host) => _hosts.ContainsKey(host);

    public HostSpec FindHost(string name) =>
        _hosts.GetValueOrDefault(name)
        ?? throw new ReconcilerException(Reconciler.FailureKind.InvalidInput, $"host '{name}' is not defined in environment '{Env}' at {Short(Desired.Revision)}; " +
                                                                   "it is needed to change or roll back a service on it. Add it back to a host group, or remove it from live state with `reconciler state`.");

    public Task QuarantineAsync(string reason) =>
        Deps.Store.QuarantineAsync(Env, new QuarantinedCommit(Commit, reason, Deps.Time.GetUtcNow()), CancellationToken.None);

    /// <summary>Each changed service's outcome for the history, from what the journal shows was done.</summary>
    public ImmutableSortedDictionary<string, string> Outcomes(bool halted, bool rolledBack = false)
    {
        var b = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        var started = halted || rolledBack ? Journal.ServicesWithHostSteps() : [];
        foreach (var s in Plan.Services.Where(s => s.Action != ServiceAction.NoOp))
        {
            var done = Journal.IsFinished(StepKey.ServiceDone(s.Wave, s.Service));
            b[s.Service] = rolledBack ? (started.Contains(s.Service) ? "rolled back" : "not started")
                : halted ? (done ? s.Reason : started.Contains(s.Service) ? "halted partway: " + s.Reason : "not started")
                : s.Reason;
        }
        return b.ToImmutable();
    }

    /// <summary>The environment's hosts by name; a host listed in two groups is the one of the first group (by name).</summary>
    public static Dictionary<string, HostSpec> HostsByName(EnvironmentSpec environment)
    {
        var hosts = new Dictionary<string, HostSpec>(StringComparer.Ordinal);
        foreach (var host in environment.HostGroups.Values.SelectMany(g => g.Hosts)) hosts.TryAdd(host.Name, host);
        return hosts;
    }

    public static string Short(string commit) => commit.Length > 12 && commit.All(char.IsAsciiHexDigit) ? commit[..12] : commit;

    public async ValueTask DisposeAsync()
    {
        _stopNew.Dispose();
        await Sessions.DisposeAsync();
    }
}
