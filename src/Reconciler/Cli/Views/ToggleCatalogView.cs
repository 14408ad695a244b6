using System.Text;
using Reconciler.Daemon;
using Reconciler.Toggles;

namespace Reconciler.Views;

/// <summary>`reconciler toggles` as text (JSON: <see cref="JsonView"/> of the same <see cref="ToggleCatalogReport"/>).</summary>
public static class ToggleCatalogView
{
    public static string RenderText(ToggleCatalogReport r)
    {
        var sb = new StringBuilder();
        sb.Append("toggles at ").Append(ProgressWords.Short(r.Revision)).Append(" (HEAD); ready to remove once on everywhere for ")
          .Append(Durations.Age(r.RemovableAfter)).Append(" with every requirement met\n");
        if (r.Toggles.IsEmpty) return sb.Append("\n  no toggles\n").ToString();
        foreach (var t in r.Toggles)
        {
            sb.Append('\n').Append(t.Toggle);
            if (!t.Defined) sb.Append("  (removed from the repo)");
            else if (t.Description is { } d) sb.Append("  ").Append(d);
            sb.Append('\n');
            var rows = t.Environments.Select(e => new[]
            {
                e.Environment, OnOff(e.Desired), e.Live is { } live ? OnOff(live) : "-", Switched(e, r.At), Requirements(e),
            }).Prepend(["ENVIRONMENT", "REPO", "LIVE", "LAST WRITTEN", "REQUIRES (RUNNING)"]).ToList();
            var widths = Enumerable.Range(0, 5).Select(i => rows.Max(row => row[i].Length)).ToArray();
            foreach (var row in rows)
                sb.Append("  ").Append(string.Join("  ", row.Select((c, i) => i == row.Length - 1 ? c : c.PadRight(widths[i]))).TrimEnd()).Append('\n');
            if (t.ReadyToRemove)
                sb.Append("  ready to remove: yes: on everywhere for at least ").Append(Durations.Age(r.RemovableAfter))
                  .Append(", every requirement met; drop it from the code, then delete its file\n");
            else
                sb.Append("  ready to remove: no: ").Append(string.Join("; ", t.NotReadyBecause)).Append('\n');
        }
        return sb.ToString();
    }

    private static string OnOff(bool value) => value ? "on" : "off";

    private static string Switched(ToggleInEnvironment e, DateTimeOffset now) =>
        e.ChangedBy is null ? "-"
        : e.ChangedAt is { } at ? $"{ProgressWords.Time(at)} ({Durations.Age(now - at)} ago) by {ProgressWords.Short(e.ChangedBy)}"
        : $"by {ProgressWords.Short(e.ChangedBy)} (time not recorded)";

    private static string Requirements(ToggleInEnvironment e) =>
        e.Requirements.IsEmpty ? "-"
        : string.Join(", ", e.Requirements.Select(q =>
            $"{q.Service} {q.Range} ({q.Running ?? "not deployed"}{(q.Met ? "" : ", NOT MET")}{(q.Note is null || q.Running is null ? "" : $": {q.Note}")})"));
}
