using System.Collections.Immutable;
using Reconciler.Schema.Model;

namespace Reconciler.Schema.Loading;

/// <summary>A file of the repo with its parse result and where it belongs.</summary>
internal sealed record LoadedFile(string Path, string Kind, string Stem, ParsedFile Parsed)
{
    /// <summary>Set by the semantic pass for a file without errors.</summary>
    public FileModel? Model { get; set; }

    /// <summary>True when <see cref="Model"/> was made now rather than taken from the cache: the entry is rewritten.</summary>
    public bool ModelIsNew { get; set; }

    public SourceLocation At(string pointer)
    {
        var (line, column) = Parsed.ValueAt(pointer);
        return new SourceLocation(Path, line, column);
    }

    public SourceLocation KeyAt(string pointer)
    {
        var (line, column) = Parsed.KeyAt(pointer);
        return new SourceLocation(Path, line, column);
    }
}

/// <summary>
/// Loads an infra repo: every file is decoded, converted from YAML and validated against its schema (in parallel,
/// or taken from the parse cache by blob id), then the typed model is built and checked as a whole (references,
/// cycles, timing). All findings are collected and sorted; the model is returned only when there is no error.
/// </summary>
public static class RepoLoader
{
    public static LoadResult Load(IRepoFileSource source, IParseCache? cache = null, LoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        options ??= LoadOptions.Default;
        var parallel = options.Parallel();
        var diagnostics = new List<Diagnostic>();
        var listed = source.ListFiles();

        // 1. Decide what each file is; take what the cache has.
        var classified = new List<(RepoFile File, string Kind, string Stem)>();
        foreach (var file in listed.OrderBy(f => f.Path, StringComparer.Ordinal))
        {
            var kind = KindOf(file.Path, out var stem);
            if (kind is null)
            {
                diagnostics.Add(new Diagnostic(Severity.Warning, "file.ignored",
                    "this file is not read: the repo reads reconciler.yaml and NAME.yaml files directly in environments/, services/ and toggles/, not in their subdirectories and not .yml; "
                    + (ReadPathFor(file.Path) is { } read ? $"move it to {read}, or delete it" : "move it, or delete it"),
                    new SourceLocation(file.Path, 1, 1)));
                continue;
            }
            classified.Add((file, kind, stem));
        }

        var parsed = new ParsedFile?[classified.Count];
        var contents = new byte[]?[classified.Count];
        var cachedEntries = new ReadOnlyMemory<byte>?[classified.Count];
        var parsedNow = new bool[classified.Count];
        // Looked up sequentially: the cache is called from one thread.
        if (cache is not null)
            for (var i = 0; i < classified.Count; i++)
                if (cache.TryGet(classified[i].File.ContentId, out var entry)) cachedEntries[i] = entry;

        // 2. Files the cache has nothing for are parsed while the cached ones are decoded (decoding is most of a warm
        // load; a one-file change would otherwise parse that file alone, on one core, after it).
        ReadContents(classified, i => cachedEntries[i] is null, parsed, contents);
        // With the repository's defaults first, each file parsed now gets its model right away and lets its tree go.
        var defaults = options.KeepParseTrees ? null : RepositoryDefaults(classified, cachedEntries, contents, parsed, parsedNow);
        var parsing = Task.Run(() => ParseAll(classified, contents, parsed, parsedNow, parallel, defaults));
        var hits = 0;
        if (cache is not null)
            Parallel.For(0, classified.Count, parallel, i =>
            {
                if (cachedEntries[i] is { } entry && ParseCacheEntry.TryRead(entry, classified[i].Kind, classified[i].File.Path, out var cached))
                {
                    parsed[i] = cached;
                    Interlocked.Increment(ref hits);
                }
            });
        parsing.GetAwaiter().GetResult();
        // Entries that did not decode (another build's, or damaged) are misses: those files are read and parsed now.
        ReadContents(classified, i => parsed[i] is null, parsed, contents);
        ParseAll(classified, contents, parsed, parsedNow, parallel, defaults);

        var files = new List<LoadedFile>(classified.Count);
        for (var i = 0; i < classified.Count; i++)
        {
            var (file, kind, stem) = classified[i];
            var loaded = new LoadedFile(file.Path, kind, stem, parsed[i]!);
            files.Add(loaded);
            foreach (var d in loaded.Parsed.Diagnostics) diagnostics.Add(d.WithFile(file.Path));
        }

        // 3. The typed model, and the checks across files.
        var model = SemanticValidation.BuildAndCheck(source.Revision, files, diagnostics, parallel);

        // 4. Cache what was made now: new parses, and definitions read again (new files, or other defaults).
        if (cache is not null)
        {
            var entries = new byte[]?[files.Count];
            Parallel.For(0, files.Count, parallel, i =>
            {
                // parsedNow: never a file that could not be read (that may be a passing I/O error, not the blob's
                // content); such a file has errors, so it has no model either.
                if (parsedNow[i] || files[i].ModelIsNew) entries[i] = ParseCacheEntry.Write(files[i].Parsed, files[i].Model);
            });
            for (var i = 0; i < files.Count; i++)
                if (entries[i] is { } entry) cache.Put(classified[i].File.ContentId, entry);
        }

        diagnostics.Sort(DiagnosticOrder.Instance);
        var hasErrors = diagnostics.Exists(d => d.Severity == Severity.Error);
        return new LoadResult(hasErrors ? null : model, diagnostics.ToImmutableArray())
        {
            Stats = new LoadStats(classified.Count, hits, classified.Count - hits),
            Unchecked = model,
        };
    }

    /// <summary>Reads the content of the files <paramref name="wanted"/> selects, sequentially (a Git-backed source need
    /// not be thread-safe); a file too large or unreadable gets its diagnostic instead.</summary>
    private static void ReadContents(List<(RepoFile File, string Kind, string Stem)> classified, Func<int, bool> wanted,
        ParsedFile?[] parsed, byte[]?[] contents)
    {
        for (var i = 0; i < classified.Count; i++)
        {
            if (parsed[i] is not null || contents[i] is not null || !wanted(i)) continue;
            var (file, kind, _) = classified[i];
            if (file.Size > YamlToJson.MaxFileBytes)
            {
                parsed[i] = new ParsedFile(kind, null, [], [YamlToJson.TooLarge(file.Size)]);
                continue;
            }
            try
            {
                contents[i] = file.ReadContent();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                parsed[i] = new ParsedFile(kind, null, [], [new FileDiagnostic(Severity.Error, "file.read",
                    $"the file could not be read: {e.Message}; check that it exists and is readable", 1, 1)]);
            }
        }
    }

    /// <summary>The repository's defaults, which the model of every other file is read with, from the repository files
    /// (parsed now, ahead of the others, or from the cache: a cache entry that does not decode, as every entry after an
    /// upgrade, is read and parsed now); null when one is not known (a file that cannot be read).</summary>
    private static (Defaults Defaults, string Fingerprint)? RepositoryDefaults(List<(RepoFile File, string Kind, string Stem)> classified,
        ReadOnlyMemory<byte>?[] cachedEntries, byte[]?[] contents, ParsedFile?[] parsed, bool[] parsedNow)
    {
        var repositoryFiles = new List<LoadedFile>();
        for (var i = 0; i < classified.Count; i++)
        {
            var (file, kind, stem) = classified[i];
            if (kind != "Repository") continue;
            var parsedFile = parsed[i];
            if (parsedFile is null && cachedEntries[i] is { } entry && !ParseCacheEntry.TryRead(entry, kind, file.Path, out parsedFile))
                ReadContents(classified, j => j == i, parsed, contents);   // another build's entry (after an upgrade): parsed now
            parsedFile ??= parsed[i];
            if (parsedFile is null && contents[i] is { } bytes)
            {
                parsedFile = parsed[i] = ParseAndValidate(bytes, kind);
                parsedNow[i] = true;
                contents[i] = null;
            }
            if (parsedFile is null) return null;
            repositoryFiles.Add(new LoadedFile(file.Path, kind, stem, parsedFile));
        }
        var (_, repository, fingerprint) = SemanticValidation.Repository(repositoryFiles.Where(f => !f.Parsed.HasErrors));
        return (repository.Defaults, fingerprint);
    }

    /// <summary>Parses and validates every file whose content was read, in parallel: the CPU-heavy part. With the
    /// repository's <paramref name="defaults"/>, a valid file's model is made right away and its JSON tree let go
    /// (<see cref="ParsedFile.WithoutTree"/>), so that the trees of thousands of files are never all held at once.</summary>
    private static void ParseAll(List<(RepoFile File, string Kind, string Stem)> classified, byte[]?[] contents, ParsedFile?[] parsed, bool[] parsedNow,
        ParallelOptions parallel, (Defaults Defaults, string Fingerprint)? defaults)
    {
        Parallel.For(0, classified.Count, parallel, i =>
        {
            if (contents[i] is not { } bytes) return;
            var (file, kind, stem) = classified[i];
            var parsedFile = ParseAndValidate(bytes, kind);
            if (defaults is var (d, fingerprint) && kind != "Repository" && !parsedFile.HasErrors)
                parsedFile = parsedFile.WithoutTree(SemanticValidation.ModelOfPart(new LoadedFile(file.Path, kind, stem, parsedFile), d, fingerprint));
            parsed[i] = parsedFile;
            parsedNow[i] = true;
            contents[i] = null;
        });
    }

    internal static ParsedFile ParseAndValidate(byte[] bytes, string kind)
    {
        var (root, nodes, diagnostics) = YamlToJson.Convert(bytes);
        if (root is not null) SchemaValidation.Validate(kind, root, nodes, diagnostics);
        return new ParsedFile(kind, root, nodes, diagnostics) { Source = bytes };
    }

    /// <summary>Where a YAML file under one of the folders would be read: "services/team/api.yml" -> "services/api.yaml".</summary>
    private static string? ReadPathFor(string path)
    {
        var folder = path[..Math.Max(path.IndexOf('/'), 0)];
        var name = path[(path.LastIndexOf('/') + 1)..];
        var dot = name.LastIndexOf('.');
        return folder is "environments" or "services" or "toggles" && dot > 0 ? $"{folder}/{name[..dot]}.yaml" : null;
    }

    /// <summary>The kind of reconciler.yaml, environments/NAME.yaml, services/NAME.yaml and toggles/NAME.yaml; null for
    /// any other path, which the loader warns is ignored (docs/format.md). The Git and disk sources list those files and
    /// the other YAML files under the three folders, so that one kept in a subdirectory or named .yml is named.</summary>
    internal static string? KindOf(string path, out string stem)
    {
        stem = "";
        if (!path.EndsWith(".yaml", StringComparison.Ordinal)) return null;
        var slash = path.LastIndexOf('/');
        stem = path[(slash + 1)..^".yaml".Length];
        if (slash < 0) return stem == "reconciler" ? "Repository" : null;
        if (stem.Length == 0) return null;
        var folder = path[..slash];
        return folder switch { "environments" => "Environment", "services" => "Service", "toggles" => "Toggle", _ => null };
    }

    /// <summary>File, line, column, rule, message; findings about the whole repo first.</summary>
    internal sealed class DiagnosticOrder : IComparer<Diagnostic>
    {
        public static readonly DiagnosticOrder Instance = new();

        public int Compare(Diagnostic? x, Diagnostic? y)
        {
            if (ReferenceEquals(x, y)) return 0;
            if (x is null) return -1;
            if (y is null) return 1;
            var c = (x.Location, y.Location) switch
            {
                (null, null) => 0,
                (null, _) => -1,
                (_, null) => 1,
                var (a, b) => a.CompareTo(b),
            };
            if (c != 0) return c;
            c = string.CompareOrdinal(x.RuleId, y.RuleId);
            return c != 0 ? c : string.CompareOrdinal(x.Message, y.Message);
        }
    }
}
