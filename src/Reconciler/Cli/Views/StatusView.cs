using System.Globalization;
using System.Text;
using Reconciler.Daemon;
using Reconciler.State;
using Reconciler.UseCases;

namespace Reconciler.Views;

/// <summary>`reconciler status` and `reconciler history` (the data: <see cref="StatusReport"/>, <see cref="HistoryReport"/>).</summary>
public static class StatusView
{
    public static string RenderText(StatusReport r)
    {
        var sb = new StringBuilder();
        sb.Append("environment ").Append(r.Environment).Append('\n');
        sb.Append("  desired:   ").Append(r.DesiredCommit is null ? "(not read)" : Short(r.DesiredCommit)).Append(" (HEAD)\n");
        sb.Append("  last good: ").Append(r.LastGoodCommit is null ? "(none)" : Short(r.LastGoodCommit)).Append('\n');
        if (r.LastDeploy is { } d)
            sb.Append("  last deploy: ").Append(Short(d.Commit)).Append(' ').Append(StatusReports.Kebab(d.Result)).Append(" at ")
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
                    sb.Append("    ").Append(h.Host).Append(": ").Append(h.UnknownBecause is { } why
                          ? $"NEEDS ATTENTION: release unknown ({why}); the next apply reads its current release first and repairs it"
                          : h.ActiveRelease)
                      .Append(h.UnknownBecause is null && h.PreviousRelease is not null ? $" (previous {h.PreviousRelease})" : "").Append('\n');
        }
        if (r.Live is { } live) sb.Append('\n').Append(LiveView.RenderHosts(live));
        return sb.ToString();
    }

    /// <summary>`history` and `state history`: text, or the entries as a JSON array.</summary>
    public static string RenderHistory(HistoryReport report, bool json) =>
        json ? JsonView.Render(report.Entries) : RenderHistoryText(report.Environment, report.Entries);

    public static string RenderHistoryText(string environment, IReadOnlyList<HistoryEntry> entries)
    {
        if (entries.Count == 0) return $"no deploys recorded for {environment}\n";
        var sb = new StringBuilder();
        foreach (var e in entries)
        {
            sb.Append(Time(e.Started)).Append("  ").Append(Short(e.Commit)).Append("  ").Append(StatusReports.Kebab(e.Result).PadRight(11))
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
        ? d.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture) + "s"
        : $"{(int)d.TotalMinutes}m{d.Seconds:00}s";

    private static string Short(string sha) => ProgressWords.Short(sha);

    private static string Time(DateTimeOffset t) => ProgressWords.Time(t);
}
