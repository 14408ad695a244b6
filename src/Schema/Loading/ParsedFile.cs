using Newtonsoft.Json.Linq;
using Reconciler.Schema.Model;

namespace Reconciler.Schema.Loading;

/// <summary>What a YAML node was before it became JSON, so messages can say "found the number 1.10".</summary>
internal enum NodeKind : byte { Mapping, Sequence, String, Integer, Float, Boolean, Null }

/// <summary>Where a node sits in its YAML file. For mapping members KeyLine/KeyColumn point at the key.
/// <see cref="Raw"/> keeps the source text of plain scalars that are not strings (1.10, true, 8080).</summary>
internal readonly record struct NodeInfo(int Line, int Column, int KeyLine, int KeyColumn, NodeKind Kind, string? Raw);

/// <summary>A diagnostic of one file without the file's path: the same blob can live at several paths
/// (and commits), so cached diagnostics get their path only when they are reported.</summary>
internal sealed record FileDiagnostic(Severity Severity, string RuleId, string Message, int Line, int Column, string? Pointer = null)
{
    public Diagnostic WithFile(string file) =>
        new(Severity, RuleId, Message, new SourceLocation(file, Line, Column), string.IsNullOrEmpty(Pointer) ? null : Pointer);
}

/// <summary>One file after the expensive part (decode, YAML to JSON, schema validation): the unit the parse cache stores.</summary>
internal sealed class ParsedFile(string kind, JToken? root, Dictionary<string, NodeInfo> nodes, List<FileDiagnostic> diagnostics)
{
    /// <summary>The kind the file's location asks for (Repository, Environment, Service, Toggle).</summary>
    public string Kind { get; } = kind;

    /// <summary>The document as JSON; null when the file could not be read as YAML at all.</summary>
    public JToken? Root { get; } = root;

    /// <summary>JSON pointer (RFC 6901, "" for the root) to YAML position.</summary>
    public Dictionary<string, NodeInfo> Nodes { get; } = nodes;

    public List<FileDiagnostic> Diagnostics { get; } = diagnostics;

    public bool HasErrors => Root is null || Diagnostics.Exists(d => d.Severity == Severity.Error);

    /// <summary>Position of the value at <paramref name="pointer"/>, or of its nearest ancestor that has one.</summary>
    public (int Line, int Column) ValueAt(string pointer)
    {
        for (var p = pointer; ; p = Parent(p))
        {
            if (Nodes.TryGetValue(p, out var n)) return (n.Line, n.Column);
            if (p.Length == 0) return (1, 1);
        }
    }

    /// <summary>Position of the key of the member at <paramref name="pointer"/> (its value's position for list items).</summary>
    public (int Line, int Column) KeyAt(string pointer)
    {
        if (Nodes.TryGetValue(pointer, out var n) && n.KeyLine > 0) return (n.KeyLine, n.KeyColumn);
        return ValueAt(pointer);
    }

    public static string Parent(string pointer)
    {
        var i = pointer.LastIndexOf('/');
        return i <= 0 ? "" : pointer[..i];
    }

    public static string Child(string pointer, string key) =>
        pointer + "/" + (key.Contains('~') || key.Contains('/') ? key.Replace("~", "~0").Replace("/", "~1") : key);

    public static string Child(string pointer, int index) => pointer + "/" + index.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
