using Reconciler.Schema.Model;

namespace Reconciler.Schema.Loading;

/// <summary>
/// The bytes the parse cache stores for one blob, in three parts:
/// (1) a header: format version, the loader's build, kind and the file-level diagnostics;
/// (2) when the file is valid: its typed definition (<see cref="ModelCodec"/>) and per-file findings, with the
///     fingerprint of the repository defaults they were made under;
/// (3) the YAML source, converted again only on demand (to place an error, or to read the definition again under
///     other defaults): smaller and cheaper to keep than the JSON tree it yields.
/// No path is stored (the same blob may sit at another path). Entries are bound to the exact build of this assembly
/// (schemas, messages and parsing all live in it), so a new build simply rebuilds the cache. An entry of another
/// build or version, or one that does not read, is a miss, never an error.
/// </summary>
internal static class ParseCacheEntry
{
    private static ReadOnlySpan<byte> Magic => "RCPE"u8;

    /// <summary>Module version ids change with any change to an assembly's code or embedded schemas, so this assembly's
    /// stands for the entry layout, the codec, the schemas and the messages at once: nothing to bump by hand. It changes
    /// too when a referenced assembly's version does (NJsonSchema's follows its package). YamlDotNet's does not (one
    /// assembly version across its 18.x releases), and its messages are cached too: its module id is added.</summary>
    private static readonly string BuildId = typeof(ParseCacheEntry).Assembly.ManifestModule.ModuleVersionId.ToString("N")
                                             + typeof(YamlDotNet.Core.Parser).Assembly.ManifestModule.ModuleVersionId.ToString("N");

    /// <summary>A parsed file (it must have its source), with its definition when it has one.</summary>
    public static byte[] Write(ParsedFile file, FileModel? model)
    {
        var source = file.Source ?? throw new ArgumentException("only a file with its source can be cached", nameof(file));
        var w = new ModelWriter();
        foreach (var b in Magic) w.Byte(b);
        w.String(BuildId);
        w.String(file.Kind);
        w.Bool(file.HasRoot);
        WriteDiagnostics(w, file.Diagnostics);
        w.Bool(model is not null);
        if (model is not null)
        {
            w.String(model.DefaultsFingerprint);
            WriteDiagnostics(w, model.Diagnostics);
            ModelCodec.Write(w, model.Definition);
        }
        w.Bytes(source.Span);
        return w.WrittenSpan.ToArray();
    }

    /// <summary>Reads an entry; the file's source stays a view into <paramref name="entry"/> (not copied: a warm load
    /// reads thousands of entries and rarely looks at a source again).</summary>
    public static bool TryRead(ReadOnlyMemory<byte> entry, string expectedKind, string path, out ParsedFile? file)
    {
        file = null;
        try
        {
            var r = new ModelReaderSpan(entry.Span);
            foreach (var b in Magic)
                if (r.Byte() != b) return false;
            if (r.String() != BuildId || r.String() != expectedKind) return false;
            var hasRoot = r.Bool();
            var diagnostics = ReadDiagnostics(ref r);
            FileModel? model = null;
            if (r.Bool())
            {
                var fingerprint = r.String();
                var modelDiagnostics = ReadDiagnostics(ref r);
                model = new FileModel(ModelCodec.Read(ref r, path), fingerprint, modelDiagnostics);
            }
            var length = r.Bytes().Length;
            var source = entry.Slice(r.Position - length, length);
            if (!r.AtEnd) return false;
            file = new ParsedFile(expectedKind, hasRoot, () => ConvertAgain(source), diagnostics, source, model);
            return true;
        }
        catch (FormatException)
        {
            return false; // a damaged or foreign entry: parse the file again
        }
    }

    /// <summary>The same conversion that made the entry (same build), so the same tree and positions (also the tree of a
    /// parsed file the loader let go, <see cref="ParsedFile.WithoutTree"/>).</summary>
    internal static (Newtonsoft.Json.Linq.JToken? Root, Dictionary<string, NodeInfo> Nodes) ConvertAgain(ReadOnlyMemory<byte> source)
    {
        var (root, nodes, _) = YamlToJson.Convert(source.ToArray());   // rare: an error to place, or other defaults
        return (root, nodes);
    }

    private static void WriteDiagnostics(ModelWriter w, List<FileDiagnostic> diagnostics)
    {
        w.Count(diagnostics.Count);
        foreach (var d in diagnostics)
        {
            w.Int((int)d.Severity);
            w.String(d.RuleId);
            w.String(d.Message);
            w.Int(d.Line);
            w.Int(d.Column);
            w.NullableString(d.Pointer);
        }
    }

    private static List<FileDiagnostic> ReadDiagnostics(ref ModelReaderSpan r)
    {
        var count = r.Count();
        var diagnostics = new List<FileDiagnostic>(count);
        for (var i = 0; i < count; i++)
            diagnostics.Add(new FileDiagnostic((Severity)r.Int(), r.String(), r.String(), r.Int(), r.Int(), r.NullableString()));
        return diagnostics;
    }
}
