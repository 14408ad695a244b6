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
            // The pairs, not Keys: a batch write checks every host of the service (2,000 per write at 10,000 hosts), and
            // Keys is an iterator over the pairs allocated and dispatched through an interface per call.
            foreach (var (h, _) in s.Hosts) Check("host", h);
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
