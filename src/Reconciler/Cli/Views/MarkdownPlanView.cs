using System.Net;
using System.Text;
using Reconciler.Diff.Planning;

namespace Reconciler.Views;

/// <summary>
/// Markdown for one pull-request comment: summary tables first (counts per action, then per wave), toggles,
/// then one collapsed &lt;details&gt; per changed service. GitHub rejects comments over 65,535 characters, so the
/// output is kept under <see cref="DefaultLimit"/>: service details that do not fit are left out with a note that
/// points to the JSON plan, which is never truncated.
/// </summary>
public static class MarkdownPlanView
{
    public const int DefaultLimit = 60_000;
    private const int MaxNamesPerWave = 12;
    private const int MaxWaveRows = 60;

    public static string Render(Plan plan, int limit = DefaultLimit)
    {
        var head = new StringBuilder();
        head.Append($"### Reconciler plan: `{plan.Environment}` at `{PlanWords.ShortSha(plan.Commit)}`\n\n");
        head.Append(plan.BaseCommit is null
            ? $"Computed against live state version {plan.LiveVersion}.\n\n"
            : $"Preview relative to `{PlanWords.ShortSha(plan.BaseCommit)}` (no live state).\n\n");
        if (!plan.HasChanges)
        {
            head.Append($"**No changes.** {PlanWords.Plural(plan.Services.Length, "service", "services")} up to date.\n");
            return head.ToString();
        }
        head.Append($"**{PlanWords.Counts(plan)}.**\n\n");

        head.Append("| action | services |\n|---|---:|\n");
        foreach (var a in PlanWords.ActionOrder)
        {
            var n = plan.Services.Count(s => s.Action == a);
            if (n > 0) head.Append($"| {PlanWords.Marker(a)} {PlanWords.Name(a)} | {n} |\n");
        }
        foreach (var a in PlanWords.ToggleOrder)
        {
            var n = plan.Toggles.Count(t => t.Action == a);
            if (n > 0) head.Append($"| toggle {PlanWords.Name(a)} | {n} |\n");
        }
        head.Append('\n');

        head.Append("| wave | kind | services | toggles |\n|---:|---|---|---|\n");
        foreach (var w in plan.Waves.Take(MaxWaveRows))
        {
            var names = w.Services.Take(MaxNamesPerWave).Select(n => $"`{n}`");
            var services = w.Services.IsEmpty ? "–"
                : $"{w.Services.Length}: {string.Join(", ", names)}{(w.Services.Length > MaxNamesPerWave ? $" and {w.Services.Length - MaxNamesPerWave} more" : "")}";
            var toggles = new List<string>();
            if (!w.TogglesBefore.IsEmpty) toggles.Add("before: " + string.Join(", ", w.TogglesBefore.Select(t => $"`{t}`")));
            if (!w.TogglesAfter.IsEmpty) toggles.Add("after: " + string.Join(", ", w.TogglesAfter.Select(t => $"`{t}`")));
            head.Append($"| {w.Index} | {PlanWords.Name(w.Kind)} | {services} | {(toggles.Count == 0 ? "–" : string.Join("; ", toggles))} |\n");
        }
        if (plan.Waves.Length > MaxWaveRows)
            head.Append($"| … | | {plan.Waves.Length - MaxWaveRows} more waves, in the JSON plan | |\n");
        head.Append('\n');

        var toggleChanges = plan.Toggles.Where(t => t.Action != ToggleAction.NoOp).ToList();
        var blocks = new List<string>();
        if (toggleChanges.Count > 0)
        {
            var t = new StringBuilder("#### Toggles\n\n| toggle | change | wave | requires | why |\n|---|---|---:|---|---|\n");
            foreach (var tc in toggleChanges)
            {
                var requires = tc.Requires.Count == 0 ? "–" : string.Join(", ", tc.Requires.Select(r => $"`{r.Key} {Cell(r.Value)}`"));
                t.Append($"| `{tc.Toggle}` | {PlanWords.Name(tc.Action)} | {tc.Wave} | {requires} | {Cell(tc.Reason)} |\n");
            }
            blocks.Add(t.Append('\n').ToString());
        }

        var changed = plan.Services.Where(s => s.Action != ServiceAction.NoOp).ToList();
        var sb = new StringBuilder(head.ToString());
        // The truncation note needs at most this much room; it must fit whatever is left out.
        const int noteReserve = 400;
        var tablesFit = true;
        foreach (var block in blocks)
        {
            if (sb.Length + block.Length + noteReserve > limit) { tablesFit = false; break; }
            sb.Append(block);
        }

        // Service details in plan order until the limit; rendered one at a time, so a 15,000-service plan does not
        // render the details it is going to leave out anyway. The JSON plan has all of it.
        var shown = 0;
        if (tablesFit && changed.Count > 0)
        {
            const string servicesHeading = "#### Services\n\n";
            if (sb.Length + servicesHeading.Length + noteReserve <= limit)
            {
                sb.Append(servicesHeading);
                foreach (var s in changed)
                {
                    var details = Details(s);
                    var isLast = shown == changed.Count - 1;
                    if (sb.Length + details.Length + (isLast ? 0 : noteReserve) > limit) break;
                    sb.Append(details);
                    shown++;
                }
            }
        }
        if (shown < changed.Count || !tablesFit)
        {
            sb.Append($"\n> **Truncated:** details of {changed.Count - shown} of {changed.Count} changed services")
              .Append(tablesFit ? "" : " and the toggle table")
              .Append(" are not shown, to stay under the comment size limit. The full plan is in the JSON form: ")
              .Append("`reconciler plan --format json` (or the saved `--out plan.json`).\n");
        }
        return sb.ToString();
    }

    private static string Details(ServiceChange s)
    {
        var sb = new StringBuilder();
        sb.Append($"<details><summary><code>{PlanWords.Marker(s.Action)} {s.Service}</code> {PlanWords.Name(s.Action)} {Html(PlanWords.Versions(s))} (wave {s.Wave})</summary>\n\n");
        sb.Append($"{Html(s.Reason)}\n\n");
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

    private static int LongestBacktickRun(string s)
    {
        int best = 0, run = 0;
        foreach (var ch in s) { run = ch == '`' ? run + 1 : 0; best = Math.Max(best, run); }
        return best;
    }

    private static string Html(string s) => WebUtility.HtmlEncode(s);

    private static string Cell(string s) => Html(s).Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);
}
