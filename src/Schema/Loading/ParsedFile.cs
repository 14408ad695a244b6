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

/// <summary>One file after the expensive part (decode, YAML to JSON, schema validation): the unit the parse cache stores.
/// A file from the cache decodes its JSON tree and position map only when something asks for them (an error to
/// place, or a definition to read again): a warm load of a valid repo never does (docs/benchmarks/repo.md).</summary>
internal sealed class ParsedFile
{
    private readonly Lazy<(JToken? Root, Dictionary<string, NodeInfo> Nodes)> _tree;

    public ParsedFile(string kind, JToken? root, Dictionary<string, NodeInfo> nodes, List<FileDiagnostic> diagnostics)
    {
        Kind = kind;
        HasRoot = root is not null;
        Diagnostics = diagnostics;
        _tree = new Lazy<(JToken?, Dictionary<string, NodeInfo>)>((root, nodes));
    }

    /// <summary>A cached file: <paramref name="decodeTree"/> runs at most once, on first use of <see cref="Root"/> or <see cref="Nodes"/>.</summary>
    public ParsedFile(string kind, bool hasRoot, Func<(JToken? Root, Dictionary<string, NodeInfo> Nodes)> decodeTree,
        List<FileDiagnostic> diagnostics, ReadOnlyMemory<byte> source, FileModel? cachedModel)
    {
        Kind = kind;
        HasRoot = hasRoot;
        Diagnostics = diagnostics;
        _tree = new Lazy<(JToken?, Dictionary<string, NodeInfo>)>(decodeTree, LazyThreadSafetyMode.ExecutionAndPublication);
        Source = source;
        CachedModel = cachedModel;
    }

    /// <summary>This file as if read from the parse cache with <paramref name="model"/>: its JSON tree and position map
    /// are let go and converted again from <see cref="Source"/> only if something asks for them (an error to place).
    /// A cold load of 20,000 services held every file's tree until the model was built: most of its 1.3 GB peak.</summary>
    public ParsedFile WithoutTree(FileModel model)
    {
        var source = Source ?? throw new InvalidOperationException("only a file with its source can let its tree go");
        return new ParsedFile(Kind, HasRoot, () => ParseCacheEntry.ConvertAgain(source), Diagnostics, source, model);
    }

    /// <summary>The kind the file's location asks for (Repository, Environment, Service, Toggle).</summary>
    public string Kind { get; }

    /// <summary>False when the file could not be read as YAML at all.</summary>
    public bool HasRoot { get; }

    /// <summary>The document as JSON; null when the file could not be read as YAML at all.</summary>
    public JToken? Root => _tree.Value.Root;

    /// <summary>JSON pointer (RFC 6901, "" for the root) to YAML position.</summary>
    public Dictionary<string, NodeInfo> Nodes => _tree.Value.Nodes;

    public List<FileDiagnostic> Diagnostics { get; }

    /// <summary>The YAML bytes the file was made from: what the parse cache keeps to rebuild the tree on demand.</summary>
    public ReadOnlyMemory<byte>? Source { get; init; }

    /// <summary>For a file from the cache: its typed definition and per-file findings, if the entry had them.</summary>
    public FileModel? CachedModel { get; }

    public bool HasErrors => !HasRoot || Diagnostics.Exists(d => d.Severity == Severity.Error);

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

/// <summary>
/// What the model reader and the per-file checks made of one schema-valid file: its typed definition and the
/// findings that depend on that file alone (and, for a service, on the repository defaults it was read with,
/// identified by <paramref name="DefaultsFingerprint"/>). Cached beside the parse result.
/// </summary>
internal sealed record FileModel(object Definition, string DefaultsFingerprint, List<FileDiagnostic> Diagnostics)
{
    public string Name => Definition switch
    {
        EnvironmentSpec e => e.Name,
        ServiceDefinition s => s.Name,
        ToggleDefinition t => t.Name,
        _ => "reconciler",
    };
}
