using System.Buffers;
using System.Text.RegularExpressions;

namespace Reconciler.State;

/// <summary>Names that become parts of store keys (Consul key segments, SQLite rows). A strict pattern keeps a
/// name from escaping its key (no '/', no '..'), the same in every store so the contract is one.</summary>
public static partial class StateNames
{
    private const int MaxLength = 200;
    private static readonly SearchValues<char> Allowed = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");

    /// <summary>The pattern the error message words; <see cref="IsSafe"/> is what runs. \z, not $: $ also matches before a
    /// final newline, which let "web-1\n" through before the check stopped using it.</summary>
    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}\z")]
    private static partial Regex Pattern();

    public static void Check(string what, string name)
    {
        if (!IsSafe(name))
            throw new ReconcilerException(FailureKind.InvalidInput, $"invalid {what} name '{name}': use letters, digits, '.', '_' and '-' (starting with a letter or digit, at most 200 characters).");
    }

    /// <summary>The pattern without the regex engine: a batch write checks every host of its service (2,000 names per
    /// write at 10,000 hosts), where the regex cost more than the rest of the check (docs/benchmarks.md, "Executor per
    /// host deployment, Native AOT"). StateNamesTests holds it to <see cref="MatchesPattern"/> on every kind of name.</summary>
    internal static bool IsSafe(string? name) =>
        !string.IsNullOrEmpty(name) && name.Length <= MaxLength && char.IsAsciiLetterOrDigit(name[0])
        && !name.AsSpan().ContainsAnyExcept(Allowed) && !name.Contains("..", StringComparison.Ordinal);

    /// <summary>The reference for <see cref="IsSafe"/>: the regex and the '..' rule.</summary>
    internal static bool MatchesPattern(string? name) => !string.IsNullOrEmpty(name) && Pattern().IsMatch(name) && !name.Contains("..");

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
