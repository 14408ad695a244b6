using System.Net;

namespace Reconciler.Views;

/// <summary>
/// Escaping for GitHub-flavoured Markdown, by context: a code span shows its content literally (CommonMark decodes no
/// entity there, so HTML-encoding it showed `&amp;gt;=` to the reader); prose and HTML blocks are HTML-encoded; table
/// cells also escape the pipe, which GFM treats as a cell border even inside a code span.
/// </summary>
internal static class MarkdownText
{
    /// <summary>A code span holding <paramref name="s"/> literally: a backtick fence longer than any run inside, and a
    /// space on each side when the content starts or ends with a backtick (CommonMark strips one such space).</summary>
    public static string Code(string s)
    {
        s = s.Replace('\n', ' ');
        var fence = new string('`', LongestBacktickRun(s) + 1);
        var pad = s.StartsWith('`') || s.EndsWith('`') ? " " : "";
        return fence + pad + s + pad + fence;
    }

    /// <summary><see cref="Code"/> for a table cell. A pipe would end the cell; GFM lets "\|" escape it even in a code
    /// span, but not every engine agrees (Markdig keeps the backslash), so a value with a pipe becomes an HTML code
    /// element with the pipe as a character reference, which every engine shows the same.</summary>
    public static string CodeCell(string s) => s.Contains('|')
        ? "<code>" + Html(s.Replace('\n', ' ')).Replace("|", "&#124;", StringComparison.Ordinal) + "</code>"
        : Code(s);

    /// <summary>Prose: HTML-encoded (so no tag or entity of the value is interpreted), one line.</summary>
    public static string Text(string s) => WebUtility.HtmlEncode(s).Replace("\n", " ", StringComparison.Ordinal);

    /// <summary>Prose in a table cell.</summary>
    public static string Cell(string s) => Text(s).Replace("|", "\\|", StringComparison.Ordinal);

    /// <summary>Inside an HTML element (the &lt;summary&gt; of a collapsed section): HTML-encoded.</summary>
    public static string Html(string s) => WebUtility.HtmlEncode(s);

    public static int LongestBacktickRun(string s)
    {
        int best = 0, run = 0;
        foreach (var ch in s) { run = ch == '`' ? run + 1 : 0; best = Math.Max(best, run); }
        return best;
    }
}
