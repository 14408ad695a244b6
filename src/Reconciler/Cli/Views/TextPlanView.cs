using System.Text;
using Reconciler.Diff.Planning;
using Reconciler.UseCases;

namespace Reconciler.Views;

/// <summary>
/// Terminal rendering, Terraform-like: + create, - remove, ~ change, field diffs indented under each service,
/// then the execution order. Colour is plain ANSI SGR and only when asked for: Spectre.Console would measure the
/// terminal and wrap lines, and a plan must be byte-identical for identical inputs wherever it is printed.
/// </summary>
public static class TextPlanView
{
    /// <param name="gate">The environment's lock and freeze at plan time; null: not read.</param>
    /// <param name="withGate">False for apply, which takes the lock itself and says so if it cannot.</param>
    public static string Render(Plan plan, bool color = false, EnvironmentGate? gate = null, bool withGate = true)
    {
        var sb = new StringBuilder();
        var c = new Ansi(color);
        sb.Append(c.Bold($"Plan for environment {plan.Environment} at {PlanWords.ShortSha(plan.Commit)}"));
        sb.Append(plan.BaseCommit is not null ? $" (compared with {PlanWords.ShortSha(plan.BaseCommit)}, no live state)"
            : plan.LiveVersion == 0 ? " (nothing is deployed yet)" : $" (live state version {plan.LiveVersion})");
        sb.Append('\n');

        if (!plan.HasChanges)
        {
            sb.Append('\n').Append(c.Green("No changes.")).Append($" {PlanWords.Plural(plan.ServiceCount(), "service", "services")} up to date.\n");
            return sb.ToString();
        }

        AppendRisk(sb, plan, withGate ? PlanGate.Lines(gate) : [], c);
        sb.Append('\n');
        // Appended piece by piece, no string per line: a plan of 15,000 creates is about 20 million characters.
        foreach (var s in plan.ServicesWithWork())
        {
            var marker = PlanWords.Marker(s.Action);
            c.Open(sb, marker).Append(marker).Append(' ').Append(s.Service);
            c.Close(sb, marker).Append("  ").Append(PlanWords.Name(s.Action)).Append(' ').Append(PlanWords.Versions(s));
            sb.Append("  [wave ").Append(s.Wave).Append("]\n");
            sb.Append("    # ").Append(s.Reason).Append('\n');
            foreach (var f in PlanWords.ShownFields(s))
            {
                var m = PlanWords.Marker(f.Kind);
                c.Open(sb.Append("    "), m).Append(m).Append(' ');
                PlanWords.AppendField(sb, f);
                c.Close(sb, m).Append('\n');
            }
            if (!s.Hosts.IsEmpty)
            {
                sb.Append("    hosts in group ").Append(s.HostGroup).Append(" (").Append(s.Hosts.Length).Append("), in rollout order:\n");
                PlanWords.AppendHostLines(sb, s, "      ");
            }
            sb.Append('\n');
        }

        var toggles = plan.Toggles.Where(t => t.Action != ToggleAction.NoOp).ToList();
        if (toggles.Count > 0)
        {
            sb.Append(c.Bold("Toggles:")).Append('\n');
            foreach (var t in toggles)
            {
                var m = PlanWords.Marker(t.Action);
                sb.Append("  ").Append(c.ForMarker(m, $"{m} {PlanWords.ToggleLine(t)}")).Append('\n');
            }
            sb.Append('\n');
        }

        sb.Append(c.Bold("Order:")).Append('\n');
        foreach (var w in plan.Waves)
        {
            sb.Append($"  wave {w.Index} ({PlanWords.Name(w.Kind)}):");
            if (!w.TogglesBefore.IsEmpty) sb.Append($" toggles first: {string.Join(", ", w.TogglesBefore)};");
            sb.Append(w.Services.IsEmpty ? " no services" : $" {string.Join(", ", w.Services)}");
            if (!w.TogglesAfter.IsEmpty) sb.Append($"; then toggles: {string.Join(", ", w.TogglesAfter)}");
            sb.Append('\n');
        }

        sb.Append('\n').Append(c.Bold("Plan:")).Append(' ').Append(PlanWords.Counts(plan)).Append(".\n");
        return sb.ToString();
    }

    /// <summary>What stops, what goes back a version, hosts per region, how each changed service rolls out.</summary>
    private static void AppendRisk(StringBuilder sb, Plan plan, IReadOnlyList<PlanGate.Line> gate, Ansi c)
    {
        var risk = PlanRisk.Of(plan);
        sb.Append('\n').Append(c.Bold("Risk:")).Append('\n');
        foreach (var s in risk.Removals)
            sb.Append(c.ForMarker('-', $"  ! stops {s.Service} {s.FromVersion} on {PlanWords.Plural(s.Hosts.Length, "host", "hosts")}")).Append('\n');
        foreach (var s in risk.Downgrades)
            sb.Append(c.ForMarker('~', $"  ! downgrades {s.Service} {PlanWords.Versions(s)} on {PlanWords.Plural(s.Hosts.Length, "host", "hosts")}")).Append('\n');
        sb.Append($"  hosts affected: {risk.HostsAffected}");
        if (!risk.HostsPerRegion.IsEmpty) sb.Append($" ({string.Join(", ", risk.HostsPerRegion.Select(r => $"{r.Region} {r.Hosts}"))})");
        sb.Append('\n');
        foreach (var g in risk.Rollouts)
        {
            var names = g.Services.Length <= 6 ? string.Join(", ", g.Services) : $"{string.Join(", ", g.Services.Take(6))} and {g.Services.Length - 6} more";
            sb.Append($"  {PlanRisk.Strategy(g.Rollout)}; gate: {PlanRisk.Gate(g.Rollout)}; on failure {PlanRisk.OnFailure(g.Rollout)}: {names}\n");
        }
        foreach (var (t, when) in risk.ToggleTimings) sb.Append($"  toggle {t.Toggle} {PlanWords.Name(t.Action)} {when}\n");
        foreach (var line in gate)
            sb.Append(line.Warn ? c.ForMarker('-', $"  ! {line.Label.ToLowerInvariant()} {line.Text}") : $"  {line.Label.ToLowerInvariant()}: {line.Text}").Append('\n');
    }

    private readonly struct Ansi(bool enabled)
    {
        public string Bold(string s) => Wrap("1", s);
        public string Green(string s) => Wrap("32", s);
        public string ForMarker(char marker, string s) => MarkerCode(marker) is { } code ? Wrap(code, s) : s;

        /// <summary>The colour for a marker, appended: <see cref="ForMarker"/> without a string in between.</summary>
        public StringBuilder Open(StringBuilder sb, char marker) =>
            enabled && MarkerCode(marker) is { } code ? sb.Append("\u001b[").Append(code).Append('m') : sb;

        public StringBuilder Close(StringBuilder sb, char marker) =>
            enabled && MarkerCode(marker) is not null ? sb.Append("\u001b[0m") : sb;

        private static string? MarkerCode(char marker) => marker switch
        {
            '+' => "32",
            '-' => "31",
            '~' => "33",
            _ => null,
        };

        private string Wrap(string code, string s) => enabled ? $"\u001b[{code}m{s}\u001b[0m" : s;
    }
}
