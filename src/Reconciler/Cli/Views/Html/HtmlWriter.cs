using System.Text;
using System.Text.Encodings.Web;
using System.Text.Unicode;

namespace Reconciler.Views;

/// <summary>
/// Builds an HTML document in which every piece of data is escaped: text and attribute values go only through the
/// framework's <see cref="HtmlEncoder"/>; tag and class names are constants of the views (never data). Hand-written
/// rather than a template engine (docs/cli/run.md, "Status page"): a dozen tables do not need a template language,
/// and with this writer there is no way to write data unescaped.
/// </summary>
public sealed class HtmlWriter
{
    // Every script keeps its letters (host names, messages in any language); markup characters are always encoded.
    private static readonly HtmlEncoder Encoder = HtmlEncoder.Create(UnicodeRanges.All);

    private readonly StringBuilder _html = new();
    private readonly Stack<string> _open = new();

    /// <summary>Opens <paramref name="tag"/> (a constant) with an optional class; attributes as (name, value) pairs,
    /// names constant, values escaped.</summary>
    public HtmlWriter Open(string tag, string? cssClass = null, params (string Name, string Value)[] attributes)
    {
        StartTag(tag, cssClass, attributes);
        _open.Push(tag);
        return this;
    }

    public HtmlWriter Close()
    {
        var tag = _open.Pop();
        _html.Append("</").Append(tag).Append('>');
        EndLine(tag);
        return this;
    }

    /// <summary>An element holding only text.</summary>
    public HtmlWriter Element(string tag, string? text, string? cssClass = null)
    {
        StartTag(tag, cssClass, []);
        Text(text);
        _html.Append("</").Append(tag).Append('>');
        EndLine(tag);
        return this;
    }

    /// <summary>A void element (meta, link): no content, no closing tag.</summary>
    public HtmlWriter Void(string tag, params (string Name, string Value)[] attributes)
    {
        StartTag(tag, null, attributes);
        _html.Append('\n');
        return this;
    }

    public HtmlWriter Text(string? text)
    {
        if (!string.IsNullOrEmpty(text)) _html.Append(Encoder.Encode(text));
        return this;
    }

    /// <summary>The document type, once at the start.</summary>
    public HtmlWriter Doctype()
    {
        _html.Append("<!DOCTYPE html>\n");
        return this;
    }

    /// <summary>A style sheet: a constant of the view, never data.</summary>
    public HtmlWriter Style(string css)
    {
        _html.Append("<style>").Append(css).Append("</style>\n");
        return this;
    }

    public override string ToString()
    {
        if (_open.Count > 0) throw new InvalidOperationException($"unclosed <{_open.Peek()}>");
        return _html.ToString();
    }

    // A line break after each block (never inside inline text) keeps the golden files readable line by line.
    private static readonly HashSet<string> Blocks = new(StringComparer.Ordinal)
        { "html", "head", "body", "title", "section", "h1", "h2", "h3", "p", "dl", "dd", "div", "table", "thead", "tbody", "tr" };

    private void EndLine(string tag)
    {
        if (Blocks.Contains(tag)) _html.Append('\n');
    }

    private void StartTag(string tag, string? cssClass, (string Name, string Value)[] attributes)
    {
        _html.Append('<').Append(tag);
        if (cssClass is not null) Attribute("class", cssClass);
        foreach (var (name, value) in attributes) Attribute(name, value);
        _html.Append('>');
    }

    private void Attribute(string name, string value) =>
        _html.Append(' ').Append(name).Append("=\"").Append(Encoder.Encode(value)).Append('"');
}
