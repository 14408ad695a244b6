using Reconciler.Schema.Loading;

namespace Reconciler.Git;

/// <summary>
/// The infra repo a command reads, as chosen by <c>--repo DIR</c> and <c>--rev REV</c>: the files of a commit when
/// <c>--rev</c> is given, else the files on disk (uncommitted edits included). Commands that load the repo
/// (validate, plan, apply) open it through here so they all agree on what <c>--repo</c>/<c>--rev</c> mean.
/// </summary>
public sealed class InfraRepo : IDisposable
{
    private InfraRepo(IRepoFileSource source, string directory, string gitSubdirectory, string? baseCommit, bool dirty)
    {
        Source = source;
        Directory = directory;
        GitSubdirectory = gitSubdirectory;
        BaseCommit = baseCommit;
        IsDirty = dirty;
    }

    public IRepoFileSource Source { get; }

    /// <summary>Absolute path of the --repo directory.</summary>
    public string Directory { get; }

    /// <summary>The infra repo's path inside its Git repository ("" at the root or outside Git; else "a/b").</summary>
    public string GitSubdirectory { get; }

    /// <summary>The commit the files belong to: the --rev commit, or HEAD for a working tree inside Git (null outside Git).</summary>
    public string? BaseCommit { get; }

    /// <summary>Working tree only: an infra-repo file differs from <see cref="BaseCommit"/> (always false for --rev).</summary>
    public bool IsDirty { get; }

    /// <summary>The revision a plan or an apply is bound to: the commit when read from Git; for a clean work tree its
    /// HEAD commit (so history, quarantine and revert hints name a real commit); otherwise "working-tree".</summary>
    public string BoundRevision =>
        Source.Revision == WorkingTreeSource.WorkingTreeRevision && BaseCommit is not null && !IsDirty ? BaseCommit : Source.Revision;

    /// <summary>"at commit abc123def456", "in the working tree (HEAD abc123def456, uncommitted changes)", or
    /// "in the working tree (not in Git)": where the files came from, for messages.</summary>

    public string Describe() => Source.Revision != WorkingTreeSource.WorkingTreeRevision
        ? "at commit " + Source.Revision[..Math.Min(12, Source.Revision.Length)]
        : BaseCommit is null
            ? "in the working tree (not in Git)"
            : $"in the working tree (HEAD {BaseCommit[..12]}{(IsDirty ? ", uncommitted changes" : "")})";

    /// <summary>A file of the infra repo other than its YAML (e.g. a pinned known_hosts) by repo-relative path, from the same
    /// commit or working tree as the YAML; null when it does not exist. Paths are validated by the schema (no '..').</summary>
    public string? ReadText(string relativePath) => ReadText(Source, Directory, relativePath);

    /// <inheritdoc cref="ReadText(string)"/>
    public static string? ReadText(IRepoFileSource source, string directory, string relativePath)
    {
        if (source is GitRepoSource git) return git.ReadFile(relativePath) is { } bytes ? System.Text.Encoding.UTF8.GetString(bytes) : null;
        var full = Path.Combine(directory, relativePath);
        if (new FileInfo(full).LinkTarget is not null) throw RepoLayout.SymlinkRefused(relativePath);
        return File.Exists(full) ? File.ReadAllText(full) : null;
    }

    /// <summary>Throws <see cref="ReconcilerException"/> (invalid input) for a missing directory, a directory outside Git with
    /// --rev, an unknown revision, or a commit without the directory.</summary>
    public static InfraRepo Open(string directory, string? revision)
    {
        if (revision is not null)
        {
            var git = GitRepoSource.Open(directory, revision);
            return new InfraRepo(git, Path.GetFullPath(directory), git.Subdirectory, git.Revision, dirty: false);
        }
        var tree = WorkingTreeSource.Open(directory);
        return new InfraRepo(tree, tree.Directory, tree.GitSubdirectory, tree.BaseCommit, tree.IsDirty);
    }

    public void Dispose() => (Source as IDisposable)?.Dispose();
}
