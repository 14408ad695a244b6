using Reconciler.Schema.Model;

namespace Reconciler.Schema.Loading;

/// <summary>Checks on a file's text before YamlDotNet reads it: what YamlDotNet would read otherwise than YAML 1.2,
/// or report in confusing words, is refused here with a diagnostic in the writer's terms (docs/format.md).</summary>
internal static class YamlTextChecks
{
    /// <summary>
    /// YAML 1.2 reads U+0085, U+2028 and U+2029 as ordinary characters, YAML 1.1 readers (YamlDotNet among them, and
    /// many editors) as line breaks: the same file would mean two things, so a raw one is refused wherever it stands.
    /// Written as the escapes \N, \L, \P inside double quotes they are unambiguous and accepted.
    /// </summary>
    public static bool FindUnicodeLineBreak(string text, List<FileDiagnostic> diagnostics)
    {
        var at = text.AsSpan().IndexOfAny('\u0085', '\u2028', '\u2029');
        if (at < 0) return false;
        var (line, column) = YamlToJson.PositionOf(text.AsSpan(0, at));
        var (name, escape) = text[at] switch
        {
            '\u0085' => ("U+0085 (next line)", "\\N"),
            '\u2028' => ("U+2028 (line separator)", "\\L"),
            _ => ("U+2029 (paragraph separator)", "\\P"),
        };
        diagnostics.Add(new FileDiagnostic(Severity.Error, "yaml.line-break",
            $"the invisible character {name} stands here; YAML 1.2 reads it as text but other YAML readers as a line break, so the file is ambiguous. Remove it, or write it as {escape} inside a double-quoted string",
            line, column));
        return true;
    }

    /// <summary>A last line of only spaces with no line break after it: in a block scalar YAML 1.2 keeps it as a line
    /// ("x\n \n") and YamlDotNet does not ("x\n "), so the value would differ between readers. Refused (rare, harmless).</summary>
    public static bool EndsInBlankLineWithoutBreak(string text, List<FileDiagnostic> diagnostics)
    {
        if (text.Length == 0 || text[^1] != ' ') return false;
        var lineStart = text.LastIndexOfAny(['\n', '\r']) + 1;
        if (text.AsSpan(lineStart).ContainsAnyExcept(' ')) return false;
        var (line, column) = YamlToJson.PositionOf(text.AsSpan(0, lineStart));
        diagnostics.Add(new FileDiagnostic(Severity.Error, "yaml.last-line",
            "the file ends in a line of only spaces without a line break; YAML readers disagree on what it adds to a block scalar. Delete the spaces (or end the line with a line break)",
            line, column));
        return true;
    }

    /// <summary>YAML forbids tabs in indentation; YamlDotNet's own error for them is confusing, so find them first.</summary>
    public static bool FindTabIndentation(string text, List<FileDiagnostic> diagnostics)
    {
        var found = false;
        var line = 1;
        var i = 0;
        while (i < text.Length)
        {
            var lineStart = i;
            var tabColumn = 0;
            // The indentation, and the block indicators ("- ", "? ", ": ") in it: "-\t-" nests by a tab, which YAML
            // forbids and YamlDotNet accepts.
            while (i < text.Length && (text[i] is ' ' or '\t' || (text[i] is '-' or '?' or ':' && i + 1 < text.Length && text[i + 1] is ' ' or '\t')))
            {
                if (text[i] == '\t' && tabColumn == 0) tabColumn = i - lineStart + 1;
                i++;
            }
            var blank = i >= text.Length || text[i] is '\n' or '\r';
            if (tabColumn > 0 && !blank)
            {
                found = true;
                diagnostics.Add(new FileDiagnostic(Severity.Error, "yaml.tab",
                    "tab character in indentation; YAML allows only spaces here. Replace the tab with spaces", line, tabColumn));
            }
            while (i < text.Length && text[i] != '\n') i++;
            i++;
            line++;
        }
        return found;
    }
}
