using System.Buffers;
using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using Reconciler.Diff.Planning;

namespace Reconciler.Views;

/// <summary>Words and markers the plan views share, so text and Markdown say the same thing.</summary>
internal static class PlanWords
{
    public static readonly ServiceAction[] ActionOrder =
        [ServiceAction.Create, ServiceAction.Upgrade, ServiceAction.Downgrade, ServiceAction.Reconfigure, ServiceAction.Redeploy, ServiceAction.Remove, ServiceAction.Repair];

    public static readonly ToggleAction[] ToggleOrder = [ToggleAction.On, ToggleAction.Off, ToggleAction.Created, ToggleAction.Removed];

    public static string Name(ServiceAction a) =>
        ActionNames.TryGetValue(a, out var name) ? name : a.ToString().ToLowerInvariant();

    // Once, not per service line of a 15,000-service plan.
    private static readonly Dictionary<ServiceAction, string> ActionNames =
        Enum.GetValues<ServiceAction>().ToDictionary(a => a, a => a == ServiceAction.NoOp ? "no-op" : a.ToString().ToLowerInvariant());

    public static string Name(ToggleAction a) => a == ToggleAction.NoOp ? "no-op" : a.ToString().ToLowerInvariant();

    public static string Name(WaveKind k) => k.ToString().ToLowerInvariant();

    /// <summary>Terraform's markers: + create, - remove, ~ change in place.</summary>
    public static char Marker(ServiceAction a) => a switch
    {
        ServiceAction.Create => '+',
        ServiceAction.Remove => '-',
        ServiceAction.NoOp => ' ',
        _ => '~',
    };

    public static char Marker(FieldChangeKind k) => k switch
    {
        FieldChangeKind.Added => '+',
        FieldChangeKind.Removed => '-',
        _ => '~',
    };

    public static char Marker(ToggleAction a) => a switch
    {
        ToggleAction.Created => '+',
        ToggleAction.Removed => '-',
        _ => '~',
    };

    public static string Versions(ServiceChange s) => s.Action switch
    {
        ServiceAction.Create => s.ToVersion ?? "",
        ServiceAction.Remove => s.FromVersion ?? "",
        ServiceAction.Upgrade or ServiceAction.Downgrade => $"{s.FromVersion} -> {s.ToVersion}",
        _ => s.ToVersion ?? "",
    };

    /// <summary>One field line without its marker, appended. Values by their type (<see cref="FieldTypes"/>): numbers,
    /// durations and keywords bare, lists as lists, text quoted. Secrets: only the reference, and the words a reviewer
    /// looks for. Appended rather than returned: the text view writes hundreds of thousands of these for a large
    /// plan (docs/benchmarks/planner.md).</summary>
    public static StringBuilder AppendField(StringBuilder sb, FieldChange f)
    {
        sb.Append(f.Path);
        var type = FieldTypes.Of(f.Path);
        switch (f.Kind)
        {
            case FieldChangeKind.SecretChanged:
                AppendValue(sb.Append(": secret reference changed ("), f.Before, type);
                return AppendValue(sb.Append(" -> "), f.After, type).Append(')');
            case FieldChangeKind.Added:
                return AppendValue(sb.Append(" = "), f.After, type);
            case FieldChangeKind.Removed:
                return AppendValue(sb.Append(" = "), f.Before, type);
            default:
                AppendValue(sb.Append(": "), f.Before, type);
                AppendValue(sb.Append(" -> "), f.After, type);
                return type == FieldValueType.List ? AppendListDelta(sb, f.Before, f.After) : sb;
        }
    }

    /// <summary>"(+ db-migrate, - cache)": what a changed list gained and lost, so a reviewer need not compare by eye.</summary>
    private static StringBuilder AppendListDelta(StringBuilder sb, string? before, string? after)
    {
        var old = FieldTypes.Items(before);
        var now = FieldTypes.Items(after);
        var first = true;
        void Item(string sign, string name)
        {
            sb.Append(first ? " (" : ", ").Append(sign).Append(' ');
            AppendEscaped(sb, name, quoted: false);
            first = false;
        }
        foreach (var added in now.Except(old, StringComparer.Ordinal)) Item("+", added);
        foreach (var removed in old.Except(now, StringComparer.Ordinal)) Item("-", removed);
        return first ? sb : sb.Append(')');
    }

    /// <summary>Text is quoted so that empty strings and spaces are visible (backslash and quote escaped); other
    /// types are shown bare, lists as [a, b]; secrets appear as their reference. Control characters are escaped: a
    /// config value must not be able to move a reviewer's cursor or recolour the terminal.</summary>
    private static StringBuilder AppendValue(StringBuilder sb, string? v, FieldValueType type)
    {
        if (v is null) return sb.Append("(none)");
        if (ServiceFields.IsSecret(v)) return AppendEscaped(sb.Append("secret "), v.AsSpan()[ServiceFields.SecretPrefix.Length..^1], quoted: false);
        switch (type)
        {
            case FieldValueType.Text:
                return AppendEscaped(sb.Append('"'), v, quoted: true).Append('"');
            case FieldValueType.List:
                sb.Append('[');
                var items = FieldTypes.Items(v);
                for (var i = 0; i < items.Length; i++) AppendEscaped(i == 0 ? sb : sb.Append(", "), items[i], quoted: false);
                return sb.Append(']');
            default:
                return AppendEscaped(sb, v, quoted: false);
        }
    }

    private static readonly SearchValues<char> ControlChars = SearchValues.Create(
        [.. Enumerable.Range(0, 0x10000).Select(i => (char)i).Where(char.IsControl)]);

    private static readonly SearchValues<char> ControlCharsAndQuotes = SearchValues.Create(
        [.. Enumerable.Range(0, 0x10000).Select(i => (char)i).Where(c => char.IsControl(c) || c is '\\' or '"')]);

    private static StringBuilder AppendEscaped(StringBuilder sb, ReadOnlySpan<char> s, bool quoted)
    {
        while (!s.IsEmpty)
        {
            var i = s.IndexOfAny(quoted ? ControlCharsAndQuotes : ControlChars);
            if (i < 0) return sb.Append(s);
            sb.Append(s[..i]);
            var c = s[i];
            _ = c switch
            {
                '\\' => sb.Append(@"\\"),
                '"' => sb.Append("\\\""),
                '\n' => sb.Append("\\n"),
                '\r' => sb.Append("\\r"),
                '\t' => sb.Append("\\t"),
                _ => sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture)),
            };
            s = s[(i + 1)..];
        }
        return sb;
    }

    /// <summary>Fields a reviewer reads. A removal lists none: its version and hosts say it all (the JSON keeps them).</summary>
    public static ImmutableArray<FieldChange> ShownFields(ServiceChange s) => s.Action == ServiceAction.Remove ? [] : s.Fields;

    /// <summary>Hosts grouped into runs of the same region and release transition, in rollout order: one line
    /// each, after <paramref name="indent"/>.</summary>
    public static void AppendHostLines(StringBuilder sb, ServiceChange s, string indent)
    {
        var hosts = s.Hosts;
        if (s.Action == ServiceAction.Repair)
        {
            // Each drifted host on its own line: what is done and why.
            foreach (var h in hosts)
                sb.Append(indent).Append(h.Host).Append(": ").Append(h.Repair is { } r ? Diff.Live.DriftWords.Of(r.Kind) : "repair")
                  .Append(' ').Append(h.ToRelease).Append(h.Repair is { } why ? " (" + why.Reason + ")" : "").Append('\n');
            return;
        }
        var i = 0;
        while (i < hosts.Length)
        {
            var first = hosts[i];
            var j = i;
            while (j < hosts.Length && hosts[j].Region == first.Region && hosts[j].FromRelease == first.FromRelease && hosts[j].ToRelease == first.ToRelease) j++;
            sb.Append(indent);
            if (first.Region is null) sb.Append("no region");
            else sb.Append("region ").Append(first.Region);
            sb.Append(": ");
            for (var k = i; k < j; k++)
            {
                if (k > i) sb.Append(", ");
                sb.Append(hosts[k].Host);
            }
            sb.Append(": ").Append(first.FromRelease ?? "(none)").Append(" -> ").Append(first.ToRelease ?? "(removed)").Append('\n');
            AppendHostConfig(sb, hosts, i, j, indent + "  ");
            i = j;
        }
    }

    /// <summary>Per-host config (issue 14): under a host's line, its values of the config keys that differ between hosts
    /// ("config.KEY = VALUE"; with the host's name when the line lists several hosts).</summary>
    private static void AppendHostConfig(StringBuilder sb, ImmutableArray<HostChange> hosts, int from, int to, string indent)
    {
        for (var k = from; k < to; k++)
        {
            if (hosts[k].Config is not { } config) continue;
            foreach (var (key, value) in config)
            {
                sb.Append(indent);
                if (to - from > 1) sb.Append(hosts[k].Host).Append(": ");
                AppendValue(sb.Append("config.").Append(key).Append(" = "), value, FieldTypes.Of("config." + key)).Append('\n');
            }
        }
    }

    public static string Plural(int n, string one, string many) => n == 1 ? $"{n} {one}" : $"{n} {many}";

    public static string ShortSha(string sha) => sha.Length > 12 && sha.All(char.IsAsciiHexDigit) ? sha[..12] : sha;

    /// <summary>"2 to create, 1 to upgrade, 3 unchanged" (actions in a fixed order, zero counts left out).</summary>
    public static string Counts(Plan plan)
    {
        // The no-ops are counted, not listed: a plan of 20,000 services has as many, some perhaps never materialised.
        var byAction = new int[Enum.GetValues<ServiceAction>().Max(a => (int)a) + 1];
        foreach (var s in plan.ServicesWithWork()) byAction[(int)s.Action]++;
        byAction[(int)ServiceAction.NoOp] = plan.ServiceCount() - byAction.Sum();
        var parts = ActionOrder.Where(a => byAction[(int)a] > 0).Select(a => $"{byAction[(int)a]} to {Name(a)}").ToList();
        var toggles = plan.Toggles.Count(t => t.Action != ToggleAction.NoOp);
        if (toggles > 0) parts.Add(Plural(toggles, "toggle change", "toggle changes"));
        var unchanged = byAction[(int)ServiceAction.NoOp];
        if (unchanged > 0) parts.Add($"{unchanged} unchanged");
        return parts.Count == 0 ? "nothing to do" : string.Join(", ", parts);
    }

    public static string ToggleLine(ToggleChange t)
    {
        var values = $"{OnOff(t.Before)} -> {OnOff(t.After)}";
        var requires = t.Requires.Count == 0 ? "" : $"; requires {string.Join(", ", t.Requires.Select(r => $"{r.Key} {r.Value}"))}";
        return $"{t.Toggle} {Name(t.Action)} ({values}): {t.Reason}{requires}";
    }

    private static string OnOff(bool? v) => v switch { null => "absent", true => "on", false => "off" };
}
