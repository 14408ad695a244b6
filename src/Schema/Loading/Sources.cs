using System.Collections.Immutable;
using Reconciler.Schema.Model;

namespace Reconciler.Schema.Loading;

/// <summary>One file of the infra repo. <see cref="ContentId"/> is the Git blob id (or, for files read from
/// disk, the same SHA-1 Git would compute), so parse results can be cached across commits.</summary>
public sealed class RepoFile
{
    private readonly Lazy<long> _size;

    public RepoFile(string path, string contentId, long size, Func<byte[]> readContent)
        : this(path, contentId, () => size, readContent)
    {
    }

    /// <summary>For sources where the size costs a lookup (a Git object header): asked only for files the parse cache
    /// does not hold, so a warm load of 5,000 files skips 5,000 lookups.</summary>
    public RepoFile(string path, string contentId, Func<long> size, Func<byte[]> readContent)
    {
        Path = path;
        ContentId = contentId;
        ReadContent = readContent;
        _size = new Lazy<long>(size, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>Relative to the repo root, with '/'.</summary>
    public string Path { get; }

    public string ContentId { get; }

    /// <summary>Size in bytes, checked against the file size limit before the content is read.</summary>
    public long Size => _size.Value;

    public Func<byte[]> ReadContent { get; }
}

/// <summary>Where the repo's files come from: a Git commit (in src/Reconciler, via LibGit2Sharp) or a directory.
/// The Schema project does no Git I/O itself.</summary>
public interface IRepoFileSource
{
    /// <summary>Commit SHA, or "working-tree".</summary>
    string Revision { get; }

    /// <summary>The YAML files under reconciler.yaml, environments/, services/, toggles/ (paths relative, '/').</summary>
    IReadOnlyList<RepoFile> ListFiles();
}

public sealed record LoadResult(RepoModel? Model, ImmutableArray<Diagnostic> Diagnostics)
{
    public bool HasErrors => Model is null || Diagnostics.Any(d => d.Severity == Severity.Error);

    /// <summary>How many files were read, and how many of them came from the parse cache.</summary>
    public LoadStats Stats { get; init; } = new(0, 0, 0);

    /// <summary>The model as far as it was built, also when the repo has errors (files with errors left out): for a
    /// caller that loads part of a repo and only reads which names its files refer to (the engine's incremental plan).
    /// Never to be planned from: use <see cref="Model"/>.</summary>
    public RepoModel? Unchecked { get; init; }
}

/// <summary>How <see cref="RepoLoader.Load"/> runs. The loader chooses nothing about the machine it runs on: its caller
/// says how many workers its parallel loops may use (the engine: one per core).</summary>
/// <param name="MaxDegreeOfParallelism">Workers per parallel loop (parsing, schema validation, reading models, semantic
/// checks, cache entries); 1, the default, runs each loop on the calling thread. A cap matters even with many cores to
/// spare: a process that raises the thread pool's minimum (the CLI does, for SSH.NET) would otherwise get that many
/// workers, with more CPU and memory and no speed-up (docs/benchmarks/repo.md).</param>
public sealed record LoadOptions(int MaxDegreeOfParallelism = 1)
{
    public static LoadOptions Default { get; } = new();

    /// <summary>The slow path of the loader, for the differential tests: every parsed file keeps its JSON tree until
    /// the semantic pass reads its model from it, as before the loader made models right after parsing
    /// (<see cref="RepoLoader"/>, "let its tree go").</summary>
    internal bool KeepParseTrees { get; init; }

    internal ParallelOptions Parallel() => MaxDegreeOfParallelism >= 1
        ? new ParallelOptions { MaxDegreeOfParallelism = MaxDegreeOfParallelism }
        : throw new ArgumentOutOfRangeException(nameof(MaxDegreeOfParallelism), MaxDegreeOfParallelism, "at least 1 worker");
}

/// <summary>Counts for `--verbose`/benchmarks: how many files were parsed vs. taken from the cache.</summary>
public sealed record LoadStats(int Files, int CacheHits, int Parsed);

/// <summary>
/// Parse results keyed by <see cref="RepoFile.ContentId"/> (the Git blob id), so planning a commit that changes one
/// file of a large repo parses only that file. Owned by the loader; persisted by <c>FileParseCache</c>.
/// Entries are opaque, versioned bytes: the loader treats an entry it cannot read as a miss. RepoLoader calls
/// TryGet and Put from a single thread.
/// </summary>
public interface IParseCache
{
    /// <summary>The entry stored for <paramref name="contentId"/>. It may be a view into a larger buffer the cache keeps
    /// (no copy per entry): the caller must not write to it.</summary>
    bool TryGet(string contentId, out ReadOnlyMemory<byte> entry);
    void Put(string contentId, byte[] entry);
}
