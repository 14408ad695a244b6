using System.Text;
using Reconciler.Diff.Planning;

namespace Reconciler.Views;

/// <summary>
/// Terminal rendering, Terraform-like: + create, - remove, ~ change, field diffs indented under each service,
/// then the execution order. Colour is plain ANSI SGR and only when asked for: Spectre.Console would measure the
/// terminal and wrap lines, and a plan must be byte-identical for identical inputs wherever it is printed.
/// </summary>
public static class TextPlanView
{
    public static string Render(Plan plan, bool color = false)
    {
        var sb = new StringBuilder();
        var c = new Ansi(color);
        sb.Append(c.Bold($"Plan for environment {plan.Environment} at {PlanWords.ShortSha(plan.Commit)}"));
        sb.Append(plan.BaseCommit is null ? $" (live state version {plan.LiveVersion})" : $" (compared with {PlanWords.ShortSha(plan.BaseCommit)}, no live state)");
        sb.Append('\n');

        if (!plan.HasChanges)
        {
            sb.Append('\n').Append(c.Green("No changes.")).Append($" {PlanWords.Plural(plan.Services.Length, "service", "services")} up to date.\n");
            return sb.ToString();
        }

        sb.Append('\n');
        foreach (var s in plan.Services.Where(s => s.Action != ServiceAction.NoOp))
        {
            var marker = PlanWords.Marker(s.Action);
            sb.Append(c.ForMarker(marker, $"{marker} {s.Service}")).Append($"  {PlanWords.Name(s.Action)} {PlanWords.Versions(s)}");
            sb.Append($"  [wave {s.Wave}]\n");
            sb.Append($"    # {s.Reason}\n");
            foreach (var f in PlanWords.ShownFields(s))
            {
                var m = PlanWords.Marker(f.Kind);
                sb.Append("    ").Append(c.ForMarker(m, $"{m} {PlanWords.Field(f)}")).Append('\n');
            }
            if (!s.Hosts.IsEmpty)
            {
                sb.Append($"    hosts in group {s.HostGroup} ({s.Hosts.Length}), in rollout order:\n");
                foreach (var line in PlanWords.HostLines(s)) sb.Append("      ").Append(line).Append('\n');
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

    private readonly struct Ansi(bool enabled)
    {
        public string Bold(string s) => Wrap("1", s);
        public string Green(string s) => Wrap("32", s);
        public string ForMarker(char marker, string s) => marker switch
        {
            '+' => Wrap("32", s),
            '-' => Wrap("31", s),
            '~' => Wrap("33", s),
            _ => s,
        };
        private string Wrap(string code, string s) => enabled ? $"\u001b[{code}m{s}\u001b[0m" : s;
    }
}
