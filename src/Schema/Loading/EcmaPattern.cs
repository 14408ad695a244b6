using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Reconciler.Schema.Loading;

/// <summary>
/// Translates a JSON Schema <c>pattern</c> (ECMA-262, read with the <c>u</c> flag as ajv and editors read it) into a
/// .NET regular expression that matches exactly the same strings.
/// <para>
/// Why not <see cref="RegexOptions.ECMAScript"/>: it keeps .NET's <c>$</c> (which also matches before a final
/// <c>\n</c>, so "20s\n" would pass <c>^[0-9]+s$</c>), forbids lookbehind and named groups, and does not give
/// <c>\s</c> ECMA's set. So each construct whose meaning differs is rewritten instead:
/// <c>$</c> -> <c>\z</c>; <c>\d \w \s</c> (and their negations, also inside classes) -> ECMA's ASCII/Unicode sets
/// (<c>\s</c> includes U+FEFF and not U+0085); <c>\b \B</c> -> ASCII word boundaries; <c>.</c> and negated classes
/// match one code point (a surrogate pair counts as one, as with <c>u</c>); a literal outside the BMP is one atom.
/// Constructs ECMA-262 (u) does not have, and the few it has that this class does not translate (Unicode property
/// escapes other than general categories, ranges outside the BMP), throw <see cref="NotSupportedException"/> so a
/// pattern is never silently read another way.
/// </para>
/// </summary>
internal static class EcmaPattern
{
    private const string EcmaSpace = @"\t\n\v\f\r \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\uFEFF";
    private const string Word = "A-Za-z0-9_";
    private const string Digit = "0-9";
    private const string AnyCodePoint = @"(?>[\uD800-\uDBFF][\uDC00-\uDFFF]|[\s\S])";
    private const string LineTerminators = @"\n\r\u2028\u2029";

    private static readonly ConcurrentDictionary<string, Regex> Cache = new(StringComparer.Ordinal);

    /// <summary>The compiled .NET regex for an ECMA-262 pattern; cached per process (schemas reuse few patterns).</summary>
    public static Regex ToRegex(string ecmaPattern) =>
        Cache.GetOrAdd(ecmaPattern, p => new Regex(Translate(p), RegexOptions.CultureInvariant));

    public static bool IsMatch(string ecmaPattern, string value) => ToRegex(ecmaPattern).IsMatch(value);

    public static string Translate(string pattern)
    {
        var output = new StringBuilder(pattern.Length + 16);
        var i = 0;
        while (i < pattern.Length)
        {
            var c = pattern[i];
            switch (c)
            {
                case '\\':
                    i = TranslateEscape(pattern, i, output);
                    break;
                case '[':
                    i = TranslateClass(pattern, i, output);
                    break;
                case '.':
                    output.Append(UnboundedNext(pattern, i + 1) ? $"[^{LineTerminators}]" : $@"(?>[\uD800-\uDBFF][\uDC00-\uDFFF]|[^{LineTerminators}])");
                    i++;
                    break;
                case '$':
                    output.Append(@"\z");
                    i++;
                    break;
                case '(':
                    i = TranslateGroupOpen(pattern, i, output);
                    break;
                default:
                    if (char.IsHighSurrogate(c) && i + 1 < pattern.Length && char.IsLowSurrogate(pattern[i + 1]))
                    {
                        output.Append("(?:").Append(c).Append(pattern[i + 1]).Append(')');
                        i += 2;
                    }
                    else
                    {
                        // '#' and whitespace are literal in .NET too (no IgnorePatternWhitespace); ')' '|' '*' '+' '?' '{' '}' '^' mean the same.
                        output.Append(c);
                        i++;
                    }
                    break;
            }
        }
        return output.ToString();
    }

    /// <summary>True when the atom ending before <paramref name="i"/> is quantified by an unbounded '*' or '+': then
    /// matching code units one by one accepts exactly the strings that matching code points does.</summary>
    private static bool UnboundedNext(string p, int i) => i < p.Length && p[i] is '*' or '+';

    private static int TranslateGroupOpen(string p, int i, StringBuilder output)
    {
        if (i + 1 < p.Length && p[i + 1] == '?')
        {
            var rest = p.AsSpan(i + 2);
            if (rest.StartsWith(":") || rest.StartsWith("=") || rest.StartsWith("!") || rest.StartsWith("<=") || rest.StartsWith("<!"))
            {
                output.Append('(');
                return i + 1;
            }
            if (rest.StartsWith("<") && rest.Length > 1 && (char.IsAsciiLetter(rest[1]) || rest[1] is '_' or '$'))
            {
                output.Append('(');   // named group (?<name>...): the same in .NET
                return i + 1;
            }
            throw new NotSupportedException($"'(?{(rest.Length > 0 ? rest[0] : ' ')}' is not ECMA-262 regular expression syntax");
        }
        output.Append('(');
        return i + 1;
    }

    private static int TranslateEscape(string p, int i, StringBuilder output)
    {
        if (i + 1 >= p.Length) throw new NotSupportedException("a pattern must not end with '\\'");
        var e = p[i + 1];
        switch (e)
        {
            case 'd': output.Append('[').Append(Digit).Append(']'); return i + 2;
            case 'D': output.Append(NegatedSet(Digit, p, i + 2)); return i + 2;
            case 'w': output.Append('[').Append(Word).Append(']'); return i + 2;
            case 'W': output.Append(NegatedSet(Word, p, i + 2)); return i + 2;
            case 's': output.Append('[').Append(EcmaSpace).Append(']'); return i + 2;
            case 'S': output.Append(NegatedSet(EcmaSpace, p, i + 2)); return i + 2;
            case 'b': output.Append($"(?:(?<=[{Word}])(?![{Word}])|(?<![{Word}])(?=[{Word}]))"); return i + 2;
            case 'B': output.Append($"(?:(?<=[{Word}])(?=[{Word}])|(?<![{Word}])(?![{Word}]))"); return i + 2;
            case 'p' or 'P':
            {
                var (text, next) = EcmaUnicodeProperties.Translate(p, i);
                output.Append(text);
                return next;
            }
            default:
            {
                var (codePoint, next) = CharacterEscape(p, i, inClass: false);
                if (codePoint is null)
                {
                    output.Append(p, i, next - i);   // a back reference: the same in .NET
                    return next;
                }
                output.Append(Literal(codePoint.Value));
                return next;
            }
        }
    }

    private static string NegatedSet(string set, string p, int next) =>
        UnboundedNext(p, next) ? $"[^{set}]" : $@"(?>[\uD800-\uDBFF][\uDC00-\uDFFF]|[^{set}])";

    /// <summary>An escape that stands for one code point; null (with the end) for a back reference.</summary>
    private static (int? CodePoint, int Next) CharacterEscape(string p, int i, bool inClass)
    {
        var e = p[i + 1];
        switch (e)
        {
            case 't': return ('\t', i + 2);
            case 'n': return ('\n', i + 2);
            case 'v': return ('\v', i + 2);
            case 'f': return ('\f', i + 2);
            case 'r': return ('\r', i + 2);
            case '0' when i + 2 >= p.Length || !char.IsAsciiDigit(p[i + 2]): return (0, i + 2);
            case 'b' when inClass: return ('\b', i + 2);
            case '-' when inClass: return ('-', i + 2);
            case 'c' when i + 2 < p.Length && char.IsAsciiLetter(p[i + 2]): return (p[i + 2] % 32, i + 3);
            case 'x' when i + 3 < p.Length && IsHex(p.AsSpan(i + 2, 2)):
                return (int.Parse(p.AsSpan(i + 2, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture), i + 4);
            case 'u' when i + 2 < p.Length && p[i + 2] == '{':
            {
                var close = p.IndexOf('}', i + 3);
                if (close < 0 || !IsHex(p.AsSpan(i + 3, close - i - 3))) throw new NotSupportedException("\\u{...} needs hex digits");
                var cp = int.Parse(p.AsSpan(i + 3, close - i - 3), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                if (cp > 0x10FFFF) throw new NotSupportedException("\\u{...} beyond U+10FFFF");
                return (cp, close + 1);
            }
            case 'u' when i + 5 < p.Length && IsHex(p.AsSpan(i + 2, 4)):
            {
                var unit = int.Parse(p.AsSpan(i + 2, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                // With the u flag a written surrogate pair \uD83D\uDC32 is one code point.
                if (char.IsHighSurrogate((char)unit) && i + 11 < p.Length && p[i + 6] == '\\' && p[i + 7] == 'u' && IsHex(p.AsSpan(i + 8, 4)))
                {
                    var low = int.Parse(p.AsSpan(i + 8, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                    if (char.IsLowSurrogate((char)low)) return (char.ConvertToUtf32((char)unit, (char)low), i + 12);
                }
                return (unit, i + 6);
            }
            case >= '1' and <= '9' when !inClass:
            {
                var end = i + 1;
                while (end < p.Length && char.IsAsciiDigit(p[end])) end++;
                return (null, end);
            }
            case 'k' when !inClass && i + 2 < p.Length && p[i + 2] == '<':
                return (null, p.IndexOf('>', i) + 1);
            case '^' or '$' or '\\' or '.' or '*' or '+' or '?' or '(' or ')' or '[' or ']' or '{' or '}' or '|' or '/':
                return (e, i + 2);
            default:
                throw new NotSupportedException($"'\\{e}' is not a valid escape in an ECMA-262 (u) pattern");
        }
    }

    private static bool IsHex(ReadOnlySpan<char> s)
    {
        if (s.IsEmpty) return false;
        foreach (var c in s) if (!char.IsAsciiHexDigit(c)) return false;
        return true;
    }

    /// <summary>One code point as a .NET atom.</summary>
    private static string Literal(int codePoint) => codePoint > 0xFFFF
        ? "(?:" + ClassChar(char.ConvertFromUtf32(codePoint)[0]) + ClassChar(char.ConvertFromUtf32(codePoint)[1]) + ")"
        : ClassChar((char)codePoint);

    /// <summary>A BMP code unit written so that it means itself both inside and outside a .NET class.</summary>
    private static string ClassChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' || (c > 0x7F && !char.IsSurrogate(c) && !char.IsWhiteSpace(c))
        ? c.ToString()
        : $"\\u{(int)c:X4}";

    /// <summary>A class [...] or [^...]; returns the index after its ']'.</summary>
    private static int TranslateClass(string p, int start, StringBuilder output)
    {
        var i = start + 1;
        var negated = i < p.Length && p[i] == '^';
        if (negated) i++;
        var body = new StringBuilder();          // BMP members, as .NET class syntax
        var astral = new List<string>();        // members outside the BMP, as alternatives
        var negatedSets = new List<string>();   // \D \W \S inside the class
        while (true)
        {
            if (i >= p.Length) throw new NotSupportedException("an unclosed '[' in a pattern");
            if (p[i] == ']') { i++; break; }
            var (low, next, set) = ClassAtom(p, i);
            i = next;
            if (set is not null)
            {
                if (set.StartsWith('^')) negatedSets.Add(set[1..]);
                else body.Append(set);
                continue;
            }
            var high = low!.Value;
            if (i + 1 < p.Length && p[i] == '-' && p[i + 1] != ']')
            {
                var (upper, afterRange, upperSet) = ClassAtom(p, i + 1);
                if (upperSet is not null) throw new NotSupportedException("a class range cannot end in \\d, \\w or \\s");
                high = upper!.Value;
                i = afterRange;
                if (high < low) throw new NotSupportedException("a class range out of order");
            }
            if (high > 0xFFFF)
            {
                if (low != high) throw new NotSupportedException("a class range outside the Basic Multilingual Plane is not translated");
                astral.Add(Literal(low.Value));
            }
            else body.Append(ClassChar((char)low.Value)).Append(low == high ? "" : "-" + ClassChar((char)high));
        }

        var alternatives = new List<string>();
        if (body.Length > 0) alternatives.Add($"[{body}]");
        alternatives.AddRange(astral);
        alternatives.AddRange(negatedSets.Select(s => $@"(?>[\uD800-\uDBFF][\uDC00-\uDFFF]|[^{s}])"));
        if (!negated)
        {
            output.Append(alternatives.Count switch
            {
                0 => "(?!)",
                1 => alternatives[0],
                _ => "(?:" + string.Join('|', alternatives) + ")",
            });
            return i;
        }
        if (alternatives.Count == 0) { output.Append(AnyCodePoint); return i; }
        if (astral.Count == 0 && negatedSets.Count == 0)
        {
            // A negated BMP class never excludes a surrogate pair: match it whole, or one unit not in the class.
            output.Append(UnboundedNext(p, i) ? $"[^{body}]" : $@"(?>[\uD800-\uDBFF][\uDC00-\uDFFF]|[^{body}])");
            return i;
        }
        output.Append("(?:(?!").Append(string.Join('|', alternatives)).Append(')').Append(AnyCodePoint).Append(')');
        return i;
    }

    /// <summary>One member of a class: a code point, or a set (\d \w \s; "^..." for \D \W \S) as class-body text.</summary>
    private static (int? CodePoint, int Next, string? Set) ClassAtom(string p, int i)
    {
        var c = p[i];
        if (c == '\\')
        {
            if (i + 1 >= p.Length) throw new NotSupportedException("a pattern must not end with '\\'");
            switch (p[i + 1])
            {
                case 'd': return (null, i + 2, Digit);
                case 'w': return (null, i + 2, Word);
                case 's': return (null, i + 2, EcmaSpace);
                case 'D': return (null, i + 2, "^" + Digit);
                case 'W': return (null, i + 2, "^" + Word);
                case 'S': return (null, i + 2, "^" + EcmaSpace);
                case 'p' or 'P': throw new NotSupportedException("Unicode property escapes inside a class are not translated");
            }
            var (cp, next) = CharacterEscape(p, i, inClass: true);
            return (cp, next, null);
        }
        if (char.IsHighSurrogate(c) && i + 1 < p.Length && char.IsLowSurrogate(p[i + 1]))
            return (char.ConvertToUtf32(c, p[i + 1]), i + 2, null);
        return (c, i + 1, null);
    }
}
