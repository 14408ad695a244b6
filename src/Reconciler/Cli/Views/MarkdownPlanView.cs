using System.Text;
using Reconciler.Diff.Planning;
using Reconciler.UseCases;
using static Reconciler.Views.MarkdownText;

namespace Reconciler.Views;

/// <summary>
/// Markdown for pull-request comments (docs/cli/plan.md): the summary first (counts, the risk summary, the rollout
/// settings of what changes, the waves, the toggles), then one collapsed &lt;details&gt; per changed service. GitHub
/// rejects comments over 65,535 characters: <see cref="Render(Plan, int)"/> keeps one comment under a limit and says
/// what it left out; <see cref="RenderParts"/> leaves nothing out and splits into numbered parts, each under the limit
/// and each with the whole summary.
/// </summary>
public static class MarkdownPlanView
{
    public const int DefaultLimit = 60_000;
    private const int MaxNamesPerRow = 12;
    private const int MaxWaveRows = 60;
    // The truncation note needs at most this much room; it must fit whatever is left out.
    private const int NoteReserve = 400;

    /// <summary>One comment for one environment, at most <paramref name="limit"/> characters: service details that do
    /// not fit are left out with a note that says how many and how to see them.</summary>
    /// <param name="gate">The environment's lock and freeze at plan time; null: not read.</param>
    public static string Render(Plan plan, int limit = DefaultLimit, EnvironmentGate? gate = null)
    {
        var summary = Summary(plan, part: null, gate);
        if (!plan.HasChanges) return summary;
        var sb = new StringBuilder(summary);
        var changed = Changed(plan);
        var shown = 0;
        if (changed.Count > 0 && sb.Length + ServicesHeading.Length + NoteReserve <= limit)
        {
            sb.Append(ServicesHeading);
            // Rendered one at a time, so a 15,000-service plan does not render the details it is going to leave out.
            foreach (var s in changed)
            {
                var details = Details(s);
                var isLast = shown == changed.Count - 1;
                if (sb.Length + details.Length + (isLast ? 0 : NoteReserve) > limit) break;
                sb.Append(details);
                shown++;
            }
        }
        if (shown < changed.Count)
            sb.Append($"\n> **Truncated:** details of {changed.Count - shown} of {changed.Count} changed services are not shown, ")
              .Append("to stay under the comment size limit. `reconciler plan --format markdown --split-at 60000 --out-dir DIR` ")
              .Append("writes every detail in numbered parts; `--format json` has the whole plan.\n");
        return sb.ToString();
    }

    /// <summary>One comment for several environments: a table across them first, then each environment's plan in an
    /// equal share of <paramref name="limit"/>.</summary>
    /// <param name="gates">Each environment's lock and freeze at plan time; one missing was not read.</param>
    public static string Render(IReadOnlyList<Plan> plans, int limit = DefaultLimit, IReadOnlyDictionary<string, EnvironmentGate>? gates = null)
    {
        if (plans.Count == 1) return Render(plans[0], limit, GateOf(gates, plans[0]));
        var head = EnvironmentSummary(plans, gates);
        var share = (limit - head.Length) / plans.Count;
        return head + string.Join("\n", plans.Select(p => Render(p, share, GateOf(gates, p))));
    }

    /// <summary>
    /// Every detail of <paramref name="plans"/> in numbered parts of at most <paramref name="splitAt"/> characters
    /// each (unless one service's details alone are longer). Each part is a comment that stands alone: the table
    /// across environments (with several), its environment's whole summary, then as many service details as fit.
    /// </summary>
    public static IReadOnlyList<string> RenderParts(IReadOnlyList<Plan> plans, int splitAt = DefaultLimit, IReadOnlyDictionary<string, EnvironmentGate>? gates = null)
    {
        var across = plans.Count > 1 ? EnvironmentSummary(plans, gates) : "";
        // Bodies first: the part count in each heading is known only at the end ("part 2 of 7"); the placeholder
        // is as long as the longest heading text it becomes.
        const string placeholder = "\u0000PART\u0000";
        const int headingReserve = 40;
        var bodies = new List<string>();
        foreach (var plan in plans)
        {
            var summary = across + Summary(plan, placeholder, GateOf(gates, plan));
            var changed = Changed(plan);
            var sb = new StringBuilder(summary);
            var inPart = 0;
            foreach (var s in changed)
            {
                var details = Details(s);
                if (inPart > 0 && sb.Length + details.Length + headingReserve > splitAt)
                {
                    bodies.Add(sb.ToString());
                    sb.Clear().Append(summary);
                    inPart = 0;
                }
                if (inPart == 0) sb.Append(ServicesHeading);
                sb.Append(details);
                inPart++;
            }
            bodies.Add(sb.ToString());
        }
        return [.. bodies.Select((b, i) => b.Replace(placeholder, $" (part {i + 1} of {bodies.Count})", StringComparison.Ordinal))];
    }

    private const string ServicesHeading = "#### Services\n\n";

    private static EnvironmentGate? GateOf(IReadOnlyDictionary<string, EnvironmentGate>? gates, Plan plan) =>
        gates is not null && gates.TryGetValue(plan.Environment, out var gate) ? gate : null;

    private static List<ServiceChange> Changed(Plan plan) => [.. plan.ServicesWithWork()];

    /// <summary>With several environments: one row per environment, what it would do and what it risks.</summary>
    private static string EnvironmentSummary(IReadOnlyList<Plan> plans, IReadOnlyDictionary<string, EnvironmentGate>? gates)
    {
        var sb = new StringBuilder($"### Reconciler plan: {plans.Count} environments\n\n");
        sb.Append("| environment | changes | hosts affected | stops | downgrades | lock / freeze |\n|---|---|---:|---|---|---|\n");
        foreach (var p in plans)
        {
            var risk = PlanRisk.Of(p);
            sb.Append($"| {CodeCell(p.Environment)} | {Cell(PlanWords.Counts(p))} | {risk.HostsAffected} | {Names(risk.Removals.Select(s => s.Service))} | {Names(risk.Downgrades.Select(s => s.Service))} | {Cell(PlanGate.Short(GateOf(gates, p)))} |\n");
        }
        return sb.Append('\n').ToString();
    }

    /// <summary>Up to <see cref="MaxNamesPerRow"/> names as code, then "and N more"; "N: " before them when asked, or
    /// when some are left out and <paramref name="countWhenCut"/>.</summary>
    private static string Names(IEnumerable<string> names, bool count = false, bool countWhenCut = true)
    {
        var list = names.ToList();
        if (list.Count == 0) return "–";
        var shown = string.Join(", ", list.Take(MaxNamesPerRow).Select(CodeCell));
        var more = list.Count > MaxNamesPerRow ? $" and {list.Count - MaxNamesPerRow} more" : "";
        return count || (countWhenCut && more != "") ? $"{list.Count}: {shown}{more}" : shown + more;
    }

    /// <summary>Heading, what the plan was computed against, counts, risk, rollout settings, waves, toggles.</summary>
    private static string Summary(Plan plan, string? part, EnvironmentGate? gate)
    {
        var sb = new StringBuilder();
        sb.Append($"### Reconciler plan: {Code(plan.Environment)} at {Code(PlanWords.ShortSha(plan.Commit))}{part}\n\n");
        sb.Append(plan.BaseCommit is not null
            ? $"Preview of what this commit changes relative to {Code(PlanWords.ShortSha(plan.BaseCommit))}, read from Git alone (no live state).\n\n"
            : plan.LiveVersion == 0
                ? $"Nothing is deployed in {Code(plan.Environment)} yet: this plan starts from an empty environment.\n\n"
                : $"Computed against the live state of {Code(plan.Environment)} (version {plan.LiveVersion}); apply refuses this plan if that state changes first.\n\n");
        if (!plan.HasChanges)
            return sb.Append($"**No changes.** {PlanWords.Plural(plan.ServiceCount(), "service", "services")} up to date.\n").ToString();
        sb.Append($"**{Text(PlanWords.Counts(plan))}.**\n\n");
        AppendRisk(sb, plan, gate);
        AppendWaves(sb, plan);
        AppendToggles(sb, plan);
        return sb.ToString();
    }

    private static void AppendRisk(StringBuilder sb, Plan plan, EnvironmentGate? gate)
    {
        var risk = PlanRisk.Of(plan);
        sb.Append("#### Risk\n\n");
        // One line each while they are few; past that one line with the count, the hosts and the first names, so the
        // summary every part repeats stays short (the details list each one).
        if (risk.Removals.IsEmpty) sb.Append("- **Stops:** nothing is removed.\n");
        else if (risk.Removals.Length > MaxNamesPerRow)
            sb.Append($"- ⚠️ **Stops:** {risk.Removals.Length} services are removed, stopped on {PlanWords.Plural(risk.Removals.Sum(s => s.Hosts.Length), "host", "hosts")} in all: {Names(risk.Removals.Select(s => s.Service), countWhenCut: false)}.\n");
        else
            foreach (var s in risk.Removals)
                sb.Append($"- ⚠️ **Stops:** {Code(s.Service)} {Text(s.FromVersion ?? "")} is removed: stopped on {PlanWords.Plural(s.Hosts.Length, "host", "hosts")}")
                  .Append(s.Hosts.IsEmpty ? ".\n" : $" ({Text(PlanRisk.RegionCounts(s))}).\n");
        if (risk.Downgrades.IsEmpty) sb.Append("- **Downgrades:** none.\n");
        else if (risk.Downgrades.Length > MaxNamesPerRow)
            sb.Append($"- ⚠️ **Downgrades:** {risk.Downgrades.Length} services go back a version, on {PlanWords.Plural(risk.Downgrades.Sum(s => s.Hosts.Length), "host", "hosts")} in all: {Names(risk.Downgrades.Select(s => s.Service), countWhenCut: false)}.\n");
        else
            foreach (var s in risk.Downgrades)
                sb.Append($"- ⚠️ **Downgrade:** {Code(s.Service)} {Text(PlanWords.Versions(s))} on {PlanWords.Plural(s.Hosts.Length, "host", "hosts")}.\n");
        sb.Append($"- **Hosts affected:** {risk.HostsAffected}")
          .Append(risk.HostsPerRegion.IsEmpty ? ".\n" : $" ({Text(string.Join(", ", risk.HostsPerRegion.Select(r => $"{r.Region} {r.Hosts}")))}).\n");
        foreach (var (t, when) in risk.ToggleTimings.Take(MaxNamesPerRow))
            sb.Append($"- **Toggle** {Code(t.Toggle)} {PlanWords.Name(t.Action)}: {Text(when)}.\n");
        if (risk.ToggleTimings.Length > MaxNamesPerRow)
            sb.Append($"- **Toggles:** {risk.ToggleTimings.Length - MaxNamesPerRow} more change; the toggle table below says when.\n");
        foreach (var line in PlanGate.Lines(gate))
            sb.Append(line.Warn ? "- ⚠️ **" : "- **").Append(line.Label).Append(":** ").Append(Text(line.Text)).Append(".\n");
        sb.Append('\n');

        if (risk.Rollouts.IsEmpty) return;
        sb.Append("| rollout | health gate | if the gate fails | services |\n|---|---|---|---|\n");
        foreach (var g in risk.Rollouts)
            sb.Append($"| {Cell(PlanRisk.Strategy(g.Rollout))} | {Cell(PlanRisk.Gate(g.Rollout))} | {Cell(PlanRisk.OnFailure(g.Rollout))} | {Names(g.Services)} |\n");
        sb.Append('\n');
    }

    private static void AppendWaves(StringBuilder sb, Plan plan)
    {
        sb.Append("| wave | kind | services | toggles |\n|---:|---|---|---|\n");
        foreach (var w in plan.Waves.Take(MaxWaveRows))
        {
            var services = Names(w.Services, count: true);
            var toggles = new List<string>();
            if (!w.TogglesBefore.IsEmpty) toggles.Add("before: " + string.Join(", ", w.TogglesBefore.Select(CodeCell)));
            if (!w.TogglesAfter.IsEmpty) toggles.Add("after: " + string.Join(", ", w.TogglesAfter.Select(CodeCell)));
            sb.Append($"| {w.Index} | {PlanWords.Name(w.Kind)} | {services} | {(toggles.Count == 0 ? "–" : string.Join("; ", toggles))} |\n");
        }
        if (plan.Waves.Length > MaxWaveRows)
            sb.Append($"| … | | {plan.Waves.Length - MaxWaveRows} more waves: each service's details say its wave | |\n");
        sb.Append('\n');
    }

    private static void AppendToggles(StringBuilder sb, Plan plan)
    {
        var changes = plan.Toggles.Where(t => t.Action != ToggleAction.NoOp).ToList();
        if (changes.Count == 0) return;
        sb.Append("#### Toggles\n\n| toggle | change | wave | requires | why |\n|---|---|---:|---|---|\n");
        foreach (var t in changes)
        {
            var requires = t.Requires.Count == 0 ? "–" : string.Join(", ", t.Requires.Select(r => CodeCell($"{r.Key} {r.Value}")));
            sb.Append($"| {CodeCell(t.Toggle)} | {PlanWords.Name(t.Action)} | {t.Wave} | {requires} | {Cell(t.Reason)} |\n");
        }
        sb.Append('\n');
    }

    private static string Details(ServiceChange s)
    {
        var sb = new StringBuilder();
        sb.Append($"<details><summary><code>{PlanWords.Marker(s.Action)} {Html(s.Service)}</code> {PlanWords.Name(s.Action)} {Html(PlanWords.Versions(s))} (wave {s.Wave})</summary>\n\n");
        sb.Append($"{Text(s.Reason)}\n\n");
        var body = new StringBuilder();
        foreach (var f in PlanWords.ShownFields(s)) PlanWords.AppendField(body.Append(PlanWords.Marker(f.Kind)).Append(' '), f).Append('\n');
        if (!s.Hosts.IsEmpty)
        {
            body.Append($"# hosts in group {s.HostGroup} ({s.Hosts.Length}), in rollout order\n");
            PlanWords.AppendHostLines(body, s, "  ");
        }
        if (body.Length > 0)
        {
            // A fence longer than any backtick run in the values, so a value cannot close the block.
            var fence = new string('`', Math.Max(3, LongestBacktickRun(body.ToString()) + 1));
            sb.Append(fence).Append("diff\n").Append(body).Append(fence).Append("\n\n");
        }
        sb.Append("</details>\n\n");
        return sb.ToString();
    }
}
