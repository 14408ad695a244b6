using System.Text.RegularExpressions;

namespace Reconciler.State;

/// <summary>Names that become parts of store keys (Consul key segments, SQLite rows). A strict pattern keeps a
/// name from escaping its key (no '/', no '..'), the same in every store so the contract is one.</summary>
public static partial class StateNames
{
    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")]
    private static partial Regex Safe();

    public static void Check(string what, string name)
    {
        if (string.IsNullOrEmpty(name) || !Safe().IsMatch(name) || name.Contains(".."))
            throw new ReconcilerException(FailureKind.InvalidInput, $"invalid {what} name '{name}': use letters, digits, '.', '_' and '-' (starting with a letter or digit, at most 200 characters).");
    }

    public static void CheckChange(StateChange change)
    {
        foreach (var s in change.UpsertServices)
        {
            Check("service", s.Name);
            foreach (var h in s.Hosts.Keys) Check("host", h);
        }
        foreach (var n in change.RemoveServices) Check("service", n);
        foreach (var t in change.UpsertToggles) Check("toggle", t.Name);
        foreach (var n in change.RemoveToggles) Check("toggle", n);
        var upserted = change.UpsertServices.Select(s => s.Name).Intersect(change.RemoveServices, StringComparer.Ordinal).FirstOrDefault();
        if (upserted is not null) throw new ArgumentException($"service '{upserted}' is both upserted and removed in one change");
        var toggled = change.UpsertToggles.Select(t => t.Name).Intersect(change.RemoveToggles, StringComparer.Ordinal).FirstOrDefault();
        if (toggled is not null) throw new ArgumentException($"toggle '{toggled}' is both upserted and removed in one change");
    }
}
