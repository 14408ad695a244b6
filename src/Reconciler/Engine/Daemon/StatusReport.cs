using System.Collections.Immutable;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Schema.Model;
using Reconciler.State;

namespace Reconciler.Daemon;

// `reconciler status` and `reconciler history` as data (JSON via ReconcilerJson); the text views are in the CLI (Views/StatusView.cs).

public sealed record StatusReport(
    string Environment,
    string? DesiredCommit,                      // HEAD of the repo the desired state was read from
    string? LastGoodCommit,
    long LiveVersion,
    LockStatus? Lock,
    FreezeInfo? Freeze,
    ImmutableArray<QuarantineStatus> Quarantined,
    HistoryEntry? LastDeploy,
    ImmutableArray<ServiceStatus> Services,
    // What the hosts reported when asked (issue 13): null with --recorded.
    ObservedState? Live = null);

/// <summary><see cref="State"/>: in-sync, upgrade, downgrade, reconfigure, not-deployed, to-remove, or needs-attention
/// when a host's release is unknown (a step on it ended without a known outcome; its host entry says why).
/// <see cref="LastOutcome"/> is what the last apply that touched the service recorded (its health gate result);
/// the hosts' own answers are in <see cref="StatusReport.Live"/>.</summary>
public sealed record ServiceStatus(
    string Service,
    string? DesiredVersion,
    string? LiveVersion,
    string State,
    string? LiveCommit,
    ImmutableArray<LiveHost> Hosts,
    string? LastOutcome);

public static class StatusReports
{
    public static StatusReport Build(DesiredState? desired, LiveState live, IReadOnlyList<HistoryEntry> history,
        IReadOnlyList<QuarantinedCommit> quarantine, LockInfo? heldLock, FreezeInfo? freeze)
    {
        var names = new SortedSet<string>(live.Services.Keys, StringComparer.Ordinal);
        if (desired is not null) names.UnionWith(desired.Services.Keys);
        var services = names.Select(name =>
        {
            ServiceSpec? want = null;
            desired?.Services.TryGetValue(name, out want);
            live.Services.TryGetValue(name, out var have);
            var state = (want, have) switch
            {
                (_, { } live) when live.Hosts.Values.Any(h => h.UnknownBecause is not null) => "needs-attention",
                (null, null) => "unknown",
                (null, _) => desired is null ? "unknown" : "to-remove",
                (_, null) => "not-deployed",
                _ when want.Version != have.Version => CompareVersions(want.Version, have.Version) > 0 ? "upgrade" : "downgrade",
                _ when ServiceFields.ReleaseId(want) != have.ReleaseId => "reconfigure",
                _ => "in-sync",
            };
            var outcome = history.FirstOrDefault(h => h.ServiceOutcomes.ContainsKey(name)) is { } h ? h.ServiceOutcomes[name] : null;
            return new ServiceStatus(name, want?.Version, have?.Version, state, have?.Commit,
                have is null ? [] : [.. have.Hosts.Values], outcome);
        }).ToImmutableArray();
        return new StatusReport(live.Environment, desired?.Revision, live.LastGoodCommit, live.Version,
            heldLock is null ? null : new LockStatus(heldLock.Owner, heldLock.Reason, heldLock.AcquiredAt, heldLock.ExpiresAt),
            freeze,
            [.. quarantine.Select(q => new QuarantineStatus(q.Commit, q.Reason, q.At))],
            history.Count > 0 ? history[0] : null,
            services);
    }

    private static int CompareVersions(string a, string b) =>
        Semver.SemVersion.TryParse(a, Semver.SemVersionStyles.Strict, out var va) && Semver.SemVersion.TryParse(b, Semver.SemVersionStyles.Strict, out var vb)
            ? va.ComparePrecedenceTo(vb)
            : string.CompareOrdinal(a, b);

    public static string Kebab(ApplyResult r) => r switch
    {
        ApplyResult.NoChanges => "no-changes",
        ApplyResult.RolledBack => "rolled-back",
        ApplyResult.LockBroken => "lock-broken",
        ApplyResult.EnvironmentFault => "environment-fault",
        ApplyResult.Unquarantined => "unquarantined",
        _ => r.ToString().ToLowerInvariant(),
    };
}
