using System.Security.Cryptography;
using System.Text;
using LibGit2Sharp;
using Reconciler.Schema.Loading;

namespace Reconciler.Git;

/// <summary>
/// The infra repo's files as they are on disk, uncommitted edits included (`--repo DIR` without `--rev`).
/// <see cref="RepoFile.ContentId"/> is the SHA-1 Git would give the bytes as a blob, so a file that equals the
/// committed one shares its parse-cache entry. <see cref="Revision"/> is "working-tree"; when the directory is
/// inside a Git repository, <see cref="BaseCommit"/> is HEAD's SHA and <see cref="IsDirty"/> says whether any
/// infra-repo file differs from HEAD (docs/cli/validate.md).
/// </summary>
public sealed class WorkingTreeSource : IRepoFileSource
{
    public const string WorkingTreeRevision = "working-tree";

    private readonly List<RepoFile> _files;

    private WorkingTreeSource(string directory, List<RepoFile> files, string? baseCommit, bool isDirty, string gitSubdirectory)
    {
        Directory = directory;
        GitSubdirectory = gitSubdirectory;
        _files = files;
        BaseCommit = baseCommit;
        IsDirty = isDirty;
    }

    public string Revision => WorkingTreeRevision;

    /// <summary>Absolute path of the infra repo directory.</summary>
    public string Directory { get; }

    /// <summary>HEAD's SHA when the directory is inside a Git repository with at least one commit; else null.</summary>
    public string? BaseCommit { get; }

    /// <summary>True when an infra-repo file was added, changed or deleted relative to HEAD (or there is no HEAD).</summary>
    public bool IsDirty { get; }

    /// <summary>The directory's path inside its Git repository ("" at the root or outside Git; else "a/b").</summary>
    public string GitSubdirectory { get; }

    public IReadOnlyList<RepoFile> ListFiles() => _files;

    public static WorkingTreeSource Open(string directory)
    {
        var full = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(full))
            throw new ReconcilerException(FailureKind.InvalidInput, $"--repo {directory}: no such directory. Pass the directory that holds reconciler.yaml.");
        var files = new List<RepoFile>();
        AddIfFile(files, full, RepoLayout.RootFile);
        foreach (var folder in RepoLayout.Folders)
        {
            var dir = Path.Combine(full, folder);
            if (System.IO.Directory.Exists(dir)) AddYamlFiles(files, full, folder, 0);
        }
        files.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path));

        var (baseCommit, dirty, subdirectory) = CompareWithHead(full, files);
        return new WorkingTreeSource(full, files, baseCommit, dirty, subdirectory);
    }

    /// <summary>The YAML files of <paramref name="relative"/> and, to the depth Git's listing goes, its subdirectories
    /// (<see cref="RepoLayout.Entries"/>); a linked directory is not followed. A file that is not read (in a
    /// subdirectory, or .yml) is listed for the loader's warning only: never read or hashed, and a subdirectory that
    /// cannot be listed is passed over, as nothing in it would be read.</summary>
    private static void AddYamlFiles(List<RepoFile> files, string root, string relative, int depth)
    {
        var directory = Path.Combine(root, relative);
        try
        {
            foreach (var path in System.IO.Directory.EnumerateFiles(directory))
            {
                var name = relative + "/" + Path.GetFileName(path);
                if (RepoLayout.IsListed(name)) AddIfFile(files, root, name);
                else if (RepoLayout.IsYamlFileName(Path.GetFileName(path))) files.Add(NotRead(name));
            }
            if (depth == RepoLayout.IgnoredDepth) return;
            foreach (var path in System.IO.Directory.EnumerateDirectories(directory))
                if (new DirectoryInfo(path).LinkTarget is null) AddYamlFiles(files, root, relative + "/" + Path.GetFileName(path), depth + 1);
        }
        catch (Exception e) when (depth > 0 && e is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>A file listed only to be named in the loader's warning (file.ignored): no content id, never read.</summary>
    private static RepoFile NotRead(string relative) =>
        new(relative, "", 0, () => throw new InvalidOperationException($"{relative} is not part of the repo format and is never read"));

    private static void AddIfFile(List<RepoFile> files, string root, string relative)
    {
        var path = Path.Combine(root, relative);
        if (!File.Exists(path)) return;
        if (new FileInfo(path).LinkTarget is not null)
        {
            // Content id of the link itself, as Git stores it, so a committed link and this one compare equal.
            var link = System.Text.Encoding.UTF8.GetBytes(new FileInfo(path).LinkTarget!);
            files.Add(new RepoFile(relative, BlobId(link), 0, () => throw RepoLayout.SymlinkRefused(relative)));
            return;
        }
        // Read once: hashing needs the bytes anyway, and reading again later could see a different edit.
        var bytes = File.ReadAllBytes(path);
        files.Add(new RepoFile(relative, BlobId(bytes), bytes.LongLength, () => bytes));
    }

    /// <summary>Git's object id of <paramref name="content"/> as a blob: SHA-1 over "blob LEN\0" + content.</summary>
    public static string BlobId(ReadOnlySpan<byte> content)
    {
        using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        sha1.AppendData(Encoding.ASCII.GetBytes($"blob {content.Length}\0"));
        sha1.AppendData(content);
        return Convert.ToHexStringLower(sha1.GetHashAndReset());
    }

    private static (string? BaseCommit, bool Dirty, string Subdirectory) CompareWithHead(string directory, List<RepoFile> files)
    {
        var discovered = GitRepoSource.Discover(directory);
        if (discovered is not { } found) return (null, true, "");
        using var repository = found.Repository;
        var head = repository.Head?.Tip;
        if (head is null) return (null, true, found.Subdirectory);
        var prefix = found.Subdirectory == "" ? "" : found.Subdirectory + "/";
        var committed = new Dictionary<string, string>(StringComparer.Ordinal);
        if ((prefix == "" ? head.Tree : head.Tree[found.Subdirectory]?.Target as Tree) is { } tree)
        {
            foreach (var (path, entry) in RepoLayout.Entries(tree))
                if (RepoLayout.IsListed(path)) committed[path] = entry.Target.Sha;
        }
        // Only the files read: one that is listed to be warned about (untracked, ignored by Git, in a submodule) changes
        // nothing the reconciler does.
        var read = files.Where(f => RepoLayout.IsListed(f.Path)).ToList();
        var dirty = committed.Count != read.Count
            || read.Any(f => !committed.TryGetValue(f.Path, out var sha) || sha != f.ContentId);
        return (head.Sha, dirty, found.Subdirectory);
    }
}
