using System.Globalization;
using System.Text.RegularExpressions;

namespace Reconciler.Daemon;

/// <summary>"500ms", "5s", "2m", "1h" for --interval. Hand-written: TimeSpan.Parse wants "00:00:05", which nobody types.</summary>
public static partial class Durations
{
    // [0-9] and \z: .NET's \d takes any Unicode digit (long.Parse then fails) and its $ a trailing line break.
    [GeneratedRegex(@"^(?<n>[0-9]{1,9})(?<unit>ms|s|m|h)\z", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();

    public static TimeSpan Parse(string text, string optionName)
    {
        var m = Pattern().Match(text.Trim());
        if (!m.Success)
            throw new ReconcilerException(FailureKind.InvalidInput, $"{optionName} '{text}' is not a duration. Use a number and a unit: 500ms, 5s, 2m, 1h.");
        var n = long.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture);
        var value = m.Groups["unit"].Value switch
        {
            "ms" => TimeSpan.FromMilliseconds(n),
            "s" => TimeSpan.FromSeconds(n),
            "m" => TimeSpan.FromMinutes(n),
            _ => TimeSpan.FromHours(n),
        };
        if (value <= TimeSpan.Zero) throw new ReconcilerException(FailureKind.InvalidInput, $"{optionName} must be greater than zero.");
        return value;
    }

    public static string Format(TimeSpan t) =>
        t.TotalMilliseconds < 1000 ? $"{t.TotalMilliseconds:0}ms"
        : t.TotalSeconds < 120 && t.Milliseconds == 0 ? $"{t.TotalSeconds:0}s"
        : t.TotalMinutes < 120 && t.Seconds == 0 && t.Milliseconds == 0 ? $"{t.TotalMinutes:0}m"
        : t.ToString("c", CultureInfo.InvariantCulture);

    /// <summary>"41d 3h", "5h 12m", "45s": an age for people, in its two largest units.</summary>
    public static string Age(TimeSpan t)
    {
        if (t < TimeSpan.Zero) t = TimeSpan.Zero;
        return t.TotalDays >= 1 ? Pair((int)t.TotalDays, "d", t.Hours, "h")
            : t.TotalHours >= 1 ? Pair(t.Hours, "h", t.Minutes, "m")
            : t.TotalMinutes >= 1 ? Pair(t.Minutes, "m", t.Seconds, "s")
            : $"{t.Seconds}s";
    }

    private static string Pair(int a, string unitA, int b, string unitB) => b == 0 ? $"{a}{unitA}" : $"{a}{unitA} {b}{unitB}";
}
