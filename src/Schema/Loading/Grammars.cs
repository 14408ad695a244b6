using System.Globalization;

namespace Reconciler.Schema.Loading;

/// <summary>
/// The strict grammars of the values whose meaning is at stake, read after the schema has checked the same grammar
/// by its pattern. Each parser takes exactly its grammar (ASCII digits, no spaces, no trailing line break, no other
/// unit) and otherwise throws: a value is never read with a silent default (before issue 15 "20s\n" read as 20 hours).
/// GrammarTests holds every parser to its schema pattern.
/// </summary>
internal static class Grammars
{
    /// <summary><c>^[0-9]{1,6}(ms|s|m|h)$</c>: 500ms, 10s, 2m, 1h.</summary>
    public static bool TryParseDuration(string text, out TimeSpan value)
    {
        value = default;
        var digits = 0;
        while (digits < text.Length && char.IsAsciiDigit(text[digits])) digits++;
        if (digits is 0 or > 6) return false;
        var number = long.Parse(text.AsSpan(0, digits), NumberStyles.None, CultureInfo.InvariantCulture);
        TimeSpan? parsed = text.AsSpan(digits) switch
        {
            "ms" => TimeSpan.FromMilliseconds(number),
            "s" => TimeSpan.FromSeconds(number),
            "m" => TimeSpan.FromMinutes(number),
            "h" => TimeSpan.FromHours(number),
            _ => null,
        };
        if (parsed is null) return false;
        value = parsed.Value;
        return true;
    }

    public static TimeSpan Duration(string text) => TryParseDuration(text, out var value) ? value
        : throw new FormatException($"{SchemaValidation.Quote(text)} is not a duration (a number and one of ms, s, m, h)");

    /// <summary><c>^(100|[1-9][0-9]?)%$</c>: a percentage from 1% to 100%.</summary>
    public static bool TryParsePercentage(string text, out int percent)
    {
        percent = 0;
        if (text.Length is < 2 or > 4 || text[^1] != '%' || text[0] == '0') return false;
        var digits = text.AsSpan(0, text.Length - 1);
        foreach (var c in digits) if (!char.IsAsciiDigit(c)) return false;
        percent = int.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture);
        return percent is >= 1 and <= 100;
    }

    public static int Percentage(string text) => TryParsePercentage(text, out var percent) ? percent
        : throw new FormatException($"{SchemaValidation.Quote(text)} is not a percentage from 1% to 100%");
}
