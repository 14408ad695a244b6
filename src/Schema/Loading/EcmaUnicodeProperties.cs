namespace Reconciler.Schema.Loading;

/// <summary>Unicode property escapes of ECMA-262 patterns (<c>\p{...}</c>, <c>\P{...}</c>) for <see cref="EcmaPattern"/>:
/// general categories, by short or long name, read the same in .NET; scripts and binary properties are refused.</summary>
internal static class EcmaUnicodeProperties
{
    /// <summary>\p{L}, \p{Lu}, \P{Nd}...: general categories read the same in .NET; scripts and binary properties do not.</summary>
    public static (string Text, int Next) Translate(string p, int i)
    {
        var close = p.IndexOf('}', i);
        if (i + 2 >= p.Length || p[i + 2] != '{' || close < 0) throw new NotSupportedException("\\p needs {Category}");
        var name = p[(i + 3)..close];
        if (name.StartsWith("General_Category=", StringComparison.Ordinal)) name = name["General_Category=".Length..];
        else if (name.StartsWith("gc=", StringComparison.Ordinal)) name = name[3..];
        name = LongCategoryNames.GetValueOrDefault(name, name);
        if (!GeneralCategories.Contains(name)) throw new NotSupportedException($"the Unicode property '\\p{{{name}}}' is not translated");
        return ($"\\{p[i + 1]}{{{name}}}", close + 1);
    }

    private static readonly Dictionary<string, string> LongCategoryNames = new(StringComparer.Ordinal)
    {
        ["Letter"] = "L", ["Uppercase_Letter"] = "Lu", ["Lowercase_Letter"] = "Ll", ["Titlecase_Letter"] = "Lt", ["Modifier_Letter"] = "Lm",
        ["Other_Letter"] = "Lo", ["Mark"] = "M", ["Number"] = "N", ["Decimal_Number"] = "Nd", ["digit"] = "Nd", ["Letter_Number"] = "Nl",
        ["Other_Number"] = "No", ["Punctuation"] = "P", ["Symbol"] = "S", ["Separator"] = "Z", ["Space_Separator"] = "Zs", ["Other"] = "C",
        ["Control"] = "Cc", ["Format"] = "Cf", ["Unassigned"] = "Cn", ["Private_Use"] = "Co", ["Surrogate"] = "Cs",
    };

    private static readonly HashSet<string> GeneralCategories = new(StringComparer.Ordinal)
    {
        "L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No", "P", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po",
        "S", "Sm", "Sc", "Sk", "So", "Z", "Zs", "Zl", "Zp", "C", "Cc", "Cf", "Cs", "Co", "Cn",
    };
}
