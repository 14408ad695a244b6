using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Schema.Model;
using Reconciler.State;

namespace Reconciler.Daemon;

// `reconciler status` and `reconciler history`: data first (JSON via ReconcilerJson), then a text view.

public sealed record StatusReport(
    string Environment,
    string? DesiredCommit,                      // HEAD of the repo the desired state was read from
    string? LastGoodCommit,
    long LiveVersion,
    LockStatus? Lock,
    FreezeInfo? Freeze,
    ImmutableArray<QuarantineStatus> Quarantined,
    HistoryEntry? LastDeploy,
    ImmutableArray<ServiceStatus> Services);

/// <summary><see cref="State"/>: in-sync, upgrade, downgrade, reconfigure, not-deployed, to-remove.
/// <see cref="LastOutcome"/> is what the last apply that touched the service recorded (its health gate result);
/// status does not probe hosts itself.</summary>
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

    public static string RenderText(StatusReport r)
    {
        var sb = new StringBuilder();
        sb.Append("environment ").Append(r.Environment).Append('\n');
        sb.Append("  desired:   ").Append(r.DesiredCommit is null ? "(not read)" : Short(r.DesiredCommit)).Append(" (HEAD)\n");
        sb.Append("  last good: ").Append(r.LastGoodCommit is null ? "(none)" : Short(r.LastGoodCommit)).Append('\n');
        if (r.LastDeploy is { } d)
            sb.Append("  last deploy: ").Append(Short(d.Commit)).Append(' ').Append(Kebab(d.Result)).Append(" at ")
              .Append(Time(d.Finished ?? d.Started)).Append(" by ").Append(d.AppliedBy).Append('\n');
        if (r.Lock is { } l)
            sb.Append("  LOCKED by ").Append(l.Owner).Append(": ").Append(l.Reason).Append(" (until ").Append(Time(l.ExpiresAt)).Append(")\n");
        if (r.Freeze is { } f)
            sb.Append("  FROZEN by ").Append(f.By).Append(" since ").Append(Time(f.At)).Append(": ").Append(f.Reason).Append('\n');
        foreach (var q in r.Quarantined)
            sb.Append("  quarantined: ").Append(Short(q.Commit)).Append(" (").Append(q.Reason).Append(")\n");
        sb.Append('\n');
        if (r.Services.IsEmpty)
        {
            sb.Append("  no services\n");
            return sb.ToString();
        }
        var rows = r.Services.Select(s => new[]
        {
            s.Service, s.DesiredVersion ?? "-", s.LiveVersion ?? "-", s.State, s.LastOutcome ?? "-",
        }).Prepend(["SERVICE", "DESIRED", "LIVE", "STATE", "LAST OUTCOME"]).ToList();
        var widths = Enumerable.Range(0, 5).Select(i => rows.Max(row => row[i].Length)).ToArray();
        var byName = r.Services.ToDictionary(s => s.Service, StringComparer.Ordinal);
        foreach (var row in rows)
        {
            sb.Append("  ").Append(string.Join("  ", row.Select((c, i) => i == row.Length - 1 ? c : c.PadRight(widths[i])))).Append('\n');
            if (byName.TryGetValue(row[0], out var svc) && !ReferenceEquals(row, rows[0]))
                foreach (var h in svc.Hosts)
                    sb.Append("    ").Append(h.Host).Append(": ").Append(h.ActiveRelease)
                      .Append(h.PreviousRelease is null ? "" : $" (previous {h.PreviousRelease})").Append('\n');
        }
        return sb.ToString();
    }

    public static string RenderHistoryText(string environment, IReadOnlyList<HistoryEntry> entries)
    {
        if (entries.Count == 0) return $"no deploys recorded for {environment}\n";
        var sb = new StringBuilder();
        foreach (var e in entries)
        {
            sb.Append(Time(e.Started)).Append("  ").Append(Short(e.Commit)).Append("  ").Append(Kebab(e.Result).PadRight(11))
              .Append("  by ").Append(e.AppliedBy);
            if (e.CommitAuthor is { Length: > 0 } author) sb.Append(", commit by ").Append(author);
            if (e.Finished is { } finished)
                sb.Append(", took ").Append(Took(finished - e.Started));
            sb.Append('\n');
            foreach (var (service, outcome) in e.ServiceOutcomes)
                sb.Append("    ").Append(service).Append(": ").Append(outcome).Append('\n');
            if (e.Message is { Length: > 0 } message)
                sb.Append("    ").Append(message.ReplaceLineEndings("\n    ")).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>"7.5s", "1m47s": how long a deploy took, for people (ServiceFields.Duration is the spec format).</summary>
    private static string Took(TimeSpan d) => d.TotalSeconds < 60
        ? d.TotalSeconds.ToString("0.#", System.Globalization.CultureInfo.InvariantCulture) + "s"
        : $"{(int)d.TotalMinutes}m{d.Seconds:00}s";

    internal static string Kebab(ApplyResult r) => r switch
    {
        ApplyResult.NoChanges => "no-changes",
        ApplyResult.RolledBack => "rolled-back",
        ApplyResult.LockBroken => "lock-broken",
        _ => r.ToString().ToLowerInvariant(),
    };

    private static string Short(string sha) => sha.Length > 12 ? sha[..12] : sha;

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
