using System.Globalization;
using Reconciler.UseCases;

namespace Reconciler.Views;

/// <summary>
/// The lock and freeze lines of a plan's risk summary: what the state store held when the plan was made, so a reviewer
/// knows before merging whether apply will start. A null gate was not read (planned from --live or --base).
/// </summary>
internal static class PlanGate
{
    public sealed record Line(bool Warn, string Label, string Text);

    private const string Refuses = "apply will refuse (exit 6) unless --force --reason";

    public static IReadOnlyList<Line> Lines(EnvironmentGate? gate)
    {
        if (gate is null)
            return [new(false, "Lock and freeze", "not read (this plan did not read the state store); apply refuses to start while the environment is locked or frozen (exit 6)")];
        if (gate.Lock is null && gate.Freeze is null) return [new(false, "Lock and freeze", "not locked, not frozen when planned")];
        var lines = new List<Line>();
        if (gate.Lock is { } l) lines.Add(new(true, "Locked", $"by {l.Owner} until {Time(l.ExpiresAt)}: {l.Reason} — {Refuses}"));
        if (gate.Freeze is { } f) lines.Add(new(true, "Frozen", $"since {Time(f.At)} by {f.By}: {f.Reason} — {Refuses}"));
        return lines;
    }

    /// <summary>One short cell for the table across environments.</summary>
    public static string Short(EnvironmentGate? gate) => gate switch
    {
        null => "not read",
        { Lock: null, Freeze: null } => "–",
        _ => string.Join(", ", new[] { gate.Lock is { } l ? $"locked by {l.Owner}" : null, gate.Freeze is not null ? "frozen" : null }.OfType<string>()),
    };

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
