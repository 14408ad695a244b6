using Reconciler.Diff.Planning;

namespace Reconciler.Views;

/// <summary>Words and markers the plan views share, so text and Markdown say the same thing.</summary>
internal static class PlanWords
{
    public static readonly ServiceAction[] ActionOrder =
        [ServiceAction.Create, ServiceAction.Upgrade, ServiceAction.Downgrade, ServiceAction.Reconfigure, ServiceAction.Redeploy, ServiceAction.Remove];

    public static readonly ToggleAction[] ToggleOrder = [ToggleAction.On, ToggleAction.Off, ToggleAction.Created, ToggleAction.Removed];

    public static string Name(ServiceAction a) => a == ServiceAction.NoOp ? "no-op" : a.ToString().ToLowerInvariant();

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

    /// <summary>One field line without its marker. Secrets: only the reference, and the words a reviewer looks for.</summary>
    public static string Field(FieldChange f) => f.Kind switch
    {
        FieldChangeKind.SecretChanged => $"{f.Path}: secret reference changed ({Value(f.Before)} -> {Value(f.After)})",
        FieldChangeKind.Added => $"{f.Path} = {Value(f.After)}",
        FieldChangeKind.Removed => $"{f.Path} = {Value(f.Before)}",
        _ => $"{f.Path}: {Value(f.Before)} -> {Value(f.After)}",
    };

    /// <summary>Values are quoted so that empty strings and spaces are visible; secrets appear as their reference.
    /// Control characters are escaped: a config value must not be able to move a reviewer's cursor or recolour
    /// the terminal.</summary>
    private static string Value(string? v) => v is null ? "(none)"
        : ServiceFields.IsSecret(v) ? $"secret {Escape(v[ServiceFields.SecretPrefix.Length..^1])}"
        : "\"" + Escape(v.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)) + "\"";

    private static string Escape(string s)
    {
        if (!s.Any(char.IsControl)) return s;
        var sb = new System.Text.StringBuilder(s.Length + 8);
        foreach (var c in s)
            sb.Append(c switch
            {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ when char.IsControl(c) => $"\\u{(int)c:x4}",
                _ => c.ToString(),
            });
        return sb.ToString();
    }

    /// <summary>Fields a reviewer reads. A removal lists none: its version and hosts say it all (the JSON keeps them).</summary>
    public static IEnumerable<FieldChange> ShownFields(ServiceChange s) => s.Action == ServiceAction.Remove ? [] : s.Fields;

    /// <summary>Hosts grouped into runs of the same region and release transition, in rollout order.</summary>
    public static IEnumerable<string> HostLines(ServiceChange s)
    {
        var i = 0;
        while (i < s.Hosts.Length)
        {
            var first = s.Hosts[i];
            var j = i;
            while (j < s.Hosts.Length && s.Hosts[j].Region == first.Region && s.Hosts[j].FromRelease == first.FromRelease && s.Hosts[j].ToRelease == first.ToRelease) j++;
            var names = string.Join(", ", s.Hosts.Skip(i).Take(j - i).Select(h => h.Host));
            var region = first.Region is null ? "no region" : $"region {first.Region}";
            yield return $"{region}: {names}: {first.FromRelease ?? "(none)"} -> {first.ToRelease ?? "(removed)"}";
            i = j;
        }
    }

    public static string Plural(int n, string one, string many) => n == 1 ? $"{n} {one}" : $"{n} {many}";

    public static string ShortSha(string sha) => sha.Length > 12 && sha.All(char.IsAsciiHexDigit) ? sha[..12] : sha;

    /// <summary>"2 to create, 1 to upgrade, 3 unchanged" (actions in a fixed order, zero counts left out).</summary>
    public static string Counts(Plan plan)
    {
        var parts = ActionOrder
            .Select(a => (a, n: plan.Services.Count(s => s.Action == a)))
            .Where(x => x.n > 0)
            .Select(x => $"{x.n} to {Name(x.a)}").ToList();
        var toggles = plan.Toggles.Count(t => t.Action != ToggleAction.NoOp);
        if (toggles > 0) parts.Add(Plural(toggles, "toggle change", "toggle changes"));
        var unchanged = plan.Services.Count(s => s.Action == ServiceAction.NoOp);
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
