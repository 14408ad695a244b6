using LibGit2Sharp;
using Reconciler.Schema.Loading;

namespace Reconciler.Git;

/// <summary>
/// The infra repo's files at one commit, read straight from Git objects (no checkout, no working tree needed).
/// The infra repo may be a subdirectory of the Git repository: <see cref="Open"/> discovers the repository that
/// contains the directory and reads the subtree at the directory's relative path. File content is read lazily;
/// <see cref="RepoFile.ContentId"/> is the blob SHA, so parse results are shared by every commit with that blob.
/// </summary>
public sealed class GitRepoSource : IRepoFileSource, IDisposable
{
    private readonly Repository _repository;
    private readonly Tree _tree;
    // libgit2 objects must not be used from several threads at once; the loader reads files in parallel.
    private readonly Lock _gate = new();

    /// <summary>Objects are read as `git` reads a tree walk's, without hashing each one again: libgit2 re-hashes every
    /// object it reads by default (SHA-1 with collision detection), and a repo of 20,000 services has an 840 KB
    /// `services/` tree that every plan of a new commit reads, so the hashing was nearly a third of a preview's Git
    /// time and grew with the repo (docs/benchmarks.md, "Git reads, the preview's base diff, and the JSON per entry",
    /// which reverses the earlier judgement there). A damaged object still fails zlib's checksum on inflating. The
    /// setting is libgit2's, for the whole process: set before the first repository this class opens.</summary>
    private static void ReadObjectsAsGitDoes()
    {
        if (s_objectsReadAsGitDoes) return;
        GlobalSettings.SetStrictHashVerification(false);
        s_objectsReadAsGitDoes = true;   // (two threads may both set it: the same value)
    }

    private static bool s_objectsReadAsGitDoes;

    private GitRepoSource(Repository repository, Commit commit, Tree tree, string subdirectory)
    {
        _repository = repository;
        _tree = tree;
        Revision = commit.Sha;
        Subdirectory = subdirectory;
        CommitMessageShort = commit.MessageShort;
    }

    /// <summary>The full commit SHA.</summary>
    public string Revision { get; }

    /// <summary>The infra repo's path inside the Git repository ("" at the root, else "a/b" with '/').</summary>
    public string Subdirectory { get; }

    public string CommitMessageShort { get; }

    /// <summary>Opens the Git repository containing <paramref name="directory"/> at <paramref name="revision"/>
    /// (a SHA, short SHA, branch, tag, or an expression like HEAD~1). Throws <see cref="ReconcilerException"/> (invalid input) when
    /// the directory is not inside a Git repository, the revision does not exist, or the commit lacks the directory.</summary>
    public static GitRepoSource Open(string directory, string revision)
    {
        var (repository, subdirectory) = Discover(directory)
            ?? throw new ReconcilerException(FailureKind.InvalidInput, 
                $"{directory} is not inside a Git repository, so --rev {revision} cannot be read. " +
                "Run `git init` there and commit, point --repo at a Git working tree, or omit --rev to read the files on disk.");
        try
        {
            var commit = ResolveCommit(repository, revision);
            var tree = subdirectory == "" ? commit.Tree : commit.Tree[subdirectory]?.Target as Tree;
            if (tree is null)
                throw new ReconcilerException(FailureKind.InvalidInput, 
                    $"commit {commit.Sha[..12]} ({revision}) has no directory {subdirectory}/ (Git repository at {(repository.Info.WorkingDirectory ?? repository.Info.Path).TrimEnd('/')}). " +
                    "The infra repo did not exist at that commit yet; pick a later revision (see `git log -- " + subdirectory + "`).");
            return new GitRepoSource(repository, commit, tree, subdirectory);
        }
        catch
        {
            repository.Dispose();
            throw;
        }
    }

    /// <summary>The repository containing <paramref name="directory"/> and the directory's path inside it, or null.</summary>
    internal static (Repository Repository, string Subdirectory)? Discover(string directory)
    {
        var full = Path.GetFullPath(directory);
        if (!Directory.Exists(full))
            throw new ReconcilerException(FailureKind.InvalidInput, $"--repo {directory}: no such directory. Pass the directory that holds reconciler.yaml.");
        var gitDir = GitDiscovery.Find(full);
        if (gitDir is null) return null;
        ReadObjectsAsGitDoes();
        var repository = new Repository(gitDir);
        var workdir = repository.Info.WorkingDirectory;
        if (workdir is null)
        {
            // A bare repository: its "directory" is the repo itself; the infra repo sits at the tree root.
            return (repository, "");
        }
        var relative = Path.GetRelativePath(Path.GetFullPath(workdir), full);
        return (repository, RepoLayout.ToTreePrefix(relative).TrimEnd('/'));
    }

    internal static Commit ResolveCommit(Repository repository, string revision)
    {
        GitObject? found;
        try
        {
            found = string.IsNullOrWhiteSpace(revision) ? null : repository.Lookup(revision);
        }
        catch (LibGit2SharpException)
        {
            // Ambiguous short SHAs and malformed expressions land here.
            found = null;
        }
        Commit? commit = null;
        try
        {
            commit = found?.Peel<Commit>();
        }
        catch (LibGit2SharpException)
        {
            commit = null;
        }
        return commit ?? throw new ReconcilerException(FailureKind.InvalidInput, 
            $"unknown revision '{revision}' in the Git repository at {(repository.Info.WorkingDirectory ?? repository.Info.Path).TrimEnd('/')}. " +
            "--rev takes a commit SHA (full or short), a branch, a tag, or an expression like HEAD~1; " +
            "list them with `git log --oneline`, `git branch -a` and `git tag`.");
    }

    public IReadOnlyList<RepoFile> ListFiles() => ListFiles(_tree, null, null);

    /// <summary>The id of the infra repo's tree at this commit: equal ids, equal files.</summary>
    public string TreeId => _tree.Sha;

    /// <summary>The files of the infra tree <paramref name="treeId"/> of this repository (this commit's or another's),
    /// with only the named services (services/NAME.yaml; a name without a file is left out) and every other file:
    /// what an incremental plan loads (<see cref="UseCases.IncrementalPlan"/>). Null when that tree is not in the repository.</summary>
    /// <param name="blobs">The blob ids of services/NAME.yaml in that tree known so far, by NAME; names looked up are
    /// added. A lookup by path reads the whole services/ tree object (libgit2 does not cache trees over 4 KB: ~1 MB and
    /// a few ms for 20,000 services), so an incremental plan keeps the ids it used for the next one.</param>
    public IRepoFileSource? Subset(string treeId, IReadOnlyCollection<string> services, IDictionary<string, string> blobs)
    {
        lock (_gate)
        {
            var tree = treeId == _tree.Sha ? _tree : TryLookup<Tree>(treeId);
            return tree is null ? null : new SubsetSource(Revision, ListFiles(tree, services, blobs));
        }
    }

    /// <summary>The infra files that differ between the infra tree <paramref name="oldTreeId"/> and this commit's (paths
    /// relative to the infra repo, no rename detection: a rename is a deletion and an addition). Null when the old
    /// tree is not in the repository (a gc, another clone).</summary>
    public IReadOnlyList<(string Path, ChangeKind Status, string BlobId, bool IsFile)>? ChangesSince(string oldTreeId)
    {
        lock (_gate)
        {
            if (oldTreeId == _tree.Sha) return [];
            if (TryLookup<Tree>(oldTreeId) is not { } old) return null;
            // Subtrees with equal ids are skipped without being read: the cost follows the change, not the repo.
            using var changes = _repository.Diff.Compare<TreeChanges>(old, _tree, new CompareOptions { Similarity = SimilarityOptions.None });
            return [.. changes.Select(c => (c.Path.Replace('\\', '/'), c.Status, c.Oid.Sha, c.Mode is Mode.NonExecutableFile or Mode.ExecutableFile))];
        }
    }

    private T? TryLookup<T>(string sha) where T : GitObject
    {
        try
        {
            return ObjectId.TryParse(sha, out var id) ? _repository.Lookup<T>(id) : null;
        }
        catch (LibGit2SharpException)
        {
            return null;
        }
    }

    /// <param name="services">Null: every service; else only these names.</param>
    private List<RepoFile> ListFiles(Tree tree, IReadOnlyCollection<string>? services, IDictionary<string, string>? blobs)
    {
        var files = new List<RepoFile>();
        lock (_gate)
        {
            foreach (var (path, entry) in RepoLayout.Entries(tree, withServices: services is null))
                files.Add(ToRepoFile(path, entry));
            if (services is not null && tree["services"] is { TargetType: TreeEntryTargetType.Tree })
                foreach (var name in services)
                {
                    var path = $"services/{name}.yaml";
                    if (blobs!.TryGetValue(name, out var known) && ObjectId.TryParse(known, out var id))
                        files.Add(ToRepoFile(path, id));
                    else if (tree[path] is { TargetType: TreeEntryTargetType.Blob } file)
                    {
                        files.Add(ToRepoFile(path, file));
                        if (file.Mode != Mode.SymbolicLink) blobs[name] = file.Target.Sha;
                    }
                }
        }
        files.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path));
        return files;
    }

    private sealed class SubsetSource(string revision, IReadOnlyList<RepoFile> files) : IRepoFileSource
    {
        public string Revision => revision;

        public IReadOnlyList<RepoFile> ListFiles() => files;
    }

    private RepoFile ToRepoFile(string path, TreeEntry entry)
    {
        var id = entry.Target.Id;
        if (entry.Mode == Mode.SymbolicLink)
            return new RepoFile(path, id.Sha, 0, () => throw RepoLayout.SymlinkRefused(path));
        return ToRepoFile(path, id);
    }

    /// <summary>Any file of the infra repo at this commit by its repo-relative path ('/'), or null when the commit has no
    /// such file (a symlink is refused, as for the YAML files).</summary>
    public byte[]? ReadFile(string path)
    {
        TreeEntry? entry;
        lock (_gate) entry = _tree[path];
        if (entry is null || entry.TargetType != TreeEntryTargetType.Blob) return null;
        if (entry.Mode == Mode.SymbolicLink) throw RepoLayout.SymlinkRefused(path);
        return ReadBlob(entry.Target.Id);
    }

    /// <summary>A regular file with this blob id.</summary>
    private RepoFile ToRepoFile(string path, ObjectId id) =>
        // Header-only read: the size without inflating the blob (its content is read only if the parse cache misses).
        new(path, id.Sha, () => { lock (_gate) return _repository.ObjectDatabase.RetrieveObjectMetadata(id).Size; }, () => ReadBlob(id));

    private byte[] ReadBlob(ObjectId id)
    {
        lock (_gate)
        {
            var blob = _repository.Lookup<Blob>(id);
            using var stream = blob.GetContentStream();
            var bytes = new byte[blob.Size];
            stream.ReadExactly(bytes);
            return bytes;
        }
    }

    public void Dispose() => _repository.Dispose();
}
